"""Animations of a drag: GIF with Pillow; MP4 when imageio-ffmpeg is installed."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import DragGANError


def save_animation(frames: list[np.ndarray], path: str | os.PathLike, fps: float = 15.0) -> None:
    """frames: uint8 [H, W, 3] each. The suffix picks the format (.gif or .mp4)."""
    if not frames:
        raise DragGANError("no frames to save")
    path = Path(path)
    if path.suffix.lower() == ".gif":
        images = [Image.fromarray(f) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0,
                       comment=b"Made with draggan-editor (a generated, edited image)")
    elif path.suffix.lower() == ".mp4":
        try:
            import imageio.v2 as imageio  # optional: pip install imageio imageio-ffmpeg
        except ImportError:
            raise DragGANError("saving MP4 needs `pip install imageio imageio-ffmpeg`; or save a .gif") from None
        with imageio.get_writer(path, fps=fps, codec="libx264", quality=8, macro_block_size=1) as w:
            for f in frames:
                w.append_data(f)
    else:
        raise DragGANError(f"unknown animation format '{path.suffix}': use .gif or .mp4")
