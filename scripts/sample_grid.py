#!/usr/bin/env python
"""A grid of a model's samples (seeds 0..n-1) with the detector's landmarks, and the detection rate.

    python scripts/sample_grid.py --out docs/samples.png            # shipped model, 24 samples
    python scripts/sample_grid.py --count 500                       # + detection rate on 500 seeds
    python scripts/sample_grid.py CKPT --out grid.png --no-marks

Landmarks are drawn as dots (the five benchmark points larger); a red frame marks a
sample where some landmark was not found.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from draggan.demo.benchmark import detect, detection_rate, sample_images  # noqa: E402
from draggan.checkpoints import resolve_checkpoint  # noqa: E402
from draggan.demo.faces import FIVE_POINT  # noqa: E402
from stylegan2 import load_generator  # noqa: E402


def grid_image(images: np.ndarray, cols: int, tile: int, marks: bool) -> Image.Image:
    rows = math.ceil(len(images) / cols)
    gap = 4
    grid = Image.new("RGB", (cols * tile + (cols - 1) * gap, rows * tile + (rows - 1) * gap), "white")
    scale = tile / images.shape[1]
    r = max(1.5, tile / 90)
    for i, img in enumerate(images):
        face = Image.fromarray(img).resize((tile, tile), Image.LANCZOS)
        draw = ImageDraw.Draw(face)
        if marks:
            points, found = detect(img)
            points = (points + 0.5) * scale  # engine px -> continuous image coordinates
            for k in np.flatnonzero(found):
                x, y = points[k]
                rk = 1.5 * r if k in FIVE_POINT else r
                draw.ellipse([x - rk, y - rk, x + rk, y + rk], fill=(40, 230, 60), outline=(0, 60, 0))
            if not found.all():
                draw.rectangle([0, 0, tile - 1, tile - 1], outline=(230, 30, 30), width=3)
        grid.paste(face, ((i % cols) * (tile + gap), (i // cols) * (tile + gap)))
    return grid


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?", help="model (default: the shipped demo model)")
    ap.add_argument("--out", type=Path, help="grid PNG to write")
    ap.add_argument("--n", type=int, default=24, help="samples in the grid (seeds 0..n-1)")
    ap.add_argument("--cols", type=int, default=8, help="grid columns")
    ap.add_argument("--tile", type=int, default=128, help="size of each sample in the grid, pixels")
    ap.add_argument("--no-marks", action="store_true", help="do not draw the detected landmarks")
    ap.add_argument("--count", type=int, default=0, help="also report the detection rate on this many seeds")
    ap.add_argument("--trunc", type=float, default=1.0, help="truncation psi")
    ap.add_argument("--json", type=Path, help="write the detection rate as JSON")
    args = ap.parse_args(argv)
    if args.n < 1 or args.cols < 1 or args.tile < 16 or args.count < 0:
        ap.error("need --n >= 1, --cols >= 1, --tile >= 16 and --count >= 0")
    G = load_generator(resolve_checkpoint(args.checkpoint))
    if args.out:
        grid = grid_image(sample_images(G, range(args.n), args.trunc), args.cols, args.tile, not args.no_marks)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        grid.save(args.out)
        print(f"wrote {args.out} ({args.n} samples)")
    if args.count:
        rate = detection_rate(G, args.count, psi=args.trunc, progress=True)
        worst = sorted(rate["per_landmark"].items(), key=lambda kv: kv[1])[:3]
        print(f"all landmarks found in {rate['all_found']:.1%} of {args.count} samples (seeds 0-{args.count - 1}); "
              "least found: " + ", ".join(f"{k} {v:.1%}" for k, v in worst))
        if args.json:
            args.json.write_text(json.dumps(rate, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
