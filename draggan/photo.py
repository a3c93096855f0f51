"""A user's own picture -> RGB pixels at the model's size, ready for inversion.

photo file -> here -> inversion (`draggan.engine.inversion`) -> editor / `draggan invert`.
`load_photo` reads any picture Pillow reads and turns every oddity into plain 8-bit RGB,
saying what it did in `Photo.notes` (transparency composited, 16 bits reduced, EXIF
rotation applied, first frame of an animation); anything it cannot use raises one
`DragGANError` line saying what to do. `fit_to_model` crops (the centre, or a box the
user drew) to the model's aspect and resizes with a high-quality filter.

Policy for small pictures: a picture under `MIN_PHOTO_SIDE` px on a side is refused (there is
nothing to invert); a crop smaller than the model is upscaled with a note, unless it is more
than `MAX_UPSCALE` times smaller, when the detail would be the generator's invention, not the
photo's, and it is refused.

Dimension legend: h/w photo size, H/W model image size.
"""

from __future__ import annotations

import os
import struct
import warnings
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import DragGANError

MAX_PHOTO_PIXELS = 89_478_485  # Pillow's own decompression-bomb threshold (1/4 GiB of 24-bit pixels)
MIN_PHOTO_SIDE = 16  # px; smaller pictures are refused
MAX_UPSCALE = 8.0  # a crop more than this many times smaller than the model is refused
BACKGROUND = (255, 255, 255)  # RGB that transparent pixels are composited on
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")  # offered by dialogs
_DAMAGED = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)  # Pillow's decode errors


@dataclass
class Photo:
    rgb: np.ndarray  # uint8 [h, w, 3]
    notes: list[str] = field(default_factory=list)  # what loading changed, one line each, for the user
    path: str | None = None

    @property
    def size(self) -> tuple[int, int]:
        """(h, w), px."""
        return self.rgb.shape[0], self.rgb.shape[1]


def is_photo_path(path: str | os.PathLike) -> bool:
    """Does the name say picture (what a dropped file or the open field is told apart by)?"""
    return Path(path).suffix.lower() in PHOTO_SUFFIXES


def load_photo(path: str | os.PathLike, max_pixels: int = MAX_PHOTO_PIXELS,
               background: tuple[int, int, int] = BACKGROUND) -> Photo:
    """Read a picture file -> Photo (8-bit RGB, EXIF orientation applied), or raise `DragGANError`."""
    path = Path(path).expanduser()
    name = f"'{path}'"
    if path.is_dir():
        raise DragGANError(f"{name} is a folder; give a picture file (PNG, JPEG, ...)")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w, h = im.size
                if w * h > max_pixels:
                    raise _too_large(name, w, h, max_pixels)
                frames = getattr(im, "n_frames", 1)
                if getattr(im, "is_animated", False) and frames > 1:
                    im.seek(0)
                    notes.append(f"animated picture: the first of its {frames} frames is used")
                im.load()
                im = _oriented(im, notes)
                rgb = _to_rgb(im, notes, background)
    except DragGANError:
        raise
    except FileNotFoundError:
        raise DragGANError(f"no picture at {name}; check the path") from None
    except PermissionError:
        raise DragGANError(f"cannot read {name}: permission denied") from None
    except UnidentifiedImageError:
        raise DragGANError(f"{name} is not a picture Pillow can read; give a PNG, JPEG, WebP, BMP or TIFF file") \
            from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        w, h = _header_size(path)
        raise _too_large(name, w, h, max_pixels) from None
    except MemoryError:
        raise DragGANError(f"{name} is too large to decode in this computer's memory; use a smaller picture") \
            from None
    except _DAMAGED as e:
        raise DragGANError(f"{name} is truncated or damaged ({_reason(e)}); save or download it again") from None
    height, width = rgb.shape[:2]
    if min(height, width) < MIN_PHOTO_SIDE:
        raise DragGANError(f"{name} is only {width}x{height} px; use a picture at least {MIN_PHOTO_SIDE} px on "
                           "each side")
    return Photo(rgb, notes, str(path))


def _too_large(name: str, w: int, h: int, max_pixels: int) -> DragGANError:
    return DragGANError(f"{name} is {w}x{h} = {w * h:,} pixels, more than the {max_pixels:,} allowed (a guard "
                        "against decompression bombs); scale it down in an image editor first")


