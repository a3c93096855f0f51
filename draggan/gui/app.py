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
from ..commands import Autosave, LoadCheckpoint, LoadSession, SetFeatureView, SetMask
from ..engine import DragConfig
from ..errors import DragGANError
from ..mask import empty_paint
from ..photo import is_photo_path
from ..limits import DEFAULT_TRUNCATION
from ..points import Points
from ..session_file import is_session_file
from ..worker import EditWorker, WorkerState
from . import theme
from .actions import ACTIONS, pressed_actions
from .canvas import Canvas
from .dialogs import UnsavedWorkGuard
from .file_dialogs import FileDialogs
from .layout import draw_editor
from .panels import FileParams, ImageParams, SettingsParams, ToolParams
from .photo_dialog import PhotoDialog
from .recent import RecentFiles, default_config_dir
from .researcher import ResearcherParams
from .texture import Texture, magnify
from .window import Window

BUSY_AFTER_INPUT_S = 1.0  # full frame rate this long after the last input, then idle frames
MAX_FRAME_FAILURES = 100  # consecutive failing frames before the editor gives up
AUTOSAVE_S = 30.0  # s between crash-recovery copies of unsaved work
AUTOSAVE_NAME = "autosave.session.json"  # in the config folder


@dataclass
class AppOptions:
    checkpoint: str | None = None  # None = the default demo model, if installed
    session: str | None = None  # a session to reopen instead
    device: str = "cpu"
    seed: int = 0
    psi: float = DEFAULT_TRUNCATION  # the same default as every command
    config_dir: Path | None = None  # where imgui.ini and recent files live; None = keep nothing
    fps: float = 60.0  # frame rate cap while something happens
    idle_fps: float = 10.0  # frame rate when nothing happens (wakes at once on input)
    file_dialogs: bool | None = None  # native open/save dialogs; None = where a dialog program exists


def leave_a_core_for_drawing() -> None:
    """At most cores - 1 torch threads: the render loop (and Mesa's software rasteriser) keeps a core.

    The worker's oneDNN/OpenMP threads wait for each other at every operation; when the render thread
    takes one of their cores they stall. Measured on 2 cores with an edit of the demo model running:
    0 steps in 5 s with 2 torch threads, 80 with 1, and the frame rate rose with it (README: Speed).
    OMP_NUM_THREADS, when set, is the user's choice and is kept.
    """
    import torch
    if os.environ.get("OMP_NUM_THREADS"):
        return
    torch.set_num_threads(max(1, min(torch.get_num_threads(), (os.cpu_count() or 2) - 1)))


