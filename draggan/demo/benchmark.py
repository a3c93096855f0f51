"""`draggan benchmark`: the paper's face-landmark experiment (Table 1) on the demo model.

Protocol (ALGORITHM.md, "Reported results"): generate two faces A and B, detect
their landmarks, drag A's landmarks to B's positions (1 point, 5 points, all
points; at most 300 steps), detect again in the edited image, and report the
mean distance (MD) to the targets. "no edit" is the MD between A's and B's
landmarks. Variants: without tracking, W instead of W+, the official code's
settings (`official_config`) and the paper's (`paper_config`). A fixed seed set
makes runs comparable.

engine + faces (family, detector) -> here -> table / JSON. The CLI calls
`run_benchmark(G, pairs=..., ...)` with typed values; nothing here reads argparse.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from ..engine import DragConfig, DragSession, official_config, paper_config, seed_to_ws
from ..engine.config import PAPER_FEATURE_BLOCK, R1_MIN, default_feature_block, scaled_radius
from ..errors import DragGANError
from ..limits import MAX_PAIRS, MAX_STEPS, MAX_WORKERS, check_int, check_seed, check_truncation
from ..outputs import check_output, write_output
from .faces import FIVE_POINT, LANDMARK_NAMES, detect_landmarks
from ..images import to_uint8

POINT_SETS = ("1", "5", "all")
# Detector coordinates put pixel centres at +0.5; the engine's at integers.
DETECTOR_TO_ENGINE = -0.5


@dataclass
class Pair:
    seed_a: int
    seed_b: int
    points_a: np.ndarray  # [K, 2] engine px, detected in A
    points_b: np.ndarray  # [K, 2] detected in B
    single: int  # landmark index for the 1-point test


def runnable_changes(resolution: int) -> dict:
    """What the paper's and the official code's settings cannot do at this size, replaced by ours.

    Below 128 px there is no b128 (the official code's feat[5] fails): our default block instead.
    Below 86 px round(3/512 size) = 0 leaves the disk empty (nothing is supervised): our r1 floor.
    Everything else stays theirs (at 64 px: r2 = round(12/512 * 64) = 2).
    """
    changes = {}
    if resolution < PAPER_FEATURE_BLOCK:
        changes["feature_block"] = default_feature_block(resolution)
    if scaled_radius(3, resolution) == 0:
        changes["r1"] = R1_MIN
    return changes


MASKED = "ours, movable-region mask"  # the variant that edits with `movable_region` as its mask
STOP_1PX = "stop at 1 px (paper), not 0.5"  # ours with the paper's stop distance for <= 5 handles
MASK_PAD_AT_64 = 8.0  # px the movable boxes reach beyond handle and target at 64 px; scales with the size


def variants(resolution: int, max_steps: int) -> dict[str, DragConfig]:
    """Benchmark rows by name; `benchmark(variant_names=[...])` runs a subset (ours always runs).

    MASKED runs ours with a mask: `movable_region` around its handles and targets.
    """
    base = DragConfig(max_steps=max_steps)
    fit = runnable_changes(resolution)
    return {
        "ours": base,
        MASKED: base,
        "no tracking": base.with_(tracking=False),
        "W instead of W+": base.with_(latent_space="w"),
        "whole-pixel tracking": base.with_(tracking_subpixel=1),
        "supervision not anchored": base.with_(anchored_supervision=False),
        "no re-anchoring": base.with_(reanchor_steps=0),
        STOP_1PX: base.with_(few_handles_stop=1.0),
        "before issue 11 (2e-3, whole pixels, not anchored)": base.with_(
            lr_relative=False, lr=2e-3, tracking_subpixel=1, anchored_supervision=False),
        "official settings": official_config(resolution, max_steps=max_steps, **fit),
        "paper": paper_config(resolution, max_steps=max_steps, **fit),
    }


def movable_region(handles: np.ndarray, targets: np.ndarray, size: int) -> np.ndarray:
    """[size, size] float mask, 1 inside the box around each handle and its target grown by the pad."""
    pad = MASK_PAD_AT_64 * size / 64
    m = np.zeros((size, size), np.float32)
    ys, xs = np.mgrid[0:size, 0:size]
    for h, t in zip(np.asarray(handles, float), np.asarray(targets, float)):
        lo, hi = np.minimum(h, t) - pad, np.maximum(h, t) + pad
        m[(xs >= lo[0]) & (xs <= hi[0]) & (ys >= lo[1]) & (ys <= hi[1])] = 1
    return m


def detect(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pts, found = detect_landmarks(img)
    return pts.astype(np.float64) + DETECTOR_TO_ENGINE, found


def make_pairs(G, n_pairs: int, seed: int, psi: float) -> tuple[list[Pair], int]:
    """Sample seed pairs whose landmarks are all detected in both images; -> (pairs, rejected)."""
    rng = np.random.RandomState(seed)
    pairs, rejected = [], 0
    while len(pairs) < n_pairs:
        if rejected > 10 * n_pairs + 20:
            raise DragGANError("the detector fails on most samples of this model; is it the demo face model?")
        sa, sb = (int(s) for s in rng.randint(0, 2 ** 31 - 1, size=2))
        detections = []
        for s in (sa, sb):
            with torch.no_grad():
                img = G.synthesis(seed_to_ws(G, s, psi))
            detections.append(detect(to_uint8(img)))
        if all(found.all() for _, found in detections):
            pairs.append(Pair(sa, sb, detections[0][0], detections[1][0], int(rng.randint(len(LANDMARK_NAMES)))))
        else:
            rejected += 1
    return pairs, rejected


@torch.no_grad()
def sample_images(G, seeds, psi: float = 1.0, batch: int = 50) -> np.ndarray:
    """uint8 [N, H, W, 3] images of `seeds` (NVIDIA's seed convention, as `draggan generate`)."""
    out = []
    seeds = list(seeds)
    for i in range(0, len(seeds), batch):
        ws = torch.cat([seed_to_ws(G, s, psi) for s in seeds[i:i + batch]])
        out.extend(to_uint8(img) for img in G.synthesis(ws).split(1))
    return np.stack(out)


def detection_rate(G, n: int, first_seed: int = 0, psi: float = 1.0, progress: bool = False) -> dict:
    """How often the detector finds the landmarks in seeds first_seed .. first_seed + n - 1.

    -> {"samples", "all_found" (fraction with every landmark), "per_landmark" {name: fraction},
        "missed_seeds" (those with some landmark not found)}.
    """
    found = []
    seeds = range(first_seed, first_seed + n)
    chunks = [seeds[i:i + 50] for i in range(0, n, 50)]
    for chunk in tqdm(chunks, desc="detecting landmarks", unit="x50 samples", disable=not progress):
        found.extend(detect(img)[1] for img in sample_images(G, chunk, psi))
    found = np.array(found, dtype=bool).reshape(n, len(LANDMARK_NAMES))
    return {"samples": n, "all_found": float(found.all(1).mean()),
            "per_landmark": {name: float(f) for name, f in zip(LANDMARK_NAMES, found.mean(0))},
            "missed_seeds": [int(s) for s, ok in zip(seeds, found.all(1)) if not ok]}


def point_indices(pair: Pair, which: str) -> list[int]:
    if which == "1":
        return [pair.single]
    if which == "5":
        return list(FIVE_POINT)
    return list(range(len(LANDMARK_NAMES)))


def mean_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b, axis=-1).mean())