def _header_size(path: Path) -> tuple[int, int]:
    """(w, h) from the header, without Pillow's decompression-bomb check."""
    limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = None
        with Image.open(path) as im:
            return im.size
    finally:
        Image.MAX_IMAGE_PIXELS = limit


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _oriented(im: Image.Image, notes: list[str]) -> Image.Image:
    """Apply the EXIF orientation tag (phones store pictures sideways and set it)."""
    try:
        orientation = im.getexif().get(0x0112, 1)
    except _DAMAGED:
        return im  # unreadable EXIF: show the pixels as stored
    if orientation in (2, 3, 4, 5, 6, 7, 8):
        im = ImageOps.exif_transpose(im)
        notes.append(f"rotated as its EXIF orientation ({orientation}) says")
    return im


def _to_rgb(im: Image.Image, notes: list[str], background: tuple[int, int, int]) -> np.ndarray:
    """Any Pillow mode -> uint8 [h, w, 3]."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _high_depth_grey(im, notes)
    if mode == "P":
        im = im.convert("RGBA" if im.has_transparency_data else "RGB")
    elif mode in ("1", "L"):
        notes.append("grayscale picture: inverted as grey RGB")
        im = im.convert("RGB")
    elif mode in ("LA", "La", "PA"):
        notes.append("grayscale picture: inverted as grey RGB")
        im = im.convert("RGBA")
    elif mode == "CMYK":
        notes.append("CMYK picture: converted to RGB (colours approximate)")
        im = im.convert("RGB")
    elif mode == "RGBX" or mode not in ("RGB", "RGBA", "RGBa"):
        im = im.convert("RGBA" if "A" in mode or "a" in mode else "RGB")
    if im.mode == "RGBa":
        im = im.convert("RGBA")
    if im.mode == "RGBA":
        return _composite(np.asarray(im), notes, background)
    if im.mode == "RGB" and "transparency" in im.info:  # an RGB PNG with one transparent colour
        return _composite(np.asarray(im.convert("RGBA")), notes, background)
    return np.ascontiguousarray(np.asarray(im.convert("RGB"), dtype=np.uint8))


def _composite(rgba: np.ndarray, notes: list[str], background: tuple[int, int, int]) -> np.ndarray:
    """uint8 [h, w, 4] -> [h, w, 3] over `background` (the generator has no alpha channel)."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255
    if (alpha == 1).all():
        return np.ascontiguousarray(rgba[..., :3])
    bg = np.asarray(background, dtype=np.float32)
    out = rgba[..., :3].astype(np.float32) * alpha + bg * (1 - alpha)
    notes.append(f"transparent pixels composited on the background colour RGB{tuple(background)}")
    return np.round(out).clip(0, 255).astype(np.uint8)


