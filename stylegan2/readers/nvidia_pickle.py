"""Reader for NVIDIA's PyTorch pickles (stylegan2-ada-pytorch and the stylegan3 repo's StyleGAN2).

File -> `safe_pickle` (persisted objects as data) -> state dict + `GeneratorConfig`.
We read `G_ema`'s constructor kwargs (nested in stylegan2-ada, flat in stylegan3's
`networks_stylegan2.py`) and walk `_parameters` / `_buffers` / `_modules` for the
tensors; the embedded module source is never looked at.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import GeneratorConfig
from ..errors import CheckpointError
from .safe_pickle import PersistedObject

# Class names only StyleGAN3 (alias-free) synthesis networks have.
_STYLEGAN3_CLASSES = {"SynthesisInput"}

_SYNTHESIS_KEYS = {"channel_base", "channel_max", "num_fp16_res", "conv_clamp", "architecture",
                   "resample_filter", "use_noise", "kernel_size", "fused_modconv_default"}
_MAPPING_KEYS = {"num_layers", "embed_features", "layer_features", "activation", "lr_multiplier", "w_avg_beta"}


def _plain(v):
    """numpy scalars and EasyDicts -> plain Python values."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _walk(obj: PersistedObject, prefix: str, out: dict[str, torch.Tensor], classes: set[str]):
    classes.add(obj.class_name)
    st = obj.state
    for group in ("_parameters", "_buffers"):
        tensors = st.get(group) or {}
        if not isinstance(tensors, dict):
            raise CheckpointError(f"{prefix or 'G_ema'}: {group} is not a dict; the file is corrupt")
        for name, t in tensors.items():
            if t is None:
                continue
            if not isinstance(t, torch.Tensor):
                raise CheckpointError(f"{prefix}{name} is not a tensor; the file is corrupt")
            out[prefix + name] = t
    modules = st.get("_modules") or {}
    if not isinstance(modules, dict):
        raise CheckpointError(f"{prefix or 'G_ema'}: _modules is not a dict; the file is corrupt")
    for name, child in modules.items():
        if child is None:
            continue
        if not isinstance(child, PersistedObject):
            raise CheckpointError(f"module {prefix}{name} is not a persisted network module; "
                                  "the file is corrupt or not a supported checkpoint")
        _walk(child, f"{prefix}{name}.", out, classes)


# Signature defaults that differ between the two repos (CHECKPOINTS.md, section 1).
_ADA_DEFAULTS = {"w_avg_beta": 0.995, "num_fp16_res": 0, "conv_clamp": None}
_SG3_DEFAULTS = {"w_avg_beta": 0.998, "num_fp16_res": 4, "conv_clamp": 256}


def _config_from_kwargs(kw: dict, built: dict) -> GeneratorConfig:
    """Constructor kwargs (+ attributes the built modules stored, `built`) -> config."""
    kw = _plain(kw)
    nested = "synthesis_kwargs" in kw
    mapping = dict(kw.pop("mapping_kwargs", None) or {})
    synthesis = dict(kw.pop("synthesis_kwargs", None) or {})
    # stylegan3's networks_stylegan2 passes synthesis (and block/layer) kwargs flat.
    flat = False
    for key in list(kw):
        if key in _SYNTHESIS_KEYS:
            synthesis[key] = kw.pop(key)
            flat = True
    defaults = _SG3_DEFAULTS if (flat and not nested) or "fused_modconv_default" in synthesis else _ADA_DEFAULTS
    for key, value in built.items():  # what the modules actually used beats any default
        synthesis.setdefault(key, value)
    mapping.setdefault("w_avg_beta", defaults["w_avg_beta"])
    for key in ("num_fp16_res", "conv_clamp"):
        synthesis.setdefault(key, defaults[key])
    for key in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"):
        if key not in kw:
            raise CheckpointError(f"G_ema has no '{key}' argument; the file is not a StyleGAN2 generator pickle")
    if mapping.get("activation", "lrelu") != "lrelu" or synthesis.get("kernel_size", 3) != 3:
        raise CheckpointError("this generator uses a non-standard activation or kernel size, which is not supported")
    cfg = dict(
        z_dim=kw.pop("z_dim"), c_dim=kw.pop("c_dim"), w_dim=kw.pop("w_dim"),
        img_resolution=kw.pop("img_resolution"), img_channels=kw.pop("img_channels"),
        mapping_layers=mapping.get("num_layers", 8),
        mapping_embed_features=mapping.get("embed_features"),
        mapping_layer_features=mapping.get("layer_features"),
        mapping_lr_multiplier=mapping.get("lr_multiplier", 0.01),
        w_avg_beta=mapping["w_avg_beta"] if mapping["w_avg_beta"] is not None else 0.995,
        channel_base=synthesis.get("channel_base", 32768),
        channel_max=synthesis.get("channel_max", 512),
        architecture=synthesis.get("architecture", "skip"),
        resample_filter=tuple(synthesis.get("resample_filter", (1, 3, 3, 1))),
        conv_clamp=synthesis["conv_clamp"],
        use_noise=synthesis.get("use_noise", True),
        num_fp16_res=synthesis["num_fp16_res"],
    )
    return GeneratorConfig(**cfg)


