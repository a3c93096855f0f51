"""Points files and mask images for headless edits (`draggan edit`).

    {"handles": [[x, y], ...], "targets": [[x, y], ...]}

x to the right, y down, pixel centres at integers, fractions allowed.
Optional keys: "image_size": [W, H] (the points were picked on an image of that
size; they are scaled to the model's resolution), "seed", "truncation_psi"
(defaults for `draggan edit` when the command line does not give them),
"mask": a PNG path relative to the points file, "note": free text. Other keys are ignored.

user files -> here -> `draggan.points.validate_pairs` (the one pair validator) -> edit.
Whatever a file holds (a folder, binary, 100k-deep JSON, a 400-digit number, a
decompression bomb), reading it gives a `PointsFile` / mask or one `DragGANError` line.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DragGANError
from .limits import check_float, check_seed, check_truncation
from .outputs import os_error_message
from .points import validate_pairs

KNOWN_KEYS = {"handles", "targets", "image_size", "seed", "truncation_psi", "mask", "note"}
MAX_POINTS_FILE_BYTES = 16 * 2 ** 20  # a points file is a few hundred bytes; refuse anything absurd unread
MAX_MASK_PIXELS = 8192 * 8192  # a mask is resized to the model (<= 1024 px); bigger is a mistake or a bomb
EXAMPLE = '{"handles": [[x, y], ...], "targets": [[x, y], ...]}'


@dataclass
class PointsFile:
    handles: np.ndarray  # [n, 2] px on the image the points were picked on (`image_size`, else the model's)
    targets: np.ndarray  # [n, 2]
    image_size: tuple[float, float] | None = None  # (W, H) of that image; None = the model's resolution
    seed: int | None = None  # in [0, 2^32)
    truncation_psi: float | None = None
    mask: Path | None = None  # resolved against the points file's folder
    ignored_keys: tuple[str, ...] = ()
    source: str = "points file"  # how error messages name the file

    def scaled(self, size: int | tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(handles, targets) [n, 2] in pixels of an image of `size` (H, W) (an int: square), checked inside it."""
        height, width = (size, size) if isinstance(size, (int, np.integer)) else size
        h, t = self.handles, self.targets
        if self.image_size is not None:
            scale = np.array([width, height], dtype=np.float64) / np.asarray(self.image_size, dtype=np.float64)
            h, t = h * scale, t * scale  # [2] x and y factors
        return validate_pairs(h, t, (height, width), what=self.source)


def _read_bytes(path: Path, what: str, limit: int) -> bytes:
    """The whole file, or one clear line: missing, a folder, unreadable, or larger than `limit` bytes."""
    try:
        with open(path, "rb") as f:
            raw = f.read(limit + 1)
    except FileNotFoundError:
        raise DragGANError(f"no {what} at '{path}'") from None
    except IsADirectoryError:
        raise DragGANError(f"the {what} '{path}' is a folder; give a file") from None
    except OSError as e:
        raise DragGANError(os_error_message(e, path, "read")) from None
    if len(raw) > limit:
        raise DragGANError(f"the {what} '{path}' is larger than {limit // 2 ** 20} MiB; is it the right file?")
    return raw


def read_points(path: str | os.PathLike, resolution: int | None = None) -> PointsFile:
    """Read and check a points file -> PointsFile; with `resolution`, the points already scaled to it."""
    path = Path(path)
    source = f"'{path}'"
    raw = _read_bytes(path, "points file", MAX_POINTS_FILE_BYTES)
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise DragGANError(f"{source} is not a text file; expected JSON like {EXAMPLE}") from None
    except RecursionError:
        raise DragGANError(f"{source} is nested too deeply to be a points file; expected {EXAMPLE}") from None
    except ValueError as e:  # JSONDecodeError, and integers longer than Python converts
        raise DragGANError(f"{source} is not valid JSON ({e}); expected {EXAMPLE}") from None
    if not isinstance(data, dict) or "handles" not in data or "targets" not in data:
        raise DragGANError(f"{source} needs the keys 'handles' and 'targets' (lists of [x, y] pixels)")
    try:
        h, t = validate_pairs(data["handles"], data["targets"], None, complete=True, what=source)
    except RecursionError:
        raise DragGANError(f"{source}: 'handles' and 'targets' must be lists of [x, y] pairs") from None
    size = None
    if "image_size" in data:
        value = data["image_size"]
        if not isinstance(value, list) or len(value) != 2:
            raise DragGANError(f"{source}: 'image_size' must be [width, height] in pixels")
        size = tuple(check_float(v, f"{source}: 'image_size'", 0, 1e6, lo_open=True) for v in value)
    seed = None if data.get("seed") is None else check_seed(data["seed"], f"{source}: 'seed'")
    psi = None
    if data.get("truncation_psi") is not None:
        psi = check_truncation(data["truncation_psi"], f"{source}: 'truncation_psi'")
    mask = None
    if data.get("mask") is not None:
        if not isinstance(data["mask"], str) or not data["mask"].strip():
            raise DragGANError(f"{source}: 'mask' must be the name of a PNG file, relative to the points file")
        mask = (path.parent / data["mask"]).resolve()
    pf = PointsFile(h, t, size, seed, psi, mask, tuple(sorted(set(data) - KNOWN_KEYS)), source)
    if resolution is not None:
        h, t = pf.scaled(resolution)
        pf = PointsFile(h, t, None, seed, psi, mask, pf.ignored_keys, source)
    return pf


def read_mask(path: str | os.PathLike, size: int | tuple[int, int]) -> np.ndarray:
    """A mask image (white = may move) -> float32 [H, W] in {0, 1} for an image of `size`; resized if needed.

    The size is checked from the header before any pixel is decoded, so a small file that
    claims to be 20000x20000 (a decompression bomb) is refused without allocating it.
    """
    from PIL import Image
    path = Path(path)
    height, width = (size, size) if isinstance(size, (int, np.integer)) else size
    if path.is_dir():
        raise DragGANError(f"the mask '{path}' is a folder; give a PNG file")
    too_big = (f"the mask '{path}' is larger than {MAX_MASK_PIXELS // 2 ** 20} megapixels; "
               f"give a mask at the image size ({width}x{height})")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
    except FileNotFoundError:
        raise DragGANError(f"no mask image at '{path}'") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DragGANError(too_big) from None
    except Exception as e:  # Pillow raises many types for a damaged or foreign file
        raise DragGANError(f"cannot read the mask '{path}' as an image ({type(e).__name__}: {e})") from None
    with img:
        if img.size[0] * img.size[1] > MAX_MASK_PIXELS:
            raise DragGANError(too_big)
        try:
            grey = img.convert("L")
            if grey.size != (width, height):
                grey = grey.resize((width, height), Image.NEAREST)
            pixels = np.asarray(grey)  # [H, W] uint8
        except Exception as e:
            raise DragGANError(f"cannot read the mask '{path}' as an image ({type(e).__name__}: {e})") from None
    return (pixels >= 128).astype(np.float32)
