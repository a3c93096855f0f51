"""`draggan edit`: one drag edit without a window, with a progress bar and files to keep.

Writes OUT (result PNG with provenance), OUT-stem.latent.npy (final W+),
OUT-stem.json (settings, handle trajectory, final distances, per-step losses)
and optionally an animation of the drag.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from .engine import DragConfig, DragSession, official_config, seed_to_ws
from .errors import DragGANError
from .images import save_png
from .points_file import read_mask, read_points
from .video import save_animation


def load_latent(path: str | Path, G) -> torch.Tensor:
    """A .npy latent (w [1, D] / [D] or W+ [1, L, D]); loaded without pickle."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise DragGANError(f"no latent file at '{path}'") from None
    except (ValueError, OSError) as e:
        raise DragGANError(f"cannot read '{path}' as a .npy latent ({e})") from None
    if arr.dtype.kind != "f":
        raise DragGANError(f"the latent in '{path}' is not floating point")
    t = torch.from_numpy(arr.astype(np.float32))
    if t.ndim == 1:
        t = t.unsqueeze(0)
    if t.ndim == 3 and t.shape[1] == 1:
        t = t[:, 0]
    if not (t.shape == (1, G.w_dim) or t.shape == (1, G.num_ws, G.w_dim)):
        raise DragGANError(f"the latent in '{path}' has shape {tuple(arr.shape)}; this model needs "
                           f"[1, {G.w_dim}] or [1, {G.num_ws}, {G.w_dim}]")
    return t.to(G.device)


def config_from_args(args, resolution: int) -> DragConfig:
    changes = {k: v for k, v in dict(max_steps=args.steps, lr=args.lr, latent_space=args.space,
                                     num_optimized_layers=args.layers, r1=args.r1, r2=args.r2,
                                     lambda_mask=args.lambda_mask, feature_block=args.block,
                                     tracking_distance=args.tracking).items() if v is not None}
    if args.official:
        return official_config(resolution, **changes)
    return DragConfig(**changes)


def run_edit(args, load) -> int:
    G = load(args)
    res = G.img_resolution
    pts = read_points(args.points, res)
    config = config_from_args(args, res)
    seed = args.seed if args.seed is not None else (pts.seed if pts.seed is not None else 0)
    psi = args.trunc if args.trunc is not None else (pts.truncation_psi if pts.truncation_psi is not None else 0.7)
    ws = load_latent(args.latent, G) if args.latent else seed_to_ws(G, seed, psi)
    session = DragSession(G, ws, config)
    session.set_points(pts.handles, pts.targets)
    mask_path = args.mask or pts.mask
    if mask_path:
        session.set_mask(read_mask(mask_path, res))
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise DragGANError("--out must be a .png file")
    out.parent.mkdir(parents=True, exist_ok=True)
    frames = [session.render()] if args.video else []
    log = []
    t0 = time.perf_counter()
    bar = tqdm(total=session.cfg.max_steps, desc="dragging", unit="step", disable=args.no_progress,
               dynamic_ncols=True)

    def on_step(r):
        log.append({"step": r.step, "loss": r.loss, "loss_motion": r.loss_motion, "loss_mask": r.loss_mask,
                    "max_distance": float(r.distances.max())})
        if r.image is not None and not r.done:
            frames.append(r.image)
        bar.set_postfix(dist=f"{r.distances.max():.1f}px", loss=f"{r.loss:.3g}")
        if not r.done:
            bar.update(1)

    result = session.run(callback=on_step, render_every=2 if args.video else 0)
    bar.close()
    seconds = time.perf_counter() - t0
    final = session.render()
    meta = {"seed": seed, "truncation_psi": psi, "steps": result.step, "converged": result.converged}
    save_png(out, final, {k: json.dumps(v) for k, v in meta.items()})
    stem = out.with_suffix("")
    np.save(f"{stem}.latent.npy", session.current_ws().cpu().numpy())
    report = {
        "checkpoint": str(G.cfg.extra.get("path", "")), "seed": seed, "truncation_psi": psi,
        "settings": {**{k: v for k, v in vars(config).items()}, "feature_block": session.cfg.feature_block,
                     "r1": session.cfg.r1, "r2": session.cfg.r2},
        "handles_start": pts.handles.tolist(), "targets": pts.targets.tolist(),
        "handles_final": result.handles.tolist(), "final_distances": result.distances.tolist(),
        "converged": result.converged, "steps": result.step, "seconds": round(seconds, 3),
        "error": result.error, "trajectory": [h.tolist() for h in session.trajectory], "log": log,
        "ignored_points_keys": list(pts.ignored_keys),
    }
    Path(f"{stem}.json").write_text(json.dumps(report, indent=1))
    if args.video:
        frames.append(final)
        save_animation(frames, args.video)
    state = "converged" if result.converged else ("stopped: " + result.error if result.error else "step limit")
    print(f"{state} after {result.step} steps in {seconds:.1f}s; max distance {result.distances.max():.2f}px")
    print(f"wrote {out}, {stem}.latent.npy, {stem}.json" + (f", {args.video}" if args.video else ""))
    return 0
