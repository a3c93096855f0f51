"""An OpenGL texture holding an RGB or RGBA picture, for `imgui.image` and draw lists.

Created on the first upload; later uploads of the same size only replace the
pixels (glTexSubImage2D). Callers upload when their picture changes, not per frame.
imgui's OpenGL 3 backend draws every texture through its own linear sampler, so a
texture's filter settings have no effect: `magnify` makes zoomed-in pixels sharp instead.
"""

from __future__ import annotations

import math

import numpy as np
import OpenGL.GL as gl
from imgui_bundle import imgui

MAX_TEXTURE_SIDE = 2048  # texels; a magnified texture stays below this
SHARP_FROM_ZOOM = 2.0  # screen px per image px from which pixels are shown as squares


def pixel_factor(zoom: float, size: int) -> int:
    """Texels per image pixel that make an image shown at `zoom` look like pixels rather than blur.

    With f >= zoom texels per pixel, linear filtering blends over at most one screen pixel
    at each pixel edge.
    """
    if zoom < SHARP_FROM_ZOOM:
        return 1
    return int(max(1, min(math.ceil(zoom), MAX_TEXTURE_SIDE // max(size, 1))))


def magnify(pixels: np.ndarray, factor: int) -> np.ndarray:
    """[H, W, C] -> [H*f, W*f, C], each pixel repeated f x f times."""
    return pixels if factor == 1 else pixels.repeat(factor, axis=0).repeat(factor, axis=1)


class Texture:
    def __init__(self):
        self.id: int | None = None
        self.shape: tuple[int, ...] | None = None  # (H, W, C) of the last upload
        self.uploads = 0  # how many times pixels were sent (tests check that idle frames send none)

    @property
    def ready(self) -> bool:
        return self.id is not None

    @property
    def ref(self) -> imgui.ImTextureRef:
        return imgui.ImTextureRef(self.id)

    def upload(self, pixels: np.ndarray) -> None:
        """pixels: uint8 [H, W, 3] or [H, W, 4]."""
        pixels = np.ascontiguousarray(pixels, dtype=np.uint8)
        if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
            raise ValueError(f"texture pixels must be [H, W, 3|4] uint8, got {pixels.shape}")
        h, w, c = pixels.shape
        fmt = gl.GL_RGB if c == 3 else gl.GL_RGBA
        if self.id is None:
            self.id = int(gl.glGenTextures(1))
        gl.glBindTexture(gl.GL_TEXTURE_2D, self.id)
        gl.glPixelStorei(gl.GL_UNPACK_ALIGNMENT, 1)  # RGB rows are not 4-byte aligned
        if pixels.shape != self.shape:
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_WRAP_S, gl.GL_CLAMP_TO_EDGE)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_WRAP_T, gl.GL_CLAMP_TO_EDGE)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MIN_FILTER, gl.GL_LINEAR)
            gl.glTexParameteri(gl.GL_TEXTURE_2D, gl.GL_TEXTURE_MAG_FILTER, gl.GL_LINEAR)
            gl.glTexImage2D(gl.GL_TEXTURE_2D, 0, gl.GL_RGBA8 if c == 4 else gl.GL_RGB8, w, h, 0, fmt,
                            gl.GL_UNSIGNED_BYTE, pixels)
            self.shape = pixels.shape
        else:
            gl.glTexSubImage2D(gl.GL_TEXTURE_2D, 0, 0, 0, w, h, fmt, gl.GL_UNSIGNED_BYTE, pixels)
        self.uploads += 1

    def release(self) -> None:
        if self.id is not None:
            gl.glDeleteTextures(1, [self.id])
            self.id, self.shape = None, None
