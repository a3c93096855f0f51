"""Animations of a drag: GIF with Pillow; MP4 when imageio-ffmpeg is installed.

`save_animation` writes to the path it is given (the CLI and the GUI hand it a
temporary name through `draggan.outputs.write_output`); `check_animation_format`
says before an edit starts whether the chosen format can be written here.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DragGANError

ANIMATION_SUFFIXES = (".gif", ".mp4")
MP4_NEEDS = "saving MP4 needs `pip install imageio imageio-ffmpeg`; or save a .gif"


def check_animation_format(path: str | os.PathLike) -> None:
    """Raise `DragGANError` now if `path`'s format cannot be written on this machine."""
    suffix = Path(path).suffix.lower()
    if suffix not in ANIMATION_SUFFIXES:
        raise DragGANError(f"unknown animation format '{suffix}': use .gif or .mp4")
    if suffix == ".mp4":
        import importlib.util
        if importlib.util.find_spec("imageio") is None or importlib.util.find_spec("imageio_ffmpeg") is None:
            raise DragGANError(MP4_NEEDS)


def save_animation(frames: list[np.ndarray], path: str | os.PathLike, fps: float = 15.0, hold_s: float = 0.0) -> None:
    """frames: uint8 [H, W, 3] each. The suffix picks the format (.gif or .mp4); the last frame stays `hold_s` longer."""
    if not frames:
        raise DragGANError("no frames to save")
    path = Path(path)
    frame_ms = int(round(1000 / fps))
    if path.suffix.lower() == ".gif":
        images = [Image.fromarray(f) for f in frames]
        durations = [frame_ms] * (len(images) - 1) + [frame_ms + int(round(1000 * hold_s))]
        images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0,
                       comment=b"Made with draggan-editor (a generated, edited image)")
    elif path.suffix.lower() == ".mp4":
        try:
            import imageio.v2 as imageio  # optional: pip install imageio imageio-ffmpeg
        except ImportError:
            raise DragGANError(MP4_NEEDS) from None
        with imageio.get_writer(path, fps=fps, codec="libx264", quality=8, macro_block_size=1) as w:
            for f in frames + [frames[-1]] * int(round(hold_s * fps)):
                w.append_data(f)
    else:
        raise DragGANError(f"unknown animation format '{path.suffix}': use .gif or .mp4")