class EditorApp:
    def __init__(self, window: Window, options: AppOptions, worker: EditWorker | None = None):
        self.window = window
        self.options = options
        leave_a_core_for_drawing()
        theme.apply_theme(window.scale)
        self.worker = worker or EditWorker(options.device, DragConfig(), options.seed, options.psi)
        self.state = WorkerState()  # the newest state seen
        self.rects: dict[str, tuple] = {}  # item name -> screen rectangle, for tests and scripts
        self.canvas = Canvas()
        self.image_tex, self.mask_tex, self.pca_tex, self.heat_tex = Texture(), Texture(), Texture(), Texture()
        self._image_id = -1
        self.texel_factor = 1  # texels per image pixel of the image and mask textures (see texture.magnify)
        self._features_version = -1
        self.points, self.points_rev = Points(), 0
        self.paint: np.ndarray | None = None  # int8 [H, W] brush layer
        self.paint_dirty = False
        self.image_params = ImageParams(options.seed, options.psi)
        self.tools = ToolParams()
        self.settings = SettingsParams()
        self.files = FileParams()
        self.researcher = ResearcherParams()
        self.recent = RecentFiles(options.config_dir / "recent.json" if options.config_dir else None)
        self.guard = UnsavedWorkGuard()
        self.dialogs = FileDialogs(options.file_dialogs)
        self.photo_dialog = PhotoDialog()  # File > Open image: crop, settings, progress
        self.note = ""  # a hint from the GUI itself, shown in the status line
        self.autosave_path = options.config_dir / AUTOSAVE_NAME if options.config_dir else None
        self._last_autosave = time.perf_counter()
        self._quitting = False
        self.show_help = False
        self.show_progress = True
        self.hover: tuple[float, float] | None = None
        self.dismissed_error = 0
        self.gui_error: str | None = None
        self._last_view_request = SetFeatureView()
        self._rng = random.Random()
        self.frame_times: deque[float] = deque(maxlen=240)  # s per frame (work, not the wait)
        self.frames = 0
        self._last_frame_time = 0.0
        self.startup_note = ""
        self._open_initial()

    # ---- opening files ----
    def _open_initial(self) -> None:
        if self.autosave_path is not None and self.autosave_path.is_file():
            self.guard.restore_path = str(self.autosave_path)
        if self.options.session:
            self._open_now(self.options.session, session=True)
            return
        try:
            path = resolve_checkpoint(self.options.checkpoint)
        except DragGANError as e:
            self.startup_note = str(e)
            return
        self._open_now(str(path))

    def open_path(self, path: str) -> None:
        """A checkpoint or a session (told apart by content), asking first when there is unsaved work; or a picture
        (told apart by its name), which opens the crop dialog (a photo is an undoable new image)."""
        path = str(Path(path).expanduser())
        if is_photo_path(path):
            self.photo_dialog.load(path, self)
            return
        self.guard.request(self.state, f"open '{Path(path).name}'", lambda: self._open_now(path))

    def _open_now(self, path: str, session: bool | None = None) -> None:
        if session or (session is None and is_session_file(path)):
            self.worker.send(LoadSession(path))
            self.files.session_field = path
        else:
            self.worker.send(LoadCheckpoint(path))
            self.files.checkpoint_field = path

    def restore(self, path: str) -> None:
        """Reopen the crash-recovery copy; its work stays marked unsaved."""
        self.worker.send(LoadSession(path, restored=True))

    # ---- one frame ----
    def frame(self, screenshot: str | os.PathLike | None = None) -> None:
        t0 = time.perf_counter()
        self.window.begin_frame()
        try:
            self.rects = {}
            self._sync()
            self.guard.update(self.state)
            self.dialogs.poll()
            dropped = self.window.take_dropped()
            if dropped:
                self.open_path(dropped[-1])
            draw_editor(self)
            for name in pressed_actions(imgui.get_io()):
                self.do(name)
            self._request_features()
            self._autosave()
        except BaseException:
            self.window.abandon_frame()
            raise
        self.window.end_frame(screenshot)
        self.frame_times.append(time.perf_counter() - t0)
        self.frames += 1

    def run(self) -> None:
        """The event loop until the window closes (after asking about unsaved work)."""
        failures = 0
        while not self.close_confirmed():
            try:
                self.loop_once()
                failures = 0
            except Exception as e:  # a bug in a panel must not take the session down
                failures += 1
                if failures > MAX_FRAME_FAILURES:
                    raise
                traceback.print_exc()
                self.gui_error = f"internal GUI error ({type(e).__name__}: {e}); the edit and the model are kept"

    def close_confirmed(self) -> bool:
        """The window was asked to close: True to close now; with unsaved work, ask first and keep it open."""
        if not self.window.should_close():
            return False
        if self._quitting or not self.state.dirty:
            return True
        self.window.cancel_close()
        if self.guard.pending is None:
            self.guard.request(self.state, "quit", self._quit_now)
        return False

    def _quit_now(self) -> None:
        self._quitting = True
        self.window.request_close()

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
        if self.autosave_path is not None and (not self.state.dirty or self.guard.discarded):
            self.autosave_path.unlink(missing_ok=True)  # a clean end: nothing to restore next time
        self.window.make_current()  # the textures belong to this window's GL context
        for tex in (self.image_tex, self.mask_tex, self.pca_tex, self.heat_tex):
            tex.release()
        self.photo_dialog.release()
        self.window.close()

    def _autosave(self) -> None:
        now = time.perf_counter()
        if self.autosave_path is None or not self.state.dirty or now - self._last_autosave < AUTOSAVE_S:
            return
        self._last_autosave = now
        self.worker.send(Autosave(str(self.autosave_path)))

    # ---- worker -> GUI ----
    def _sync(self) -> None:
        s = self.worker.snapshot()
        if s.stamp == self.state.stamp:
            return
        if s.loaded_id != self.state.loaded_id:  # a checkpoint or session replaced everything
            self.recent.add(s.session_path or s.checkpoint)
            self.image_params = ImageParams(s.seed, s.psi)
            self.settings.config = s.config
            self.paint, self.paint_dirty = _paint_copy(s), True
            self.researcher.query = None
            self.canvas.fit()
        if s.points_rev == self.points_rev and self.canvas.dragging is None:
            self.points = Points(list(s.handles), list(s.targets))  # tracked positions, undo, loads
        if s.paint is not self.state.paint and s.loaded_id == self.state.loaded_id and not self.canvas.painting:
            self.paint, self.paint_dirty = _paint_copy(s), True  # undo / redo brought another mask back
        if (s.seed, s.psi) != (self.state.seed, self.state.psi) and s.loaded_id == self.state.loaded_id:
            self.image_params = ImageParams(s.seed, s.psi)  # undo / redo of a new image
        if s.message != self.state.message:
            self.note = ""  # the worker has news; the GUI's own hint has been seen
        if s.image is not None and s.image_id != self._image_id:
            self.image_tex.upload(magnify(s.image, self.texel_factor))
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

    def send_mask(self) -> None:
        self.worker.send(SetMask(None if self.paint is None or not self.paint.any() else self.paint.copy()))

    def mark_paint_changed(self) -> None:
        self.paint_dirty = True

    def show_error(self, message: str) -> None:
        self.gui_error = message

    def state_note(self, message: str) -> None:
        self.note = message

    def _request_features(self) -> None:
        r = self.researcher
        if r.open and r.source < 0 and self.hover is not None:
            r.query = self.hover
        req = r.request(self.points) if r.open else SetFeatureView()
        if req != self._last_view_request:
            self.worker.send(req)
            self._last_view_request = req

    def action_enabled(self, name: str) -> bool:
        return ACTIONS[name].enabled(self)

    def do(self, name: str) -> None:
        """Run a named action from `actions.ACTIONS` (buttons, menus and shortcuts all come here)."""
        action = ACTIONS.get(name)
        if action is None:
            raise ValueError(f"unknown action {name!r}")
        if action.enabled(self):
            action.run(self)

    def random_seed(self) -> int:
        return self._rng.randrange(0, 2 ** 32)


