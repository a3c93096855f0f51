"""`draggan edit`: one drag edit without a window, with a progress bar and files to keep.

CLI (reads argparse) -> `edit(G, ws, handles, targets, config, outputs, ...)` -> `Editor` -> files.
Writes OUT (result PNG with provenance), OUT-stem.latent.npy (final W+),
OUT-stem.json (settings, handle trajectory, final distances, per-step losses)
and optionally an animation of the drag. `EditOutputs.beside` checks every one of
those names before the work starts (never an input of the same command); `edit`
writes them all to temporaries and renames them only when all were written.
"""

from __future__ import annotations

import json
import math
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from tqdm import tqdm

from .commands import SetPoints
from .editor import Editor
from .engine import DragConfig, StepResult
from .errors import DragGANError
from .animation import DEFAULT_SIZE, HOLD_S, DragFrame, before_after, compose
from .images import save_png
from .mask import FIXED, MOVABLE
from .outputs import check_image_outputs, check_output, write_outputs
from .run_log import end_reason
from .video import check_animation_format, save_animation

MAX_VIDEO_FRAMES = 150  # an animation keeps about this many frames however long the edit (memory stays bounded)


@dataclass(frozen=True)
class EditOutputs:
    """The files one headless edit writes, already checked to be writable and not inputs."""
    image: Path  # result PNG
    latent: Path  # final W+ [1, L, D] as .npy, reusable with --latent
    report: Path  # JSON: settings, trajectory, final distances, per-step losses
    video: Path | None = None  # animation of the drag (.gif, or .mp4 with imageio-ffmpeg)
    compare: Path | None = None  # PNG: the start and the result side by side, points drawn

    @classmethod
    def beside(cls, out: str | os.PathLike, video: str | os.PathLike | None = None,
               inputs: Iterable[str | os.PathLike | None] = (),
               compare: str | os.PathLike | None = None) -> "EditOutputs":
        """OUT.png, OUT.latent.npy, OUT.json (and `video`), each checked; `inputs` are never overwritten."""
        inputs = list(inputs)
        image, latent, report = check_image_outputs(out, "result image", inputs)
        animation = None
        if video is not None:
            animation = check_output(video, (".gif", ".mp4"), "animation", inputs)
            check_animation_format(animation)
        side_by_side = check_output(compare, (".png",), "before/after image", inputs) if compare else None
        names = [p.resolve() for p in (image, latent, report, animation, side_by_side) if p is not None]
        if len(set(names)) != len(names):
            raise DragGANError("two outputs of this edit have the same name; give --video and --compare their own")
        return cls(image, latent, report, animation, side_by_side)

    def paths(self) -> list[Path]:
        return [p for p in (self.image, self.latent, self.report, self.video, self.compare) if p is not None]


@dataclass
class EditRun:
    result: StepResult  # the last step: tracked handles, distances, converged, error
    seconds: float  # wall time of the optimisation
    outputs: EditOutputs  # what was written
    handles_start: np.ndarray  # [n, 2] where the handles were placed
    status: str  # converged | step limit | stuck | error
    max_steps: int  # the step limit of this edit
    stop_distance: float  # px; a handle this close to its target has arrived