@dataclass
class EditOutcome:
    image: np.ndarray  # uint8 [H, W, 3], A after the drag
    after: np.ndarray  # [len(idx), 2] detected landmarks; a lost one at its tracked handle position
    found: np.ndarray  # [len(idx)] bool, re-detected in the edited image
    steps: int
    seconds: float
    converged: bool  # stopped at the stop distance (not at the step limit)
    outside_change: float  # mean |edited - A| (uint8 levels, over RGB) outside `movable_region`


def edit_pair(G, pair: Pair, idx: list[int], config: DragConfig, psi: float, masked: bool = False) -> EditOutcome:
    """Drag A's landmarks `idx` to B's and detect them again in the result (masked: with `movable_region`)."""
    ws = seed_to_ws(G, pair.seed_a, psi, label=config.label)
    return edit_latent(G, ws, pair.points_a, pair.points_b, idx, config, masked)


def edit_latent(G, ws: torch.Tensor, points_a: np.ndarray, points_b: np.ndarray, idx: list[int],
                config: DragConfig, masked: bool = False) -> EditOutcome:
    """Drag landmarks `idx` of G's image of `ws` (at points_a [K, 2]) to points_b [K, 2]; detect them again."""
    session = DragSession(G, ws, config)
    res = G.img_resolution
    handles = np.clip(points_a[idx], 0, res - 1)
    targets = np.clip(points_b[idx], 0, res - 1)
    before = session.render().astype(np.float64)
    region = movable_region(handles, targets, res)
    if masked:
        session.set_mask(region)
    session.set_points(handles, targets)
    t0 = time.perf_counter()
    result = session.run()
    seconds = time.perf_counter() - t0
    image = session.render()
    pts, found = detect(image)
    # A landmark the detector lost counts at its tracked handle position (never dropped from the mean).
    after = np.where(found[idx, None], pts[idx], result.handles)
    outside = region == 0
    change = float(np.abs(image - before).mean(-1)[outside].mean()) if outside.any() else 0.0
    return EditOutcome(image, after, found[idx], result.step, seconds, bool(result.converged), change)


