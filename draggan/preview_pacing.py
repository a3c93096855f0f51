"""When the worker renders the image of an edit step: often enough to watch, rarely enough to keep pace.

A step that renders its image costs a synthesis pass more than one that does not (at 256 px on the
2-core CPU: 470 ms against 130 ms; on the demo model 19 against 13 ms). `PreviewPacer` measures both
kinds of step as they run and spaces the previews so that rendering takes at most `share` of the
edit's time, and never more often than the GUI can show them (`min_interval`). A fast model is then
previewed at the GUI's rate; a slow one at a rate that leaves at least half the time to the edit.
"""

from __future__ import annotations

SMOOTHING = 0.3  # weight of the newest duration in the running means


class PreviewPacer:
    def __init__(self):
        self.last = float("-inf")  # perf_counter of the last step that rendered its image
        self.plain: float | None = None  # s, running mean of a step without the image
        self.rendering: float | None = None  # s, of a step with it

    def interval(self, min_interval: float, share: float) -> float:
        """Seconds from one preview to the next: the render's extra cost / share, at least min_interval."""
        if self.rendering is None or share == float("inf"):
            return min_interval
        if self.plain is None:
            return float("inf")  # measure a step without the image first
        return max(min_interval, max(self.rendering - self.plain, 0.0) / share)

    def due(self, now: float, min_interval: float, share: float) -> bool:
        """Whether the step starting `now` renders its image (and if so, counts it as the last preview)."""
        if now - self.last >= self.interval(min_interval, share):
            self.last = now
            return True
        return False

    def record(self, seconds: float, rendered: bool) -> None:
        """The duration of a step that did (or did not) render its image."""
        old = self.rendering if rendered else self.plain
        new = seconds if old is None else (1 - SMOOTHING) * old + SMOOTHING * seconds
        if rendered:
            self.rendering = new
        else:
            self.plain = new