def _npy_header(path: Path) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, data offset) of a .npy file, read without loading or unpickling anything."""
    with open(path, "rb") as f:
        major, minor = np.lib.format.read_magic(f)
        if (major, minor) == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(f)
        elif (major, minor) == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f".npy format version {major}.{minor} is not supported; save with np.save")
        return tuple(shape), dtype, f.tell()


def load_latent(path: str | os.PathLike, G) -> torch.Tensor:
    """A .npy latent (w [1, D] / [D] or W+ [1, L, D]) -> float32 [1, D] or [1, L, D] on G's device.

    The header is read and checked first (shape, type, that the data is all there), so a
    damaged or foreign file, or one claiming an enormous array, allocates nothing.
    """
    path = Path(path)
    if path.is_dir():
        raise DragGANError(f"the latent '{path}' is a folder; give a .npy file")
    try:
        size = path.stat().st_size
        if size == 0:
            raise DragGANError(f"the latent '{path}' is empty; save a latent with `draggan edit` or np.save")
        if zipfile.is_zipfile(path):
            raise DragGANError(f"'{path}' is an archive (.npz), not a .npy latent; save one array with np.save")
        shape, dtype, offset = _npy_header(path)
    except FileNotFoundError:
        raise DragGANError(f"no latent file at '{path}'") from None
    except DragGANError:
        raise
    except Exception as e:  # a damaged or foreign file can fail anywhere in the header parser
        raise DragGANError(f"cannot read '{path}' as a .npy latent ({type(e).__name__}: {e})") from None
    if dtype.kind != "f":
        raise DragGANError(f"the latent in '{path}' is {dtype}, not floating point")
    if shape not in ((G.w_dim,), (1, G.w_dim), (1, 1, G.w_dim), (1, G.num_ws, G.w_dim)):
        raise DragGANError(f"the latent in '{path}' has shape {list(shape)}; this model needs "
                           f"[1, {G.w_dim}] or [1, {G.num_ws}, {G.w_dim}]")
    if size < offset + math.prod(shape) * dtype.itemsize:
        raise DragGANError(f"the latent '{path}' is cut off (shorter than its header says); copy it again")
    try:
        data = np.load(path, allow_pickle=False).astype(np.float32).reshape(1, -1, G.w_dim)  # [1, 1 or L, D]
    except Exception as e:
        raise DragGANError(f"cannot read '{path}' as a .npy latent ({type(e).__name__}: {e})") from None
    if not np.isfinite(data).all():
        raise DragGANError(f"the latent in '{path}' contains NaN or infinity")
    t = torch.from_numpy(data)
    return (t[:, 0] if t.shape[1] == 1 else t).to(G.device)


def _finite(x: float) -> float | None:
    """JSON has no NaN: a loss that was not computed is written as null."""
    return float(x) if math.isfinite(x) else None


def edit(G, ws: torch.Tensor, handles: np.ndarray, targets: np.ndarray, config: DragConfig,
         outputs: EditOutputs, *, mask: np.ndarray | None = None, origin: dict | None = None,
         progress: bool = True, extra: dict | None = None, video_size: int = DEFAULT_SIZE,
         video_points: bool = True) -> EditRun:
    """Drag `handles` [n, 2] to `targets` [n, 2] on the image of `ws` ([1, D] or [1, L, D]) and write `outputs`.

    mask: float [H, W], 1 = may move (None: no mask term). origin: where `ws` came from,
    recorded in the PNG text and the report ({"seed": s, "truncation_psi": psi} or
    {"latent": path}). extra: more keys for the report. The files are written even when
    the edit stopped on an error (the engine keeps the last good latent): check
    `run.result.error`. video_size: the animation's long side, px (frames are scaled up
    by a whole factor); video_points: draw handles, targets and the trail on it.
    """
    origin = dict(origin or {})
    editor = Editor(G.device, config)
    editor.open_generator(G, ws, config, checkpoint=str(G.cfg.extra.get("path", "")) or None,
                          latent_source=origin.get("latent"))
    editor.edit_points(SetPoints(tuple(map(tuple, np.asarray(handles, dtype=float).tolist())),
                                 tuple(map(tuple, np.asarray(targets, dtype=float).tolist()))))
    if mask is not None:  # 1 = may move: the movable strokes; everything else pinned
        editor.set_mask(np.where(np.asarray(mask) >= 0.5, MOVABLE, FIXED).astype(np.int8))
    cfg = editor.session.cfg
    render_every = max(2, math.ceil(cfg.max_steps / MAX_VIDEO_FRAMES)) if outputs.video else 0
    first = DragFrame(editor.image, np.asarray(handles, dtype=float), np.asarray(targets, dtype=float))
    frames = [first]
    log = []
    t0 = time.perf_counter()
    bar = tqdm(total=cfg.max_steps, desc="dragging", unit="step", disable=not progress, dynamic_ncols=True)
    editor.start()
    try:
        while editor.running:
            step = len(log)
            r = editor.step(render_image=render_every > 0 and step % render_every == 0 and step > 0)
            log.append({"step": r.step, "loss": _finite(r.loss), "loss_motion": _finite(r.loss_motion),
                        "loss_mask": _finite(r.loss_mask), "max_distance": float(r.distances.max())})
            if r.image is not None:
                frames.append(DragFrame(r.image, r.handles, r.targets))
            bar.set_postfix(dist=f"{r.distances.max():.1f}px", loss=f"{r.loss:.3g}")
            if not r.done:
                bar.update(1)
    finally:
        bar.close()
    result = editor.log.last
    seconds = time.perf_counter() - t0
    final = editor.session.render()
    latent = editor.session.current_ws().cpu().numpy()  # [1, L, D]
    meta = {**origin, "steps": result.step, "converged": result.converged}
    if result.error:
        meta["error"] = result.error
    report = {
        "checkpoint": str(G.cfg.extra.get("path", "")), **origin,
        "settings": {**vars(config), "feature_block": cfg.feature_block, "r1": cfg.r1, "r2": cfg.r2},
        "handles_start": np.asarray(handles).tolist(), "targets": np.asarray(targets).tolist(),
        "handles_final": result.handles.tolist(), "final_distances": result.distances.tolist(),
        "converged": result.converged, "steps": result.step, "seconds": round(seconds, 3),
        "error": result.error, "trajectory": [h.tolist() for h in editor.log.trail], "log": log,
        **(extra or {}),
    }
    last = DragFrame(final, result.handles, result.targets)
    writers = [
        (outputs.image, lambda p: save_png(p, final, {k: json.dumps(v) for k, v in meta.items()})),
        (outputs.latent, lambda p: np.save(p, latent)),
        (outputs.report, lambda p: p.write_text(json.dumps(report, indent=1))),
    ]
    if outputs.video is not None:
        pictures = compose([*frames, last], video_size, video_points)
        writers.append((outputs.video, lambda p: save_animation(pictures, p, hold_s=HOLD_S)))
    if outputs.compare is not None:
        pair = before_after(first, last, video_size)
        writers.append((outputs.compare, lambda p: save_png(p, pair, {k: json.dumps(v) for k, v in meta.items()})))
    write_outputs(writers)
    return EditRun(result, seconds, outputs, np.asarray(handles, dtype=float), editor.log.status,
                   cfg.max_steps, cfg.stop_distance(len(handles)))


def result_table(run: EditRun) -> str:
    """Per handle: where it started and ended, its target and the distance left; then why the edit ended."""
    r = run.result
    rows = [("handle", "start", "end", "target", "left")]
    for i, (s, e, t, d) in enumerate(zip(run.handles_start, r.handles, r.targets, r.distances)):
        rows.append((str(i + 1), _xy(s), _xy(e), _xy(t), f"{d:.2f} px"))
    widths = [max(len(row[k]) for row in rows) for k in range(5)]
    lines = ["  ".join(c.ljust(w) if k < 4 else c.rjust(w) for k, (c, w) in enumerate(zip(row, widths)))
             for row in rows]
    return "\n".join(lines + [end_reason(run.status, r.step, run.max_steps, run.stop_distance, len(r.distances),
                                         r.error) + f" ({run.seconds:.1f} s)"])


def _xy(p) -> str:
    return f"({p[0]:.1f}, {p[1]:.1f})"
