"""docs/photo_edit.png: editing a picture the model never drew, in one row.

input -> W+ reconstruction -> PTI reconstruction -> the drag placed on it -> the result. The input is a
face of the demo family (draggan/demo/faces) that the demo model only approximates, saved as JPEG
(quality 85) so that it carries a photo's artefacts (`--background` also gives it colours outside the
family's); it is inverted W 300 -> W+ 300 -> PTI up to 150 steps (the `draggan benchmark --real`
budgets) and dragged with our default settings: the mouth corners out and up (a smile), the chin down.
Face 3 has short hair: the model's hair is mostly a short cap, and a drag fades a bun or long hair.
Panels are scaled up with nearest-neighbour (64 px stays visible), handles red, targets blue, the
tracked path yellow, as `draggan edit --compare` draws them (draggan/animation.py).

    python scripts/photo_figure.py --out docs/photo_edit.png
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from draggan.animation import DragFrame, draw_drag, scale_factor, upscale  # noqa: E402
from draggan.demo.benchmark import detect  # noqa: E402
from draggan.demo.faces import render, sample_params  # noqa: E402
from draggan.demo.real_benchmark import REAL_STEPS, real_inversion  # noqa: E402
from draggan.engine import DragConfig, DragSession, Inversion  # noqa: E402
from invert_benchmark import DEMO, harder  # noqa: E402
from stylegan2 import load_generator  # noqa: E402

PANEL = 256  # px per panel (64 px x 4)
CAPTION = 44  # px of caption above each panel
GAP = 10  # px between panels
# Landmark index -> (dx, dy) engine px: a smile (mouth corners out and up) and a longer chin.
MOVES = {3: (-2.0, -2.0), 4: (2.0, -2.0), 7: (0.0, 3.0)}


def photo_like(seed: int, background: bool, quality: int) -> np.ndarray:
    """A family face (on a background outside the family's colours if `background`), through JPEG."""
    rng = np.random.default_rng(seed)
    params = sample_params(rng)
    img = harder(params, "background", rng) if background else render(params, 64)[0]
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def invert(G, picture: np.ndarray):
    """-> (W+ image, PTI result): the staged inversion, with the image at the end of the W+ stage kept."""
    inv = Inversion(G, picture, real_inversion(*REAL_STEPS))
    wplus = None
    while not inv.done:
        p = inv.step()
        if p.stage == "w+" and inv.stage != "w+":  # that was W+'s last step
            wplus = inv.result()
    return wplus, inv.result()


def drag(G, ws) -> tuple[DragFrame, DragFrame, int]:
    """The MOVES drag on the reconstruction -> (start, end, steps)."""
    session = DragSession(G, ws, DragConfig())
    before = session.render()
    pts, found = detect(before)
    idx = [i for i in MOVES if found[i]]
    handles = pts[idx]
    targets = handles + np.array([MOVES[i] for i in idx])
    start = DragFrame(before, handles, targets)
    session.set_points(handles, targets)
    result = session.run()
    return start, DragFrame(session.render(), result.handles, targets), result.step


def panel(image: np.ndarray, caption: list[str], font) -> Image.Image:
    """An image already scaled to PANEL px, with a caption of up to two lines above it."""
    out = Image.new("RGB", (PANEL, PANEL + CAPTION), "white")
    out.paste(Image.fromarray(image), (0, CAPTION))
    d = ImageDraw.Draw(out)
    for i, line in enumerate(caption):
        d.text((PANEL // 2, 4 + 19 * i), line, fill=(20, 20, 20), font=font, anchor="ma")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(DEMO))
    ap.add_argument("--seed", type=int, default=3, help="which family face (numpy default_rng seed)")
    ap.add_argument("--background", action="store_true", help="a background outside the family's colours")
    ap.add_argument("--quality", type=int, default=85, help="JPEG quality of the input")
    ap.add_argument("--out", default="docs/photo_edit.png")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    G = load_generator(args.checkpoint, "cpu")
    picture = photo_like(args.seed, args.background, args.quality)
    wplus, pti = invert(G, picture)
    start, end, steps = drag(pti.G, pti.ws)
    f = scale_factor(picture.shape, PANEL)
    font = ImageFont.load_default(size=16)
    panels = [
        panel(upscale(picture, f), ["input: not drawn by", f"the model (JPEG q{args.quality})"], font),
        panel(upscale(wplus.image, f), ["W+ reconstruction", f"{wplus.psnr:.1f} dB"], font),
        panel(upscale(pti.image, f), ["+ pivotal tuning", f"{pti.psnr:.1f} dB"], font),
        panel(draw_drag(start.image, start.handles, start.targets, None, f), ["drag on it:", "smile, longer chin"],
              font),
        panel(draw_drag(end.image, end.handles, end.targets, [start.handles, end.handles], f),
              ["result", f"{steps} steps"], font),
    ]
    sheet = Image.new("RGB", (len(panels) * PANEL + (len(panels) - 1) * GAP, PANEL + CAPTION), "white")
    for i, p in enumerate(panels):
        sheet.paste(p, (i * (PANEL + GAP), 0))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, optimize=True)
    print(f"W+ {wplus.psnr:.2f} dB, PTI {pti.psnr:.2f} dB, drag {steps} steps -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
