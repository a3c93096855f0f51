"""The painted mask of a drag: brush strokes -> the paper's mask M (1 = may move).

GUI brush -> here -> worker -> `DragSession.set_mask`. The user paints a layer
`paint` int8 [H, W] at image resolution with two kinds of strokes: MOVABLE marks
the region that may move (the paper's "flexible region", Sec. 3.2), FIXED pins
pixels in place; erasing returns a pixel to UNPAINTED. `mask_from_paint` turns
that layer into M. Pure numpy, no display needed.

Dimension legend: H/W image size; positions are (x, y) pixels, centres at integers.
"""

from __future__ import annotations

import numpy as np

UNPAINTED, MOVABLE, FIXED = 0, 1, -1
FIXED_RGBA = (0, 0, 12, 130)  # overlay over what must stay put: darkened, so the region that may move looks bright (paper Fig. 1)
MOVABLE_RGBA = (90, 255, 150, 45)  # a faint tint over movable strokes, to see what was painted


def empty_paint(size: int | tuple[int, int]) -> np.ndarray:
    """An unpainted layer for an image of `size` (H, W), or size x size: int8 [H, W]."""
    shape = (size, size) if isinstance(size, (int, np.integer)) else tuple(int(v) for v in size)
    return np.zeros(shape, dtype=np.int8)


def paint_segment(paint: np.ndarray, p0, p1, radius: float, value: int) -> bool:
    """Set every pixel within `radius` of the segment p0-p1 to `value`, in place; True if any changed.

    A mouse drag arrives as a few samples per frame; painting the segment between two
    successive samples (a capsule, not two disks) leaves no gaps in a fast stroke.
    """
    height, width = paint.shape
    (x0, y0), (x1, y1) = (float(p0[0]), float(p0[1])), (float(p1[0]), float(p1[1]))
    r = max(float(radius), 0.5)
    lo_x, hi_x = int(np.floor(min(x0, x1) - r)), int(np.ceil(max(x0, x1) + r))
    lo_y, hi_y = int(np.floor(min(y0, y1) - r)), int(np.ceil(max(y0, y1) + r))
    lo_x, lo_y = max(lo_x, 0), max(lo_y, 0)
    hi_x, hi_y = min(hi_x, width - 1), min(hi_y, height - 1)
    if lo_x > hi_x or lo_y > hi_y:
        return False
    ys, xs = np.mgrid[lo_y:hi_y + 1, lo_x:hi_x + 1]  # [h', w'] pixel centres of the bounding box
    dx, dy = x1 - x0, y1 - y0
    seg2 = dx * dx + dy * dy
    t = np.zeros(xs.shape) if seg2 == 0 else np.clip(((xs - x0) * dx + (ys - y0) * dy) / seg2, 0, 1)
    dist2 = (xs - (x0 + t * dx)) ** 2 + (ys - (y0 + t * dy)) ** 2
    inside = dist2 <= r * r
    window = paint[lo_y:hi_y + 1, lo_x:hi_x + 1]
    changed = bool((window[inside] != value).any())
    window[inside] = value
    return changed


def mask_from_paint(paint: np.ndarray | None) -> np.ndarray | None:
    """float32 [H, W] with 1 where the image may move, or None when nothing is painted.

    Movable strokes define the flexible region (everything else stays fixed); with only
    fixed strokes, everything but the pinned pixels may move.
    """
    if paint is None:
        return None
    if (paint == MOVABLE).any():
        return (paint == MOVABLE).astype(np.float32)
    if (paint == FIXED).any():
        return (paint != FIXED).astype(np.float32)
    return None


def overlay_rgba(paint: np.ndarray) -> np.ndarray:
    """The mask as a translucent overlay, uint8 [H, W, 4]: the fixed part darkened, movable strokes tinted."""
    out = np.zeros((*paint.shape, 4), dtype=np.uint8)
    mask = mask_from_paint(paint)
    if mask is not None:
        out[mask == 0] = FIXED_RGBA
        out[paint == MOVABLE] = MOVABLE_RGBA
    return out
