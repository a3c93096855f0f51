"""GAN inversion: a picture -> a latent (and, after pivotal tuning, a tuned generator) that DragSession edits.

picture (draggan.photo) -> here -> DragSession / worker / `draggan invert`. Three stages, each optional:
1. W projection, NVIDIA's projector recipe (Karras et al. 2020, StyleGAN2 Sec. 5 and its projector.py):
   Adam with warm-up and cosine ramp-down, latent noise ramped to zero, noise buffers fitted under a
   multi-scale autocorrelation penalty and renormalised after every step;
2. W+ refinement: every layer's w free, from the W result;
3. pivotal tuning (PTI, Roich et al. 2021): the synthesis weights of a copy of G fine-tuned so that
   the pivot latent renders the picture, optionally with the locality regulariser (Sec. 3.3).
`Inversion.step()` runs one optimisation step, so a worker thread can interleave them with commands
and cancel; `run(callback)` loops. Nothing keeps an autograd graph between steps.

The noise buffers fitted in stage 1 are dropped when it ends: W+, PTI and the result render with G's
own noise buffers, which is what DragSession shows for the returned latent (a latent file cannot carry
noise; keeping the fitted noise into W+ measured worse, scripts/invert_benchmark.py). StyleGAN3 has
no noise buffers.

Dimension legend: L num_ws, D w_dim, C channels, H/W image size.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
import torch
from torch.func import functional_call

from ..errors import DragGANError
from ..images import to_uint8
from ..limits import MAX_STEPS, brief, check_float, check_int
from .config import LABELS
from .perceptual import ImageLoss, ms_ssim, parse_loss, psnr

STAGES = ("w", "w+", "pti")
WPLUS_STEPS = 300  # W+ steps when a caller turns W+ on without a count (ours, scripts/invert_benchmark.py)
PTI_STEPS = 350  # pivotal-tuning step budget when turned on without a count (Roich et al. 2021: 350)


@dataclass(frozen=True)
class InversionConfig:
    w_steps: int = 1000  # W projection steps (NVIDIA projector: 1000)
    wplus_steps: int = 0  # W+ refinement steps after W (0 = none)
    pti_steps: int = 0  # pivotal-tuning steps at most (0 = none; Roich et al. 2021: up to 350)
    # Distance to the picture: LOSS_TERMS ('l1', 'l2', 'msssim', 'vgg' random-weight VGG, 'd' the checkpoint's
    # discriminator), optionally weighted ('0.5*vgg'), joined by '+'. Default measured with scripts/invert_benchmark.py
    # (W+ on demo-model family renders: best PSNR-MS-SSIM-landmark balance of l1, l2, msssim, vgg and mixes).
    loss: str = "l2+0.1*msssim"
    w_lr: float = 0.1  # Adam peak step size of the W stage, in W units (NVIDIA projector)
    lr_rampup: float = 0.05  # share of a stage's steps the step size warms up over (NVIDIA projector)
    lr_rampdown: float = 0.25  # share of a stage's last steps the step size falls over, cosine (NVIDIA projector)
    latent_noise: float = 0.05  # noise added to w at the start, times the W spread (NVIDIA projector)
    latent_noise_ramp: float = 0.75  # share of the W steps over which that noise falls to 0, quadratically (NVIDIA)
    optimize_noise: bool = True  # fit the synthesis noise buffers during the W stage, then drop them (NVIDIA projector)
    noise_regularize: float = 1e5  # weight of the noise buffers' multi-scale autocorrelation penalty (NVIDIA)
    wplus_lr: float = 0.01  # Adam peak step size of the W+ stage, in W units, same schedule (ours, measured)
    pti_lr: float = 3e-4  # Adam step size on the synthesis weights (Roich et al. 2021)
    # Stop PTI once the reconstruction reaches this PSNR, dB (ours; PTI stops at an LPIPS threshold); 0 = never.
    pti_stop_psnr: float = 35.0
    locality: float = 0.0  # weight of PTI's locality regulariser (Roich et al. Sec. 3.3: 0.1 when on); 0 = off
    # Distance of the regulariser's sampled latents from the pivot, in W spreads (ours; PTI: alpha = 30 in FFHQ's W).
    locality_radius: float = 1.0
    w_avg_samples: int = 10_000  # mapped samples for the mean and spread of W (NVIDIA projector: 10000)
    label: str = "first_class"  # label of a conditional model's samples: 'first_class' or 'zeros' (DragConfig.label)
    seed: int = 0  # seeds the latent noise, the random VGG and the locality samples: one seed, one result
    preview_every: int = 10  # steps between preview images (and at every stage end); 0 = stage ends only
    feature_size: int = 256  # px; the random-VGG loss sees larger pictures area-downsampled to this (NVIDIA: 256)

    def __post_init__(self):
        """Every field checked: a config that exists can run (NaN, negative steps, unknown losses refused)."""
        for name in ("w_steps", "wplus_steps", "pti_steps"):
            check_int(getattr(self, name), name, 0, MAX_STEPS)
        if self.w_steps + self.wplus_steps + self.pti_steps == 0:
            raise DragGANError("the inversion has no steps: give w_steps, wplus_steps or pti_steps > 0")
        parse_loss(self.loss)
        for name, hi in (("w_lr", 10.0), ("wplus_lr", 10.0), ("pti_lr", 1.0)):
            check_float(getattr(self, name), name, 0.0, hi, lo_open=True)
        for name in ("lr_rampup", "lr_rampdown", "latent_noise_ramp"):
            check_float(getattr(self, name), name, 0.0, 1.0)
        check_float(self.latent_noise, "latent_noise", 0.0, 10.0)
        check_float(self.noise_regularize, "noise_regularize", 0.0, 1e9)
        check_float(self.pti_stop_psnr, "pti_stop_psnr (dB)", 0.0, 200.0)
        check_float(self.locality, "locality", 0.0, 1e6)
        check_float(self.locality_radius, "locality_radius", 0.0, 100.0)
        check_int(self.w_avg_samples, "w_avg_samples", 2, 1_000_000)
        check_int(self.seed, "seed", 0, 2 ** 32 - 1)
        check_int(self.preview_every, "preview_every", 0, MAX_STEPS)
        check_int(self.feature_size, "feature_size", 16, 8192)
        if not isinstance(self.optimize_noise, bool):
            raise DragGANError(f"optimize_noise must be true or false, got {brief(self.optimize_noise)}")
        if self.label not in LABELS:
            raise DragGANError(f"label must be one of {LABELS}, got {brief(self.label)}")

    def with_(self, **changes) -> "InversionConfig":
        return replace(self, **changes)

    def stages(self) -> list[tuple[str, int]]:
        """[(stage, steps)] of the stages that run, in order."""
        return [(s, n) for s, n in zip(STAGES, (self.w_steps, self.wplus_steps, self.pti_steps)) if n > 0]


@dataclass
class InversionProgress:
    stage: str  # 'w' | 'w+' | 'pti'
    step: int  # steps done in this stage, this one included
    stage_steps: int  # the stage's step budget
    done_steps: int  # steps done in all stages
    total_steps: int  # the budget of all stages (PTI may stop early: then done_steps jumps to it)
    loss: float  # the distance to the picture at this step (before its update)
    preview: np.ndarray | None = None  # uint8 [H, W, 3] every `preview_every` steps and at stage ends


@dataclass
class InversionResult:
    ws: torch.Tensor  # [1, L, D] on G's device: what DragSession edits
    G: object  # the tuned generator (a copy) when PTI ran, else the input G
    image: np.ndarray  # uint8 [H, W, 3]: G's rendering of ws (noise 'const'), as DragSession shows it
    stages: dict[str, dict] = field(default_factory=dict)  # stage -> {"steps", "losses", "seconds"}
    psnr: float = float("nan")  # dB, reconstruction vs the picture (uint8)
    msssim: float = float("nan")  # reconstruction vs the picture
    seconds: float = 0.0  # optimisation wall time, all stages


def lr_schedule(t: float, rampup: float, rampdown: float) -> float:
    """Step-size factor at progress t in [0, 1): linear warm-up, cosine ramp-down (NVIDIA projector)."""
    down = min(1.0, (1.0 - t) / rampdown) if rampdown > 0 else 1.0
    up = min(1.0, t / rampup) if rampup > 0 else 1.0
    return (0.5 - 0.5 * math.cos(down * math.pi)) * up


def noise_penalty(buffers) -> torch.Tensor:
    """Squared autocorrelation of each noise map at 1 px, over a pyramid down to 8 px (NVIDIA projector)."""
    total = 0.0
    for v in buffers:
        x = v[None, None]  # [1, 1, R, R or R/2]
        while True:
            total = total + (x * x.roll(1, 3)).mean().square() + (x * x.roll(1, 2)).mean().square()
            if min(x.shape[-2:]) <= 8:
                break
            x = torch.nn.functional.avg_pool2d(x, 2)
    return total


@torch.no_grad()
def renormalise(buffers) -> None:
    """Zero mean, unit variance per noise map (NVIDIA projector), in place."""
    for v in buffers:
        v -= v.mean()
        v *= v.square().mean().rsqrt()


def labels(G, n: int, label: str) -> torch.Tensor | None:
    """The class label of n samples of a conditional model ([n, c_dim]; DragConfig.label), None if unconditional."""
    if G.c_dim == 0:
        return None
    c = torch.zeros(n, G.c_dim, device=G.device)
    if label == "first_class":
        c[:, 0] = 1
    return c


@torch.no_grad()
def w_statistics(G, samples: int, label: str, seed: int) -> tuple[torch.Tensor, float]:
    """(mean w [1, 1, D], spread = rms norm of w - mean) of `samples` mapped z ~ N(0, I) (NVIDIA projector)."""
    gen = torch.Generator().manual_seed(seed)
    ws = []
    for i in range(0, samples, 2000):
        z = torch.randn(min(2000, samples - i), G.z_dim, generator=gen).to(G.device)
        ws.append(G.mapping(z, labels(G, len(z), label))[:, :1])  # [n, 1, D]
    w = torch.cat(ws)
    mean = w.mean(0, keepdim=True)  # [1, 1, D]
    return mean, float((w - mean).square().sum(-1).mean().sqrt())


def target_tensor(target, G) -> torch.Tensor:
    """uint8 [H, W, 3] picture of exactly G's size -> [1, C, H, W] in [-1, 1] on G's device (grey for 1 channel)."""
    t = np.asarray(target) if target is not None else None
    H, W = G.img_size
    if t is None or t.dtype != np.uint8 or t.shape != (H, W, 3):
        got = "nothing" if t is None else f"{t.dtype} {list(t.shape)}"
        raise DragGANError(f"the picture to invert must be uint8 [{H}, {W}, 3], the model's size (crop and resize "
                           f"it with draggan.photo.fit_to_model); got {got}")
    x = torch.from_numpy(t.copy()).to(G.device).permute(2, 0, 1)[None].float() / 127.5 - 1  # [1, 3, H, W]
    return x.mean(1, keepdim=True) if G.img_channels == 1 else x


class Inversion:
    """W projection, W+ refinement and pivotal tuning of one picture, one step per `step()`."""

    def __init__(self, G, target: np.ndarray, config: InversionConfig = InversionConfig(), D=None):
        self.G, self.cfg, self.device = G, config, G.device
        self.target = target_tensor(target, G)  # [1, C, H, W]
        self.target_u8 = np.array(target, dtype=np.uint8)  # [H, W, 3] a private copy
        self.loss = ImageLoss(config.loss, self.target, D, config.seed, config.feature_size)
        self.w_avg, self.w_std = w_statistics(G, config.w_avg_samples, config.label, config.seed)
        self._gen = torch.Generator().manual_seed(config.seed)
        self._plan = config.stages()
        self.total_steps = sum(n for _, n in self._plan)
        self._stage_i, self._step, self._done_steps = 0, 0, 0
        self.ws = self.w_avg.repeat(1, G.num_ws, 1)  # [1, L, D] the current estimate
        names = [n for n, _ in G.synthesis.named_buffers() if n.endswith("noise_const")]
        self._noise: dict[str, torch.Tensor] | None = None  # noise buffers by name, fitted during the W stage
        if config.optimize_noise and config.w_steps > 0 and names:
            self._noise = {n: b.detach().clone() for n, b in G.synthesis.named_buffers() if n in names}
            renormalise(self._noise.values())
        self._tuned = None  # the PTI copy of G
        self._opt = self._param = None
        self.stages: dict[str, dict] = {}
        self.seconds = 0.0

    @property
    def done(self) -> bool:
        return self._stage_i >= len(self._plan)

    @property
    def stage(self) -> str | None:
        return None if self.done else self._plan[self._stage_i][0]

    # ---- rendering ----
    def _render(self, ws: torch.Tensor) -> torch.Tensor:
        """[1, L, D] -> [1, C, H, W] with the generator and noise of the current stage."""
        if self._tuned is not None:
            return self._tuned.synthesis(ws, noise_mode="const")
        if self._noise is not None:  # swapped in for this call only; G's own buffers are left as they are
            return functional_call(self.G.synthesis, self._noise, (ws,), {"noise_mode": "const"})
        return self.G.synthesis(ws, noise_mode="const")

    # ---- stages ----
    def _begin_stage(self, stage: str) -> None:
        cfg = self.cfg
        if stage == "w":
            self._param = self.ws[:, :1].clone().requires_grad_(True)  # [1, 1, D]
            extra = [v.requires_grad_(True) for v in self._noise.values()] if self._noise else []
            self._opt = torch.optim.Adam([self._param, *extra], lr=cfg.w_lr, betas=(0.9, 0.999))
        elif stage == "w+":
            self._param = self.ws.clone().requires_grad_(True)  # [1, L, D]
            self._opt = torch.optim.Adam([self._param], lr=cfg.wplus_lr, betas=(0.9, 0.999))
        else:
            self._tuned = copy.deepcopy(self.G).requires_grad_(False)  # the input G stays untouched
            self._tuned.synthesis.requires_grad_(True)
            self._opt = torch.optim.Adam([p for p in self._tuned.synthesis.parameters()], lr=cfg.pti_lr)
        self.stages[stage] = {"steps": 0, "losses": [], "seconds": 0.0}

    def _end_stage(self, stage: str) -> None:
        if stage in ("w", "w+"):
            param = self._param.detach()
            self.ws = param.expand(-1, self.G.num_ws, -1).clone() if stage == "w" else param.clone()
        self._noise = None  # the fitted noise served the W stage only (see the module docstring)
        if self._tuned is not None:
            self._tuned.requires_grad_(False)
        self._opt = self._param = None

    def _locality(self) -> torch.Tensor:
        """PTI's locality term: the tuned G must still render a latent near the pivot as G did (Sec. 3.3)."""
        z = torch.randn(1, self.G.z_dim, generator=self._gen).to(self.device)
        with torch.no_grad():
            w = self.G.mapping(z, labels(self.G, 1, self.cfg.label))[:, :1]
            pivot = self.ws[:, :1]
            w_r = pivot + self.cfg.locality_radius * self.w_std * (w - pivot) / (w - pivot).norm()
            ws_r = self.ws + (w_r - pivot)  # the pivot's layer offsets kept
            ref = self.G.synthesis(ws_r, noise_mode="const")
        return (self._tuned.synthesis(ws_r, noise_mode="const") - ref).square().mean()

    def step(self) -> InversionProgress:
        """One optimisation step of the current stage; moves to the next stage at a stage's end."""
        if self.done:
            raise DragGANError("the inversion is finished; read result()")
        stage, n = self._plan[self._stage_i]
        if self._step == 0:
            self._begin_stage(stage)
        t0 = time.perf_counter()
        cfg, t = self.cfg, self._step / n
        if stage == "pti":
            self._tuned.synthesis.requires_grad_(True)
            ws = self.ws
        else:
            factor = lr_schedule(t, cfg.lr_rampup, cfg.lr_rampdown)
            for group in self._opt.param_groups:
                group["lr"] = (cfg.w_lr if stage == "w" else cfg.wplus_lr) * factor
            if stage == "w":
                scale = self.w_std * cfg.latent_noise * max(0.0, 1 - t / max(cfg.latent_noise_ramp, 1e-9)) ** 2
                noise = torch.randn(self._param.shape, generator=self._gen).to(self.device) * scale
                ws = (self._param + noise).expand(-1, self.G.num_ws, -1)
            else:
                ws = self._param
        img = self._render(ws)  # [1, C, H, W]
        dist = self.loss(img)[0]
        loss = dist
        if stage == "w" and self._noise and cfg.noise_regularize > 0:
            loss = loss + cfg.noise_regularize * noise_penalty(self._noise.values())
        if stage == "pti" and cfg.locality > 0:
            loss = loss + cfg.locality * self._locality()
        if not bool(torch.isfinite(loss)):  # nothing updated yet: the last good state stays
            raise DragGANError(f"the {stage} stage produced NaN or infinity at step {self._step + 1}; "
                               "try a smaller step size (w_lr, wplus_lr, pti_lr) or another loss")
        self._opt.zero_grad(set_to_none=True)
        loss.backward()
        self._opt.step()
        self._opt.zero_grad(set_to_none=True)  # no gradient memory held between steps
        if stage == "w" and self._noise:
            renormalise(self._noise.values())
        loss_v = float(dist.detach())
        self._step += 1
        self._done_steps += 1
        rec = self.stages[stage]
        rec["steps"] += 1
        rec["losses"].append(loss_v)
        last = self._step >= n
        if stage == "pti" and cfg.pti_stop_psnr > 0 and not last:
            last = float(psnr(img.detach(), self.target)) >= cfg.pti_stop_psnr  # good enough (before this update)
        preview = None
        if last:
            self._end_stage(stage)
            with torch.no_grad():
                preview = to_uint8(self._render(self.ws))
            self._done_steps += n - self._step  # an early stop skips the rest of its budget
            self._stage_i, self._step = self._stage_i + 1, 0
        elif cfg.preview_every and self._step % cfg.preview_every == 0:
            preview = to_uint8(img.detach())
        dt = time.perf_counter() - t0
        rec["seconds"] += dt
        self.seconds += dt
        return InversionProgress(stage, rec["steps"], n, self._done_steps, self.total_steps, loss_v, preview)

    def current_ws(self) -> torch.Tensor:
        """The latent estimate now: [1, L, D] (the W or W+ being optimised, else the pivot)."""
        if self._param is not None and not self.done and self._plan[self._stage_i][0] in ("w", "w+"):
            p = self._param.detach()
            return p.expand(-1, self.G.num_ws, -1).clone() if p.shape[1] == 1 else p.clone()
        return self.ws.clone()

    @torch.no_grad()
    def result(self) -> InversionResult:
        """The inversion so far (final when `done`): what DragSession will show for the returned ws and G."""
        G = self._tuned if self._tuned is not None else self.G
        if self._tuned is not None:
            self._tuned.requires_grad_(False)  # a drag on it must not accumulate weight gradients
        ws = self.current_ws()
        img = G.synthesis(ws, noise_mode="const")
        image = to_uint8(img)
        rec = torch.from_numpy(image).to(self.device).permute(2, 0, 1)[None].float() / 127.5 - 1
        ref = torch.from_numpy(self.target_u8).to(self.device).permute(2, 0, 1)[None].float() / 127.5 - 1
        stages = {k: {"steps": v["steps"], "losses": list(v["losses"]), "seconds": v["seconds"]}
                  for k, v in self.stages.items()}
        return InversionResult(ws, G, image, stages, float(psnr(rec, ref)), float(ms_ssim(rec, ref)), self.seconds)

    def run(self, callback: Callable[[InversionProgress], bool | None] | None = None) -> InversionResult:
        """Step until done, or until `callback(progress)` returns False (stop early)."""
        while not self.done:
            progress = self.step()
            if callback is not None and callback(progress) is False:
                break
        return self.result()