def run_edit(G, pair: Pair, idx: list[int], config: DragConfig, psi: float,
             masked: bool = False) -> tuple[float, float, int, bool, bool, float]:
    """One benchmark edit -> (MD after, seconds, steps, all re-detected, converged, change outside the region)."""
    e = edit_pair(G, pair, idx, config, psi, masked)
    return (mean_distance(e.after, pair.points_b[idx]), e.seconds, e.steps, bool(e.found.all()), e.converged,
            e.outside_change)


_WORKER_G = None  # the model inside a benchmark worker process


def _init_worker(checkpoint: str, threads: int) -> None:
    global _WORKER_G
    from stylegan2 import load_generator
    torch.set_num_threads(threads)
    _WORKER_G = load_generator(checkpoint)


def _worker_call(fn, job):
    return fn(_WORKER_G, *job)


def _run_jobs(G, fn, jobs: list, workers: int, checkpoint: str | None):
    """Yield fn(G, *job) for each job, in order; `fn` a module-level function (it crosses to the workers).

    workers > 1 runs them in that many processes (each loads `checkpoint`, one thread each):
    the jobs are independent, so on a CPU this scales with the cores.
    """
    if workers <= 1:
        yield from (fn(G, *job) for job in jobs)
        return
    if checkpoint is None:
        raise DragGANError("parallel benchmark workers need the checkpoint's path")
    import functools
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that already runs torch threads
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(str(checkpoint), 1)) as pool:
        yield from pool.map(functools.partial(_worker_call, fn), jobs, chunksize=1)


def _run_edits(G, jobs: list, workers: int, checkpoint: str | None):
    """Yield run_edit's result for each (pair, idx, config, psi[, masked]) job, in order (see _run_jobs)."""
    yield from _run_jobs(G, run_edit, jobs, workers, checkpoint)


