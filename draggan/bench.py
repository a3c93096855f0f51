"""`draggan bench`: engine steps per second and peak memory, ours vs a full forward every step.

"ours" runs the synthesis only up to the feature block with autograd and samples
the feature map at the few positions it needs; "full forward" renders the whole
image with autograd and upsamples the features to image size every step (what
the official code does). Each variant runs in its own process so peak memory is
its own (CPU: max RSS; CUDA: torch's peak allocation).

CLI -> `run_bench(BenchOptions)` -> one child process per variant and round. Every
option and the checkpoint are checked here, in the parent, before a child starts;
a child that fails anyway is reported as one line, never its traceback.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass

from .errors import USER_ERRORS, DragGANError
from .limits import MAX_REPEATS, MAX_STEPS, SYNTHETIC_RANGE, check_int
from .outputs import check_output, write_output
from .points import MAX_POINTS


SYNTHETIC_FAMILIES = ("stylegan2", "stylegan3-t", "stylegan3-r")


def synthetic_generator(res: int, device, family: str = "stylegan2"):
    """A random-weight generator at `res`: config-f StyleGAN2, or StyleGAN3-T / -R with the stylegan3 defaults."""
    import torch
    from stylegan2 import Generator, GeneratorConfig, StyleGAN3Config, StyleGAN3Generator
    torch.manual_seed(0)
    if family == "stylegan2":
        G = Generator(GeneratorConfig(img_resolution=res, channel_base=32768 if res >= 512 else 16384))
    else:
        r = family == "stylegan3-r"
        G = StyleGAN3Generator(StyleGAN3Config(img_resolution=res, conv_kernel=1 if r else 3, use_radial_filters=r,
                                               channel_base=65536 if r else 32768, channel_max=1024 if r else 512))
    return G.eval().requires_grad_(False).to(device)


def _measure(spec: dict) -> dict:
    """Run in a child process: time `steps` engine steps of one variant."""
    import numpy as np
    import torch
    from .engine import DragConfig, DragSession
    device = torch.device(spec["device"])
    if spec["synthetic"]:
        G = synthetic_generator(spec["synthetic"], device, spec["family"])
    else:
        from stylegan2 import load_generator
        G = load_generator(spec["checkpoint"], device)
    res = G.img_resolution
    rng = np.random.default_rng(0)
    handles = rng.uniform(0.3 * res, 0.7 * res, size=(spec["points"], 2))
    targets = np.clip(handles + rng.uniform(-0.2 * res, 0.2 * res, size=handles.shape), 0, res - 1)
    cfg = DragConfig(full_forward=spec["variant"] == "full forward", max_steps=MAX_STEPS, stop_distance=1e-3)
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
            "family": G.family,
            "steps_per_s": spec["steps"] / dt, "ms_per_step": 1000 * dt / spec["steps"], "peak_mb": peak_mb,
            "memory": kind, "device": str(device), "threads": torch.get_num_threads()}


@dataclass(frozen=True)
class BenchOptions:
    """What `draggan bench` measures; every field is checked by `check()` before a process starts."""
    checkpoint: str | None = None  # checkpoint to time; None = the shipped demo model (unused with `synthetic`)
    synthetic: int | None = None  # resolution of a random-weight generator to time instead
    family: str = "stylegan2"  # the synthetic generator's family: stylegan2 (config f), stylegan3-t, stylegan3-r
    device: str | None = None  # cpu, cuda, cuda:N or mps; None = CUDA if present, else CPU
    steps: int = 20  # timed steps per variant
    warmup: int = 3  # untimed steps before them (allocator, kernel caches)
    points: int = 1  # handles of the drag
    repeats: int = 2  # alternating rounds; each variant's best round counts
    json_out: str | None = None  # also write the result rows to this JSON file

    def check(self) -> None:
        if self.synthetic is not None and self.checkpoint is not None:
            raise DragGANError("give either a checkpoint or a synthetic resolution (--synthetic RES), not both")
        if self.synthetic is not None:
            check_synthetic_resolution(self.synthetic)
        if self.family not in SYNTHETIC_FAMILIES:
            raise DragGANError(f"the synthetic family must be one of {SYNTHETIC_FAMILIES}, got {self.family!r}")
        if self.family != "stylegan2" and self.synthetic is None:
            raise DragGANError("--family chooses a synthetic generator: give --synthetic RES with it")
        check_int(self.steps, "the number of timed steps", 1, MAX_STEPS)
        check_int(self.warmup, "the number of warm-up steps", 0, MAX_STEPS)
        check_int(self.points, "the number of points", 1, MAX_POINTS)
        check_int(self.repeats, "the number of rounds", 1, MAX_REPEATS)


def check_synthetic_resolution(res) -> int:
    """A synthetic generator's resolution: a power of two in [16, 1024]."""
    res = check_int(res, "the synthetic resolution", SYNTHETIC_RANGE[0], SYNTHETIC_RANGE[1])
    if res & (res - 1):
        raise DragGANError(f"the synthetic resolution must be a power of two (16, 32, ..., 1024), got {res}")
    return res


