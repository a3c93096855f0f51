"""`EditorApp`: the desktop editor, wiring the panels and the canvas to the worker.

checkpoint -> generator -> engine -> worker -> here. The app keeps the GUI's
copies of what the user edits (points, paint, settings), sends every edit to the
worker as a command, and each frame shows the worker's newest `WorkerState`: the
image texture is re-uploaded only when the state's image id changes, and frames that
would look the same are not drawn. No model code runs on this thread.
"""

from __future__ import annotations

import os
import random
import time
import traceback
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from imgui_bundle import imgui

from ..checkpoints import resolve_checkpoint
from ..engine import DragConfig
from ..errors import DragGANError
from ..mask import empty_paint, overlay_rgba
from ..commands import (ClearPoints, DeletePoint, LoadCheckpoint, LoadSession, NewImage, Redo, Reset, SaveAnimation,
                        SaveImage, SaveLatent, SaveSession, SetConfig, SetFeatureView, SetMask, Start, Stop, Undo)
from ..points import Points
from ..worker import EditWorker, WorkerState
from . import theme
from .canvas import Canvas, Overlays
from .driver import record_item
from .panels import (FileParams, ImageParams, SettingsParams, ToolParams, draw_files_section, draw_image_section,
                     draw_mask_section, draw_model_section, draw_points_section, draw_run_section,
                     draw_settings_section)
from .progress import draw_progress_panel
from .recent import RecentFiles, default_config_dir
from .researcher import ResearcherParams, draw_researcher_panel
from .shortcuts import draw_help_window, label_of, pressed_actions
from .texture import Texture, magnify, pixel_factor
from .window import Window

LEFT_WIDTH = 330  # px, control panel
RIGHT_WIDTH = 340  # px, progress and researchers' view
BUSY_AFTER_INPUT_S = 1.0  # full frame rate this long after the last input, then idle frames
MAX_FRAME_FAILURES = 100  # consecutive failing frames before the editor gives up


@dataclass
class AppOptions:
    checkpoint: str | None = None  # None = the default demo model, if installed
    session: str | None = None  # a session to reopen instead
    device: str = "cpu"
    seed: int = 0
    psi: float = 0.7
    config_dir: Path | None = None  # where imgui.ini and recent files live; None = keep nothing
    fps: float = 60.0  # frame rate cap while something happens
    idle_fps: float = 10.0  # frame rate when nothing happens (wakes at once on input)