def benchmark(G, n_pairs: int, seed: int = 2023, psi: float = 1.0, max_steps: int = 300,
              variant_names=None, variant_pairs: int | None = None, progress: bool = True,
              workers: int = 1, checkpoint: str | None = None, inversion=None) -> dict:
    """Table 1's protocol on `n_pairs` pairs; with `inversion` (an InversionConfig) the --real protocol instead:
    A a family render inverted with it (real_benchmark.py; ours only, no variants)."""
    if inversion is not None:
        from .real_benchmark import real_benchmark
        return real_benchmark(G, n_pairs, inversion, seed=seed, psi=psi, max_steps=max_steps, progress=progress,
                              workers=workers, checkpoint=checkpoint)
    pairs, rejected = make_pairs(G, n_pairs, seed, psi)
    configs = variants(G.img_resolution, max_steps)
    names = list(configs) if variant_names is None else ["ours", *[v for v in variant_names if v != "ours"]]
    per_variant = {name: (pairs if name == "ours" else pairs[: variant_pairs or n_pairs]) for name in names}
    keys = [(name, which, pair) for name in names for which in POINT_SETS for pair in per_variant[name]]
    jobs = [(pair, point_indices(pair, which), configs[name], psi, name == MASKED) for name, which, pair in keys]
    bar = tqdm(total=len(jobs), desc="benchmark edits", unit="edit", disable=not progress)
    out: dict = {"resolution": G.img_resolution, "pairs": n_pairs, "seed": seed, "truncation_psi": psi,
                 "max_steps": max_steps, "rejected_pairs": rejected, "md": {}, "md_no_edit": {},
                 "seconds_per_edit": {}, "steps_per_edit": {}, "lost_landmarks": {}, "variants": {}, "edits": []}
    runs: dict = {}
    for (name, which, pair), job, (md, secs, steps, ok, conv, outside) in zip(
            keys, jobs, _run_edits(G, jobs, workers, checkpoint)):
        r = runs.setdefault((name, which), {"md": [], "secs": [], "steps": [], "lost": 0, "no_edit": [],
                                            "converged": [], "outside": []})
        r["md"].append(md)
        r["secs"].append(secs)
        r["steps"].append(steps)
        r["lost"] += not ok
        r["converged"].append(conv)
        r["outside"].append(outside)
        out["edits"].append({"variant": name, "points": which, "pair": per_variant[name].index(pair),
                             "md": md, "steps": steps, "converged": conv, "outside_change": outside})
        r["no_edit"].append(mean_distance(pair.points_a[job[1]], pair.points_b[job[1]]))
        bar.update(1)
        bar.set_postfix(variant=name, points=which, md=f"{np.mean(r['md']):.2f}")
    bar.close()
    for name in names:
        stats = {which: {"md": float(np.mean(r["md"])), "md_no_edit": float(np.mean(r["no_edit"])),
                         "seconds": float(np.mean(r["secs"])), "steps": float(np.mean(r["steps"])),
                         "steps_median": float(np.median(r["steps"])), "converged": float(np.mean(r["converged"])),
                         "outside_change": float(np.mean(r["outside"])), "lost": r["lost"], "pairs": len(r["md"])}
                 for which in POINT_SETS for r in [runs[(name, which)]]}
        if name == "ours":
            out["md"] = {k: v["md"] for k, v in stats.items()}
            out["md_no_edit"] = {k: v["md_no_edit"] for k, v in stats.items()}
            out["seconds_per_edit"] = {k: v["seconds"] for k, v in stats.items()}
            out["steps_per_edit"] = {k: v["steps"] for k, v in stats.items()}
            out["lost_landmarks"] = {k: v["lost"] for k, v in stats.items()}
            out.update(_extra_stats(stats, runs, name))
        else:
            out["variants"][name] = {"md": {k: v["md"] for k, v in stats.items()},
                                     "md_no_edit": {k: v["md_no_edit"] for k, v in stats.items()},
                                     "seconds_per_edit": {k: v["seconds"] for k, v in stats.items()},
                                     "steps_per_edit": {k: v["steps"] for k, v in stats.items()},
                                     "pairs": len(per_variant[name]),
                                     "settings": asdict(configs[name]), **_extra_stats(stats, runs, name)}
    return out


def _extra_stats(stats: dict, runs: dict, name: str) -> dict:
    """Convergence and the change outside the movable region, per point set and over all edits."""
    every = [s for which in POINT_SETS for s in runs[(name, which)]["steps"]]
    conv = [c for which in POINT_SETS for c in runs[(name, which)]["converged"]]
    return {"steps_median": {k: v["steps_median"] for k, v in stats.items()},
            "converged": {k: v["converged"] for k, v in stats.items()},
            "outside_change": {k: v["outside_change"] for k, v in stats.items()},
            "steps_median_all_edits": float(np.median(every)), "converged_all_edits": float(np.mean(conv))}


PAPER_RATIOS = {"1": 2.44 / 12.93, "5": 3.18 / 11.66, "all": 4.73 / 16.02}  # DragGAN / no edit, Table 1


