"""Points files for headless edits: JSON in pixels of the generated image.

    {"handles": [[x, y], ...], "targets": [[x, y], ...]}

x to the right, y down, pixel centres at integers, fractions allowed.
Optional keys: "image_size": [W, H] (the points were picked on an image of that
size; they are scaled to the model's resolution), "seed", "truncation_psi"
(defaults for `draggan edit` when the command line does not give them),
"mask": a PNG path relative to the points file, "note": free text. Other keys are ignored.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DragGANError

KNOWN_KEYS = {"handles", "targets", "image_size", "seed", "truncation_psi", "mask", "note"}


@dataclass
class PointsFile:
    handles: np.ndarray  # [n, 2] px in model resolution
    targets: np.ndarray  # [n, 2]
    seed: int | None = None
    truncation_psi: float | None = None
    mask: Path | None = None
    ignored_keys: tuple[str, ...] = ()


def _pairs(value, name: str) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise DragGANError(f"'{name}' must be a list of [x, y] pairs of numbers") from None
    if arr.ndim != 2 or arr.shape[1] != 2 or not np.isfinite(arr).all():
        raise DragGANError(f"'{name}' must be a list of [x, y] pairs of finite numbers, got shape {arr.shape}")
    return arr


def read_points(path: str | os.PathLike, resolution: int) -> PointsFile:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise DragGANError(f"no points file at '{path}'") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise DragGANError(f"'{path}' is not valid JSON ({e}); expected "
                           '{"handles": [[x, y], ...], "targets": [[x, y], ...]}') from None
    if not isinstance(data, dict) or "handles" not in data or "targets" not in data:
        raise DragGANError(f"'{path}' needs the keys 'handles' and 'targets' (lists of [x, y] pixels)")
    h, t = _pairs(data["handles"], "handles"), _pairs(data["targets"], "targets")
    if len(h) == 0 or len(h) != len(t):
        raise DragGANError(f"'{path}': need as many targets as handles (at least one), got {len(h)} and {len(t)}")
    if "image_size" in data:
        size = _pairs([data["image_size"]], "image_size")[0]
        if (size <= 0).any():
            raise DragGANError("'image_size' must be [width, height] > 0")
        scale = resolution / size
        h, t = h * scale, t * scale
    mask = None
    if data.get("mask"):
        mask = (path.parent / str(data["mask"])).resolve()
    seed = data.get("seed")
    psi = data.get("truncation_psi")
    if seed is not None and not isinstance(seed, int):
        raise DragGANError("'seed' must be an integer")
    if psi is not None and not isinstance(psi, (int, float)):
        raise DragGANError("'truncation_psi' must be a number")
    return PointsFile(h, t, seed, psi, mask, tuple(sorted(set(data) - KNOWN_KEYS)))


def read_mask(path: str | os.PathLike, resolution: int) -> np.ndarray:
    """A mask PNG (white = may move) -> float [R, R] in {0, 1}; resized if it has another size."""
    from PIL import Image, UnidentifiedImageError
    try:
        img = Image.open(path).convert("L")
    except FileNotFoundError:
        raise DragGANError(f"no mask image at '{path}'") from None
    except (UnidentifiedImageError, OSError) as e:
        raise DragGANError(f"cannot read the mask '{path}' as an image ({e})") from None
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.NEAREST)
    return (np.asarray(img) >= 128).astype(np.float32)
