"""`draggan benchmark --real`: the landmark benchmark (Table 1's protocol) with A a picture the model never drew.

The protocol of `benchmark.py`, with one change: A is not a sample of the generator but a render of
the procedural face family (faces/family.py), which the demo model only approximates, so it stands in
for a real photo (issue 13; scripts/invert_benchmark.py makes its inputs the same way). Per pair:
1. render A, detect its landmarks in the picture (as a user would mark them); B is the standard
   benchmark's B for the same seed (`make_pairs`): the same targets as `draggan benchmark`;
2. invert A: W -> W+ -> pivotal tuning (engine.inversion), measured against the picture (PSNR,
   MS-SSIM, landmark error of the reconstruction vs the family's exact landmarks);
3. drag A's landmarks to B's on the tuned generator (1, 5, all points; ours) and detect again:
   MD to B's landmarks. "No edit" is the MD between A's landmarks and B's, measured in the picture
   and, as `md_no_edit_reconstruction`, in the reconstruction that the drag starts from.

family render -> engine.inversion -> engine drag -> detector -> here -> table / JSON. One job per pair
(inversion and its three edits), so `--workers` runs pairs side by side.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
from tqdm import tqdm

from ..engine import DragConfig, Inversion, InversionConfig
from ..errors import DragGANError
from .benchmark import (
    DETECTOR_TO_ENGINE,
    POINT_SETS,
    _run_jobs,
    detect,
    edit_latent,
    make_pairs,
    mean_distance,
    point_indices,
)
from .faces import FaceParams, render, sample_params

# Affordable on a CPU: about 20 s per 64 px picture on one loaded core (README "Inversion: measured":
# W+ 34.7 dB, PTI 39.7 dB on clean renders). The published budgets are W 1000 and PTI up to 350.
REAL_STEPS = (300, 300, 150)  # W, W+, PTI at most (PTI stops at InversionConfig.pti_stop_psnr, 35 dB)


def real_inversion(w_steps: int, wplus_steps: int, pti_steps: int) -> InversionConfig:
    """The inversion of the --real benchmark: the engine's defaults with these step budgets, no previews."""
    return InversionConfig(w_steps=w_steps, wplus_steps=wplus_steps, pti_steps=pti_steps, preview_every=0)


@dataclass
class RealPair:
    params: FaceParams  # A: the family face, rendered at the model's size
    seed_b: int  # B: the standard benchmark's sample
    points_a: np.ndarray  # [K, 2] engine px, detected in the picture A
    points_b: np.ndarray  # [K, 2] engine px, detected in B
    exact_a: np.ndarray  # [K, 2] engine px, the family's exact landmarks of A
    single: int  # landmark index for the 1-point test (the standard pair's)


def make_real_pairs(G, n_pairs: int, seed: int, psi: float) -> tuple[list[RealPair], int]:
    """B's from `make_pairs(seed)`; A's from family faces of `default_rng(seed)` whose landmarks are all detected.

    -> (pairs, rejected: standard pairs rejected + family faces rejected).
    """
    if tuple(G.img_size) != (G.img_resolution, G.img_resolution) or G.img_channels != 3:
        raise DragGANError("--real renders square RGB faces: use the demo face model (or another square RGB one)")
    standard, rejected = make_pairs(G, n_pairs, seed, psi)
    rng = np.random.default_rng(seed)
    pairs = []
    for p in standard:
        while True:
            params = sample_params(rng)
            img, exact = render(params, G.img_resolution)
            pts, found = detect(img)
            if found.all():
                break
            rejected += 1
            if rejected > 10 * n_pairs + 20:
                raise DragGANError("the detector fails on most family renders at this size")
        pairs.append(RealPair(params, p.seed_b, pts, p.points_b, exact.astype(np.float64) + DETECTOR_TO_ENGINE,
                              p.single))
    return pairs, rejected


def run_real_pair(G, pair: RealPair, inversion: InversionConfig, config: DragConfig) -> dict:
    """Invert A, then the three edits (1, 5, all points) on the tuned generator -> this pair's measurements."""
    picture = render(pair.params, G.img_resolution)[0]  # uint8 [H, W, 3]
    t0 = time.perf_counter()
    rec = Inversion(G, picture, inversion).run()
    inversion_seconds = time.perf_counter() - t0
    rec_pts, rec_found = detect(rec.image)
    err = np.linalg.norm(rec_pts - pair.exact_a, axis=-1)[rec_found]
    start = np.where(rec_found[:, None], rec_pts, pair.points_a)  # the reconstruction's landmarks (lost: A's)
    out = {"psnr": rec.psnr, "msssim": rec.msssim, "landmark_px": float(err.mean()) if err.size else float("nan"),
           "landmarks_found": float(rec_found.mean()), "inversion_seconds": inversion_seconds,
           "stage_steps": {k: v["steps"] for k, v in rec.stages.items()}, "edits": {}}
    for which in POINT_SETS:
        idx = point_indices(pair, which)
        e = edit_latent(rec.G, rec.ws, pair.points_a, pair.points_b, idx, config)
        out["edits"][which] = {"md": mean_distance(e.after, pair.points_b[idx]),
                               "md_no_edit": mean_distance(pair.points_a[idx], pair.points_b[idx]),
                               "md_no_edit_reconstruction": mean_distance(start[idx], pair.points_b[idx]),
                               "steps": e.steps, "seconds": e.seconds, "converged": e.converged,
                               "all_found": bool(e.found.all())}
    return out


