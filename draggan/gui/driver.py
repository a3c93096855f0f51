"""Drive an app's real window by injected input, frame by frame (tests, screenshots, benchmarks).

Works with any object that has `.window` (a `Window`), `.frame(screenshot=None)` and
`.rects` (item name -> screen rectangle, recorded while drawing). Input goes
straight into imgui's event queue, as GLFW's callbacks would put it there.
"""

from __future__ import annotations

import time

from imgui_bundle import imgui


def record_item(rects: dict, name: str) -> None:
    """Remember the last drawn item's screen rectangle under `name` (call right after drawing it)."""
    rects[name] = (tuple(imgui.get_item_rect_min()), tuple(imgui.get_item_rect_max()))


class Driver:
    def __init__(self, app):
        self.app = app
        self.window = app.window

    def frames(self, n: int = 1) -> None:
        for _ in range(n):
            self.app.frame()

    def move(self, pos) -> None:
        self.window.inject_mouse_pos(*pos)
        self.app.frame()

    def click(self, pos, button: int = 0) -> None:
        self.move(pos)
        self.window.inject_mouse_button(button, True)
        self.app.frame()
        self.window.inject_mouse_button(button, False)
        self.app.frame()

    def drag(self, start, end, samples: int = 3, button: int = 0) -> None:
        """Press at `start`, move to `end` in `samples` jumps (one frame each, as a fast hand does), release."""
        self.move(start)
        self.window.inject_mouse_button(button, True)
        self.app.frame()
        for i in range(1, samples + 1):
            t = i / samples
            self.move((start[0] + t * (end[0] - start[0]), start[1] + t * (end[1] - start[1])))
        self.window.inject_mouse_button(button, False)
        self.app.frame()

    def wheel(self, pos, dy: float) -> None:
        self.move(pos)
        self.window.inject_wheel(dy)
        self.app.frame()

    def key(self, key: imgui.Key, ctrl: bool = False, shift: bool = False) -> None:
        mods = [m for m, on in ((imgui.Key.mod_ctrl, ctrl), (imgui.Key.mod_shift, shift)) if on]
        for m in mods:
            self.window.inject_key(m, True)
        self.window.inject_key(key, True)
        self.app.frame()
        self.window.inject_key(key, False)
        for m in mods:
            self.window.inject_key(m, False)
        self.app.frame()

    def type_text(self, text: str) -> None:
        """Type into the text field that has the keyboard, as the char callback would."""
        for ch in text:
            self.window.io.add_input_character(ord(ch))
        self.app.frame()

    def center_of(self, name: str) -> tuple[float, float]:
        if name not in self.app.rects:
            raise KeyError(f"no item '{name}' was drawn in the last frame; drawn: {sorted(self.app.rects)}")
        (x0, y0), (x1, y1) = self.app.rects[name]
        return (x0 + x1) / 2, (y0 + y1) / 2

    def click_item(self, name: str) -> None:
        self.click(self.center_of(name))

    def wait_until(self, predicate, timeout: float = 20.0, what: str = "the condition") -> None:
        """Run frames until predicate() is true (the worker runs meanwhile)."""
        deadline = time.perf_counter() + timeout
        while not predicate():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
            self.app.frame()
            time.sleep(0.002)

    def screenshot(self, path) -> None:
        self.app.frame(screenshot=path)
