"""`draggan bench`: engine steps per second and peak memory, ours vs a full forward every step.

"ours" runs the synthesis only up to the feature block with autograd and samples
the feature map at the few positions it needs; "full forward" renders the whole
image with autograd and upsamples the features to image size every step (what
the official code does). Each variant runs in its own process so peak memory is
its own (CPU: max RSS; CUDA: torch's peak allocation).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time


def synthetic_generator(res: int, device):
    """A random-weight config-f StyleGAN2 at `res` (z = w = 512, 8 mapping layers)."""
    import torch
    from stylegan2 import Generator, GeneratorConfig
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(img_resolution=res, channel_base=32768 if res >= 512 else 16384))
    return G.eval().requires_grad_(False).to(device)


def _measure(spec: dict) -> dict:
    """Run in a child process: time `steps` engine steps of one variant."""
    import numpy as np
    import torch
    from .engine import DragConfig, DragSession
    device = torch.device(spec["device"])
    if spec["synthetic"]:
        G = synthetic_generator(spec["synthetic"], device)
    else:
        from stylegan2 import load_generator
        G = load_generator(spec["checkpoint"], device)
    res = G.img_resolution
    rng = np.random.default_rng(0)
    handles = rng.uniform(0.3 * res, 0.7 * res, size=(spec["points"], 2))
    targets = np.clip(handles + rng.uniform(-0.2 * res, 0.2 * res, size=handles.shape), 0, res - 1)
    cfg = DragConfig(full_forward=spec["variant"] == "full forward", max_steps=10 ** 6, stop_distance=1e-3)
    session = DragSession.from_seed(G, 0, 0.7, cfg)
    session.set_points(handles, targets)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(spec["warmup"]):
        session.step()
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for _ in range(spec["steps"]):
        session.step()
    sync()
    dt = time.perf_counter() - t0
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2 ** 20
        kind = "cuda peak allocated"
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        kind = "process max RSS"
    return {"variant": spec["variant"], "resolution": res, "feature_block": session.cfg.feature_block,
            "steps_per_s": spec["steps"] / dt, "ms_per_step": 1000 * dt / spec["steps"], "peak_mb": peak_mb,
            "memory": kind, "device": str(device), "threads": torch.get_num_threads()}


def run_bench(args) -> int:
    from .checkpoints import resolve_checkpoint
    from .cli import _device
    device = str(_device(args.device))
    checkpoint = None if args.synthetic else str(resolve_checkpoint(args.checkpoint))
    best: dict[str, dict] = {}
    # Alternate the variants and keep each one's best round: other load on the machine then
    # penalises both alike instead of whichever happened to run during it.
    for round_ in range(args.repeats):
        for variant in ("ours", "full forward"):
            spec = dict(variant=variant, device=device, synthetic=args.synthetic, checkpoint=checkpoint,
                        steps=args.steps, warmup=args.warmup, points=args.points)
            print(f"round {round_ + 1}/{args.repeats}: '{variant}' ({args.warmup} warm-up + {args.steps} timed "
                  "steps) ...", flush=True)
            proc = subprocess.run([sys.executable, "-m", "draggan.bench", json.dumps(spec)], capture_output=True,
                                  text=True, env=os.environ.copy())
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            if variant not in best or row["steps_per_s"] > best[variant]["steps_per_s"]:
                best[variant] = row
    rows = [best["ours"], best["full forward"]]
    ours, full = rows
    print(f"\n{'variant':<14}{'res':>6}{'block':>7}{'steps/s':>10}{'ms/step':>10}{'peak MB':>10}")
    for r in rows:
        print(f"{r['variant']:<14}{r['resolution']:>6}{'b' + str(r['feature_block']):>7}"
              f"{r['steps_per_s']:>10.2f}{r['ms_per_step']:>10.1f}{r['peak_mb']:>10.0f}")
    print(f"\nspeed-up {ours['steps_per_s'] / full['steps_per_s']:.2f}x, memory {ours['peak_mb'] / full['peak_mb']:.2f}x "
          f"({ours['memory']}, {ours['device']}, {ours['threads']} threads)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    print(json.dumps(_measure(json.loads(sys.argv[1]))))
