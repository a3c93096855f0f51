"""What one drag run produced, for the progress panel and the animation: losses, distances, trail, frames.

editor -> here -> published state. Frames for the animation are kept within a
memory budget: past it every other frame is dropped and the stride doubles, so a
long edit keeps an evenly spaced animation.

Dimension legend: m handles with targets, H/W image size.
"""

from __future__ import annotations

import time

import numpy as np

MAX_FRAME_BYTES = 256 * 2 ** 20  # memory kept for the drag animation; beyond it every other frame is dropped


class RunLog:
    """Statistics of the current run and the animation frames since the image was last replaced."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES):
        self.max_frame_bytes = max_frame_bytes
        self.status = "idle"  # idle | running | converged | stopped | step limit | error
        self.last = None  # the newest StepResult of this run
        self.losses: list[float] = []
        self.max_distances: list[float] = []
        self.trail: list[np.ndarray] = []  # [m, 2] tracked handles per step
        self._t0, self._steps = 0.0, 0
        self.frames: list[np.ndarray] = []  # uint8 [H, W, 3]
        self._stride, self._count = 1, 0

    def start(self) -> None:
        """A run begins: fresh statistics (the animation goes on across runs)."""
        self.status, self.last = "running", None
        self.losses, self.max_distances, self.trail = [], [], []
        self._t0, self._steps = time.perf_counter(), 0

    def record(self, result) -> None:
        self.last = result
        self.trail.append(result.handles)
        self.losses.append(result.loss)
        self.max_distances.append(float(result.distances.max()) if len(result.distances) else 0.0)
        self._steps += 1
        if result.image is not None:
            self.add_frame(result.image)

    def clear(self) -> None:
        """The image was replaced (new seed, model, undo): no run, no animation."""
        frames_budget = self.max_frame_bytes
        self.__init__(frames_budget)

    @property
    def steps_per_s(self) -> float:
        if not self._steps:
            return 0.0
        return self._steps / max(time.perf_counter() - self._t0, 1e-9)

    def add_frame(self, image: np.ndarray) -> None:
        if self._count % self._stride == 0:
            self.frames.append(image)
            if len(self.frames) * image.nbytes > self.max_frame_bytes and len(self.frames) > 2:
                self.frames = self.frames[::2]
                self._stride *= 2
        self._count += 1

    def summary(self) -> str:
        """'converged after 31 steps; max distance 0.8 px'."""
        n = len(self.losses)
        d = f"; max distance {self.max_distances[-1]:.1f} px" if self.max_distances else ""
        return f"{self.status} after {n} step{'s' if n != 1 else ''}{d}"
