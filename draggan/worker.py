"""`EditWorker`: the thread that owns the generator and the drag session.

checkpoint -> generator -> engine -> here -> GUI. The GUI sends commands (the
dataclasses below) through a queue and reads `snapshot()`: an immutable
`WorkerState`, replaced as a whole under a lock and stamped with an increasing
counter, so the GUI never sees half an update and skips stale ones. The worker
runs one optimisation step at a time and reads the queue between steps: Stop,
or any other command, takes effect within one step. Errors a user can cause
(a bad file, NaN, out of memory) become `state.error`; the worker and the
session survive them. With `threaded=False` there is no thread: tests and
scripts drive it with `tick()`, `process_pending()` and `run_until_idle()`.

Dimension legend: n handles, m <= n targets, L num_ws, D w_dim, H/W image size.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from stylegan2 import load_generator

from .engine import DragConfig, DragSession
from .errors import USER_ERRORS, DragGANError
from .features_view import colormap, pca_rgb, similarity_map
from .images import save_png
from .mask import mask_from_paint
from .session_file import SessionData, find_checkpoint, load_session, save_session
from .video import save_animation

FEATURE_INTERVAL_S = 0.3  # s; the researchers' view is refreshed at most this often while an edit runs
MAX_FRAME_BYTES = 256 * 2 ** 20  # memory kept for the drag animation; beyond it every other frame is dropped
_OOM_ERRORS = tuple({getattr(torch, "OutOfMemoryError", MemoryError), torch.cuda.OutOfMemoryError, MemoryError})


# ---- commands (GUI -> worker) ----

@dataclass(frozen=True)
class LoadCheckpoint:
    path: str  # a StyleGAN2 checkpoint (.pkl, .pt, .safetensors)


@dataclass(frozen=True)
class NewImage:
    seed: int  # NVIDIA convention: z = RandomState(seed).randn(1, z_dim)
    psi: float  # truncation psi (1 = none)


@dataclass(frozen=True)
class SetPoints:
    handles: tuple  # ((x, y), ...) px
    targets: tuple  # ((x, y), ...), at most one fewer than handles
    rev: int = 0  # the GUI's edit counter, echoed in `WorkerState.points_rev`


@dataclass(frozen=True)
class AddPoint:
    x: float  # px; a handle, or the target of the last handle if it has none
    y: float
    rev: int = 0


@dataclass(frozen=True)
class MovePoint:
    index: int  # pair index
    is_target: bool
    x: float
    y: float
    rev: int = 0


@dataclass(frozen=True)
class DeletePoint:
    index: int  # removes the handle and its target
    rev: int = 0


@dataclass(frozen=True)
class ClearPoints:
    rev: int = 0


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
    """Revert the last whole drag (or reset)."""


@dataclass(frozen=True)
class Redo:
    pass


@dataclass(frozen=True)
class LoadSession:
    path: str


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
class SetFeatureView:
    enabled: bool = False  # compute the researchers' view at all
    block: int | None = None  # feature block resolution; None = the drag's feature block
    query: tuple[float, float] | None = None  # image px whose feature the heat map compares to
    metric: str = "l1"  # 'l1' (the tracking's distance) or 'cosine'


@dataclass(frozen=True)
class _Shutdown:
    pass


_LATEST_WINS = (NewImage, SetConfig, SetMask, SetFeatureView)  # only the last of a batch matters
_POINT_EDITS = (SetPoints, AddPoint, MovePoint, DeletePoint, ClearPoints)


# ---- points ----

@dataclass
class Points:
    """Handles and targets; targets[i] belongs to handles[i]; only the last handle may lack one."""
    handles: list = field(default_factory=list)  # [(x, y), ...] px
    targets: list = field(default_factory=list)

    def copy(self) -> "Points":
        return Points(list(self.handles), list(self.targets))

    @property
    def pending(self) -> bool:
        """The last handle still waits for its target."""
        return len(self.handles) > len(self.targets)

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """The complete pairs: handles [m, 2], targets [m, 2]."""
        m = len(self.targets)
        return (np.asarray(self.handles[:m], dtype=np.float64).reshape(m, 2),
                np.asarray(self.targets, dtype=np.float64).reshape(m, 2))

    def apply(self, cmd) -> None:
        """Apply a point edit command (the GUI's local copy and the worker use the same rules)."""
        if isinstance(cmd, SetPoints):
            if len(cmd.targets) > len(cmd.handles):
                raise DragGANError("more targets than handles")
            self.handles = [(float(x), float(y)) for x, y in cmd.handles]
            self.targets = [(float(x), float(y)) for x, y in cmd.targets]
        elif isinstance(cmd, AddPoint):
            (self.targets if self.pending else self.handles).append((float(cmd.x), float(cmd.y)))
        elif isinstance(cmd, MovePoint):
            points = self.targets if cmd.is_target else self.handles
            if 0 <= cmd.index < len(points):
                points[cmd.index] = (float(cmd.x), float(cmd.y))
        elif isinstance(cmd, DeletePoint):
            if 0 <= cmd.index < len(self.handles):
                del self.handles[cmd.index]
                if cmd.index < len(self.targets):
                    del self.targets[cmd.index]
        elif isinstance(cmd, ClearPoints):
            self.handles, self.targets = [], []

    def set_tracked(self, handles: np.ndarray) -> None:
        """Move the paired handles to their tracked positions [m, 2]."""
        for i, (x, y) in enumerate(np.asarray(handles).tolist()):
            self.handles[i] = (float(x), float(y))


@dataclass
class _HistoryEntry:
    """Points around one undoable latent change, kept beside the engine's undo stack."""
    before: Points
    after: Points | None = None


# ---- results (worker -> GUI) ----

@dataclass(frozen=True, eq=False)
class FeatureView:
    block: int  # feature block resolution shown
    channels: int  # C of that block
    pca: np.ndarray  # uint8 [b, b, 3] first three principal components as RGB
    heat: np.ndarray | None  # uint8 [b, b, 3] similarity to the query feature, colour-mapped
    query: tuple[float, float] | None  # image px of the query
    metric: str
    version: int  # increases with every new view (texture upload key)


_EMPTY = np.zeros(0)


@dataclass(frozen=True, eq=False)
class WorkerState:
    stamp: int = 0  # increases with every publication; the GUI ignores states it has seen
    # model
    checkpoint: str | None = None  # path of the open checkpoint
    resolution: int = 0  # image size, px; 0 = no model open
    block_resolutions: tuple = ()
    num_ws: int = 0
    loading: str | None = None  # the file being opened, while it loads
    loaded_id: int = 0  # increases when a checkpoint or session replaced everything (GUI re-reads all)
    session_path: str | None = None  # the session file last opened, if the state came from one
    # image
    seed: int = 0
    psi: float = 0.7
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


def _coalesce(cmds: list) -> list:
    """Drop commands a later one in the batch makes pointless (a slider sends one per frame)."""
    out, seen = [], set()
    for cmd in reversed(cmds):
        if isinstance(cmd, MovePoint):
            key = ("move", cmd.index, cmd.is_target)
        elif isinstance(cmd, _LATEST_WINS):
            key = type(cmd)
        else:
            key = None
            if isinstance(cmd, _POINT_EDITS):  # indices may change: earlier moves are not superseded
                seen = {k for k in seen if not (isinstance(k, tuple) and k[0] == "move")}
            else:  # start, stop, undo, loads, saves: order matters around them
                seen.clear()
        if key is not None:
            if key in seen:
                continue
            seen.add(key)
        out.append(cmd)
    return out[::-1]


class EditWorker:
    """Owns the generator and the `DragSession`; runs commands and steps, publishes `WorkerState`."""

    def __init__(self, device="cpu", config: DragConfig = DragConfig(), seed: int = 0, psi: float = 0.7,
                 threaded: bool = True, max_frame_bytes: int = MAX_FRAME_BYTES):
        self.device = torch.device(device)
        self.G = None
        self.session: DragSession | None = None
        self._config = config
        self._checkpoint: str | None = None
        self._session_path: str | None = None
        self._seed, self._psi = int(seed), float(psi)
        self._points, self._points_rev = Points(), 0
        self._paint: np.ndarray | None = None
        self._undo: list[_HistoryEntry] = []
        self._redo: list[_HistoryEntry] = []
        self._running = False
        self._status = "idle"
        self._last = None  # the last StepResult of this run
        self._losses: list[float] = []
        self._max_d: list[float] = []
        self._trail: list[np.ndarray] = []
        self._run_t0, self._run_steps = 0.0, 0
        self._image: np.ndarray | None = None
        self._image_id = 0
        self._frames: list[np.ndarray] = []
        self._frame_stride, self._frame_count = 1, 0
        self._max_frame_bytes = max_frame_bytes
        self._loading: str | None = None
        self._loaded_id = 0
        self._message, self._error, self._error_id = "", None, 0
        self._fv = SetFeatureView()
        self._fv_done = None  # (latent version, session, request) of the published view
        self._fv_time = 0.0
        self._feat_key, self._feat, self._pca = None, None, None
        self._features: FeatureView | None = None
        self._latent_version = 0
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._state = WorkerState(seed=self._seed, psi=self._psi, config=config)
        self._closed = False
        self._thread = None
        if threaded:
            self._thread = threading.Thread(target=self._loop, name="draggan-worker", daemon=True)
            self._thread.start()

    # ---- the GUI's side ----
    def send(self, cmd) -> None:
        if not self._closed:
            self._queue.put(cmd)

    def snapshot(self) -> WorkerState:
        with self._lock:
            return self._state

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread (after the step in progress)."""
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_Shutdown())
            self._thread.join(timeout)
        self._closed = True

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() if self._thread is not None else not self._closed

    # ---- the loop ----
    def _loop(self) -> None:
        while not self._closed:
            self.tick(wait=0.05)

    def tick(self, wait: float = 0.0) -> bool:
        """Commands, then at most one step, then the researchers' view if due. True if anything ran."""
        busy = self._running or self._features_due()
        handled = self.process_pending(0.0 if busy else wait)
        stepped = False
        if self._running:
            self._guard(self._step)
            stepped = True
        if self._features_due():
            self._guard(self._compute_features)
            stepped = True
        if stepped:  # process_pending published the commands' effects already
            self._publish()
        return handled or stepped

    def process_pending(self, wait: float = 0.0) -> bool:
        """Run every queued command (waiting up to `wait` s for the first). True if any ran."""
        cmds = []
        try:
            cmds.append(self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait())
            while True:
                cmds.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        for cmd in _coalesce(cmds):
            if isinstance(cmd, _Shutdown):
                self._closed = True
                return True
            self._guard(self._handle, cmd)
        if cmds:
            self._publish()
        return bool(cmds)

    def run_until_idle(self, max_ticks: int = 100_000) -> WorkerState:
        """Synchronous mode: tick until no command, step or view is left."""
        for _ in range(max_ticks):
            if not self.tick():
                break
        return self.snapshot()

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
        if self._running:
            self._running = False
            self._status = "error"
            self._commit_drag()
        self._error, self._error_id = message, self._error_id + 1

    # ---- publishing ----
    def _publish(self) -> None:
        s = self.session
        cfg = s.cfg if s is not None else None
        last = self._last
        fields = dict(
            checkpoint=self._checkpoint, session_path=self._session_path, loading=self._loading,
            loaded_id=self._loaded_id,
            resolution=self.G.img_resolution if self.G is not None else 0,
            block_resolutions=tuple(self.G.synthesis.block_resolutions) if self.G is not None else (),
            num_ws=self.G.num_ws if self.G is not None else 0,
            seed=self._seed, psi=self._psi, image=self._image, image_id=self._image_id,
            handles=tuple(self._points.handles), targets=tuple(self._points.targets), points_rev=self._points_rev,
            paint=self._paint, trail=tuple(self._trail), running=self._running, status=self._status,
            step=len(self._losses), distances=last.distances if last is not None else _EMPTY,
            losses=np.asarray(self._losses), max_distances=np.asarray(self._max_d),
            steps_per_s=self._run_steps / max(time.perf_counter() - self._run_t0, 1e-9) if self._run_steps else 0.0,
            config=self._config, r1=cfg.r1 if cfg else 0.0, r2=cfg.r2 if cfg else 0.0,
            feature_block=cfg.feature_block if cfg else 0,
            stop_distance=cfg.stop_distance(len(self._points.targets)) if cfg else 0.0,
            can_undo=s is not None and s.can_undo, can_redo=s is not None and s.can_redo,
            frames=len(self._frames), message=self._message, error=self._error, error_id=self._error_id,
            features=self._features)
        with self._lock:
            self._state = replace(self._state, stamp=self._state.stamp + 1, **fields)

    # ---- commands ----
    def _handle(self, cmd) -> None:
        if isinstance(cmd, _POINT_EDITS):
            self._edit_points(cmd)
            return
        handler = {
            LoadCheckpoint: self._load_checkpoint, NewImage: self._new_image, SetMask: self._set_mask,
            SetConfig: self._set_config, Start: self._start, Stop: self._stop, Reset: self._reset,
            Undo: self._undo_cmd, Redo: self._redo_cmd, LoadSession: self._load_session,
            SaveSession: self._save_session, SaveImage: self._save_image, SaveLatent: self._save_latent,
            SaveAnimation: self._save_animation, SetFeatureView: self._set_feature_view,
        }.get(type(cmd))
        if handler is None:
            raise DragGANError(f"unknown command {cmd!r}")
        handler(cmd)

    def _need_session(self) -> DragSession:
        if self.session is None:
            raise DragGANError("open a checkpoint first (File > Open checkpoint, or drop a .pkl, .pt or "
                               ".safetensors file onto the window)")
        return self.session

    def _load_checkpoint(self, cmd: LoadCheckpoint) -> None:
        path = Path(cmd.path).expanduser()
        if self._running:
            self._end_run("stopped")
        self._loading = str(path)
        self._publish()
        try:
            G = load_generator(path, self.device)
        finally:
            self._loading = None
        G.eval()
        config = self._config
        if config.feature_block is not None and config.feature_block not in G.synthesis.block_resolutions:
            config = config.with_(feature_block=None)
        session = DragSession.from_seed(G, self._seed, self._psi, config, device=self.device)
        self.G, self.session, self._config = G, session, config
        self._checkpoint, self._session_path = str(path.resolve()), None
        self._points, self._paint = Points(), None
        self._replace_image(history=True)
        self._loaded_id += 1
        self._error = None
        self._message = f"opened {path.name} ({G.img_resolution}x{G.img_resolution}, {G.num_ws} W+ layers)"

    def _new_image(self, cmd: NewImage) -> None:
        G = self.G
        if G is None:
            self._seed, self._psi = int(cmd.seed), float(cmd.psi)
            return
        if self._running:
            self._end_run("stopped")
        session = DragSession.from_seed(G, cmd.seed, cmd.psi, self._config, device=self.device)
        self._seed, self._psi = int(cmd.seed), float(cmd.psi)
        self.session = session
        self._apply_mask()
        self._replace_image(history=True)
        self._message = f"seed {self._seed}, truncation {self._psi:g}"

    def _edit_points(self, cmd) -> None:
        if self._running:
            self._end_run("stopped")
            self._message = "points changed: edit stopped (press Start to continue)"
        self._points.apply(cmd)
        self._points_rev = max(self._points_rev, cmd.rev)

    def _set_mask(self, cmd: SetMask) -> None:
        paint = None if cmd.paint is None else np.array(cmd.paint, dtype=np.int8)
        if paint is not None and self.G is not None and paint.shape != (self.G.img_resolution,) * 2:
            raise DragGANError(f"the mask must be {self.G.img_resolution}x{self.G.img_resolution}, got {paint.shape}")
        self._paint = paint
        self._apply_mask()

    def _apply_mask(self) -> None:
        if self.session is not None:
            self.session.set_mask(mask_from_paint(self._paint))

    def _set_config(self, cmd: SetConfig) -> None:
        if self.session is not None:
            self.session.set_config(cmd.config)  # validates against this model; lr applies at once
        self._config = cmd.config

    def _start(self, _cmd=None) -> None:
        session = self._need_session()
        if self._running:
            return
        handles, targets = self._points.pairs()
        if len(targets) == 0:
            raise DragGANError("place a handle point and its target first (click the image twice)")
        session.set_points(handles, targets)
        self._undo.append(_HistoryEntry(self._points.copy()))
        self._redo.clear()
        self._running, self._status, self._last = True, "running", None
        self._losses, self._max_d, self._trail = [], [], []
        self._run_t0, self._run_steps = time.perf_counter(), 0
        self._message, self._error = "", None

    def _step(self) -> None:
        r = self.session.step(render_image=True)
        self._last = r
        self._points.set_tracked(r.handles)
        self._trail.append(r.handles)
        self._losses.append(r.loss)
        self._max_d.append(float(r.distances.max()))
        self._run_steps += 1
        self._latent_version += 1
        if r.image is not None:
            self._set_image(r.image)
            self._add_frame(r.image)
        if r.done:
            status = "error" if r.error else ("converged" if r.converged else "step limit")
            self._end_run(status, render=False)
            if r.error:
                self._fail(r.error)

    def _end_run(self, status: str, render: bool = True) -> None:
        """Finish the run: commit the drag (it becomes undoable as a whole)."""
        self._running, self._status = False, status
        self._commit_drag()
        if render:  # the last shown image is one update behind the latent
            self._set_image(self.session.render())
        n = len(self._losses)
        d = f"; max distance {self._max_d[-1]:.1f} px" if self._max_d else ""
        self._message = f"{status} after {n} step{'s' if n != 1 else ''}{d}"

    def _commit_drag(self) -> None:
        if self.session is not None:
            self.session.stop()
        if self._undo and self._undo[-1].after is None:
            self._undo[-1].after = self._points.copy()

    def _stop(self, _cmd=None) -> None:
        if self._running:
            self._end_run("stopped")

    def _reset(self, _cmd=None) -> None:
        session = self._need_session()
        if self._running:
            self._end_run("stopped")
        session.reset()
        self._undo.append(_HistoryEntry(self._points.copy(), self._points.copy()))
        self._redo.clear()
        self._replace_image()
        self._message = "back to the original image (Undo brings the edit back)"

    def _undo_cmd(self, _cmd=None) -> None:
        self._history_move(undo=True)

    def _redo_cmd(self, _cmd=None) -> None:
        self._history_move(undo=False)

    def _history_move(self, undo: bool) -> None:
        """Undo or redo one edit: the session swaps latents; the points follow the entry moved."""
        session = self._need_session()
        if self._running:
            self._end_run("stopped")
        if not (session.undo() if undo else session.redo()):
            self._message = "nothing to undo" if undo else "nothing to redo"
            return
        source, dest = (self._undo, self._redo) if undo else (self._redo, self._undo)
        if source:
            entry = source.pop()
            dest.append(entry)
            points = entry.before if undo else entry.after
            if points is not None:
                self._points = points.copy()
        self._replace_image()
        self._message = "undone" if undo else "redone"

    def _replace_image(self, history: bool = False) -> None:
        """The latent changed outside a run: new image, new animation, fresh run statistics."""
        if history:
            self._undo, self._redo = [], []
        self._latent_version += 1
        self._set_image(self.session.render())
        self._frames, self._frame_stride, self._frame_count = [], 1, 0
        self._losses, self._max_d, self._trail, self._last = [], [], [], None
        self._status = "idle"

    def _set_image(self, image: np.ndarray) -> None:
        self._image = image
        self._image_id += 1

    def _add_frame(self, image: np.ndarray) -> None:
        if self._frame_count % self._frame_stride == 0:
            self._frames.append(image)
            if len(self._frames) * image.nbytes > self._max_frame_bytes and len(self._frames) > 2:
                self._frames = self._frames[::2]
                self._frame_stride *= 2
        self._frame_count += 1

    # ---- files ----
    def _load_session(self, cmd: LoadSession) -> None:
        data = load_session(cmd.path)
        ckpt = find_checkpoint(data, cmd.path)
        if self._running:
            self._end_run("stopped")
        G = self.G
        if G is None or self._checkpoint is None or not Path(self._checkpoint).exists() \
                or not ckpt.resolve().samefile(self._checkpoint):
            self._loading = str(ckpt)
            self._publish()
            try:
                G = load_generator(ckpt, self.device)
            finally:
                self._loading = None
            G.eval()
        if data.resolution != G.img_resolution:
            raise DragGANError(f"session '{cmd.path}' is for a {data.resolution}x{data.resolution} model, but "
                               f"'{ckpt.name}' makes {G.img_resolution}x{G.img_resolution} images")
        session = DragSession(G, torch.from_numpy(data.latent), data.config, device=self.device)
        if data.latent_original is not None:  # same shape as the latent (load_session checked)
            session.ws0 = torch.from_numpy(data.latent_original).to(self.device)
        points = Points()
        points.apply(SetPoints(tuple(map(tuple, data.handles)), tuple(map(tuple, data.targets))))
        session.set_mask(mask_from_paint(data.paint))
        # Everything checked: replace the current session.
        self.G, self.session, self._config = G, session, data.config
        self._checkpoint, self._session_path = str(ckpt.resolve()), str(Path(cmd.path).resolve())
        self._seed, self._psi = data.seed, data.truncation_psi
        self._points, self._paint = points, data.paint
        self._replace_image(history=True)
        self._loaded_id += 1
        self._error = None
        self._message = f"opened session {Path(cmd.path).name}"

    def _session_data(self) -> SessionData:
        s = self._need_session()
        handles = np.asarray(self._points.handles, dtype=np.float64).reshape(-1, 2)
        targets = np.asarray(self._points.targets, dtype=np.float64).reshape(-1, 2)
        return SessionData(self._checkpoint, self.G.img_resolution, self._seed, self._psi,
                           s.current_ws().cpu().numpy(), s.ws0.cpu().numpy(), handles, targets,
                           self._paint, self._config)

    def _save_session(self, cmd: SaveSession) -> None:
        save_session(cmd.path, self._session_data())
        self._message = f"saved session {cmd.path}"

    def _save_image(self, cmd: SaveImage) -> None:
        path = Path(cmd.path)
        if path.suffix.lower() != ".png":
            raise DragGANError(f"save the image as .png, not '{path.suffix}'")
        s = self._need_session()
        path.parent.mkdir(parents=True, exist_ok=True)
        save_png(path, s.render(), {"seed": self._seed, "truncation_psi": self._psi,
                                    "checkpoint": Path(self._checkpoint or "").name,
                                    "points": json.dumps({"handles": self._points.handles,
                                                          "targets": self._points.targets})})
        self._message = f"saved image {path}"

    def _save_latent(self, cmd: SaveLatent) -> None:
        path = Path(cmd.path)
        if path.suffix.lower() != ".npy":
            raise DragGANError(f"save the latent as .npy, not '{path.suffix}'")
        s = self._need_session()
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, s.current_ws().cpu().numpy())
        self._message = f"saved latent {path} (W+ [1, {self.G.num_ws}, {self.G.w_dim}])"

    def _save_animation(self, cmd: SaveAnimation) -> None:
        if len(self._frames) < 2:
            raise DragGANError("nothing to animate yet: run an edit first")
        frames = list(self._frames)
        if self._image is not None and self._image is not frames[-1]:
            frames.append(self._image)
        Path(cmd.path).parent.mkdir(parents=True, exist_ok=True)
        save_animation(frames, cmd.path, cmd.fps)
        self._message = f"saved animation {cmd.path} ({len(frames)} frames)"

    # ---- researchers' view ----
    def _set_feature_view(self, cmd: SetFeatureView) -> None:
        self._fv = cmd
        if not cmd.enabled:
            self._features = None
            self._fv_done = None

    def _features_due(self) -> bool:
        if not self._fv.enabled or self.session is None:
            return False
        if self._fv_done == (self._latent_version, id(self.session), self._fv):
            return False
        return not self._running or time.perf_counter() - self._fv_time >= FEATURE_INTERVAL_S

    def _compute_features(self) -> None:
        s, fv = self.session, self._fv
        blocks = self.G.synthesis.block_resolutions
        block = fv.block if fv.block in blocks else s.cfg.feature_block
        key = (self._latent_version, id(s), block)
        if key != self._feat_key:
            with torch.no_grad():
                out = self.G.synthesis.run(s.current_ws(), s.cfg.noise_mode, feature_blocks=[block],
                                           render_image=False)
            self._feat = out.features[block].cpu()  # [1, C, b, b]
            self._pca = pca_rgb(self._feat)
            self._feat_key = key
        heat = None
        if fv.query is not None:
            heat = colormap(similarity_map(self._feat, s.size, fv.query, fv.metric))
        version = self._features.version + 1 if self._features is not None else 1
        self._features = FeatureView(block, self._feat.shape[1], self._pca, heat, fv.query, fv.metric, version)
        self._fv_done = (self._latent_version, id(s), fv)
        self._fv_time = time.perf_counter()
