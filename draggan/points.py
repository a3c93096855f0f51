"""Handle/target points: the `Points` model every layer shares, and the one validator of point pairs.

engine, editor, session files, points files and the GUI all check pairs with
`validate_pairs`, so a point is accepted or refused the same way everywhere.
Positions are pixels of the generated image: x to the right, y down, pixel
centres at integers, fractions allowed, valid range [0, W-1] x [0, H-1].

Dimension legend: n handles, m <= n targets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import DragGANError

MAX_POINTS = 1000  # pairs; far beyond any edit, small enough that a hostile file cannot exhaust memory


def _as_xy(value, name: str) -> np.ndarray:
    """A list of [x, y] -> float64 [k, 2] of finite numbers."""
    if isinstance(value, (str, bytes, dict)):
        raise DragGANError(f"{name} must be a list of [x, y] pairs of numbers")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise DragGANError(f"{name} must be a list of [x, y] pairs of numbers") from None
    if arr.size == 0 and arr.ndim <= 2:
        return np.zeros((0, 2))
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise DragGANError(f"{name} must be a list of [x, y] pairs, got an array of shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise DragGANError(f"{name} must be finite numbers (no NaN or infinity)")
    return arr


def validate_pairs(handles, targets, size: tuple[int, int] | None, complete: bool = True,
                   what: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Check points -> (handles [n, 2], targets [m, 2]) as float64, or raise `DragGANError` saying why.

    size: (H, W) of the image the points lie on, None = do not check the range.
    complete: every handle needs a target and there is at least one pair (a drag can
    start); otherwise the last handle may still wait for its target (the editor's state).
    """
    prefix = f"{what}: " if what else ""
    try:
        h, t = _as_xy(handles, "handles"), _as_xy(targets, "targets")
    except DragGANError as e:
        raise DragGANError(prefix + str(e)) from None
    if len(h) > MAX_POINTS:
        raise DragGANError(f"{prefix}{len(h)} handles; at most {MAX_POINTS} are supported")
    if complete and len(h) == 0:
        raise DragGANError(f"{prefix}add at least one handle point and its target")
    if complete and len(h) != len(t):
        raise DragGANError(f"{prefix}every handle needs a target (as many targets as handles): "
                           f"got {len(h)} handles and {len(t)} targets")
    if len(t) > len(h) or len(h) - len(t) > 1:
        raise DragGANError(f"{prefix}{len(h)} handles and {len(t)} targets: every target belongs to a handle, "
                           "and only the last handle may wait for its target")
    if size is not None:
        height, width = size
        for name, pts in (("handle", h), ("target", t)):
            bad = (pts[:, 0] < 0) | (pts[:, 0] > width - 1) | (pts[:, 1] < 0) | (pts[:, 1] > height - 1)
            if bad.any():
                i = int(np.argmax(bad))
                raise DragGANError(f"{prefix}{name} {i} at {pts[i].tolist()} lies outside the {width}x{height} "
                                   f"image (x in [0, {width - 1}], y in [0, {height - 1}])")
    return h, t


@dataclass
class Points:
    """Handles and targets; targets[i] belongs to handles[i]; only the last handle may lack one."""
    handles: list = field(default_factory=list)  # [(x, y), ...] px
    targets: list = field(default_factory=list)

    @classmethod
    def from_arrays(cls, handles, targets) -> "Points":
        h, t = validate_pairs(handles, targets, None, complete=False)
        return cls([tuple(p) for p in h.tolist()], [tuple(p) for p in t.tolist()])

    def copy(self) -> "Points":
        return Points(list(self.handles), list(self.targets))

    @property
    def pending(self) -> bool:
        """The last handle still waits for its target."""
        return len(self.handles) > len(self.targets)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The complete pairs: handles [m, 2], targets [m, 2]."""
        m = len(self.targets)
        return (np.asarray(self.handles[:m], dtype=np.float64).reshape(m, 2),
                np.asarray(self.targets, dtype=np.float64).reshape(m, 2))

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """All points: handles [n, 2], targets [m, 2]."""
        return (np.asarray(self.handles, dtype=np.float64).reshape(-1, 2),
                np.asarray(self.targets, dtype=np.float64).reshape(-1, 2))

    # ---- the edits a user makes (the GUI's copy and the editor apply the same rules) ----
    def add(self, x: float, y: float) -> None:
        """A new handle, or the target of the last handle if it has none."""
        (self.targets if self.pending else self.handles).append((float(x), float(y)))

    def move(self, index: int, is_target: bool, x: float, y: float) -> None:
        points = self.targets if is_target else self.handles
        if 0 <= index < len(points):
            points[index] = (float(x), float(y))

    def delete(self, index: int) -> None:
        """Remove the pair `index` (the handle and its target)."""
        if 0 <= index < len(self.handles):
            del self.handles[index]
            if index < len(self.targets):
                del self.targets[index]

    def clear(self) -> None:
        self.handles, self.targets = [], []

    def set_tracked(self, handles: np.ndarray) -> None:
        """Move the paired handles to their tracked positions [m, 2]."""
        for i, (x, y) in enumerate(np.asarray(handles).tolist()):
            self.handles[i] = (float(x), float(y))
