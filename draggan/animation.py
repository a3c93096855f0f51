"""Pictures of a drag that a person can see and share: frames scaled up, points and trail drawn, before/after.

editor / headless edit -> here -> `video.save_animation` / PNG. A model of 64 px
makes 64 px frames: they are scaled up with nearest-neighbour (the pixels stay
honest) to at least `size` on the long side, and each handle (red), its target
(blue), the arrow between them and the tracked trail (yellow) are drawn at the
scaled pixel centres. Long edits keep at most `max_frames` evenly spaced frames.

Dimension legend: n handles, H/W image size, s integer scale factor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

DEFAULT_SIZE = 512  # px; the long side of a shared animation is at least this (scaled by a whole factor)
MAX_FRAMES = 120  # frames kept of a long edit (about 8 s at 15 fps); the first and the last always stay
HOLD_S = 1.5  # s the last frame is shown before the animation loops
HANDLE_RGB, TARGET_RGB, TRAIL_RGB, ARROW_RGB, OUTLINE_RGB = (235, 64, 52), (52, 120, 246), (250, 204, 21), \
    (255, 255, 255), (0, 0, 0)


@dataclass(frozen=True, eq=False)
class DragFrame:
    image: np.ndarray  # uint8 [H, W, 3]
    handles: np.ndarray  # [n, 2] (x, y) px of the image, where the handles were tracked in this frame
    targets: np.ndarray  # [n, 2]


def scale_factor(shape: tuple[int, ...], size: int) -> int:
    """The whole factor that brings the long side of an [H, W, ...] image to at least `size` px."""
    return max(1, math.ceil(size / max(shape[0], shape[1])))


def to_canvas(xy: np.ndarray, factor: int) -> np.ndarray:
    """Image px (pixel centres at integers) -> px of the image scaled up by `factor`."""
    return (np.asarray(xy, dtype=np.float64) + 0.5) * factor


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour: uint8 [H, W, 3] -> [s*H, s*W, 3]."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image.copy()


def draw_drag(image: np.ndarray, handles, targets, trail: list | None = None, factor: int = 1) -> np.ndarray:
    """Scale `image` by `factor` and draw the trail [steps][n, 2], arrows, handles and targets on it."""
    canvas = Image.fromarray(upscale(image, factor))
    d = ImageDraw.Draw(canvas)
    r = max(3.0, 1.2 * factor, min(canvas.size) / 90)  # point radius, px of the canvas
    width = max(1, round(r / 3))
    h, t = to_canvas(np.reshape(handles, (-1, 2)), factor), to_canvas(np.reshape(targets, (-1, 2)), factor)
    if trail is not None and len(trail) > 1:
        track = np.stack([to_canvas(np.reshape(p, (-1, 2))[:len(h)], factor) for p in trail])  # [steps, n, 2]
        for i in range(track.shape[1]):
            d.line([tuple(p) for p in track[:, i]], fill=TRAIL_RGB, width=width, joint="curve")
    for a, b in zip(h, t):
        _arrow(d, a, b, r, width)
    for centres, colour in ((t, TARGET_RGB), (h, HANDLE_RGB)):
        for x, y in centres:
            d.ellipse([x - r - 1, y - r - 1, x + r + 1, y + r + 1], fill=ARROW_RGB)
            d.ellipse([x - r, y - r, x + r, y + r], fill=colour)
    return np.asarray(canvas)


def _arrow(d: ImageDraw.ImageDraw, a, b, r: float, width: int) -> None:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy)
    if length < 2.5 * r:
        return
    ux, uy = dx / length, dy / length
    tip = (b[0] - ux * r, b[1] - uy * r)
    base = (tip[0] - ux * 1.6 * r, tip[1] - uy * 1.6 * r)
    d.line([(a[0] + ux * r, a[1] + uy * r), base], fill=OUTLINE_RGB, width=width + 2)
    d.line([(a[0] + ux * r, a[1] + uy * r), base], fill=ARROW_RGB, width=width)
    left = (base[0] - uy * 0.8 * r, base[1] + ux * 0.8 * r)
    right = (base[0] + uy * 0.8 * r, base[1] - ux * 0.8 * r)
    d.polygon([tip, left, right], fill=ARROW_RGB, outline=OUTLINE_RGB)


def pick_frames(n: int, max_frames: int) -> list[int]:
    """Indices of at most `max_frames` evenly spaced frames of n, always the first and the last."""
    if n <= max_frames:
        return list(range(n))
    return sorted({round(i * (n - 1) / (max_frames - 1)) for i in range(max_frames)})


def compose(frames: list[DragFrame], size: int = DEFAULT_SIZE, points: bool = True,
            max_frames: int = MAX_FRAMES) -> list[np.ndarray]:
    """The frames of a drag as a person would share them: scaled up and, unless `points` is off, annotated."""
    if not frames:
        return []
    factor = scale_factor(frames[0].image.shape, size)
    keep = pick_frames(len(frames), max_frames)
    out = []
    for i in keep:
        f = frames[i]
        if points:
            trail = [frames[j].handles for j in range(_drag_start(frames, i), i + 1)]
            out.append(draw_drag(f.image, f.handles, f.targets, trail, factor))
        else:
            out.append(upscale(f.image, factor))
    return out


def _drag_start(frames: list[DragFrame], i: int) -> int:
    """The first frame of the drag frame i belongs to (an animation may hold several drags: same targets)."""
    j = i
    while j > 0 and np.array_equal(frames[j - 1].targets, frames[i].targets) \
            and frames[j - 1].handles.shape == frames[i].handles.shape:
        j -= 1
    return j


def before_after(start: DragFrame, end: DragFrame, size: int = DEFAULT_SIZE, gap: int = 8) -> np.ndarray:
    """The start (handles and targets as placed) and the result (where the handles ended), side by side."""
    factor = scale_factor(start.image.shape, size)
    left = draw_drag(start.image, start.handles, start.targets, None, factor)
    right = draw_drag(end.image, end.handles, end.targets, [start.handles, end.handles], factor)
    h = max(left.shape[0], right.shape[0])
    out = np.full((h, left.shape[1] + gap + right.shape[1], 3), 255, dtype=np.uint8)
    out[:left.shape[0], :left.shape[1]] = left
    out[:right.shape[0], left.shape[1] + gap:] = right
    return out
