"""Measure GAN inversion (W, W+, PTI) on the demo model with pictures it never produced.

The demo generator approximates a procedural face family (draggan/demo/faces); a family render
is a "real photo" for it whose exact landmarks are known. For each of N renders (and, for the
first few, harder versions: another background colour, JPEG quality 30, Gaussian noise) one
inversion runs W -> W+ -> PTI and every stage's result is measured: PSNR and MS-SSIM against
the input, landmark error (the demo detector on the reconstruction vs the family's exact
landmarks; the detector's own error on the clean input is the floor), seconds.

    python scripts/invert_benchmark.py --n 12 --hard 3 --json invert_benchmark.json
    python scripts/invert_benchmark.py --n 4 --loss l1 --loss l1+msssim   # compare losses (W and W+ only)
    python scripts/invert_benchmark.py --memory 256   # peak RSS: a drag step vs each inversion stage, CPU

`--memory RES` runs each variant in its own process on `draggan.bench.synthetic_generator(RES)` and
reports the process's peak RSS (Linux ru_maxrss) after a few steps.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from draggan.demo.faces import detect_landmarks, render, sample_params  # noqa: E402
from draggan.engine import Inversion, InversionConfig  # noqa: E402
from stylegan2 import load_generator  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "checkpoints" / "demo_faces_64.safetensors"


def harder(params, kind: str, rng: np.random.Generator) -> np.ndarray:
    """The family render of `params` made harder: 'background' (colours outside the family's), 'jpeg30', 'noise'."""
    if kind == "background":
        p = dataclasses.replace(params, bg_color_a=(30, 200, 60), bg_color_b=(200, 30, 160))
        return render(p, 64)[0]
    img = render(params, 64)[0]
    if kind == "jpeg30":
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=30)
        return np.asarray(Image.open(buf).convert("RGB"))
    noisy = img.astype(np.float64) + rng.normal(0, 12.0, img.shape)  # sigma 12/255
    return np.clip(np.round(noisy), 0, 255).astype(np.uint8)


def landmark_error(img: np.ndarray, exact: np.ndarray) -> tuple[float, float]:
    """(mean px distance over detected landmarks, share detected) of the detector on `img`."""
    pts, found = detect_landmarks(img)
    if not found.any():
        return float("nan"), 0.0
    return float(np.linalg.norm(pts[found] - exact[found], axis=1).mean()), float(found.mean())


def invert_one(G, target: np.ndarray, exact: np.ndarray, cfg: InversionConfig, D=None) -> dict:
    """One staged inversion; -> {stage: {psnr, msssim, landmark_px, found, seconds (cumulative)}}."""
    inv = Inversion(G, target, cfg, D=D)
    out = {}
    t0 = time.perf_counter()
    while not inv.done:
        p = inv.step()
        if inv.done or inv.stage != p.stage:  # p was its stage's last step
            r = inv.result()
            err, found = landmark_error(r.image, exact)
            out[p.stage] = {"psnr": r.psnr, "msssim": r.msssim, "landmark_px": err, "found": found,
                            "seconds": time.perf_counter() - t0, "steps": r.stages[p.stage]["steps"]}
    return out


def summarise(rows: list[dict], stages) -> dict:
    table = {}
    for s in stages:
        vals = [r["stages"][s] for r in rows if s in r["stages"]]
        if vals:
            table[s] = {k: float(np.nanmean([v[k] for v in vals])) for k in ("psnr", "msssim", "landmark_px",
                                                                               "found", "seconds", "steps")}
            table[s]["psnr_min"] = float(min(v["psnr"] for v in vals))
            table[s]["landmark_px_median"] = float(np.nanmedian([v["landmark_px"] for v in vals]))
    return table


