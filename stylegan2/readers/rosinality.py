"""Reader for rosinality/stylegan2-pytorch `.pt` files (training checkpoints and converted files).

`torch.load(weights_only=True)` with only `argparse.Namespace` allowed reads the
zip; the config is inferred from tensor shapes (the file stores none) and the
names are mapped to NVIDIA's. Files without a `latent_avg` get `w_avg` estimated
from mapped z with a fixed seed, so loading is deterministic. `read_rosinality_discriminator` reads
the discriminator `d` of training checkpoints the same way.
"""

from __future__ import annotations

import argparse
import io
import math
import re
import warnings

import torch

from ..config import GeneratorConfig
from ..discriminator import NO_DISCRIMINATOR_HINT, DiscriminatorConfig, resample_filter_buffers
from ..errors import CheckpointError
from ..ops import setup_filter

W_AVG_SAMPLES = 10_000  # z samples for the w_avg estimate of files that lack it
W_AVG_SEED = 0


def _torch_load(data: bytes) -> dict:
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals([argparse.Namespace]):
            warnings.simplefilter("ignore")
            obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:
        msg = next((ln for ln in str(e).splitlines() if "GLOBAL" in ln), str(e).split("\n")[0])  # name the refused global
        if "weights_only" in str(e) or "Unsupported global" in str(e):
            raise CheckpointError(f"refusing to load: the .pt file asks for Python objects outside the allowed "
                                  f"set ({msg[:200]}); it is not a supported checkpoint and nothing was run") from None
        raise CheckpointError(f"the .pt file is truncated or corrupt ({type(e).__name__}); copy it again") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"the .pt file holds a {type(obj).__name__}, not a rosinality checkpoint dict")
    return obj


def read_rosinality(data: bytes) -> tuple[GeneratorConfig, dict[str, torch.Tensor]]:
    ckpt = _torch_load(data)
    g = ckpt.get("g_ema")
    if not isinstance(g, dict) or "style.1.weight" not in g:
        raise CheckpointError("the .pt file has no rosinality 'g_ema' generator "
                              f"(keys: {sorted(map(str, ckpt))[:8]}); it is not a supported checkpoint")
    cfg = _infer_config(g)
    sd = _rename(g, cfg)
    latent_avg = ckpt.get("latent_avg")
    if isinstance(latent_avg, torch.Tensor) and latent_avg.numel() == cfg.w_dim:
        sd["mapping.w_avg"] = latent_avg.reshape(cfg.w_dim).float()
        cfg.extra = {"format": "rosinality-pt", "w_avg": "latent_avg from the file"}
    else:
        sd["mapping.w_avg"] = _estimate_w_avg(cfg, sd)
        cfg.extra = {"format": "rosinality-pt",
                     "w_avg": f"estimated from {W_AVG_SAMPLES} mapped z (seed {W_AVG_SEED})"}
    return cfg, sd


def _infer_config(g: dict[str, torch.Tensor]) -> GeneratorConfig:
    mlp = sorted(int(m.group(1)) for k in g if (m := re.fullmatch(r"style\.(\d+)\.weight", k)))
    if not mlp or mlp != list(range(1, len(mlp) + 1)):
        raise CheckpointError("the mapping layers 'style.N' of this .pt file are not numbered 1..n; file corrupt")
    n_rgbs = len({m.group(1) for k in g if (m := re.match(r"to_rgbs\.(\d+)\.", k))})
    res = 2 ** (n_rgbs + 2)
    chans = {4: g["input.input"].shape[1]}
    for k in range(n_rgbs):
        chans[2 ** (k + 3)] = g[f"convs.{2 * k}.conv.weight"].shape[1]
    channel_max = max(chans.values())
    channel_base = chans[res] * res
    cfg = GeneratorConfig(z_dim=g["style.1.weight"].shape[1], w_dim=g["style.1.weight"].shape[0],
                          img_resolution=res, img_channels=g["to_rgb1.conv.weight"].shape[1],
                          mapping_layers=len(mlp), channel_base=channel_base, channel_max=channel_max)
    wrong = {r: c for r, c in chans.items() if cfg.channels(r) != c}
    if wrong:
        raise CheckpointError(f"the channel counts {chans} of this .pt file do not follow the StyleGAN2 "
                              "min(channel_base / res, channel_max) rule; not supported")
    return cfg


