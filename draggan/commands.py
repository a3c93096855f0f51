"""What the GUI asks of the editor: one frozen dataclass per command.

GUI -> here -> worker -> `Editor`. The worker queues these, drops the ones a later
command makes pointless (`coalesce`), and calls the `Editor` method each names.
Point edits also `apply` to a `Points`: the GUI's local copy and the editor follow
the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .engine import DragConfig
from .points import Points, validate_pairs

if TYPE_CHECKING:
    from .engine.inversion import InversionConfig


@dataclass(frozen=True)
class LoadCheckpoint:
    path: str  # a StyleGAN2 checkpoint (.pkl, .pt, .safetensors)


@dataclass(frozen=True)
class NewImage:
    seed: int  # NVIDIA convention: z = RandomState(seed).randn(1, z_dim); [0, 2^32)
    psi: float  # truncation psi (1 = none)


@dataclass(frozen=True)
class OpenPhoto:
    """Invert a picture into the open generator; it becomes the image (undoable) when the inversion ends."""
    path: str  # a picture file (PNG, JPEG, ...; see draggan.photo)
    box: tuple | None = None  # (x0, y0, x1, y1) crop in picture px; None = the centre crop to the model's aspect
    config: "InversionConfig | None" = None  # stages and steps; None = InversionConfig()


@dataclass(frozen=True)
class CancelInversion:
    """Drop the inversion in progress; the image and the generator stay as they were."""


# ---- point edits (each carries the GUI's edit counter, echoed in the published state) ----

@dataclass(frozen=True)
class SetPoints:
    handles: tuple  # ((x, y), ...) px
    targets: tuple  # ((x, y), ...), at most one fewer than handles
    rev: int = 0  # the GUI's edit counter, echoed in `WorkerState.points_rev`

    def apply(self, points: Points) -> None:
        h, t = validate_pairs(self.handles, self.targets, None, complete=False)
        points.handles = [tuple(p) for p in h.tolist()]
        points.targets = [tuple(p) for p in t.tolist()]


@dataclass(frozen=True)
class AddPoint:
    x: float  # px; a handle, or the target of the last handle if it has none
    y: float
    rev: int = 0

    def apply(self, points: Points) -> None:
        points.add(self.x, self.y)


@dataclass(frozen=True)
class MovePoint:
    index: int  # pair index
    is_target: bool
    x: float
    y: float
    rev: int = 0

    def apply(self, points: Points) -> None:
        points.move(self.index, self.is_target, self.x, self.y)


@dataclass(frozen=True)
class DeletePoint:
    index: int  # removes the handle and its target
    rev: int = 0

    def apply(self, points: Points) -> None:
        points.delete(self.index)


@dataclass(frozen=True)
class ClearPoints:
    rev: int = 0

    def apply(self, points: Points) -> None:
        points.clear()


POINT_EDITS = (SetPoints, AddPoint, MovePoint, DeletePoint, ClearPoints)


# ---- mask, settings, the drag ----

@dataclass(frozen=True, eq=False)
class SetMask:
    paint: np.ndarray | None  # int8 [H, W] brush layer (draggan.mask), None = no mask


@dataclass(frozen=True)
class SetConfig:
    config: DragConfig


@dataclass(frozen=True)
class Start:
    """Start a drag from the current image with the placed pairs (continues after a Stop)."""


@dataclass(frozen=True)
class Stop:
    """End the running drag, keeping its result."""


@dataclass(frozen=True)
class Reset:
    """Back to the original image (undoable)."""


@dataclass(frozen=True)
class Undo:
    """Revert the last whole drag (or reset), with its points and mask."""


@dataclass(frozen=True)
class Redo:
    pass


# ---- files ----

@dataclass(frozen=True)
class LoadSession:
    path: str
    restored: bool = False  # an autosave brought back after a crash: its work counts as unsaved


@dataclass(frozen=True)
class SaveSession:
    path: str


@dataclass(frozen=True)
class SaveImage:
    path: str  # .png, with provenance text chunks


@dataclass(frozen=True)
class SaveLatent:
    path: str  # .npy, W+ [1, L, D]


@dataclass(frozen=True)
class SaveAnimation:
    path: str  # .gif or .mp4 of the drags since the image was last replaced
    fps: float = 15.0


@dataclass(frozen=True)
class Autosave:
    path: str  # where the crash-recovery copy of the session goes (only written when there are changes)


# ---- the researchers' view ----

@dataclass(frozen=True)
class SetFeatureView:
    enabled: bool = False  # compute the researchers' view at all
    block: int | None = None  # feature block resolution; None = the drag's feature block
    query: tuple[float, float] | None = None  # image px whose feature the heat map compares to
    metric: str = "l1"  # 'l1' (the tracking's distance) or 'cosine'


@dataclass(frozen=True)
class Shutdown:
    """End the worker thread."""


LATEST_WINS = (NewImage, SetConfig, SetMask, SetFeatureView)  # only the last of a batch matters


def coalesce(cmds: list) -> list:
    """Drop commands a later one in the batch makes pointless (a slider sends one per frame)."""
    out, seen = [], set()
    for cmd in reversed(cmds):
        if isinstance(cmd, MovePoint):
            key = ("move", cmd.index, cmd.is_target)
        elif isinstance(cmd, LATEST_WINS):
            key = type(cmd)
        else:
            key = None
            if isinstance(cmd, POINT_EDITS):  # indices may change: earlier moves are not superseded
                seen = {k for k in seen if not (isinstance(k, tuple) and k[0] == "move")}
            else:  # start, stop, undo, loads, saves: order matters around them
                seen.clear()
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        out.append(cmd)
    return out[::-1]