def _child_failure(variant: str, proc: subprocess.CompletedProcess) -> str:
    """One line saying why a measuring process failed: its own message, else the last line of its traceback."""
    lines = [line.strip() for line in (proc.stderr or "").splitlines() if line.strip()]
    if lines:
        return f"the '{variant}' measurement failed: {lines[-1]}"
    if proc.returncode < 0:
        return (f"the '{variant}' measurement was killed by signal {-proc.returncode} "
                "(out of memory? try a smaller --synthetic resolution or fewer --points)")
    return f"the '{variant}' measurement failed with exit status {proc.returncode}"


def run_bench(options: BenchOptions) -> list[dict]:
    """Time both variants in child processes, print the table, write `json_out`; -> the two result rows."""
    from stylegan2 import checkpoint_info
    from .checkpoints import resolve_checkpoint
    from .devices import choose_device
    options.check()
    device = str(choose_device(options.device))
    checkpoint = None
    if options.synthetic is None:
        checkpoint = str(resolve_checkpoint(options.checkpoint))
        checkpoint_info(checkpoint)  # a missing or foreign file fails here, in one line, not in a child
    json_out = None
    if options.json_out is not None:
        json_out = check_output(options.json_out, (".json",), "results file", inputs=[checkpoint])
    best: dict[str, dict] = {}
    # Alternate the variants and keep each one's best round: other load on the machine then
    # penalises both alike instead of whichever happened to run during it.
    for round_ in range(options.repeats):
        for variant in ("ours", "full forward"):
            spec = dict(variant=variant, device=device, synthetic=options.synthetic, family=options.family,
                        checkpoint=checkpoint,
                        steps=options.steps, warmup=options.warmup, points=options.points)
            print(f"round {round_ + 1}/{options.repeats}: '{variant}' ({options.warmup} warm-up + "
                  f"{options.steps} timed steps) ...", flush=True)
            proc = subprocess.run([sys.executable, "-m", "draggan.bench", json.dumps(spec)], capture_output=True,
                                  text=True, env=os.environ.copy())
            if proc.returncode != 0:
                raise DragGANError(_child_failure(variant, proc))
            try:
                row = json.loads(proc.stdout.strip().splitlines()[-1])
            except (IndexError, ValueError):
                raise DragGANError(f"the '{variant}' measurement printed no result") from None
            if variant not in best or row["steps_per_s"] > best[variant]["steps_per_s"]:
                best[variant] = row
    rows = [best["ours"], best["full forward"]]
    ours, full = rows
    print(f"\n{'variant':<14}{'res':>6}{'block':>7}{'steps/s':>10}{'ms/step':>10}{'peak MB':>10}")
    for r in rows:
        label = ("L" if r["family"].startswith("StyleGAN3") else "b") + str(r["feature_block"])
        print(f"{r['variant']:<14}{r['resolution']:>6}{label:>7}"
              f"{r['steps_per_s']:>10.2f}{r['ms_per_step']:>10.1f}{r['peak_mb']:>10.0f}")
    print(f"\nspeed-up {ours['steps_per_s'] / full['steps_per_s']:.2f}x, memory {ours['peak_mb'] / full['peak_mb']:.2f}x "
          f"({ours['memory']}, {ours['device']}, {ours['threads']} threads)")
    if json_out is not None:
        write_output(json_out, lambda p: p.write_text(json.dumps(rows, indent=1)))
        print(f"wrote {json_out}")
    return rows


def _child_main(spec_json: str) -> int:
    """`python -m draggan.bench SPEC`: measure one variant; a user error is one line on stderr, exit 2."""
    try:
        row = _measure(json.loads(spec_json))
    except USER_ERRORS as e:
        print(e, file=sys.stderr)
        return 2
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1]))