def _rename(g: dict[str, torch.Tensor], cfg: GeneratorConfig) -> dict[str, torch.Tensor]:
    sd: dict[str, torch.Tensor] = {}
    for i in range(cfg.mapping_layers):
        sd[f"mapping.fc{i}.weight"] = g[f"style.{i + 1}.weight"]
        sd[f"mapping.fc{i}.bias"] = g[f"style.{i + 1}.bias"]

    def styled(dst: str, src: str, noise_key: str):
        sd[f"{dst}.weight"] = g[f"{src}.conv.weight"][0]
        sd[f"{dst}.affine.weight"] = g[f"{src}.conv.modulation.weight"]
        sd[f"{dst}.affine.bias"] = g[f"{src}.conv.modulation.bias"]
        sd[f"{dst}.noise_strength"] = g[f"{src}.noise.weight"].reshape([])
        sd[f"{dst}.bias"] = g[f"{src}.activate.bias"]
        sd[f"{dst}.noise_const"] = g[f"noises.{noise_key}"][0, 0]

    def torgb(dst: str, src: str):
        sd[f"{dst}.weight"] = g[f"{src}.conv.weight"][0]
        sd[f"{dst}.affine.weight"] = g[f"{src}.conv.modulation.weight"]
        sd[f"{dst}.affine.bias"] = g[f"{src}.conv.modulation.bias"]
        sd[f"{dst}.bias"] = g[f"{src}.bias"].reshape(-1)

    sd["synthesis.b4.const"] = g["input.input"][0]
    styled("synthesis.b4.conv1", "conv1", "noise_0")
    torgb("synthesis.b4.torgb", "to_rgb1")
    for k in range(int(math.log2(cfg.img_resolution)) - 2):
        b = f"synthesis.b{2 ** (k + 3)}"
        styled(f"{b}.conv0", f"convs.{2 * k}", f"noise_{2 * k + 1}")
        styled(f"{b}.conv1", f"convs.{2 * k + 1}", f"noise_{2 * k + 2}")
        torgb(f"{b}.torgb", f"to_rgbs.{k}")
    # The FIR filters are fixed buffers ([1,3,3,1] in rosinality's files too).
    filt = setup_filter(cfg.resample_filter)
    for res in cfg.block_resolutions:
        for layer in ([""] if res == 4 else ["", ".conv0"]) + [".conv1"]:
            sd[f"synthesis.b{res}{layer}.resample_filter"] = filt
    return {k: v.float().contiguous() for k, v in sd.items()}


@torch.no_grad()
def _estimate_w_avg(cfg: GeneratorConfig, sd: dict[str, torch.Tensor]) -> torch.Tensor:
    from ..networks import MappingNetwork
    mapping = MappingNetwork(cfg)
    mapping.load_state_dict({k[len("mapping."):]: v for k, v in sd.items()
                             if k.startswith("mapping.")} | {"w_avg": torch.zeros(cfg.w_dim)})
    z = torch.randn(W_AVG_SAMPLES, cfg.z_dim, generator=torch.Generator().manual_seed(W_AVG_SEED))
    return mapping(z)[:, 0].mean(0)


# ---------------------------------------------------------------------------------------------
# The discriminator `d` (rosinality's model.py `Discriminator`): always 'resnet', minibatch stddev
# group 4 with 1 channel, the [1,3,3,1] blur. `convs.0` is fromrgb, `convs.{i}` the ResBlock at
# resolution img_resolution / 2**(i-1); its (out + skip) / sqrt(2) equals NVIDIA's gain sqrt(.5) on both.

def read_rosinality_discriminator(data: bytes) -> tuple[DiscriminatorConfig, dict[str, torch.Tensor]]:
    ckpt = _torch_load(data)
    d = ckpt.get("d")
    if not isinstance(d, dict) or not d:
        raise CheckpointError(f"the .pt file has no discriminator 'd' (keys: {sorted(map(str, ckpt))[:8]}; "
                              f"converted files often keep only g_ema): {NO_DISCRIMINATOR_HINT}")
    if "convs.0.0.weight" not in d or "final_linear.1.weight" not in d:
        raise CheckpointError("the .pt file's 'd' is not rosinality's StyleGAN2 Discriminator (no convs.0 / "
                              "final_linear; a SWAGAN or modified D?); it is not supported")
    try:
        cfg = _infer_d_config(d)
        sd = _rename_d(d, cfg)
    except KeyError as e:
        raise CheckpointError(f"the .pt file's 'd' lacks {e}; the file is incomplete or not supported") from None
    cfg.extra = {"format": "rosinality-pt"}
    return cfg, sd


