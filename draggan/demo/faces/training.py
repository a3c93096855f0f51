"""Train the shipped demo StyleGAN2 as a neural renderer of the cartoon-face family.

No photographs or pretrained weights exist on our machines, and adversarial
training is too slow on a 2-core CPU, so the demo generator learns a fixed,
deterministic target: z -> u = Phi(z) (the standard normal CDF, so u is uniform
in the unit cube) -> `params_from_unit(u)` -> `render(...)`. G(z) regresses that
image (L1 on the image and on 2x/4x downsampled copies, plus L1 on image
gradients for edges). The network is an ordinary StyleGAN2 of ours (mapping +
synthesis, skip architecture), so every engine path applies to it.

faces family -> here -> checkpoints/*.safetensors (native format, settings in the metadata).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as tnf

from stylegan2 import Generator, GeneratorConfig, load_generator, save_native

from .family import PARAM_DIM, params_from_unit, render


@dataclass
class TrainSettings:
    resolution: int = 64  # output size, px (128 needs ~4x the compute of 64)
    w_dim: int = 128  # W size; small model, small file
    mapping_layers: int = 4  # the target map z -> u is simple; 8 layers buy nothing here
    mapping_lr_multiplier: float = 0.01  # StyleGAN2's 100x slower mapping (paper default)
    channel_base: int = 4096  # channels(res) = min(channel_base / res, channel_max)
    channel_max: int = 128
    batch: int = 16  # images per step
    lr: float = 2e-3  # Adam step size
    betas: tuple[float, float] = (0.9, 0.99)  # Adam moments (regression, not GAN: a normal beta1)
    weight_multiscale: float = 1.0  # L1 on 2x and 4x downsampled images (shape before detail)
    weight_gradient: float = 1.0  # L1 on finite differences (sharp edges)
    weight_landmarks: float = 0.0  # extra L1 weight near each landmark (eyes, mouth: small and vital)
    landmark_sigma: float = 0.04  # width of that weight bump, fraction of the image size
    steps: int = 10_000  # total optimisation steps
    lr_decay_from: float = 0.7  # cosine decay of lr over the last 30 % of the steps
    seed: int = 0  # torch seed for init and z sampling
    bf16: bool = True  # CPU autocast to bfloat16 (about 2-3x faster on CPU)
    w_avg_samples: int = 10_000  # z samples for the mean w used by truncation
    const_init: str = "random"  # "coords": the 4x4 input starts as coordinate polynomials (see below)


def z_to_unit(z: torch.Tensor) -> torch.Tensor:
    """[N, z_dim] standard normal -> [N, PARAM_DIM] uniform in the unit cube (first PARAM_DIM coords)."""
    return torch.special.ndtr(z[:, :PARAM_DIM].double()).clamp(0, 1)


def target_images(z: torch.Tensor, res: int, with_landmarks: bool = False):
    """The family's image for each z: [N, 3, res, res] in [-1, 1] (and landmarks [N, K, 2], family px)."""
    u = z_to_unit(z).cpu().numpy()
    rendered = [render(params_from_unit(row), res) for row in u]
    imgs = torch.from_numpy(np.stack([r[0] for r in rendered])).permute(0, 3, 1, 2).float() / 127.5 - 1
    if with_landmarks:
        return imgs, torch.from_numpy(np.stack([r[1] for r in rendered])).float()
    return imgs


def landmark_weights(landmarks: torch.Tensor, res: int, sigma: float) -> torch.Tensor:
    """[N, K, 2] landmarks -> [N, 1, res, res]: sum of Gaussian bumps (peak 1) around them."""
    grid = torch.arange(res, dtype=torch.float32) + 0.5  # family convention: centres at +0.5
    dx = grid.view(1, 1, 1, res) - landmarks[..., 0].reshape(*landmarks.shape[:2], 1, 1)
    dy = grid.view(1, 1, res, 1) - landmarks[..., 1].reshape(*landmarks.shape[:2], 1, 1)
    bumps = torch.exp(-(dx ** 2 + dy ** 2) / (2 * (sigma * res) ** 2))  # [N, K, res, res]
    return bumps.sum(1, keepdim=True).clamp(max=1.5)


