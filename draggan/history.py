"""The editor's one undo history: whole drags, resets, new images and photos as `(latent, points, mask)` entries.

editor -> here. An entry is the state *before* an undoable change; undo swaps the
current state for the newest entry and keeps the current one for redo. Latents
are kept on the host, so a long session costs host memory, not GPU memory, and
the oldest entries go beyond `limit`.

Dimension legend: L num_ws, D w_dim, H/W image size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .points import Points

HISTORY_LIMIT = 200  # undoable changes kept; an entry is a latent (36 KB at 512 px) plus a paint layer


@dataclass(frozen=True, eq=False)
class Snapshot:
    latent: torch.Tensor  # [1, L, D] float32 on the host
    points: Points
    paint: np.ndarray | None  # int8 [H, W] brush layer, None = nothing painted
    image: "ImageOrigin"  # where the image came from (a new seed is undoable too)

    @classmethod
    def take(cls, latent: torch.Tensor, points: Points, paint: np.ndarray | None, image: "ImageOrigin") -> "Snapshot":
        return cls(latent.detach().cpu().clone(), points.copy(), None if paint is None else paint.copy(), image)


@dataclass(frozen=True, eq=False)
class ImageOrigin:
    seed: int  # NVIDIA convention
    psi: float  # truncation
    latent_source: str | None  # a latent file the image came from instead of the seed
    original: torch.Tensor  # [1, L, D] on the host: what Reset returns to
    photo: object = None  # `photo_editing.PhotoSource` when the image is an inverted photo (with its generator)


class History:
    """Undo and redo stacks of `Snapshot`s."""

    def __init__(self, limit: int = HISTORY_LIMIT):
        self.limit = limit
        self._undo: list[Snapshot] = []
        self._redo: list[Snapshot] = []

    def push(self, before: Snapshot) -> None:
        """An undoable change is about to happen from `before`; redo is no longer possible."""
        self._undo.append(before)
        del self._undo[:-self.limit]
        self._redo.clear()

    def undo(self, current: Snapshot) -> Snapshot | None:
        """The state to go back to (None = nothing to undo); `current` becomes redoable."""
        return self._move(self._undo, self._redo, current)

    def redo(self, current: Snapshot) -> Snapshot | None:
        return self._move(self._redo, self._undo, current)

    @staticmethod
    def _move(source: list[Snapshot], dest: list[Snapshot], current: Snapshot) -> Snapshot | None:
        if not source:
            return None
        dest.append(current)
        return source.pop()

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)