def _infer_d_config(d: dict[str, torch.Tensor]) -> DiscriminatorConfig:
    n_blocks = len({m.group(1) for k in d if (m := re.match(r"convs\.(\d+)\.conv1\.", k))})
    res = 2 ** (n_blocks + 2)
    chans = {res: d["convs.0.0.weight"].shape[0], 4: d["final_conv.0.weight"].shape[0]}
    for i in range(1, n_blocks + 1):
        chans[res >> i] = d[f"convs.{i}.conv2.1.weight"].shape[0]
    channel_max = max(chans.values())
    cfg = DiscriminatorConfig(img_resolution=res, img_channels=d["convs.0.0.weight"].shape[1],
                              channel_base=chans[res] * res, channel_max=channel_max)
    wrong = {r: c for r, c in chans.items() if cfg.channels(r) != c}
    if wrong:
        raise CheckpointError(f"the discriminator channel counts {chans} of this .pt file do not follow the "
                              "StyleGAN2 min(channel_base / res, channel_max) rule; not supported")
    blur = setup_filter(cfg.resample_filter)
    for k, t in d.items():
        if k.endswith(".kernel") and (t.shape != blur.shape or not torch.allclose(t.float(), blur)):
            raise CheckpointError(f"'{k}' is not the [1,3,3,1] blur kernel; custom kernels are not supported")
    return cfg


def _rename_d(d: dict[str, torch.Tensor], cfg: DiscriminatorConfig) -> dict[str, torch.Tensor]:
    top = f"b{cfg.img_resolution}"
    sd = {f"{top}.fromrgb.weight": d["convs.0.0.weight"], f"{top}.fromrgb.bias": d["convs.0.1.bias"]}
    for i, res in enumerate(cfg.block_resolutions, start=1):
        b, src = f"b{res}", f"convs.{i}"
        sd[f"{b}.conv0.weight"], sd[f"{b}.conv0.bias"] = d[f"{src}.conv1.0.weight"], d[f"{src}.conv1.1.bias"]
        sd[f"{b}.conv1.weight"], sd[f"{b}.conv1.bias"] = d[f"{src}.conv2.1.weight"], d[f"{src}.conv2.2.bias"]
        sd[f"{b}.skip.weight"] = d[f"{src}.skip.1.weight"]
    sd["b4.conv.weight"], sd["b4.conv.bias"] = d["final_conv.0.weight"], d["final_conv.1.bias"]
    sd["b4.fc.weight"], sd["b4.fc.bias"] = d["final_linear.0.weight"], d["final_linear.0.bias"]
    sd["b4.out.weight"], sd["b4.out.bias"] = d["final_linear.1.weight"], d["final_linear.1.bias"]
    known = {k for k in d if k.endswith(".kernel")} | _rosinality_d_names(cfg)
    unknown = sorted(set(d) - known)
    if unknown:
        raise CheckpointError(f"the .pt file's 'd' has tensors this reader does not know: {unknown[:5]}")
    sd = {k: v.float().contiguous() for k, v in sd.items()}
    return {**sd, **resample_filter_buffers(cfg)}


def _rosinality_d_names(cfg: DiscriminatorConfig) -> set[str]:
    names = {"convs.0.0.weight", "convs.0.1.bias", "final_conv.0.weight", "final_conv.1.bias"}
    names |= {f"final_linear.{i}.{p}" for i in (0, 1) for p in ("weight", "bias")}
    for i in range(1, len(cfg.block_resolutions) + 1):
        names |= {f"convs.{i}.conv1.0.weight", f"convs.{i}.conv1.1.bias", f"convs.{i}.conv2.1.weight",
                  f"convs.{i}.conv2.2.bias", f"convs.{i}.skip.1.weight"}
    return names