def generator_config(s: TrainSettings) -> GeneratorConfig:
    return GeneratorConfig(z_dim=PARAM_DIM, w_dim=s.w_dim, img_resolution=s.resolution, mapping_layers=s.mapping_layers,
                           mapping_lr_multiplier=s.mapping_lr_multiplier, channel_base=s.channel_base,
                           channel_max=s.channel_max, architecture="skip")


def coordinate_const(channels: int, res: int, seed: int = 0) -> torch.Tensor:
    """[channels, res, res]: low-order polynomials of (x, y) first, random channels after.

    A modulated conv of such an input is a per-sample polynomial of the coordinates,
    so a threshold of it (the next leaky ReLU) places an edge or an ellipse (the head,
    an eye) anywhere the styles say. Random constants must discover this first.
    """
    c = (torch.arange(res, dtype=torch.float32) + 0.5) / res * 2 - 1
    y, x = torch.meshgrid(c, c, indexing="ij")
    polys = [x, y, x * x, y * y, x * y, x ** 3, y ** 3, x * x * y, x * y * y, torch.ones_like(x)]
    polys = [p - p.mean() if i < len(polys) - 1 else p for i, p in enumerate(polys)]
    polys = [p / p.square().mean().sqrt() for p in polys]
    out = torch.randn(channels, res, res, generator=torch.Generator().manual_seed(seed))
    k = min(channels, len(polys))
    out[:k] = torch.stack(polys[:k])
    return out


def reconstruction_loss(img: torch.Tensor, target: torch.Tensor, s: TrainSettings,
                        weights: torch.Tensor | None = None) -> torch.Tensor:
    diff = (img - target).abs()
    loss = diff.mean()
    if weights is not None:
        loss = loss + s.weight_landmarks * (diff * weights).mean()
    if s.weight_multiscale:
        for k in (2, 4):
            loss = loss + s.weight_multiscale * (tnf.avg_pool2d(img, k) - tnf.avg_pool2d(target, k)).abs().mean()
    if s.weight_gradient:
        for dim in (2, 3):
            loss = loss + s.weight_gradient * (img.diff(dim=dim) - target.diff(dim=dim)).abs().mean()
    return loss


def _lr_at(progress: float, s: TrainSettings) -> float:
    """Constant, then cosine decay to 5 % over the last (1 - lr_decay_from) of the run."""
    if progress < s.lr_decay_from:
        return s.lr
    t = min(1.0, (progress - s.lr_decay_from) / max(1e-9, 1 - s.lr_decay_from))
    return s.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * t)))


@torch.no_grad()
def set_w_avg(G: Generator, samples: int, seed: int = 0) -> None:
    z = torch.randn(samples, G.z_dim, generator=torch.Generator().manual_seed(seed))
    G.mapping.w_avg.copy_(G.mapping(z)[:, 0].mean(0))


def _weights_for(start: Generator, cfg: GeneratorConfig, name) -> dict:
    """`start`'s weights for an architecture `cfg` that may differ only in the mapping lr multiplier.

    Equalised learning rate stores mapping weights divided by their gain (lr_mult / sqrt(fan_in))
    and biases divided by lr_mult, so the same function under another multiplier is a rescale.
    """
    old, new = start.cfg.mapping_lr_multiplier, cfg.mapping_lr_multiplier
    same = {"extra": {}, "mapping_lr_multiplier": new}
    if start.cfg.to_dict() | same != cfg.to_dict() | same:
        raise ValueError(f"{name} has another architecture than these settings")
    state = start.state_dict()
    return {k: v * (old / new) if k.startswith("mapping.fc") else v for k, v in state.items()}


def _state_path(out: Path) -> Path:
    return out.with_name(out.name + ".trainstate")