def real_benchmark(G, n_pairs: int, inversion: InversionConfig, seed: int = 2023, psi: float = 1.0,
                   max_steps: int = 300, progress: bool = True, workers: int = 1,
                   checkpoint: str | None = None) -> dict:
    """The --real protocol on `n_pairs` pairs -> results (the JSON schema of `benchmark` where it applies)."""
    pairs, rejected = make_real_pairs(G, n_pairs, seed, psi)
    config = DragConfig(max_steps=max_steps)  # ours
    jobs = [(pair, inversion, config) for pair in pairs]
    rows = []
    for row in tqdm(_run_jobs(G, run_real_pair, jobs, workers, checkpoint), total=len(jobs),
                    desc="invert + edit A", unit="pair", disable=not progress):
        rows.append(row)
    out = {"real": True, "resolution": G.img_resolution, "pairs": n_pairs, "seed": seed, "truncation_psi": psi,
           "max_steps": max_steps, "rejected": rejected, "inversion_settings": asdict(inversion),
           "inversion": _inversion_stats(rows), "settings": asdict(config)}
    per = {which: [r["edits"][which] for r in rows] for which in POINT_SETS}
    for key in ("md", "md_no_edit", "md_no_edit_reconstruction", "seconds", "steps"):
        out[key if key.startswith("md") else f"{key}_per_edit"] = {
            k: float(np.mean([e[key] for e in v])) for k, v in per.items()}
    out["steps_median"] = {k: float(np.median([e["steps"] for e in v])) for k, v in per.items()}
    out["converged"] = {k: float(np.mean([e["converged"] for e in v])) for k, v in per.items()}
    out["lost_landmarks"] = {k: int(sum(not e["all_found"] for e in v)) for k, v in per.items()}
    out["per_pair"] = [{"seed_b": p.seed_b, **r} for p, r in zip(pairs, rows)]
    return out


def _inversion_stats(rows: list[dict]) -> dict:
    psnrs = [r["psnr"] for r in rows]
    return {"psnr": float(np.mean(psnrs)), "psnr_min": float(np.min(psnrs)),
            "msssim": float(np.mean([r["msssim"] for r in rows])),
            "landmark_px": float(np.nanmean([r["landmark_px"] for r in rows])),
            "landmark_px_median": float(np.nanmedian([r["landmark_px"] for r in rows])),
            "seconds_median": float(np.median([r["inversion_seconds"] for r in rows])),
            "pti_steps": float(np.mean([r["stage_steps"].get("pti", 0) for r in rows]))}


def format_real_table(r: dict) -> str:
    s, inv = r["inversion_settings"], r["inversion"]
    lines = [f"Face-landmark benchmark on pictures the model never drew: {r['pairs']} pairs, "
             f"{r['resolution']}x{r['resolution']}, max {r['max_steps']} steps, seed {r['seed']}",
             f"A inverted with W {s['w_steps']} + W+ {s['wplus_steps']} + PTI up to {s['pti_steps']} steps "
             f"(stop at {s['pti_stop_psnr']:g} dB; mean {inv['pti_steps']:.0f}): PSNR {inv['psnr']:.2f} dB "
             f"(min {inv['psnr_min']:.2f}), MS-SSIM {inv['msssim']:.3f}, landmark error "
             f"{inv['landmark_px_median']:.2f} / {inv['landmark_px']:.2f} px (median / mean), "
             f"{inv['seconds_median']:.1f} s (median)",
             f"{'':<36}{'MD 1 pt':>10}{'MD 5 pts':>10}{'MD all':>10}"]
    for name, key in (("no edit (A as given)", "md_no_edit"), ("no edit (A reconstructed)", "md_no_edit_reconstruction"),
                      ("ours, on the inverted A", "md")):
        lines.append(f"{name:<36}" + "".join(f"{r[key][k]:>10.2f}" for k in POINT_SETS))
    lines.append("MD / no edit  " + "  ".join(f"{k}: {r['md'][k] / max(r['md_no_edit'][k], 1e-9):.2f}"
                                              for k in POINT_SETS))
    lines.append("steps (median; converged)  " + "  ".join(
        f"{k}: {r['steps_median'][k]:.0f} ({r['converged'][k]:.0%})" for k in POINT_SETS)
        + f"   s/edit (5): {r['seconds_per_edit']['5']:.2f}")
    return "\n".join(lines)
