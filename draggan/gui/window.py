"""A GLFW window with an OpenGL 3.3 context and Dear ImGui + ImPlot: the GUI toolkit's base.

It knows nothing about models or the editor. It opens the window (or explains why
there is no display), turns GLFW input into imgui events (or lets a test inject
them instead), draws imgui with imgui-bundle's OpenGL 3 renderer, reads the
framebuffer back for screenshots, and collects files dropped onto the window.
All of it runs on the thread that created the window (the GL context's thread).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import imgui_bundle
import numpy as np
from imgui_bundle import imgui, implot  # before glfw, so that both use imgui-bundle's libglfw

import glfw  # noqa: E402  (order matters, see above)
import OpenGL  # noqa: E402

OpenGL.ERROR_CHECKING = False  # a glGetError after every call costs more than the few calls we make
import OpenGL.GL as gl  # noqa: E402

from ..errors import DragGANError  # noqa: E402

NO_DISPLAY = ("no display to open the editor window on ({reason}).\n"
              "  - On a desktop, start `draggan` from a terminal of that desktop session.\n"
              "  - On a server or in CI, use a virtual screen: `xvfb-run -a draggan` (Debian/Ubuntu package xvfb).\n"
              "  - Or edit without a window: `draggan edit CHECKPOINT --points points.json` (see `draggan edit --help`).")
FONT = Path(imgui_bundle.__file__).resolve().parent / "assets" / "fonts" / "Roboto" / "Roboto-Regular.ttf"


def _key_map() -> dict[int, imgui.Key]:
    keys = {getattr(glfw, f"KEY_{c}"): getattr(imgui.Key, c.lower()) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
    keys.update({getattr(glfw, f"KEY_{d}"): getattr(imgui.Key, f"_{d}") for d in range(10)})
    keys.update({getattr(glfw, f"KEY_F{i}"): getattr(imgui.Key, f"f{i}") for i in range(1, 13)})
    named = {"TAB": "tab", "BACKSPACE": "backspace", "ENTER": "enter", "ESCAPE": "escape", "INSERT": "insert",
             "DELETE": "delete", "SPACE": "space", "LEFT": "left_arrow", "RIGHT": "right_arrow", "UP": "up_arrow",
             "DOWN": "down_arrow", "PAGE_UP": "page_up", "PAGE_DOWN": "page_down", "HOME": "home", "END": "end",
             "KP_ENTER": "keypad_enter", "LEFT_CONTROL": "left_ctrl", "RIGHT_CONTROL": "right_ctrl",
             "LEFT_SHIFT": "left_shift", "RIGHT_SHIFT": "right_shift", "LEFT_ALT": "left_alt",
             "RIGHT_ALT": "right_alt", "LEFT_SUPER": "left_super", "RIGHT_SUPER": "right_super",
             "MINUS": "minus", "EQUAL": "equal", "LEFT_BRACKET": "left_bracket", "RIGHT_BRACKET": "right_bracket",
             "SLASH": "slash", "PERIOD": "period", "COMMA": "comma", "SEMICOLON": "semicolon",
             "APOSTROPHE": "apostrophe", "BACKSLASH": "backslash", "GRAVE_ACCENT": "grave_accent",
             "KP_ADD": "keypad_add", "KP_SUBTRACT": "keypad_subtract"}
    keys.update({getattr(glfw, f"KEY_{g}"): getattr(imgui.Key, k) for g, k in named.items()})
    return keys


DISPLAY_RETRY_S = 3.0  # s; how long a display that refuses connections is retried before giving up


def _init_glfw() -> None:
    """glfw.init(), retried while the X server refuses connections for a moment.

    An X server resets itself when its last client disconnects (Xvfb does unless
    started with -noreset), and a connection made during the reset fails with
    "Failed to open display". Closing the editor's window and opening another one
    at once (tests, scripts reopening the editor) hits that window about one time
    in thirty, so a refused connection is retried briefly before it is reported.
    """
    deadline = time.monotonic() + DISPLAY_RETRY_S
    while True:
        try:
            glfw.init()
            return
        except glfw.GLFWError as e:
            if "Failed to open display" not in str(e) or time.monotonic() >= deadline:
                raise DragGANError(NO_DISPLAY.format(reason=str(e).strip())) from None
            time.sleep(0.05)


class Window:
    """One top-level window; `begin_frame()` ... imgui calls ... `end_frame()` once per frame."""

    _open = 0  # windows alive in this process (GLFW is terminated with the last one)

    def __init__(self, title: str = "DragGAN", size: tuple[int, int] = (1280, 800), install_callbacks: bool = True,
                 ini_path: Path | None = None, font_size: float = 15.0):
        if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            raise DragGANError(NO_DISPLAY.format(reason="DISPLAY is not set"))
        glfw.ERROR_REPORTING = "raise"
        _init_glfw()
        glfw.window_hint(glfw.CONTEXT_VERSION_MAJOR, 3)
        glfw.window_hint(glfw.CONTEXT_VERSION_MINOR, 3)
        glfw.window_hint(glfw.OPENGL_PROFILE, glfw.OPENGL_CORE_PROFILE)
        glfw.window_hint(glfw.OPENGL_FORWARD_COMPAT, True)
        try:
            self.handle = glfw.create_window(int(size[0]), int(size[1]), title, None, None)
        except glfw.GLFWError as e:
            glfw.terminate()
            raise DragGANError(f"cannot open an OpenGL 3.3 window ({str(e).strip()}); update the graphics driver, "
                               "or use the headless `draggan edit`") from None
        Window._open += 1
        glfw.make_context_current(self.handle)
        glfw.swap_interval(0)  # we pace frames ourselves (vsync does nothing under Xvfb)
        self.ctx = imgui.create_context()
        self.plot_ctx = implot.create_context()
        self.make_current()
        self.io = imgui.get_io()
        self.io.set_ini_filename(str(ini_path) if ini_path else "")  # "" = no imgui.ini anywhere
        self.scale = max(glfw.get_window_content_scale(self.handle)[0], 1.0)
        if FONT.is_file():
            self.io.fonts.add_font_from_file_ttf(str(FONT), font_size * self.scale)
        imgui.backends.opengl3_init("#version 330")
        self._keys = _key_map()
        self._dropped: list[str] = []
        # Backgrounds are cleared with glClear, not drawn as imgui rectangles: under a software
        # rasteriser (Mesa llvmpipe, Xvfb) a window-sized imgui fill costs ~15 ms per frame, a clear ~1 ms.
        self.background = (0.11, 0.115, 0.125)  # RGB of the whole window
        self.clear_regions: list[tuple[tuple[float, float, float, float], tuple]] = []  # ((x0, y0, x1, y1), rgb)
        self._last_time = time.perf_counter()
        self.last_input_time = self._last_time  # for idling when nothing happens
        if install_callbacks:
            glfw.set_cursor_pos_callback(self.handle, self._on_cursor)
            glfw.set_cursor_enter_callback(self.handle, self._on_enter)
            glfw.set_mouse_button_callback(self.handle, self._on_button)
            glfw.set_scroll_callback(self.handle, self._on_scroll)
            glfw.set_key_callback(self.handle, self._on_key)
            glfw.set_char_callback(self.handle, self._on_char)
            glfw.set_window_focus_callback(self.handle, self._on_focus)
        glfw.set_drop_callback(self.handle, self._on_drop)

    # ---- GLFW -> imgui ----
    def _mods(self, mods: int) -> None:
        self.io.add_key_event(imgui.Key.mod_ctrl, bool(mods & glfw.MOD_CONTROL))
        self.io.add_key_event(imgui.Key.mod_shift, bool(mods & glfw.MOD_SHIFT))
        self.io.add_key_event(imgui.Key.mod_alt, bool(mods & glfw.MOD_ALT))
        self.io.add_key_event(imgui.Key.mod_super, bool(mods & glfw.MOD_SUPER))

    def _on_cursor(self, _w, x, y):
        self.inject_mouse_pos(x, y)

    def _on_enter(self, _w, entered):
        if not entered:
            self.io.add_mouse_pos_event(-imgui.FLT_MAX, -imgui.FLT_MAX)

    def _on_button(self, _w, button, action, mods):
        self._mods(mods)
        if 0 <= button < 5:
            self.inject_mouse_button(button, action == glfw.PRESS)

    def _on_scroll(self, _w, dx, dy):
        self.inject_wheel(dy, dx)

    def _on_key(self, _w, key, _scancode, action, mods):
        self._mods(mods)
        if key in self._keys and action in (glfw.PRESS, glfw.RELEASE):
            self.inject_key(self._keys[key], action == glfw.PRESS)

    def _on_char(self, _w, char):
        self.io.add_input_character(char)
        self.last_input_time = time.perf_counter()

    def _on_focus(self, _w, focused):
        self.io.add_focus_event(bool(focused))

    def _on_drop(self, _w, paths):
        self.inject_drop(paths)

    # ---- input injection (the callbacks use these too) ----
    def inject_mouse_pos(self, x: float, y: float) -> None:
        self.io.add_mouse_pos_event(float(x), float(y))
        self.last_input_time = time.perf_counter()

    def inject_mouse_button(self, button: int, down: bool) -> None:
        self.io.add_mouse_button_event(button, down)
        self.last_input_time = time.perf_counter()

    def inject_wheel(self, dy: float, dx: float = 0.0) -> None:
        self.io.add_mouse_wheel_event(float(dx), float(dy))
        self.last_input_time = time.perf_counter()

    def inject_key(self, key: imgui.Key, down: bool) -> None:
        self.io.add_key_event(key, down)
        self.last_input_time = time.perf_counter()

    def inject_drop(self, paths) -> None:
        self._dropped.extend(str(p) for p in paths)
        self.last_input_time = time.perf_counter()

    def take_dropped(self) -> list[str]:
        paths, self._dropped = self._dropped, []
        return paths

    # ---- frames ----
    def should_close(self) -> bool:
        return bool(glfw.window_should_close(self.handle))

    def request_close(self) -> None:
        glfw.set_window_should_close(self.handle, True)

    def cancel_close(self) -> None:
        """Keep the window open after a close request (the user is asked first)."""
        glfw.set_window_should_close(self.handle, False)

    def poll(self) -> None:
        """Deliver pending input to the callbacks (between frames; begin_frame polls too)."""
        glfw.poll_events()

    def wait_events(self, timeout: float) -> None:
        """Sleep until input arrives or `timeout` s pass (idle frames)."""
        glfw.wait_events_timeout(timeout)

    def make_current(self) -> None:
        """This window's GL and imgui contexts (several windows may be open, e.g. in tests)."""
        glfw.make_context_current(self.handle)
        imgui.set_current_context(self.ctx)
        implot.set_current_context(self.plot_ctx)

    def begin_frame(self) -> None:
        self.make_current()
        glfw.poll_events()
        w, h = glfw.get_window_size(self.handle)
        fw, fh = self._fb_size = glfw.get_framebuffer_size(self.handle)
        self.io.display_size = imgui.ImVec2(w, h)
        if w > 0 and h > 0:
            self.io.display_framebuffer_scale = imgui.ImVec2(fw / w, fh / h)
        now = time.perf_counter()
        self.io.delta_time = max(now - self._last_time, 1e-4)
        self._last_time = now
        imgui.backends.opengl3_new_frame()
        imgui.new_frame()
        self._recovery = imgui.internal.ErrorRecoveryState()
        imgui.internal.error_recovery_store_state(self._recovery)

    def abandon_frame(self) -> None:
        """After an exception mid-frame: close whatever was left open and end the frame undrawn."""
        io = self.io
        saved = io.config_error_recovery_enable_assert, io.config_error_recovery_enable_tooltip
        io.config_error_recovery_enable_assert = io.config_error_recovery_enable_tooltip = False  # expected here
        try:
            imgui.internal.error_recovery_try_to_recover_state(self._recovery)
            imgui.end_frame()
        finally:
            io.config_error_recovery_enable_assert, io.config_error_recovery_enable_tooltip = saved

    def end_frame(self, screenshot: str | os.PathLike | None = None) -> None:
        imgui.render()
        fw, fh = self._fb_size
        gl.glViewport(0, 0, fw, fh)
        gl.glClearColor(*self.background, 1.0)
        gl.glClear(gl.GL_COLOR_BUFFER_BIT)
        if self.clear_regions:
            sx, sy = self.io.display_framebuffer_scale
            gl.glEnable(gl.GL_SCISSOR_TEST)
            for (x0, y0, x1, y1), rgb in self.clear_regions:
                gl.glScissor(int(x0 * sx), int(fh - y1 * sy), max(int((x1 - x0) * sx), 0), max(int((y1 - y0) * sy), 0))
                gl.glClearColor(*rgb, 1.0)
                gl.glClear(gl.GL_COLOR_BUFFER_BIT)
            gl.glDisable(gl.GL_SCISSOR_TEST)
        imgui.backends.opengl3_render_draw_data(imgui.get_draw_data())
        if screenshot is not None:
            from PIL import Image
            Path(screenshot).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(self.read_pixels()).save(screenshot)
        glfw.swap_buffers(self.handle)

    def read_pixels(self) -> np.ndarray:
        """The rendered frame (before the swap): uint8 [H, W, 3], top row first."""
        fw, fh = self._fb_size
        gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
        raw = gl.glReadPixels(0, 0, fw, fh, gl.GL_RGB, gl.GL_UNSIGNED_BYTE)
        return np.frombuffer(raw, dtype=np.uint8).reshape(fh, fw, 3)[::-1].copy()

    def close(self) -> None:
        if self.handle is None:
            return
        self.make_current()
        imgui.backends.opengl3_shutdown()
        implot.destroy_context(self.plot_ctx)
        imgui.destroy_context(self.ctx)  # writes imgui.ini when it has a path
        glfw.destroy_window(self.handle)
        self.handle = None
        Window._open -= 1
        if Window._open == 0:
            glfw.terminate()