class EditorApp:
    def __init__(self, window: Window, options: AppOptions, worker: EditWorker | None = None):
        self.window = window
        self.options = options
        theme.apply_theme(window.scale)
        self.worker = worker or EditWorker(options.device, DragConfig(), options.seed, options.psi)
        self.state = WorkerState()  # the newest state seen
        self.rects: dict[str, tuple] = {}  # item name -> screen rectangle, for tests and scripts
        self.canvas = Canvas()
        self.image_tex, self.mask_tex, self.pca_tex, self.heat_tex = Texture(), Texture(), Texture(), Texture()
        self._image_id = -1
        self._texel_factor = 1  # texels per image pixel of the image and mask textures (see texture.magnify)
        self._features_version = -1
        self.points, self.points_rev = Points(), 0
        self.paint: np.ndarray | None = None  # int8 [H, W] brush layer
        self._paint_dirty = False
        self.image_params = ImageParams(options.seed, options.psi)
        self.tools = ToolParams()
        self.settings = SettingsParams()
        self.files = FileParams()
        self.researcher = ResearcherParams()
        self.recent = RecentFiles(options.config_dir / "recent.json" if options.config_dir else None)
        self.show_help = False
        self.show_progress = True
        self.hover: tuple[float, float] | None = None
        self._dismissed_error = 0
        self._gui_error: str | None = None
        self._last_view_request = SetFeatureView()
        self._rng = random.Random()
        self.frame_times: deque[float] = deque(maxlen=240)  # s per frame (work, not the wait)
        self.frames = 0
        self._last_frame_time = 0.0
        self.startup_note = ""
        self._open_initial()

    # ---- opening files ----
    def _open_initial(self) -> None:
        if self.options.session:
            self.open_path(self.options.session)
            return
        try:
            path = resolve_checkpoint(self.options.checkpoint)
        except DragGANError as e:
            self.startup_note = str(e)
            return
        self.open_path(str(path))

    def open_path(self, path: str) -> None:
        """A checkpoint, or a session (.json)."""
        path = str(Path(path).expanduser())
        if Path(path).suffix.lower() == ".json":
            self.worker.send(LoadSession(path))
            self.files.session_field = path
        else:
            self.worker.send(LoadCheckpoint(path))
            self.files.checkpoint_field = path

    # ---- one frame ----
    def frame(self, screenshot: str | os.PathLike | None = None) -> None:
        t0 = time.perf_counter()
        self.window.begin_frame()
        try:
            self.rects = {}
            self._sync()
            dropped = self.window.take_dropped()
            if dropped:
                self.open_path(dropped[-1])
            self._draw()
            for action in pressed_actions(imgui.get_io()):
                self.do(action)
            self._request_features()
        except BaseException:
            self.window.abandon_frame()
            raise
        self.window.end_frame(screenshot)
        self.frame_times.append(time.perf_counter() - t0)
        self.frames += 1

    def run(self) -> None:
        """The event loop until the window closes."""
        failures = 0
        while not self.window.should_close():
            try:
                self.loop_once()
                failures = 0
            except Exception as e:  # a bug in a panel must not take the session down
                failures += 1
                if failures > MAX_FRAME_FAILURES:
                    raise
                traceback.print_exc()
                self._gui_error = f"internal GUI error ({type(e).__name__}: {e}); the edit and the model are kept"

    def loop_once(self) -> bool:
        """One turn of the event loop: draw a frame when something may have changed, then wait.

        While the user interacts: every turn, at `fps`. Otherwise a frame only when the
        worker has published something new (each step of a running edit), and at least
        `idle_fps`: frames that would look the same are not drawn, which on a machine
        without a GPU leaves the CPU to the edit. Returns whether a frame was drawn.
        """
        start = time.perf_counter()
        self.window.poll()
        io = imgui.get_io()
        interacting = any(io.mouse_down) or start - self.window.last_input_time < BUSY_AFTER_INPUT_S
        news = self.worker.snapshot().stamp != self.state.stamp or self.state.loading is not None
        due = interacting or news or start - self._last_frame_time >= 1 / self.options.idle_fps
        if due:
            self.frame()
            self._last_frame_time = start
        left = 1 / self.options.fps - (time.perf_counter() - start)
        if left > 0:
            if interacting or self.state.running or self.state.loading is not None:
                time.sleep(left)
            else:
                self.window.wait_events(1 / self.options.idle_fps)  # wakes at once on input
        return due

    def close(self) -> None:
        self.worker.close()
        self.window.make_current()  # the textures belong to this window's GL context
        for tex in (self.image_tex, self.mask_tex, self.pca_tex, self.heat_tex):
            tex.release()
        self.window.close()

    # ---- worker -> GUI ----
    def _sync(self) -> None:
        s = self.worker.snapshot()
        if s.stamp == self.state.stamp:
            return
        if s.loaded_id != self.state.loaded_id:  # a checkpoint or session replaced everything
            self.recent.add(s.session_path or s.checkpoint)
            self.image_params = ImageParams(s.seed, s.psi)
            self.settings.config = s.config
            self.paint = s.paint.copy() if s.paint is not None else (empty_paint(s.resolution) if s.resolution else None)
            self._paint_dirty = True
            self.researcher.query = None
            self.canvas.fit()
        if s.points_rev == self.points_rev and self.canvas.dragging is None:
            self.points = Points(list(s.handles), list(s.targets))  # tracked positions, undo, loads
        if s.image is not None and s.image_id != self._image_id:
            self.image_tex.upload(magnify(s.image, self._texel_factor))
            self._image_id = s.image_id
        fv = s.features
        if fv is not None and fv.version != self._features_version:
            self.pca_tex.upload(fv.pca)
            if fv.heat is not None:
                self.heat_tex.upload(fv.heat)
            self._features_version = fv.version
        self.state = s

    # ---- GUI -> worker ----
    def edit_points(self, cmd) -> None:
        self.points_rev += 1
        cmd = replace(cmd, rev=self.points_rev)
        cmd.apply(self.points)
        self.worker.send(cmd)

    def _send_mask(self) -> None:
        self.worker.send(SetMask(None if self.paint is None or not self.paint.any() else self.paint.copy()))

    def _request_features(self) -> None:
        r = self.researcher
        if r.open and r.source < 0 and self.hover is not None:
            r.query = self.hover
        req = r.request(self.points) if r.open else SetFeatureView()
        if req != self._last_view_request:
            self.worker.send(req)
            self._last_view_request = req

    def do(self, action: str) -> None:
        """Run a named action (buttons, menus and shortcuts all come here)."""
        s = self.state
        save = {"save_image": SaveImage, "save_latent": SaveLatent, "save_session": SaveSession,
                "save_gif": SaveAnimation, "save_mp4": SaveAnimation}
        if action in save:
            kind = action[len("save_"):]
            self.worker.send(save[action](self.files.save_path(kind)))
        elif action == "start_stop":
            self.worker.send(Stop() if s.running else Start())
        elif action in ("undo", "redo", "reset_image"):
            self.worker.send({"undo": Undo, "redo": Redo, "reset_image": Reset}[action]())
        elif action == "clear_points":
            self.edit_points(ClearPoints())
            self.canvas.selected = None
        elif action == "delete_point":
            if self.canvas.selected is not None and self.canvas.selected < len(self.points.handles):
                self.edit_points(DeletePoint(self.canvas.selected))
                self.canvas.selected = None
        elif action == "random_seed":
            self.image_params.seed = self._random_seed()
            self.worker.send(NewImage(self.image_params.seed, self.image_params.psi))
        elif action == "tool_points":
            self.tools.tool = "points"
        elif action == "tool_mask":
            self.tools.tool = "mask"
            if self.tools.brush_mode == "erase":
                self.tools.brush_mode = "movable"
        elif action == "tool_erase":
            self.tools.tool, self.tools.brush_mode = "mask", "erase"
        elif action in ("brush_smaller", "brush_bigger"):
            f = 1 / 1.25 if action == "brush_smaller" else 1.25
            self.tools.brush_radius = min(max(self.tools.brush_radius * f, 1.0), 64.0)
        elif action == "toggle_mask":
            self.tools.show_mask = not self.tools.show_mask
        elif action == "reset_mask":
            if self.paint is not None:
                self.paint[:] = 0
                self._paint_dirty = True
            self._send_mask()
        elif action == "fit_view":
            self.canvas.fit()
        elif action == "zoom_100":
            self.canvas.set_zoom(1.0)
        elif action == "toggle_researcher":
            self.researcher.open = not self.researcher.open
        elif action == "open_checkpoint":
            self.files.focus_checkpoint = True
        elif action == "open_session":
            if self.files.session_field.strip():
                self.open_path(self.files.session_field.strip())
            else:
                self._gui_error = "type the path of a session file (.json) first"
        elif action == "help":
            self.show_help = not self.show_help
        elif action == "quit":
            self.window.request_close()
        else:
            raise ValueError(f"unknown action {action!r}")

    def _random_seed(self) -> int:
        return self._rng.randrange(0, 2 ** 31 - 1)

    # ---- layout ----
    def _draw(self) -> None:
        self._draw_menu()
        vp = imgui.get_main_viewport()
        imgui.set_next_window_pos(vp.work_pos)
        imgui.set_next_window_size(vp.work_size)
        flags = (imgui.WindowFlags_.no_decoration | imgui.WindowFlags_.no_move | imgui.WindowFlags_.no_saved_settings
                 | imgui.WindowFlags_.no_bring_to_front_on_focus | imgui.WindowFlags_.no_background)
        imgui.begin("##editor", None, flags)
        status_h = imgui.get_frame_height() + 4
        avail = imgui.get_content_region_avail()
        body_h = avail.y - status_h - imgui.get_style().item_spacing.y
        spacing = imgui.get_style().item_spacing.x
        centre_w = max(avail.x - LEFT_WIDTH - RIGHT_WIDTH - 2 * spacing, 100)

        imgui.begin_child("##left", imgui.ImVec2(LEFT_WIDTH, body_h), imgui.ChildFlags_.always_use_window_padding)
        pos = imgui.get_window_pos()
        self.rects["left_panel"] = ((pos.x, pos.y), (pos.x + LEFT_WIDTH, pos.y + body_h))
        self._draw_left()
        imgui.end_child()
        imgui.same_line()
        imgui.begin_child("##centre", imgui.ImVec2(centre_w, body_h), 0,
                          imgui.WindowFlags_.no_scrollbar | imgui.WindowFlags_.no_scroll_with_mouse)
        self._draw_centre()
        imgui.end_child()
        imgui.same_line()
        imgui.begin_child("##right", imgui.ImVec2(RIGHT_WIDTH, body_h), imgui.ChildFlags_.always_use_window_padding)
        self.show_progress = draw_progress_panel(self.state, self.show_progress)
        imgui.spacing()
        hovered = draw_researcher_panel(self.researcher, self.state, self.points, self.pca_tex, self.heat_tex,
                                        self.image_tex, self.rects)
        if hovered is not None:
            self.hover = hovered
        imgui.end_child()
        self._draw_status()
        imgui.end()
        self.show_help = draw_help_window(self.show_help)

    def _draw_menu(self) -> None:
        if not imgui.begin_main_menu_bar():
            return
        s = self.state
        has_model = s.resolution > 0

        def item(label, action, enabled=True, selected=False):
            if imgui.menu_item(label, label_of(action), selected, enabled)[0]:
                self.do(action)

        if imgui.begin_menu("File"):
            item("Open checkpoint...", "open_checkpoint")
            if imgui.begin_menu("Open recent", bool(self.recent.items)):
                for path in self.recent.items:
                    if imgui.menu_item(Path(path).name + f"##{path}", "", False)[0]:
                        self.open_path(path)
                    imgui.set_item_tooltip(path)
                imgui.end_menu()
            item("Open session (path in Files)", "open_session")
            imgui.separator()
            item("Save image (.png)", "save_image", has_model)
            item("Save latent (.npy)", "save_latent", has_model)
            item("Save session (.json)", "save_session", has_model)
            item("Save animation (.gif)", "save_gif", s.frames > 1)
            item("Save animation (.mp4)", "save_mp4", s.frames > 1)
            imgui.separator()
            item("Quit", "quit")
            imgui.end_menu()
        if imgui.begin_menu("Edit"):
            item("Stop" if s.running else "Start", "start_stop", has_model)
            item("Undo drag", "undo", s.can_undo)
            item("Redo drag", "redo", s.can_redo)
            item("Reset image", "reset_image", has_model)
            imgui.separator()
            item("Delete selected pair", "delete_point", self.canvas.selected is not None)
            item("Clear points", "clear_points", bool(self.points.handles))
            item("Reset mask", "reset_mask", self.paint is not None and bool(self.paint.any()))
            item("New random image", "random_seed", has_model)
            imgui.end_menu()
        if imgui.begin_menu("View"):
            item("Fit image", "fit_view")
            item("Zoom 100 %", "zoom_100")
            item("Show mask", "toggle_mask", selected=self.tools.show_mask)
            item("Researchers' view", "toggle_researcher", selected=self.researcher.open)
            imgui.end_menu()
        if imgui.begin_menu("Help"):
            item("Keyboard shortcuts", "help", selected=self.show_help)
            imgui.end_menu()
        imgui.end_main_menu_bar()

    def _draw_left(self) -> None:
        s = self.state
        to_open = draw_model_section(self.files, s, self.recent.items, self.rects)
        if to_open:
            self.open_path(to_open)
        imgui.begin_disabled(not s.resolution)
        if draw_image_section(self.image_params, self._random_seed) and s.resolution:
            self.worker.send(NewImage(self.image_params.seed, self.image_params.psi))
        imgui.separator_text("Edit")
        action = draw_run_section(s, self.rects)
        if action:
            self.do(action)
        for a in draw_points_section(self.tools, self.points, s, self.canvas.selected):
            self.do(a) if isinstance(a, str) else self.edit_points(a)
        action = draw_mask_section(self.tools, self.paint is not None and bool(self.paint.any()))
        if action:
            self.do(action)
        if draw_settings_section(self.settings, s):
            self.worker.send(SetConfig(self.settings.config))
        imgui.end_disabled()
        action = draw_files_section(self.files, s, self.rects)
        if action:
            self.do(action)

    def _draw_centre(self) -> None:
        s = self.state
        factor = pixel_factor(self.canvas.zoom, s.resolution)
        if factor != self._texel_factor:  # zoomed across a step: re-magnify the textures once
            self._texel_factor = factor
            self._paint_dirty = True
            if s.image is not None:
                self.image_tex.upload(magnify(s.image, factor))
        if self._paint_dirty and self.paint is not None:
            self.mask_tex.upload(magnify(overlay_rgba(self.paint), factor))
            self._paint_dirty = False
        r = self.researcher
        fv = s.features
        show_heat = r.open and r.heat_on_canvas and fv is not None and fv.heat is not None
        overlays = Overlays(
            trail=s.trail,
            mask=self.mask_tex if self.tools.show_mask and self.paint is not None and self.paint.any() else None,
            heat=self.heat_tex if show_heat else None, heat_alpha=r.heat_alpha,
            windows=(s.r1, s.r2) if r.open and r.show_windows else None,
            query=fv.query if r.open and fv is not None and fv.heat is not None else None,
            placeholder=self._placeholder())
        ev = self.canvas.draw(self.image_tex if s.image is not None else None, s.resolution, self.points,
                              self.tools.tool, self.tools.brush_mode, self.tools.brush_radius, self.paint, overlays)
        (x0, y0), (w, h) = self.canvas.origin, self.canvas.size
        self.rects["canvas"] = ((x0, y0), (x0 + w, y0 + h))
        self.window.clear_regions = [((x0, y0, x0 + w, y0 + h), theme.CANVAS_BG)]
        self.hover = ev.hover  # the researchers' pictures, drawn later, may set it too
        for cmd in ev.point_cmds:
            self.edit_points(cmd)
        if ev.paint_changed:
            self._paint_dirty = True
        if ev.stroke_done:
            self._send_mask()
        self._draw_error_banner()

    def _draw_error_banner(self) -> None:
        """The newest error, over the top of the canvas, until dismissed or replaced."""
        s = self.state
        error = self._gui_error or (s.error if s.error and s.error_id != self._dismissed_error else None)
        if not error:
            return
        pad = 8.0
        imgui.set_cursor_pos(imgui.ImVec2(pad, pad))
        imgui.push_style_color(imgui.Col_.child_bg, imgui.ImVec4(0.33, 0.08, 0.08, 0.96))
        imgui.begin_child("##error", imgui.ImVec2(imgui.get_window_width() - 2 * pad, 0),
                          imgui.ChildFlags_.auto_resize_y | imgui.ChildFlags_.always_use_window_padding)
        imgui.text_colored(imgui.ImVec4(*theme.ERROR), "Error")
        imgui.same_line(imgui.get_content_region_avail().x - 60)
        if imgui.small_button("Dismiss"):
            self._dismissed_error, self._gui_error = s.error_id, None
        record_item(self.rects, "dismiss_error")
        imgui.text_wrapped(error)
        imgui.end_child()
        imgui.pop_style_color()
        record_item(self.rects, "error_banner")

    def _placeholder(self) -> str:
        s = self.state
        if s.loading:
            return f"Loading {Path(s.loading).name} ...\nthe first open of a large model takes a few seconds"
        if not s.resolution:
            note = self.startup_note or "no model open"
            return ("Open a checkpoint to start\n" + note + "\nType its path under Model and press Open, "
                    "or drop the file onto this window (Ctrl+O).")
        return ""

    def _draw_status(self) -> None:
        s = self.state
        imgui.separator()
        colour = theme.STATUS_COLOURS.get(s.status, theme.MUTED)
        pos, h = imgui.get_cursor_screen_pos(), imgui.get_text_line_height()
        imgui.get_window_draw_list().add_circle_filled(imgui.ImVec2(pos.x + h / 2, pos.y + h / 2), h / 3,
                                                       theme.u32(colour))
        imgui.dummy(imgui.ImVec2(h, h))
        imgui.same_line()
        parts = [s.status]
        if s.resolution:
            parts.append(f"step {s.step}/{s.config.max_steps}")
            if len(s.distances):
                parts.append(f"max distance {float(np.max(s.distances)):.1f} px")
            if len(s.losses) and np.isfinite(s.losses[-1]):
                parts.append(f"loss {s.losses[-1]:.3g}")
        imgui.text("  |  ".join(parts))
        msg = s.message
        if msg:
            imgui.same_line()
            imgui.text_disabled("  " + msg)
        ms = 1000 * float(np.mean(self.frame_times)) if self.frame_times else 0.0
        right = (f"{self.hover[0]:.0f}, {self.hover[1]:.0f}   " if self.hover else "") + \
            f"zoom {100 * self.canvas.zoom:.0f} %   frame {ms:.1f} ms   F1: help"
        imgui.same_line(max(imgui.get_window_width() - imgui.calc_text_size(right).x - 16, 0))
        imgui.text_disabled(right)


def run_gui(args) -> int:
    """`draggan gui [CHECKPOINT] [--device D] [--seed N] [--session FILE]`."""
    config_dir = default_config_dir()
    try:
        config_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        config_dir = None
    window = Window("DragGAN editor", ini_path=config_dir / "imgui.ini" if config_dir else None)
    try:
        from ..cli import _device
        device = _device(args.device)
        if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            import torch
            torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))  # leave a core for the window
        app = EditorApp(window, AppOptions(checkpoint=args.checkpoint, session=getattr(args, "session", None),
                                           device=str(device), seed=args.seed, config_dir=config_dir))
    except BaseException:
        window.close()
        raise
    try:
        app.run()
    finally:
        app.close()
    return 0
