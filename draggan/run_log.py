"""What one drag run produced, for the progress panel and the animation: losses, distances, trail, frames.

editor -> here -> published state. Frames for the animation are kept within a
memory budget: past it every other frame is dropped and the stride doubles, so a
long edit keeps an evenly spaced animation.

Dimension legend: m handles with targets, H/W image size.
"""

from __future__ import annotations

import time

import numpy as np

from .animation import DragFrame

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
        self.frames: list[DragFrame] = []  # the image of a step with its tracked handles and targets
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
            self.add_frame(DragFrame(result.image, result.handles, result.targets))

    def clear(self) -> None:
        """The image was replaced (new seed, model, undo): no run, no animation."""
        frames_budget = self.max_frame_bytes
        self.__init__(frames_budget)

    @property
    def steps_per_s(self) -> float:
        if not self._steps:
            return 0.0
        return self._steps / max(time.perf_counter() - self._t0, 1e-9)

    def add_frame(self, frame: DragFrame) -> None:
        if self._count % self._stride == 0:
            self.frames.append(frame)
            if len(self.frames) * frame.image.nbytes > self.max_frame_bytes and len(self.frames) > 2:
                self.frames = self.frames[::2]
                self._stride *= 2
        self._count += 1

    def summary(self, max_steps: int, stop_distance: float) -> str:
        """Why the run ended and what is left, for the status line: 'step limit: ...; left 1: 3.6 px'."""
        last = self.last
        n = len(last.distances) if last is not None else 0
        text = end_reason(self.status, len(self.losses), max_steps, stop_distance, n,
                          last.error if last is not None else None)
        if last is not None and 0 < n <= 4:
            text += "; left " + ", ".join(f"{i + 1}: {d:.1f} px" for i, d in enumerate(last.distances))
        elif last is not None and n:
            text += f"; at most {float(last.distances.max()):.1f} px left"
        return text


def end_reason(status: str, steps: int, max_steps: int, stop_distance: float, n_handles: int,
               error: str | None = None) -> str:
    """One sentence on why a drag ended (the CLI's table and the editor's status line say the same)."""
    s = "s" if steps != 1 else ""
    if status == "converged":
        which = "the handle is" if n_handles == 1 else f"all {n_handles} handles are"
        return f"converged: {which} within {stop_distance:g} px of the target after {steps} step{s}"
    if status == "step limit":
        return f"step limit: {steps} of {max_steps} steps ran out before every handle was within {stop_distance:g} px"
    if status == "stuck":
        return f"stuck: the handles stopped moving, {steps} step{s} in (DragConfig.stall_steps)"
    if status == "error":
        return f"stopped by an error after {steps} step{s}: {error or 'see the message'}"
    return f"{status} after {steps} step{s}"
