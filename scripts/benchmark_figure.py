#!/usr/bin/env python
"""Picture of the landmark benchmark: for a few pairs, A with its drag, B (the target face), the result.

    python scripts/benchmark_figure.py --out docs/benchmark.png --pairs 4 --points 5

Each row is one benchmark pair (same sampler and seed as `draggan benchmark`): image A with
red handles and blue targets (B's landmarks), image B, and A after the drag with the
landmarks detected in it (green) and the targets (blue). The row's MD before and after is
printed and written under the row.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from draggan.demo.benchmark import edit_pair, make_pairs, mean_distance, point_indices, variants  # noqa: E402
from draggan.checkpoints import resolve_checkpoint  # noqa: E402
from draggan.engine import seed_to_ws  # noqa: E402
from draggan.images import to_uint8  # noqa: E402
from stylegan2 import load_generator  # noqa: E402

RED, BLUE, GREEN = (235, 40, 40), (40, 90, 255), (40, 220, 60)


def _tile(img: np.ndarray, size: int, dots: list[tuple[np.ndarray, tuple]], arrows=None) -> Image.Image:
    face = Image.fromarray(img).resize((size, size), Image.LANCZOS)
    draw = ImageDraw.Draw(face)
    scale = size / img.shape[0]
    r = max(2.0, size / 80)
    if arrows is not None:
        for (x0, y0), (x1, y1) in zip(*arrows):
            draw.line([((x0 + .5) * scale, (y0 + .5) * scale), ((x1 + .5) * scale, (y1 + .5) * scale)],
                      fill=(255, 255, 255), width=2)
    for points, color in dots:
        for x, y in (points + 0.5) * scale:  # engine px (centres at integers) -> image coordinates
            draw.ellipse([x - r, y - r, x + r, y + r], fill=color, outline=(0, 0, 0))
    return face


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint", nargs="?", help="model (default: the shipped demo model)")
    ap.add_argument("--out", type=Path, default=Path("benchmark.png"))
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--points", choices=("1", "5", "all"), default="5")
    ap.add_argument("--seed", type=int, default=2023, help="pair sampler seed (as draggan benchmark)")
    ap.add_argument("--tile", type=int, default=192)
    args = ap.parse_args(argv)
    if args.pairs < 1 or args.tile < 32:
        ap.error("need --pairs >= 1 and --tile >= 32")
    G = load_generator(resolve_checkpoint(args.checkpoint))
    pairs, _ = make_pairs(G, args.pairs, args.seed, 1.0)
    config = variants(G.img_resolution, 300)["ours"]
    gap, text_h, t = 6, 18, args.tile
    sheet = Image.new("RGB", (3 * t + 2 * gap, args.pairs * (t + text_h + gap)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, pair in enumerate(pairs):
        idx = point_indices(pair, args.points)
        handles, targets = pair.points_a[idx], pair.points_b[idx]
        e = edit_pair(G, pair, idx, config, 1.0)
        with torch.no_grad():
            img_a = to_uint8(G.synthesis(seed_to_ws(G, pair.seed_a)))
            img_b = to_uint8(G.synthesis(seed_to_ws(G, pair.seed_b)))
        md0 = mean_distance(handles, targets)
        md1 = mean_distance(e.after, targets)
        y = row * (t + text_h + gap)
        sheet.paste(_tile(img_a, t, [(handles, RED), (targets, BLUE)], (handles, targets)), (0, y))
        sheet.paste(_tile(img_b, t, [(targets, BLUE)]), (t + gap, y))
        sheet.paste(_tile(e.image, t, [(targets, BLUE), (e.after[e.found], GREEN)]), (2 * (t + gap), y))
        caption = f"A (seed {pair.seed_a})  ->  B (seed {pair.seed_b})    MD {md0:.2f} -> {md1:.2f} px, " \
                  f"{e.steps} steps"
        draw.text((4, y + t + 3), caption, fill=(0, 0, 0))
        print(caption)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
