"""Write a PNG grid of procedural cartoon faces with their landmarks drawn on top.

    python scripts/faces_preview.py --out faces.png --n 16 --res 128

Green dots are the renderer's exact landmarks (the five benchmark points are
larger).  With ``--detect`` each face also shows the detector's landmarks as red
crosses, and the mean detector error is printed.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from draggan.demo.faces import FIVE_POINT, detect_landmarks, render, sample_params  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("faces_preview.png"), help="output PNG")
    ap.add_argument("--n", type=int, default=16, help="number of faces")
    ap.add_argument("--res", type=int, default=128, help="face resolution in pixels")
    ap.add_argument("--seed", type=int, default=0, help="random seed for sample_params")
    ap.add_argument("--cols", type=int, default=0, help="grid columns (default: about square)")
    ap.add_argument("--tile", type=int, default=256, help="size of each face in the grid, pixels")
    ap.add_argument("--detect", action="store_true", help="also draw the detector's landmarks")
    args = ap.parse_args(argv)
    if args.n < 1 or args.res < 16 or args.tile < 16:
        ap.error("need --n >= 1, --res >= 16 and --tile >= 16")

    rng = np.random.default_rng(args.seed)
    cols = args.cols or math.ceil(math.sqrt(args.n))
    rows = math.ceil(args.n / cols)
    tile, gap = args.tile, 4
    grid = Image.new("RGB", (cols * tile + (cols - 1) * gap, rows * tile + (rows - 1) * gap), "white")
    scale = tile / args.res
    r = max(1.5, tile / 160)
    errors = []
    for i in range(args.n):
        image, landmarks = render(sample_params(rng), args.res)
        face = Image.fromarray(image).resize((tile, tile), Image.NEAREST)
        draw = ImageDraw.Draw(face)
        if args.detect:
            points, found = detect_landmarks(image)
            errors.append(np.linalg.norm(points - landmarks, axis=1)[found])
            for x, y in points[found] * scale:
                draw.line([(x - 2 * r, y - 2 * r), (x + 2 * r, y + 2 * r)], fill=(255, 40, 40), width=1)
                draw.line([(x - 2 * r, y + 2 * r), (x + 2 * r, y - 2 * r)], fill=(255, 40, 40), width=1)
        for k, (x, y) in enumerate(landmarks * scale):
            rk = 1.6 * r if k in FIVE_POINT else r
            draw.ellipse([x - rk, y - rk, x + rk, y + rk], fill=(40, 230, 60), outline=(0, 60, 0))
        grid.paste(face, ((i % cols) * (tile + gap), (i // cols) * (tile + gap)))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    grid.save(args.out)
    msg = f"wrote {args.out} ({args.n} faces at {args.res} px)"
    if errors:
        e = np.concatenate(errors)
        msg += f"; detector error mean {e.mean():.2f} px, max {e.max():.2f} px"
    print(msg)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
