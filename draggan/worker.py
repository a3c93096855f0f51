"""`EditWorker`: the thread that owns the `Editor`; commands in, stamped `WorkerState` out.

checkpoint -> generator -> engine -> editor -> here -> GUI. The GUI sends commands
(`draggan.commands`) through a queue and reads `snapshot()`: an immutable
`WorkerState`, replaced as a whole under a lock and stamped with an increasing
counter, so the GUI never sees half an update and skips stale ones. The worker
runs one optimisation step at a time (a drag's, or a photo inversion's) and reads
the queue between steps: Stop, Cancel, or any other command, takes effect within
one step. Errors a user can cause (a bad file, NaN, out of memory) become
`state.error`; the worker and the editor survive them. With `threaded=False`
there is no thread: tests and scripts drive it with `tick()`, `process_pending()`
and `run_until_idle()`.

Dimension legend: n handles, m <= n targets, H/W image size.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from . import commands as c
from .engine import DragConfig
from .editor import NO_PAIRS_HINT, Editor
from .errors import USER_ERRORS
from .features_view import FeatureView
from .limits import DEFAULT_TRUNCATION
from .preview_pacing import PreviewPacer
from .run_log import MAX_FRAME_BYTES

FEATURE_INTERVAL_S = 0.3  # s; the researchers' view is refreshed at most this often while an edit runs
# s; while an edit runs the image is rendered at most this often (the GUI draws at 30-60 fps), and always at the
# run's last step
PREVIEW_INTERVAL_S = 1 / 30
# ... and at most this share of the edit's time goes to rendering previews (preview_pacing.py): with a 256 px
# model's CPU step costs (130 ms, 470 ms with the image) about 1.5 previews/s and 1.8x the steps of one every step
PREVIEW_SHARE = 0.5
_OOM_ERRORS = tuple({getattr(torch, "OutOfMemoryError", MemoryError), torch.cuda.OutOfMemoryError, MemoryError})
_EMPTY = np.zeros(0)


def block_label(key: int, family: str) -> str:
    """How the GUI names a feature map: block b64 (StyleGAN2) or layer L5 (StyleGAN3)."""
    return f"L{key}" if family.startswith("StyleGAN3") else f"b{key}"


@dataclass(frozen=True, eq=False)
class WorkerState:
    stamp: int = 0  # increases with every publication; the GUI ignores states it has seen
    # model
    checkpoint: str | None = None  # path of the open checkpoint
    resolution: int = 0  # image height, px; 0 = no model open
    size: tuple = (0, 0)  # (H, W) of the image, px (StyleGAN-Human: W = H/2)
    block_resolutions: tuple = ()
    num_ws: int = 0
    family: str = ""  # StyleGAN2, StyleGAN-Human, StyleGAN3-T or StyleGAN3-R
    loading: str | None = None  # the file being opened, while it loads
    loaded_id: int = 0  # increases when a checkpoint or session replaced everything (GUI re-reads all)
    session_path: str | None = None  # the session file last opened or saved
    dirty: bool = False  # there is work a session save would keep and it has not been saved
    # image
    seed: int = 0
    psi: float = DEFAULT_TRUNCATION
    image: np.ndarray | None = None  # uint8 [H, W, 3]
    image_id: int = 0  # increases with every new image (texture upload key)
    # points and mask
    handles: tuple = ()  # ((x, y), ...) tracked positions during a drag
    targets: tuple = ()
    points_rev: int = 0  # the last GUI point edit applied
    paint: np.ndarray | None = None  # int8 [H, W] the brush layer the mask comes from
    trail: tuple = ()  # [m, 2] tracked handles, one per step of this run
    # run
    running: bool = False
    status: str = "idle"  # idle | running | converged | stopped | step limit | error
    step: int = 0  # steps of this run
    distances: np.ndarray = field(default_factory=lambda: _EMPTY)  # [m] px, handle to target
    losses: np.ndarray = field(default_factory=lambda: _EMPTY)  # [steps] total loss per step of this run
    max_distances: np.ndarray = field(default_factory=lambda: _EMPTY)  # [steps]
    steps_per_s: float = 0.0
    config: DragConfig = DragConfig()
    r1: float = 0.0  # resolved for this model, px
    r2: float = 0.0
    feature_block: int = 0
    stop_distance: float = 0.0
    can_undo: bool = False
    can_redo: bool = False
    frames: int = 0  # frames kept for the animation
    # messages
    message: str = ""
    error: str | None = None
    error_id: int = 0  # increases with every new error
    features: FeatureView | None = None
    # photos
    inversion: object = None  # `photo_editing.InversionStatus` while a photo inverts (progress, preview), else None
    photo: str = ""  # one line on the photo the image came from ('' = a seed or a latent file)


def _start(e: Editor) -> None:
    """Start, or, when no pair is left (a Start queued behind an undo or a clear), a hint instead of an error."""
    if e.inverting:
        e.message = "a photo is being inverted: wait for it, or cancel it, before starting a drag"
        return
    if e.session is not None and not e.running and len(e.points.targets) == 0:
        e.message = NO_PAIRS_HINT
        return
    e.start()


def _handlers(e: Editor) -> dict:
    """Command type -> what it does to the editor."""
    return {
        c.LoadCheckpoint: lambda cmd: e.open_checkpoint(cmd.path),
        c.NewImage: lambda cmd: e.new_image(cmd.seed, cmd.psi),
        c.SetMask: lambda cmd: e.set_mask(cmd.paint),
        c.SetConfig: lambda cmd: e.set_config(cmd.config),
        c.Start: lambda cmd: _start(e),
        c.Stop: lambda cmd: e.stop(),
        c.Reset: lambda cmd: e.reset(),
        c.Undo: lambda cmd: e.undo(),
        c.Redo: lambda cmd: e.redo(),
        c.LoadSession: lambda cmd: e.load_session(cmd.path, unsaved=cmd.restored),
        c.SaveSession: lambda cmd: e.save_session(cmd.path),
        c.SaveImage: lambda cmd: e.save_image(cmd.path),
        c.SaveLatent: lambda cmd: e.save_latent(cmd.path),
        c.SaveAnimation: lambda cmd: e.save_animation(cmd.path, cmd.fps),
        c.Autosave: lambda cmd: e.autosave(cmd.path),
        c.OpenPhoto: lambda cmd: e.begin_inversion(cmd.path, cmd.box, cmd.config),
        c.CancelInversion: lambda cmd: e.cancel_inversion(),
    }


class EditWorker:
    """Runs an `Editor` on its own thread: commands, steps, the researchers' view; publishes `WorkerState`."""

    def __init__(self, device="cpu", config: DragConfig = DragConfig(), seed: int = 0, psi: float = DEFAULT_TRUNCATION,
                 threaded: bool = True, max_frame_bytes: int = MAX_FRAME_BYTES):
        self.device = torch.device(device)
        self.editor = Editor(device, config, seed, psi, max_frame_bytes)
        self.editor.on_loading = self._loading_changed
        self._handlers = _handlers(self.editor)
        self._points_rev = 0
        self._loading: str | None = None
        self._error, self._error_id = None, 0
        self._view_request = c.SetFeatureView()
        self._view: FeatureView | None = None
        self._view_done = None  # (latent version, loaded id, request) of the published view
        self._view_time = 0.0
        self._pacer = PreviewPacer()  # which steps render their image
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._unfinished = 0  # commands sent and not yet published (see `busy`)
        self._state = WorkerState(seed=self.editor.seed, psi=self.editor.psi, config=config)
        self._closed = False
        self._thread = None
        if threaded:
            self._thread = threading.Thread(target=self._loop, name="draggan-worker", daemon=True)
            self._thread.start()

    # ---- the GUI's side ----
    def send(self, cmd) -> None:
        if not self._closed:
            with self._lock:
                self._unfinished += 1
            self._queue.put(cmd)

    def snapshot(self) -> WorkerState:
        with self._lock:
            return self._state

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread (after the step in progress)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(c.Shutdown())
            self._thread.join(timeout)
        self._closed = True

    @property
    def busy(self) -> bool:
        """Commands were sent whose effect the published state does not show yet."""
        with self._lock:
            return self._unfinished > 0

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() if self._thread is not None else not self._closed

    # ---- the loop ----
    def _loop(self) -> None:
        while not self._closed:
            self.tick(wait=0.05)

    def tick(self, wait: float = 0.0) -> bool:
        """Commands, then at most one step (a drag's or a photo inversion's), then the researchers' view if due.

        True if anything ran."""
        busy = self.editor.running or self.editor.inverting or self._view_due()
        handled = self.process_pending(0.0 if busy else wait)
        worked = False
        if self.editor.running:
            self._guard(self._step)
            worked = True
        elif self.editor.inverting:
            self._guard(self.editor.inversion_step)
            worked = True
        if self._view_due():
            self._guard(self._compute_view)
            worked = True
        if worked:  # process_pending published the commands' effects already
            self._publish()
        return handled or worked

    def process_pending(self, wait: float = 0.0) -> bool:
        """Run every queued command (waiting up to `wait` s for the first). True if any ran."""
        cmds = []
        try:
            cmds.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
            while True:
                cmds.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        for cmd in c.coalesce(cmds):
            if isinstance(cmd, c.Shutdown):
                self._closed = True
                return True
            self._guard(self._handle, cmd)
        if cmds:
            self._publish()
            with self._lock:
                self._unfinished -= len(cmds)
        return bool(cmds)

    def run_until_idle(self, max_ticks: int = 100_000) -> WorkerState:
        """Synchronous mode: tick until no command, step or view is left."""
        for _ in range(max_ticks):
            if not self.tick():
                break
        return self.snapshot()

    def _handle(self, cmd) -> None:
        if isinstance(cmd, c.POINT_EDITS):
            self._points_rev = max(self._points_rev, cmd.rev)
            self.editor.edit_points(cmd)
        elif isinstance(cmd, c.SetFeatureView):
            self._view_request = cmd
            if not cmd.enabled:
                self._view, self._view_done = None, None
        else:
            self._handlers[type(cmd)](cmd)
            if isinstance(cmd, (c.LoadCheckpoint, c.LoadSession)):
                self._error = None

    def _step(self) -> None:
        now = time.perf_counter()
        render = self._pacer.due(now, PREVIEW_INTERVAL_S, PREVIEW_SHARE)
        r = self.editor.step(render_image=render)
        self._pacer.record(time.perf_counter() - now, render)
        if r.error:
            self._report(r.error)

    def _guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except USER_ERRORS as e:
            self._fail(str(e))
        except _OOM_ERRORS:
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            self._fail("out of memory: the edit was stopped and the image kept; try fewer points, "
                       "a smaller model or another device")
        except Exception as e:  # a bug must not take the session down with it
            traceback.print_exc()
            self._fail(f"internal error ({type(e).__name__}: {e}); the session was kept")

    def _fail(self, message: str) -> None:
        self.editor.abort()
        self._report(message)

    def _report(self, message: str) -> None:
        self._error, self._error_id = message, self._error_id + 1

    def _loading_changed(self, path: str | None) -> None:
        self._loading = path
        self._publish()

    # ---- the researchers' view ----
    def _view_key(self):
        return (self.editor.latent_version, self.editor.loaded_id, self._view_request)

    def _view_due(self) -> bool:
        if not self._view_request.enabled or self.editor.session is None or self._view_done == self._view_key():
            return False
        return not self.editor.running or time.perf_counter() - self._view_time >= FEATURE_INTERVAL_S

    def _compute_view(self) -> None:
        self._view = self.editor.feature_view(self._view_request)
        self._view_done = self._view_key()
        self._view_time = time.perf_counter()

    # ---- publishing ----
    def _publish(self) -> None:
        e = self.editor
        s, G, log = e.session, e.G, e.log
        cfg = s.cfg if s is not None else None
        fields = dict(
            checkpoint=e.checkpoint, session_path=e.session_path, loading=self._loading, loaded_id=e.loaded_id,
            dirty=e.dirty, resolution=e.resolution, size=e.size,
            block_resolutions=tuple(G.synthesis.block_resolutions) if G is not None else (),
            num_ws=G.num_ws if G is not None else 0, family=G.family if G is not None else "",
            seed=e.seed, psi=e.psi, image=e.image, image_id=e.image_id,
            handles=tuple(e.points.handles), targets=tuple(e.points.targets), points_rev=self._points_rev,
            paint=e.paint, trail=tuple(log.trail), running=e.running, status=log.status,
            step=len(log.losses), distances=log.last.distances if log.last is not None else _EMPTY,
            losses=np.asarray(log.losses), max_distances=np.asarray(log.max_distances),
            steps_per_s=log.steps_per_s, config=e.config,
            r1=cfg.r1 if cfg else 0.0, r2=cfg.r2 if cfg else 0.0, feature_block=cfg.feature_block if cfg else 0,
            stop_distance=cfg.stop_distance(len(e.points.targets)) if cfg else 0.0,
            can_undo=e.history.can_undo or e.running, can_redo=e.history.can_redo,
            frames=len(log.frames), message=e.message, error=self._error, error_id=self._error_id,
            features=self._view, inversion=e.inversion_status(), photo=e.photo_note())
        with self._lock:
            self._state = replace(self._state, stamp=self._state.stamp + 1, **fields)