def train(out: str | os.PathLike, settings: TrainSettings, resume: bool = False, minutes: float | None = None,
          progress: bool = True, log_every: int = 50, save_every: int = 500,
          init: str | os.PathLike | None = None) -> dict:
    """Train (or resume) and write `out` (native safetensors) plus `out.trainstate` for resuming.

    `init`: start from the weights of a native checkpoint of the same architecture (fresh optimiser),
    e.g. the shipped model, when its `.trainstate` is not at hand.
    """
    from tqdm import tqdm
    out = Path(out)
    torch.manual_seed(settings.seed)
    G = Generator(generator_config(settings)).train()
    if settings.const_init == "coords":
        with torch.no_grad():
            const = G.synthesis.b4.const
            const.copy_(coordinate_const(const.shape[0], const.shape[1], settings.seed))
    opt = torch.optim.Adam(G.parameters(), lr=settings.lr, betas=settings.betas)
    step, seconds, history = 0, 0.0, []
    if resume and _state_path(out).is_file():
        state = torch.load(_state_path(out), weights_only=True)
        saved = TrainSettings(**{k: tuple(v) if isinstance(v, list) else v
                                 for k, v in json.loads(state["settings"]).items()})
        if generator_config(saved) != generator_config(settings):
            raise ValueError("the saved training state has another architecture; start without --resume")
        G.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, seconds, history = int(state["step"]), float(state["seconds"]), json.loads(state["history"])
        torch.set_rng_state(state["rng"])
    elif init is not None:
        G.load_state_dict(_weights_for(load_generator(init), generator_config(settings), init))
    z_gen = torch.Generator().manual_seed(settings.seed * 7919 + step)
    started = time.monotonic()
    deadline = started + 60 * minutes if minutes else None
    bar = tqdm(total=settings.steps, initial=step, desc="training demo model", unit="step", disable=not progress)
    t_last = time.monotonic()
    running = None
    while step < settings.steps and (deadline is None or time.monotonic() < deadline):
        z = torch.randn(settings.batch, PARAM_DIM, generator=z_gen)
        target, marks = target_images(z, settings.resolution, with_landmarks=True)
        weights = landmark_weights(marks, settings.resolution, settings.landmark_sigma) \
            if settings.weight_landmarks else None
        # A run cut by --minutes still decays: progress is the larger of steps and time used.
        progress = step / settings.steps
        if deadline is not None:
            progress = max(progress, (time.monotonic() - started) / (deadline - started))
        for group in opt.param_groups:
            group["lr"] = _lr_at(progress, settings)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=settings.bf16):
            img = G(z)
        loss = reconstruction_loss(img.float(), target, settings, weights)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        now = time.monotonic()
        seconds += now - t_last
        t_last = now
        if step % log_every == 0:
            history.append([step, round(running, 5), round(seconds, 1)])
        bar.update(1)
        bar.set_postfix(loss=f"{running:.4f}")
        if save_every and step % save_every == 0:
            _save(G, opt, out, settings, step, seconds, running, history)
            G.train()
    bar.close()
    _save(G, opt, out, settings, step, seconds, running, history)
    return {"steps": step, "seconds": seconds, "loss": running, "history": history}


def _save(G, opt, out: Path, settings: TrainSettings, step: int, seconds: float, loss, history) -> None:
    """Write the model (with w_avg) and the resumable training state."""
    G.eval()
    set_w_avg(G, settings.w_avg_samples)
    meta = {"training": dataclasses.asdict(settings), "steps_done": step, "train_seconds": round(seconds, 1),
            "final_loss": loss, "history": history,
            "target": "draggan.demo.faces.family: render(params_from_unit(ndtr(z[:PARAM_DIM])))",
            "what": "demo/test model of a procedural cartoon-face family; not a photographic model"}
    save_native(G, out, meta)
    tmp = _state_path(out).with_suffix(".partial")
    torch.save({"model": G.state_dict(), "optimizer": opt.state_dict(), "step": step, "seconds": seconds,
                "settings": json.dumps(dataclasses.asdict(settings)), "history": json.dumps(history),
                "rng": torch.get_rng_state()}, tmp)
    os.replace(tmp, _state_path(out))


@torch.no_grad()
def evaluate(checkpoint: str | os.PathLike, n: int = 64, seed: int = 123) -> float:
    """Mean absolute error (in [0, 255] units) of the model against the family on n fresh z."""
    G = load_generator(checkpoint)
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    img = G(z)
    return float((img.clamp(-1, 1) - target_images(z, G.img_resolution)).abs().mean() * 127.5)
