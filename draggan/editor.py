"""`Editor`: the editing state and its rules, synchronous and GUI-free.

checkpoint -> generator -> engine -> here -> worker (a thread) -> GUI; the headless
`draggan edit` and the tests drive it directly. It holds the model, the image
(seed, truncation, latent, or an inverted photo: `PhotoEditing`), the points, the
painted mask, the settings, one undo history of `(latent, points, mask)`, the
current run's log, and reads and writes the user's files. Every method runs to
completion and returns; errors a user can cause raise `DragGANError` and leave
the state as it was.

Dimension legend: L num_ws, D w_dim, n handles, m <= n targets, H/W image size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import commands as cmds
from .engine import DragConfig, DragSession, StepResult, seed_to_ws
from .errors import DragGANError
from .features_view import FeatureView, FeatureViewer
from .history import History, Snapshot
from .limits import DEFAULT_TRUNCATION, check_seed, check_truncation
from .mask import FIXED, MOVABLE, UNPAINTED, mask_from_paint
from .exports import Exports
from .photo_editing import PhotoEditing
from .points import Points, validate_pairs
from .run_log import MAX_FRAME_BYTES, RunLog
from .session_file import find_checkpoint, load_session, weights_fingerprint

NO_PAIRS_HINT = "place a handle point and its target first (click the image twice)"

PAINT_VALUES = (UNPAINTED, MOVABLE, FIXED)


class Editor(Exports, PhotoEditing):
    """One image being edited on one generator (saving images, latents, sessions: `Exports`; photos: `PhotoEditing`)."""

    def __init__(self, device="cpu", config: DragConfig = DragConfig(), seed: int = 0, psi: float = DEFAULT_TRUNCATION,
                 max_frame_bytes: int = MAX_FRAME_BYTES):
        self.device = torch.device(device)
        self.G = None
        self.session: DragSession | None = None
        self.config = config
        self.checkpoint: str | None = None  # resolved path of the open checkpoint
        self.session_path: str | None = None  # the session file the state came from or was saved to
        self.seed, self.psi = check_seed(seed), float(psi)
        self.latent_source: str | None = None  # a latent file the image came from, instead of the seed
        self.ws0: torch.Tensor | None = None  # [1, L, D] the original image (what Reset returns to)
        self.points = Points()
        self.paint: np.ndarray | None = None  # int8 [H, W] brush layer (draggan.mask)
        self.history = History()
        self.log = RunLog(max_frame_bytes)
        self.image: np.ndarray | None = None  # uint8 [H, W, 3] shown
        self.image_id = 0  # increases with every new image
        self.latent_version = 0  # increases whenever the latent changes
        self.loaded_id = 0  # increases when a checkpoint or session replaced everything
        self.changes = 0  # increases with every change a session save would keep
        self.saved_changes = 0  # `changes` when the session was last saved or opened
        self.message = ""
        self.on_loading: Callable[[str | None], None] = lambda path: None  # told before and after a slow load
        self._viewer = FeatureViewer()
        self._fingerprint: str | None = None

    # ---- model and image ----
    @property
    def resolution(self) -> int:
        """Image height, px (0 = no model)."""
        return self.G.img_resolution if self.G is not None else 0

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the image, px; (0, 0) = no model. StyleGAN-Human images are half as wide as high."""
        return tuple(self.G.img_size) if self.G is not None else (0, 0)

    @property
    def running(self) -> bool:
        return self.log.status == "running"

    @property
    def dirty(self) -> bool:
        """Work a session save would keep has not been saved."""
        return self.changes != self.saved_changes

    def open_checkpoint(self, path: str | Path) -> str:
        """Load a generator and show the current seed on it; the old state stays if loading fails."""
        path = Path(path).expanduser()
        G = self._load(path)
        config = self.config
        if config.feature_block is not None and config.feature_block not in G.synthesis.block_resolutions:
            config = config.with_(feature_block=None)
        ws = seed_to_ws(G, self.seed, self.psi, label=config.label)
        self.open_generator(G, ws, config, checkpoint=str(path.resolve()))
        height, width = self.size
        self.message = f"opened {path.name} ({width}x{height}, {G.num_ws} W+ layers)"
        return self.message

    def open_generator(self, G, ws: torch.Tensor, config: DragConfig | None = None, checkpoint: str | None = None,
                       latent_source: str | None = None) -> None:
        """Edit the image of latent ws (w [1, D] or W+ [1, L, D]) on generator G, from a clean slate."""
        session = DragSession(G, ws, config or self.config, device=self.device)
        self._stop_run()
        self.G, self.session, self.config = G, session, config or self.config
        self.checkpoint, self.session_path, self.latent_source = checkpoint, None, latent_source
        self._fingerprint = None
        self.ws0 = session.ws.clone()
        self.points, self.paint = Points(), None
        self._replaced(history=True)
        self.loaded_id += 1
        self.saved_changes = self.changes

    def _load(self, path: Path):
        from stylegan2 import load_generator
        self.on_loading(str(path))
        try:
            G = load_generator(path, self.device)
        finally:
            self.on_loading(None)
        return G.eval()

    def new_image(self, seed: int, psi: float) -> str:
        seed, psi = check_seed(seed), check_truncation(psi)
        if self.G is None:
            self.seed, self.psi = seed, psi
            return ""
        ws = seed_to_ws(self.base_G, seed, psi, label=self.config.label)
        self._stop_run()
        self._push_history()  # Undo brings the previous image back, with its drags still undoable
        self._leave_photo()
        self.seed, self.psi, self.latent_source = seed, psi, None
        self.ws0 = ws.to(self.device)
        self.session.set_latent(self.ws0)
        self._replaced()
        self.message = f"seed {seed}, truncation {psi:g} (Undo brings the previous image back)"
        return self.message

    # ---- points, mask, settings ----
    def edit_points(self, cmd) -> None:
        """Apply a point edit (`commands.POINT_EDITS`); a running drag stops first. Bad points change nothing."""
        points = self.points.copy()
        cmd.apply(points)
        size = self.size if self.G is not None else None
        validate_pairs(points.handles, points.targets, size, complete=False)
        if self.running:
            self._end_run("stopped")
            self.message = "points changed: edit stopped (press Start to continue)"
        self.points = points
        self.changes += 1

    def set_mask(self, paint: np.ndarray | None) -> None:
        if paint is not None:
            values = np.asarray(paint)
            if values.dtype.kind not in "iub" or not np.isin(values, PAINT_VALUES).all():
                raise DragGANError(f"a painted mask holds only {PAINT_VALUES} (unpainted, movable, fixed)")
            paint = values.astype(np.int8)
            if self.G is not None and paint.shape != self.size:
                raise DragGANError(f"the mask must be {self.size[1]}x{self.size[0]} (W x H, the image size), "
                                   f"got {paint.shape[1] if paint.ndim > 1 else '?'}x{paint.shape[0]}")
            if not paint.any():
                paint = None
        if self.session is not None:
            self.session.set_mask(mask_from_paint(paint))
        self.paint = paint
        self.changes += 1

    def set_config(self, config: DragConfig) -> None:
        if self.session is not None:
            self.session.set_config(config)  # checked against this model; the step size applies at once
        self.config = config
        self.changes += 1

    # ---- the drag ----
    def start(self) -> None:
        session = self._need_session()
        if self.running:
            return
        handles, targets = self.points.pairs()
        if len(targets) == 0:
            raise DragGANError(NO_PAIRS_HINT)
        before = self._snapshot()
        session.set_points(handles, targets)
        self.history.push(before)
        self.log.start()
        self.message = ""
        self.changes += 1

    def step(self, render_image: bool = True) -> StepResult:
        """One optimisation step of the running drag; the run ends by itself when the result is done."""
        if not self.running:
            raise DragGANError("no edit is running: press Start")
        r = self.session.step(render_image=render_image)
        self.log.record(r)
        self.points.set_tracked(r.handles)
        self.latent_version += 1
        if r.image is not None:
            self._show(r.image)
        if r.done:
            why = r.status if r.status != "running" else ("converged" if r.converged else "step limit")
            self._end_run("error" if r.error else why, render=r.image is None and not r.error)  # converged, ..., error
        return r

    def stop(self) -> None:
        if self.running:
            self._end_run("stopped")

    def abort(self) -> None:
        """End the running drag after a failure (the step raised); its progress so far is kept."""
        if self.running:
            self._end_run("error", render=False)

    def _stop_run(self) -> None:
        if self.running:
            self._end_run("stopped", render=False)

    def _end_run(self, status: str, render: bool = True) -> None:
        """Finish the run: the drag becomes one undoable step."""
        self.log.status = status
        self.session.stop()
        if render:  # the last shown image is one update behind the latent
            self._show(self.session.render())
        cfg = self.session.cfg
        self.message = self.log.summary(cfg.max_steps, cfg.stop_distance(len(self.points.targets)))

    def reset(self) -> str:
        self._need_session()
        self._stop_run()
        self._push_history()
        self.session.set_latent(self.ws0)
        self._replaced()
        self.message = "back to the original image (Undo brings the edit back)"
        return self.message

    def undo(self) -> str:
        return self._history_move(undo=True)

    def redo(self) -> str:
        return self._history_move(undo=False)

    def _history_move(self, undo: bool) -> str:
        self._need_session()
        self._stop_run()
        current = self._snapshot()
        entry = self.history.undo(current) if undo else self.history.redo(current)
        if entry is None:
            self.message = "nothing to undo" if undo else "nothing to redo"
            return self.message
        self._restore_origin(entry.image)  # a photo's image comes back with its (tuned) generator
        self.session.set_latent(entry.latent.to(self.device))
        self.points = entry.points.copy()
        self.paint = None if entry.paint is None else entry.paint.copy()
        self.session.set_mask(mask_from_paint(self.paint))
        self._replaced()
        self.changes += 1
        self.message = "undone" if undo else "redone"
        return self.message

    def _snapshot(self) -> Snapshot:
        return Snapshot.take(self.session.current_ws(), self.points, self.paint, self._origin())

    def _push_history(self) -> None:
        self.history.push(self._snapshot())
        self.changes += 1

    def _replaced(self, history: bool = False) -> None:
        """The latent changed outside a run: new image, new animation, fresh run statistics."""
        if history:  # a checkpoint or a session replaced everything
            self.history.clear()
            self.photo = self.inversion = None
        self.latent_version += 1
        self.log.clear()
        self._show(self.session.render())

    def _show(self, image: np.ndarray) -> None:
        self.image = image
        self.image_id += 1

    def _need_session(self) -> DragSession:
        if self.session is None:
            raise DragGANError("open a checkpoint first (File > Open checkpoint, or drop a .pkl, .pt or "
                               ".safetensors file onto the window)")
        return self.session

    # ---- files ----
    def load_session(self, path: str | Path, unsaved: bool = False) -> str:
        """Reopen a saved session; everything is checked before the current state is replaced.

        unsaved: the file is a crash-recovery copy, so its work still needs a save of the user's.
        """
        data = load_session(path)
        ckpt = find_checkpoint(data, path)
        same = self.G is not None and self.checkpoint is not None and Path(self.checkpoint).exists() \
            and ckpt.resolve().samefile(self.checkpoint)
        G = self.base_G if same else self._load(ckpt)
        size = tuple(G.img_size)
        if tuple(data.size) != size:
            raise DragGANError(f"session '{path}' is for a model of {data.size[1]}x{data.size[0]} images, but "
                               f"'{ckpt.name}' makes {size[1]}x{size[0]} images")
        fingerprint = self._fingerprint if same and self._fingerprint else weights_fingerprint(G)
        note = ""
        if data.checkpoint_fingerprint is None:
            note = " (saved without a model fingerprint: check that it shows the image you expect)"
        elif data.checkpoint_fingerprint != fingerprint:
            raise DragGANError(f"session '{path}' was saved with other weights than the checkpoint now at "
                               f"'{ckpt}' (the file was replaced or retrained); open the checkpoint it was made "
                               "with, or put that file at this path")
        session = DragSession(G, torch.from_numpy(data.latent), data.config, device=self.device)
        session.set_mask(mask_from_paint(data.paint))
        points = Points.from_arrays(data.handles, data.targets)
        original = torch.from_numpy(data.latent_original if data.latent_original is not None else data.latent)
        # Everything checked: replace the current state.
        self._stop_run()
        self.G, self.session, self.config = G, session, data.config
        self.checkpoint, self.session_path = str(ckpt.resolve()), str(Path(path).resolve())
        self._fingerprint = fingerprint
        self.seed, self.psi, self.latent_source = data.seed, data.truncation_psi, None
        self.ws0 = original.to(self.device)
        self.points, self.paint = points, data.paint
        self._replaced(history=True)
        self.photo = self._session_photo(data, G)
        self.loaded_id += 1
        self.saved_changes = self.changes - (1 if unsaved else 0)
        self.session_path = None if unsaved else self.session_path
        self.message = f"opened session {Path(path).name}{note}"
        return self.message

    # ---- researchers' view ----
    def feature_view(self, request: "cmds.SetFeatureView") -> FeatureView | None:
        s = self.session
        if s is None or not request.enabled:
            return None
        blocks = self.G.synthesis.block_resolutions
        block = request.block if request.block in blocks else s.cfg.feature_block
        return self._viewer.view(self.G, s.current_ws(), s.cfg.noise_mode, s.size, block, request.query,
                                 request.metric, self.latent_version)