def _high_depth_grey(im: Image.Image, notes: list[str]) -> np.ndarray:
    """16-bit or 32-bit grey -> 8-bit grey RGB, scaled (not clipped) from its full range."""
    x = np.asarray(im).astype(np.float64)  # [h, w]
    if im.mode == "F":
        full = 1.0 if x.max(initial=0) <= 1.0 else 255.0
        notes.append("floating-point grayscale picture: scaled to 8 bits, inverted as grey RGB")
    elif im.mode == "I" and x.max(initial=0) <= 255 and x.min(initial=0) >= 0:
        full = 255.0  # 8-bit values in a 32-bit container
        notes.append("grayscale picture: inverted as grey RGB")
    else:
        full = 65535.0  # 16 bits per sample (PNG, TIFF)
        notes.append("16-bit grayscale picture: reduced to 8 bits, inverted as grey RGB")
    grey = np.round(np.clip(x / full, 0, 1) * 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


# ---- crop and resize ----
def centre_box(photo_size: tuple[int, int], model_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest centred (x0, y0, x1, y1) of the model's aspect H/W in a photo of (h, w)."""
    return aspect_box((0, 0, photo_size[1], photo_size[0]), model_size)


def aspect_box(box, model_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The largest box of the model's aspect centred in `box` (x0, y0, x1, y1), in whole pixels."""
    x0, y0, x1, y1 = (float(v) for v in box)
    height, width = model_size
    bw, bh = x1 - x0, y1 - y0
    if bh * width > bw * height:  # too tall: keep the width
        cw, ch = bw, bw * height / width
    else:
        cw, ch = bh * width / height, bh
    cw, ch = max(1, round(cw)), max(1, round(ch))
    cx, cy = x0 + (bw - cw) / 2, y0 + (bh - ch) / 2
    left, top = int(round(cx)), int(round(cy))
    return left, top, left + cw, top + ch


def check_box(box, photo_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A crop box (x0, y0, x1, y1) in photo pixels, rounded and checked inside a photo of (h, w)."""
    h, w = photo_size
    try:
        values = [float(v) for v in box]
    except (TypeError, ValueError):
        raise DragGANError(f"a crop box is four numbers x0, y0, x1, y1 in picture pixels, got {box!r}") from None
    if len(values) != 4 or not all(np.isfinite(values)):
        raise DragGANError(f"a crop box is four finite numbers x0, y0, x1, y1 in picture pixels, got {box!r}")
    x0, y0, x1, y1 = (int(round(v)) for v in values)
    if x0 < 0 or y0 < 0 or x1 > w or y1 > h:
        raise DragGANError(f"the crop box ({x0}, {y0}, {x1}, {y1}) reaches outside the {w}x{h} picture; "
                           f"keep 0 <= x0 < x1 <= {w} and 0 <= y0 < y1 <= {h}")
    if x1 <= x0 or y1 <= y0:
        raise DragGANError(f"the crop box ({x0}, {y0}, {x1}, {y1}) is empty; give x0 < x1 and y0 < y1 "
                           "(left, top, right, bottom)")
    return x0, y0, x1, y1


def crop_box(photo_size: tuple[int, int], model_size: tuple[int, int], box=None,
             notes: list[str] | None = None) -> tuple[int, int, int, int]:
    """The crop `fit_to_model` takes from a photo of (h, w): checked, of the model's aspect, not too small."""
    height, width = model_size
    notes = notes if notes is not None else []
    if box is None:
        x0, y0, x1, y1 = centre_box(photo_size, model_size)
    else:
        drawn = check_box(box, photo_size)
        x0, y0, x1, y1 = aspect_box(drawn, model_size)
        if abs((x1 - x0) - (drawn[2] - drawn[0])) > 1 or abs((y1 - y0) - (drawn[3] - drawn[1])) > 1:
            notes.append(f"the crop box was narrowed to ({x0}, {y0}, {x1}, {y1}), the model's "
                         f"{width}:{height} aspect")
    cw, ch = x1 - x0, y1 - y0
    scale = max(width / cw, height / ch)
    if scale > MAX_UPSCALE:
        raise DragGANError(f"the crop is {cw}x{ch} px, more than {MAX_UPSCALE:g}x smaller than the model's "
                           f"{width}x{height} images; use a larger picture or a larger crop")
    if scale > 1:
        notes.append(f"upscaled from {cw}x{ch} to {width}x{height}")
    return x0, y0, x1, y1


def fit_to_model(rgb: np.ndarray, size: tuple[int, int], box=None, notes: list[str] | None = None) -> np.ndarray:
    """Crop a photo uint8 [h, w, 3] to the model's aspect and resize -> uint8 [H, W, 3].

    box: (x0, y0, x1, y1) in photo pixels, checked to lie inside; None = the centre crop.
    A box of another aspect is narrowed to the largest centred part of the model's aspect
    (H/W: StyleGAN-Human models are 2:1 tall), so the picture is never stretched.
    notes: appended to, when the crop is upscaled or narrowed.
    """
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise DragGANError(f"a photo is uint8 [h, w, 3] pixels, got {rgb.dtype} {list(rgb.shape)}")
    height, width = (int(size[0]), int(size[1]))
    x0, y0, x1, y1 = crop_box(rgb.shape[:2], (height, width), box, notes)
    cw, ch = x1 - x0, y1 - y0
    crop = Image.fromarray(np.ascontiguousarray(rgb[y0:y1, x0:x1]))
    if (cw, ch) == (width, height):
        return np.asarray(crop).copy()
    # Lanczos, antialiased when shrinking; reducing_gap=3 first box-reduces big photos (same result, faster)
    out = crop.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)
    return np.asarray(out, dtype=np.uint8).copy()