def memory_child(res: int, variant: str, steps: int = 3) -> float:
    """In a fresh process: `steps` steps of one variant on a synthetic generator -> peak RSS, MiB."""
    from draggan.bench import synthetic_generator
    from draggan.engine import DragConfig, DragSession
    G = synthetic_generator(res, "cpu")
    if variant == "drag step":
        s = DragSession.from_seed(G, 0, 0.7, DragConfig(max_steps=100, stop_distance=1e-3))
        s.set_points([[0.4 * res, 0.4 * res]], [[0.6 * res, 0.5 * res]])
        for _ in range(steps):
            s.step()
    else:
        with torch.no_grad():
            target = ((G.synthesis(G.mapping(torch.randn(1, G.z_dim))) + 1) * 127.5).clamp(0, 255).byte()
        target = target[0].permute(1, 2, 0).numpy()
        stage, loss = variant.split(" ", 1)
        n = dict(w=dict(w_steps=steps), wplus=dict(w_steps=1, wplus_steps=steps),
                 pti=dict(w_steps=1, pti_steps=steps, pti_stop_psnr=0.0))[stage]
        Inversion(G, target, InversionConfig(loss=loss, w_avg_samples=1000, preview_every=1, **n)).run()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_table(res: int, losses) -> dict:
    """Peak RSS of a drag step and of each inversion stage, each in its own process (one thread)."""
    rows = {}
    variants = ["drag step"] + [f"{stage} {loss}" for loss in losses for stage in ("w", "wplus", "pti")]
    for v in variants:
        code = (f"import sys, torch; torch.set_num_threads(1); sys.path.insert(0, {str(Path(__file__).parent)!r}); "
                f"import invert_benchmark as b; print(b.memory_child({res}, {v!r}))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        rows[v] = float(out.stdout.strip().splitlines()[-1])
        print(f"{v:<24} peak RSS {rows[v]:8.0f} MiB  ({rows[v] / rows['drag step']:.2f}x a drag step)", flush=True)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", default=str(DEMO))
    ap.add_argument("--n", type=int, default=12, help="family renders")
    ap.add_argument("--hard", type=int, default=3, help="renders that also get the three harder versions")
    ap.add_argument("--w-steps", type=int, default=300)
    ap.add_argument("--wplus-steps", type=int, default=300)
    ap.add_argument("--pti-steps", type=int, default=150)
    ap.add_argument("--pti-stop-psnr", type=float, default=0.0, help="0: run every PTI step (measure the budget)")
    ap.add_argument("--loss", action="append", help="loss spec(s) to compare (default: the config's)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--memory", type=int, default=None, metavar="RES",
                    help="measure peak RSS at this synthetic resolution instead (drag step vs each stage)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.memory:
        rows = memory_table(args.memory, args.loss or [InversionConfig().loss])
        if args.json:
            Path(args.json).write_text(json.dumps({"resolution": args.memory, "peak_rss_mib": rows}, indent=1))
        return 0
    G = load_generator(args.checkpoint, "cpu")
    rng = np.random.default_rng(args.seed)
    base = InversionConfig(w_steps=args.w_steps, wplus_steps=args.wplus_steps, pti_steps=args.pti_steps,
                           pti_stop_psnr=args.pti_stop_psnr, preview_every=0)
    losses = args.loss or [base.loss]
    params = [sample_params(rng) for _ in range(args.n)]
    cases = [("clean", i, render(p, 64)[0]) for i, p in enumerate(params)]
    cases += [(kind, i, harder(params[i], kind, rng)) for i in range(min(args.hard, args.n))
              for kind in ("background", "jpeg30", "noise")]
    exacts = [render(p, 64)[1] for p in params]
    floor = [landmark_error(render(p, 64)[0], e)[0] for p, e in zip(params, exacts)]
    results = {"settings": {**dataclasses.asdict(base), "n": args.n, "hard": args.hard, "seed": args.seed,
                            "checkpoint": Path(args.checkpoint).name, "threads": args.threads},
               "detector_floor_px": float(np.nanmean(floor)), "runs": {}}
    for spec in losses:
        cfg = base.with_(loss=spec) if len(losses) == 1 else base.with_(loss=spec, pti_steps=0)
        rows = []
        for kind, i, img in cases:
            rows.append({"kind": kind, "index": i, "stages": invert_one(G, img, exacts[i], cfg)})
            s = rows[-1]["stages"]
            print(f"[{spec}] {kind:<10} #{i:<3} " + "  ".join(
                f"{k}: {v['psnr']:.2f} dB {v['landmark_px']:.2f} px {v['seconds']:.0f} s" for k, v in s.items()),
                flush=True)
        stages = [s for s, _ in cfg.stages()]
        results["runs"][spec] = {kind: summarise([r for r in rows if r["kind"] == kind], stages)
                                 for kind in ("clean", "background", "jpeg30", "noise")}
        results["runs"][spec]["rows"] = rows
    print(f"\ndetector on the clean inputs (floor): {results['detector_floor_px']:.2f} px")
    print(f"{'loss':<14}{'input':<11}{'stage':<6}{'PSNR dB':>9}{'min':>7}{'MS-SSIM':>9}{'landmk px':>10}"
          f"{'median':>8}{'found':>7}{'s (cum)':>9}")
    for spec, run in results["runs"].items():
        for kind in ("clean", "background", "jpeg30", "noise"):
            for s, v in run[kind].items():
                print(f"{spec:<14}{kind:<11}{s:<6}{v['psnr']:>9.2f}{v['psnr_min']:>7.2f}{v['msssim']:>9.4f}"
                      f"{v['landmark_px']:>10.2f}{v['landmark_px_median']:>8.2f}{v['found']:>7.2f}{v['seconds']:>9.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
