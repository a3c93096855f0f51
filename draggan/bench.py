"""`draggan bench`: engine steps per second and peak memory, ours vs a full forward vs the authors' step.

Variants (each in its own process, so peak memory is its own: CPU max RSS, CUDA torch's peak allocation):
- 'ours': synthesis only up to the feature block with autograd, the higher blocks only on windows
  around the handles (`draggan/engine/windows.py`), features sampled at the few positions needed, the
  image rendered in a pass without autograd every `image_every`-th step (default 4: a preview at a
  quarter of the step rate; the editor's worker renders at most 30 a second);
- 'ours, image every step': the same with an image every step;
- 'full forward': our engine with `DragConfig.full_forward` (whole synthesis with autograd, features
  resized to the image every step);
- 'official': the authors' step (`bench_official.OfficialStep`): full forward with autograd, the
  generator's weights requiring grad and their unfused modulated convolution (their generator is never
  frozen nor set to eval()), the whole map resized, per-handle Python, an image every step.
`--suite` runs the README's table: the demo model and random config-f 256 and 512 px generators.

CLI -> `run_bench(BenchOptions)` -> one child process per model, variant and round. Every option and
the checkpoint are checked here, in the parent, before a child starts; a child that fails anyway is
reported as one line, never its traceback.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

from .errors import USER_ERRORS, DragGANError
from .limits import MAX_REPEATS, MAX_STEPS, SYNTHETIC_RANGE, check_int
from .outputs import check_output, write_output
from .points import MAX_POINTS

SYNTHETIC_FAMILIES = ("stylegan2", "stylegan3-t", "stylegan3-r")
# key -> label; keys are what --variants takes, labels what the table prints
VARIANTS = {"ours": "ours", "ours-image": "ours, image every step", "full-forward": "full forward",
            "official": "official"}
IMAGE_EVERY = 4  # the preview rate of 'ours': an image every 4th step (15 previews/s at 60 steps/s)
MAX_THREADS = 1024
# The README's table: (name, checkpoint (None = demo model), synthetic resolution, steps, warm-up steps).
# Steps are per model so that a round of the slowest variant stays under a minute on a 2-core CPU.
SUITE = (("demo model", None, 40, 5), ("config-f 256", 256, 6, 2), ("config-f 512", 512, 3, 1))


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
    """Run in a child process: time `steps` steps of one variant."""
    import numpy as np
    import torch
    from .engine import DragConfig, DragSession
    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
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
    variant = spec["variant"]
    cfg = DragConfig(full_forward=variant == "full-forward", max_steps=MAX_STEPS, stop_distance=1e-3)
    session = DragSession.from_seed(G, 0, 0.7, cfg)
    session.set_points(handles, targets)
    every = 1 if variant in ("ours-image", "full-forward", "official") else spec.get("image_every", IMAGE_EVERY)
    if variant == "official":
        from .bench_official import OfficialStep
        official = OfficialStep(G, session.ws, session.cfg.feature_block, session.cfg.r1, session.cfg.r2,
                                handles, targets, cfg.noise_mode)
        step = lambda i: official.step()  # noqa: E731
    else:  # 'full forward' renders the image in its pass anyway; every step is converted for display
        step = lambda i: session.step(render_image=every > 0 and i % every == 0)  # noqa: E731
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for i in range(spec["warmup"]):
        step(i)
    sync()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    for i in range(spec["steps"]):
        step(i)
    sync()
    dt = time.perf_counter() - t0
    if device.type == "cuda":
        peak_mb = torch.cuda.max_memory_allocated() / 2 ** 20
        kind = "cuda peak allocated"
    else:
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
        kind = "process max RSS"
    return {"variant": variant, "label": VARIANTS[variant], "resolution": res,
            "feature_block": session.cfg.feature_block, "family": G.family, "image_every": every,
            "steps_per_s": spec["steps"] / dt, "ms_per_step": 1000 * dt / spec["steps"], "peak_mb": peak_mb,
            "memory": kind, "device": str(device), "threads": torch.get_num_threads()}


@dataclass(frozen=True)
class BenchOptions:
    """What `draggan bench` measures; every field is checked by `check()` before a process starts."""
    checkpoint: str | None = None  # checkpoint to time; None = the shipped demo model (unused with `synthetic`)
    synthetic: int | None = None  # resolution of a random-weight generator to time instead
    family: str = "stylegan2"  # the synthetic generator's family: stylegan2 (config f), stylegan3-t, stylegan3-r
    device: str | None = None  # cpu, cuda, cuda:N or mps; None = CUDA if present, else CPU
    steps: int | None = None  # timed steps per variant; None = 20, or the suite's per-model count
    warmup: int | None = None  # untimed steps before them (allocator, kernel caches); None = 3, or the suite's
    points: int = 1  # handles of the drag
    repeats: int = 2  # alternating rounds; each variant's best round counts
    variants: tuple[str, ...] = tuple(VARIANTS)  # keys of VARIANTS, timed in this order every round
    image_every: int = IMAGE_EVERY  # 'ours' renders an image every this many steps; 0 = never
    threads: int | None = None  # torch threads of each child; None = torch's default (the core count)
    suite: bool = False  # the README's table: the demo model, config-f 256 and 512 (checkpoint/synthetic unused)
    json_out: str | None = None  # also write the machine, the options and the result rows to this JSON file
    progress: bool = True  # a progress bar over the child processes

    def check(self) -> None:
        if self.synthetic is not None and self.checkpoint is not None:
            raise DragGANError("give either a checkpoint or a synthetic resolution (--synthetic RES), not both")
        if self.suite and (self.synthetic is not None or self.checkpoint is not None or self.family != "stylegan2"):
            raise DragGANError("--suite times its own models (the demo model, config-f 256 and 512): "
                               "give no checkpoint, --synthetic or --family with it")
        if self.synthetic is not None:
            check_synthetic_resolution(self.synthetic)
        if self.family not in SYNTHETIC_FAMILIES:
            raise DragGANError(f"the synthetic family must be one of {SYNTHETIC_FAMILIES}, got {self.family!r}")
        if self.family != "stylegan2" and self.synthetic is None:
            raise DragGANError("--family chooses a synthetic generator: give --synthetic RES with it")
        if self.steps is not None:
            check_int(self.steps, "the number of timed steps", 1, MAX_STEPS)
        if self.warmup is not None:
            check_int(self.warmup, "the number of warm-up steps", 0, MAX_STEPS)
        check_int(self.points, "the number of points", 1, MAX_POINTS)
        check_int(self.repeats, "the number of rounds", 1, MAX_REPEATS)
        check_int(self.image_every, "--image-every (steps per image)", 0, MAX_STEPS)
        if self.threads is not None:
            check_int(self.threads, "the number of threads", 1, MAX_THREADS)
        if not self.variants or any(v not in VARIANTS for v in self.variants) or \
                len(set(self.variants)) != len(self.variants):
            raise DragGANError(f"--variants takes distinct names from {', '.join(VARIANTS)}, "
                               f"got {','.join(map(str, self.variants)) or 'none'}")


def parse_variants(text: str) -> tuple[str, ...]:
    """'ours,official' -> ('ours', 'official'); checked by BenchOptions.check."""
    return tuple(v.strip() for v in str(text).split(",") if v.strip())


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


def _run_child(spec: dict) -> dict:
    label = VARIANTS[spec["variant"]]
    proc = subprocess.run([sys.executable, "-m", "draggan.bench", json.dumps(spec)], capture_output=True,
                          text=True, env=os.environ.copy())
    if proc.returncode != 0:
        raise DragGANError(_child_failure(label, proc))
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise DragGANError(f"the '{label}' measurement printed no result") from None


def _machine(device: str) -> dict:
    """What the figures were measured on, and how busy it was (load average over 1 and 5 minutes)."""
    import torch
    info = {"cpu": _cpu_name(), "cores": os.cpu_count(), "torch": torch.__version__, "python": platform.python_version(),
            "device": device}
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    if hasattr(os, "getloadavg"):
        info["load_before"] = [round(x, 2) for x in os.getloadavg()[:2]]
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _table(name: str, rows: list[dict]) -> str:
    """The rows of one model as a text table, with the speed and memory ratios to 'official' if timed."""
    ref = next((r for r in rows if r["variant"] == "official"), None)
    lines = [f"\n{name}", f"{'variant':<24}{'res':>6}{'block':>7}{'image':>7}{'steps/s':>10}{'ms/step':>10}{'peak MB':>10}"
          f"{'vs official':>13}{'memory':>8}"]
    for r in rows:
        label = ("L" if r["family"].startswith("StyleGAN3") else "b") + str(r["feature_block"])
        image = f"1/{r['image_every']}" if r["image_every"] else "none"
        speed = f"{r['speedup_vs_official']:.2f}x" if ref else "-"
        memory = f"{r['memory_vs_official']:.2f}x" if ref else "-"
        lines.append(f"{r['label']:<24}{r['resolution']:>6}{label:>7}{image:>7}{r['steps_per_s']:>10.2f}"
                     f"{r['ms_per_step']:>10.1f}{r['peak_mb']:>10.0f}{speed:>13}{memory:>8}")
    r = rows[0]
    lines.append(f"({r['memory']}, {r['device']}, {r['threads']} threads)")
    return "\n".join(lines)


def run_bench(options: BenchOptions) -> list[dict]:
    """Time the variants in child processes, print the table(s), write `json_out`; -> the result rows."""
    from tqdm import tqdm
    from stylegan2 import checkpoint_info
    from .checkpoints import resolve_checkpoint
    from .devices import choose_device
    options.check()
    device = str(choose_device(options.device))
    if options.suite:
        models = [(name, None if res else str(resolve_checkpoint(None)), res, steps, warmup)
                  for name, res, steps, warmup in SUITE]
    else:
        checkpoint = None if options.synthetic is not None else str(resolve_checkpoint(options.checkpoint))
        name = f"synthetic {options.family} {options.synthetic}" if checkpoint is None else os.path.basename(checkpoint)
        models = [(name, checkpoint, options.synthetic, 20, 3)]
    for _, checkpoint, *_ in models:
        if checkpoint is not None:
            checkpoint_info(checkpoint)  # a missing or foreign file fails here, in one line, not in a child
    json_out = None
    if options.json_out is not None:
        json_out = check_output(options.json_out, (".json",), "results file",
                                inputs=[m[1] for m in models])
    machine = _machine(device)
    # On a terminal only (disable=None): a log or a pipe gets the tables, and an error stays one line.
    bar = tqdm(total=len(models) * options.repeats * len(options.variants), unit="run", dynamic_ncols=True,
               leave=False, disable=None if options.progress else True)
    all_rows = []
    try:
        for name, checkpoint, synthetic, steps, warmup in models:
            steps = options.steps if options.steps is not None else steps
            warmup = options.warmup if options.warmup is not None else warmup
            best: dict[str, dict] = {}
            # Alternate the variants and keep each one's best round: other load on the machine then
            # penalises all alike instead of whichever happened to run during it.
            for round_ in range(options.repeats):
                for variant in options.variants:
                    bar.set_description(f"{name}: {VARIANTS[variant]}, round {round_ + 1}/{options.repeats}")
                    spec = dict(variant=variant, device=device, synthetic=synthetic, family=options.family,
                                checkpoint=checkpoint, steps=steps, warmup=warmup, points=options.points,
                                image_every=options.image_every, threads=options.threads)
                    row = _run_child(spec)
                    if variant not in best or row["steps_per_s"] > best[variant]["steps_per_s"]:
                        best[variant] = row
                    bar.update()
            rows = [dict(best[v], model=name, steps=steps, warmup=warmup) for v in options.variants]
            ref = best.get("official")
            for r in rows:
                if ref is not None:
                    r["speedup_vs_official"] = r["steps_per_s"] / ref["steps_per_s"]
                    r["memory_vs_official"] = r["peak_mb"] / ref["peak_mb"]
            tqdm.write(_table(name, rows))
            all_rows += rows
    finally:
        bar.close()
    if hasattr(os, "getloadavg"):
        machine["load_after"] = [round(x, 2) for x in os.getloadavg()[:2]]
    if json_out is not None:
        result = {"machine": machine, "options": asdict(options), "rows": all_rows}
        write_output(json_out, lambda p: p.write_text(json.dumps(result, indent=1)))
        print(f"wrote {json_out}")
    return all_rows


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