def _paint_copy(s: WorkerState) -> np.ndarray | None:
    """The GUI's own brush layer from a published state (an empty one when nothing is painted)."""
    if s.paint is not None:
        return s.paint.copy()
    return empty_paint(s.size) if s.resolution else None


@dataclass
class GuiOptions:
    """What `draggan gui` was asked for (the command line builds it; nothing here reads argparse)."""
    checkpoint: str | None = None  # None = the shipped demo model
    session: str | None = None  # a session file to reopen instead
    device: str | None = None  # cpu, cuda, cuda:N or mps; None = CUDA if present
    seed: int = 0


def run_gui(options: GuiOptions) -> int:
    """Open the editor window and run it until it is closed -> exit status 0."""
    from ..devices import choose_device
    from ..limits import check_seed
    seed = check_seed(options.seed)
    device = choose_device(options.device)  # an unusable device fails before a window opens
    config_dir = default_config_dir()
    try:
        config_dir.mkdir(parents=True, exist_ok=True)
    except OSError:
        config_dir = None
    window = Window("DragGAN editor", ini_path=config_dir / "imgui.ini" if config_dir else None)
    try:
        if device.type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            import torch
            torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))  # leave a core for the window
        app = EditorApp(window, AppOptions(checkpoint=options.checkpoint, session=options.session,
                                           device=str(device), seed=seed, config_dir=config_dir))
    except BaseException:
        window.close()
        raise
    try:
        app.run()
    finally:
        app.close()
    return 0
