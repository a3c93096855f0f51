"""Generator output -> pixels and files: uint8 conversion and PNGs that carry provenance."""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image, PngImagePlugin

from . import __version__

PROVENANCE = ("Edited with draggan-editor (DragGAN, Pan et al. 2023): a generated, manipulated image. "
              "Respect personality rights when sharing it.")


def to_uint8(img: torch.Tensor) -> np.ndarray:
    """Generator output [C, H, W] or [1, C, H, W] in about [-1, 1] -> uint8 [H, W, 3] (grey repeated)."""
    if img.ndim == 4:
        img = img[0]
    x = ((img.detach().float().cpu() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)
    x = x.permute(1, 2, 0).numpy()  # [H, W, C]
    return np.repeat(x, 3, axis=2) if x.shape[2] == 1 else x[..., :3]


def save_png(path: str | os.PathLike, pixels: np.ndarray, info: dict[str, str] | None = None) -> None:
    """Write uint8 [H, W, 3] to a PNG whose text chunks say it was made with this tool."""
    meta = PngImagePlugin.PngInfo()
    meta.add_text("Software", f"draggan-editor {__version__}")
    meta.add_text("Comment", PROVENANCE)
    for k, v in (info or {}).items():
        meta.add_text(str(k), str(v))
    Image.fromarray(pixels).save(path, pnginfo=meta)