def read_nvidia_pickle(top) -> tuple[GeneratorConfig, dict[str, torch.Tensor]]:
    """The unpickled top-level dict -> (config, state dict of G_ema)."""
    g = top.get("G_ema")
    if g is None:
        raise CheckpointError("the pickle has no 'G_ema' network; it is not a StyleGAN2 generator snapshot "
                              f"(top-level keys: {sorted(map(str, top))})")
    if not isinstance(g, PersistedObject):
        raise CheckpointError("'G_ema' is not a persisted NVIDIA network; the file is corrupt or not supported")
    tensors: dict[str, torch.Tensor] = {}
    classes: set[str] = set()
    _walk(g, "", tensors, classes)
    if classes & _STYLEGAN3_CLASSES or any(k.startswith("synthesis.L") for k in tensors):
        raise CheckpointError("StyleGAN3 networks are not supported yet; use a StyleGAN2 checkpoint "
                              "(e.g. stylegan2-ffhq-512x512.pkl)")
    if g.class_name != "Generator":
        raise CheckpointError(f"'G_ema' is a {g.class_name}, not a Generator; the file is not supported")
    kwargs = g.state.get("_init_kwargs")
    if not isinstance(kwargs, dict) or g.state.get("_init_args"):
        raise CheckpointError("G_ema has no readable constructor arguments; the file is corrupt or not supported")
    cfg = _config_from_kwargs(kwargs, _built_attributes(g))
    # The mapping network is built with the generator's num_ws; its buffer layout is implicit.
    cfg.extra = {"format": "nvidia-pytorch-pickle",
                 "training_set_kwargs": _json_safe(top.get("training_set_kwargs"))}
    return cfg, tensors


def _built_attributes(g: PersistedObject) -> dict:
    """conv_clamp / num_fp16_res as stored by the built modules themselves (when present)."""
    out = {}
    synthesis = (g.state.get("_modules") or {}).get("synthesis")
    if isinstance(synthesis, PersistedObject):
        if isinstance(synthesis.state.get("num_fp16_res"), (int, np.integer)):
            out["num_fp16_res"] = int(synthesis.state["num_fp16_res"])
        b4 = (synthesis.state.get("_modules") or {}).get("b4")
        conv1 = (b4.state.get("_modules") or {}).get("conv1") if isinstance(b4, PersistedObject) else None
        if isinstance(conv1, PersistedObject) and "conv_clamp" in conv1.state:
            clamp = _plain(conv1.state["conv_clamp"])
            if clamp is None or isinstance(clamp, (int, float)):
                out["conv_clamp"] = clamp
    return out


def _json_safe(v):
    v = _plain(v)
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_json_safe(x) for x in v]
    return v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
