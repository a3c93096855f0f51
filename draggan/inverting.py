"""`draggan invert`: a picture -> its reconstruction, latent and report (and a tuned generator), headless.

CLI (reads argparse) -> `invert(G, target, config, outputs, ...)` -> `engine.Inversion` -> files.
Writes OUT (the reconstruction PNG at model size), OUT-stem.latent.npy (W+ [1, L, D], what
`draggan edit --latent` reads), OUT-stem.json (settings, per-stage losses, PSNR / MS-SSIM
against the input, seconds) and, after pivotal tuning, OUT-stem.generator.safetensors (the
tuned generator in the native format, a checkpoint every command accepts). Every name is
checked before the work starts (`InvertOutputs.beside`) and all are written atomically.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from tqdm import tqdm

from .engine import Inversion, InversionConfig, InversionResult
from .images import save_png
from .outputs import check_image_outputs, check_output, write_outputs


@dataclass(frozen=True)
class InvertOutputs:
    """The files one inversion writes, already checked to be writable and not inputs."""
    image: Path  # reconstruction PNG at the model's size
    latent: Path  # W+ [1, L, D] .npy, for `draggan edit --latent`
    report: Path  # JSON: settings, per-stage losses, PSNR / MS-SSIM, seconds
    generator: Path | None = None  # the tuned generator (native safetensors), with pivotal tuning only

    @classmethod
    def beside(cls, out: str | os.PathLike, pti: bool, inputs: Iterable[str | os.PathLike | None] = ()
               ) -> "InvertOutputs":
        """OUT.png, OUT.latent.npy, OUT.json (and OUT.generator.safetensors with `pti`), each checked."""
        inputs = list(inputs)
        image, latent, report = check_image_outputs(out, "reconstruction image", inputs)
        generator = None
        if pti:
            generator = check_output(f"{image.with_suffix('')}.generator.safetensors", (".safetensors",),
                                     "tuned generator (written beside the image)", inputs)
        return cls(image, latent, report, generator)

    def paths(self) -> list[Path]:
        return [p for p in (self.image, self.latent, self.report, self.generator) if p is not None]


@dataclass
class InvertRun:
    result: InversionResult
    outputs: InvertOutputs  # what was written (generator None when PTI did not run)


def _finite(x: float) -> float | None:
    return round(float(x), 4) if math.isfinite(x) else None


def invert(G, target: np.ndarray, config: InversionConfig, outputs: InvertOutputs, *, D=None,
           progress: bool = True, extra: dict | None = None) -> InvertRun:
    """Invert `target` (uint8 [H, W, 3] at G's size) with `config` and write `outputs`.

    D: the checkpoint's discriminator, needed by the 'd' loss only. extra: more keys for the
    report (input file, crop, notes). A progress bar on stderr unless `progress` is False.
    """
    inversion = Inversion(G, target, config, D=D)
    bar = tqdm(total=inversion.total_steps, desc="inverting", unit="step", disable=not progress, dynamic_ncols=True)
    try:
        def show(p) -> None:
            bar.update(p.done_steps - bar.n)
            bar.set_description(f"inverting ({p.stage})")
            bar.set_postfix(loss=f"{p.loss:.4g}")
        result = inversion.run(show)
    finally:
        bar.close()
    tuned = result.G is not G
    report = {
        "checkpoint": str(G.cfg.extra.get("path", "")), **(extra or {}),
        "settings": asdict(config),
        "psnr_db": _finite(result.psnr), "msssim": _finite(result.msssim), "seconds": round(result.seconds, 3),
        "stages": {name: {"steps": s["steps"], "seconds": round(s["seconds"], 3),
                          "final_loss": _finite(s["losses"][-1]) if s["losses"] else None,
                          "losses": [_finite(v) for v in s["losses"]]} for name, s in result.stages.items()},
        "latent": outputs.latent.name, "generator": outputs.generator.name if tuned and outputs.generator else None,
    }
    meta = {"inverted": json.dumps({k: report[k] for k in ("psnr_db", "msssim")}),
            **({"inverted_from": str(extra["image"])} if extra and "image" in extra else {})}
    latent = result.ws.detach().cpu().numpy().astype(np.float32)  # [1, L, D]
    writers = [
        (outputs.image, lambda p: save_png(p, result.image, meta)),
        (outputs.latent, lambda p: np.save(p, latent)),
        (outputs.report, lambda p: p.write_text(json.dumps(report, indent=1))),
    ]
    written = outputs
    if outputs.generator is not None and tuned:
        from stylegan2 import save_native
        gen_meta = {"tuned_by": "pivotal tuning (draggan invert)", "tuned_for_latent": outputs.latent.name,
                    "base_checkpoint": Path(str(G.cfg.extra.get("path", ""))).name}
        writers.append((outputs.generator, lambda p: save_native(result.G, p, gen_meta)))
    elif outputs.generator is not None:
        written = InvertOutputs(outputs.image, outputs.latent, outputs.report, None)
    write_outputs(writers)
    return InvertRun(result, written)


def summary(run: InvertRun) -> str:
    """One line per stage (steps, final loss, seconds), then the reconstruction's quality."""
    r = run.result
    lines = [f"{name:<4} {s['steps']:>5} steps  loss {s['losses'][-1]:.4g}  {s['seconds']:.1f} s"
             for name, s in r.stages.items() if s["losses"]]
    lines.append(f"reconstruction: PSNR {r.psnr:.2f} dB, MS-SSIM {r.msssim:.4f} ({r.seconds:.1f} s)")
    return "\n".join(lines)