def format_table(r: dict) -> str:
    res = r["resolution"]
    lines = [f"Face-landmark benchmark: {r['pairs']} pairs, {res}x{res}, max {r['max_steps']} steps, "
             f"seed {r['seed']}, psi {r['truncation_psi']}",
             f"{'method':<50}{'MD 1 pt':>10}{'MD 5 pts':>10}{'MD all':>10}{'s/edit (5)':>12}"]

    def row(name, md, secs=None):
        cells = "".join(f"{md[k]:>10.2f}" for k in POINT_SETS)
        return f"{name:<50}{cells}{'' if secs is None else f'{secs:>12.2f}'}"

    lines.append(row("no edit", r["md_no_edit"]))
    lines.append(row("ours", r["md"], r["seconds_per_edit"]["5"]))
    for name, v in r["variants"].items():
        note = f" [{v['pairs']} pairs]" if v["pairs"] != r["pairs"] else ""
        lines.append(row(name + note, v["md"], v["seconds_per_edit"]["5"]))
    ratios = "  ".join(f"{k}: {r['md'][k] / max(r['md_no_edit'][k], 1e-9):.2f} (paper {PAPER_RATIOS[k]:.2f})"
                       for k in POINT_SETS)
    lines.append(f"MD / no edit  {ratios}")
    lines.append("MD as a fraction of the image size: " +
                 "  ".join(f"{k}: {r['md'][k] / res:.3f}" for k in POINT_SETS))
    lines.append(f"{'steps (median; converged)':<28}" + "".join(f"{k}: {s:>5.0f} ({c:.0%})  " for k, s, c in (
        (k, r["steps_median"][k], r["converged"][k]) for k in POINT_SETS)))
    for name, v in [("ours", r), *r["variants"].items()]:
        if "converged_all_edits" in v:
            lines.append(f"  {name}: median steps {v['steps_median_all_edits']:.0f}, converged "
                         f"{v['converged_all_edits']:.0%}, change outside the movable region "
                         + " / ".join(f"{v['outside_change'][k]:.2f}" for k in POINT_SETS))
    return "\n".join(lines)


def run_benchmark(G, *, pairs: int = 200, variant_pairs: int | None = None, max_steps: int = 300,
                  seed: int = 2023, psi: float = 1.0, workers: int = 1, checkpoint: str | None = None,
                  json_out: str | os.PathLike | None = None, progress: bool = True,
                  real_steps: tuple[int, int, int] | None = None) -> dict:
    """`draggan benchmark`: check the settings, run `benchmark`, print the table, write `json_out` -> results.

    checkpoint: the path `G` was loaded from (worker processes load it again; needed for workers > 1).
    json_out is checked before the edits start and written atomically.
    real_steps: (W, W+, PTI) inversion steps: run the --real protocol (real_benchmark.py) with them.
    """
    inversion = None
    if real_steps is not None:
        from .real_benchmark import real_inversion
        if variant_pairs is not None:
            raise DragGANError("--variant-pairs has no meaning with --real (it runs our settings only)")
        inversion = real_inversion(*real_steps)
    check_int(pairs, "--pairs", 1, MAX_PAIRS)
    if variant_pairs is not None:
        check_int(variant_pairs, "--variant-pairs", 1, MAX_PAIRS)
    check_int(max_steps, "--steps", 1, MAX_STEPS)
    check_seed(seed, "--seed")
    check_truncation(psi, "--trunc")
    check_int(workers, "--workers", 1, MAX_WORKERS)
    if workers > 1 and G.device.type != "cpu":
        raise DragGANError("--workers is for CPU runs; on a GPU use one process (--workers 1)")
    out = None
    if json_out is not None:
        out = check_output(json_out, (".json",), "results file", inputs=[checkpoint])
    r = benchmark(G, pairs, seed=seed, psi=psi, max_steps=max_steps, variant_pairs=variant_pairs,
                  progress=progress, workers=workers, checkpoint=checkpoint, inversion=inversion)
    if inversion is None:
        print(format_table(r))
    else:
        from .real_benchmark import format_real_table
        print(format_real_table(r))
    if out is not None:
        write_output(out, lambda p: p.write_text(json.dumps(r, indent=1)))
        print(f"wrote {out}")
    return r
