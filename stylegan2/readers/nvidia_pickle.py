"""Reader for NVIDIA's PyTorch pickles: stylegan2-ada-pytorch, the stylegan3 repo's StyleGAN2 and
StyleGAN3 (`networks_stylegan3`, configs T and R), and StyleGAN-Human's rectangular StyleGAN2.

File -> `safe_pickle` (persisted objects as data) -> state dict + config. We read `G_ema`'s
constructor kwargs (nested in stylegan2-ada, flat in the stylegan3 repo) and walk
`_parameters` / `_buffers` / `_modules` for the tensors; the embedded module source is
never looked at. The family is decided by content: StyleGAN3 by its `SynthesisInput` /
`L{k}_*` layers (-> `StyleGAN3Config`, its schedule checked against the stored layer
attributes); StyleGAN-Human by `synthesis.b4.const` [C, 4, 2] and H x H/2 noise buffers.
`read_nvidia_discriminator` reads the snapshot's `D` the same way (`DiscriminatorConfig`; rectangular
when its `b4.fc` reads C x 4 x 2 values).
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import GeneratorConfig
from ..config_sg3 import StyleGAN3Config
from ..discriminator import NO_DISCRIMINATOR_HINT, DiscriminatorConfig
from ..errors import CheckpointError
from .safe_pickle import PersistedObject

# Class names only StyleGAN3 (alias-free) synthesis networks have: their files take the StyleGAN3 path.
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


def _walk(obj: PersistedObject, prefix: str, out: dict[str, torch.Tensor], classes: set[str], root: str = "G_ema"):
    classes.add(obj.class_name)
    st = obj.state
    for group in ("_parameters", "_buffers"):
        tensors = st.get(group) or {}
        if not isinstance(tensors, dict):
            raise CheckpointError(f"{prefix or root}: {group} is not a dict; the file is corrupt")
        for name, t in tensors.items():
            if t is None:
                continue
            if not isinstance(t, torch.Tensor):
                raise CheckpointError(f"{prefix}{name} is not a tensor; the file is corrupt")
            out[prefix + name] = t
    modules = st.get("_modules") or {}
    if not isinstance(modules, dict):
        raise CheckpointError(f"{prefix or root}: _modules is not a dict; the file is corrupt")
    for name, child in modules.items():
        if child is None:
            continue
        if not isinstance(child, PersistedObject):
            raise CheckpointError(f"module {prefix}{name} is not a persisted network module; "
                                  "the file is corrupt or not a supported checkpoint")
        _walk(child, f"{prefix}{name}.", out, classes, root)


# Signature defaults that differ between the two repos (CHECKPOINTS.md, section 1).
_ADA_DEFAULTS = {"w_avg_beta": 0.995, "num_fp16_res": 0, "conv_clamp": None}
_SG3_DEFAULTS = {"w_avg_beta": 0.998, "num_fp16_res": 4, "conv_clamp": 256}


def _config_from_kwargs(kw: dict, built: dict, square: bool = True) -> GeneratorConfig:
    """Constructor kwargs (+ attributes the built modules stored, `built`) -> config.

    `square` comes from the tensor shapes (StyleGAN-Human's released files do not say it).
    """
    kw = _plain(kw)
    # StyleGAN-Human's public train.py adds square=False (and its renderer padding=True, a display
    # option); the released files carry neither. The tensors decide; a contradiction is corruption.
    said_square = kw.pop("square", None)
    kw.pop("padding", None)
    if said_square is not None and bool(said_square) != square:
        raise CheckpointError(f"G_ema's kwargs say square={said_square} but its const/noise tensors are "
                              f"{'square' if square else 'rectangular'}; the file is corrupt")
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
        square=square,
    )
    return GeneratorConfig(**cfg)


def _is_square(tensors: dict[str, torch.Tensor]) -> bool:
    """Square StyleGAN2 or StyleGAN-Human's H x H/2 synthesis, from the const and noise buffer shapes."""
    const = tensors.get("synthesis.b4.const")
    if const is None or const.ndim != 3 or const.shape[1] != 4 or const.shape[2] not in (4, 2):
        raise CheckpointError(f"synthesis.b4.const has shape {None if const is None else tuple(const.shape)}, "
                              "expected [C, 4, 4] (StyleGAN2) or [C, 4, 2] (StyleGAN-Human); the file is not supported")
    square = const.shape[2] == 4
    for name, t in tensors.items():
        if name.endswith(".noise_const"):
            h = t.shape[0] if t.ndim == 2 else -1
            if t.ndim != 2 or t.shape[1] != (h if square else h // 2):
                raise CheckpointError(f"{name} has shape {tuple(t.shape)} but b4.const is {tuple(const.shape)}: "
                                      "the noise buffers and the const disagree about the image shape")
    return square


# networks_stylegan3.Generator: flat synthesis + layer kwargs (CHECKPOINTS.md section 4).
_SG3_SYNTHESIS_KEYS = {"channel_base", "channel_max", "num_layers", "num_critical", "first_cutoff", "first_stopband",
                       "last_stopband_rel", "margin_size", "output_scale", "num_fp16_res", "conv_kernel",
                       "filter_size", "lrelu_upsampling", "use_radial_filters", "conv_clamp", "magnitude_ema_beta"}
_SG3_MAPPING_KEYS = {"num_layers": "mapping_layers", "lr_multiplier": "mapping_lr_multiplier",
                     "w_avg_beta": "w_avg_beta"}
# What the built SynthesisNetwork / SynthesisLayer stored as attributes; compared with our schedule.
_SG3_NETWORK_ATTRS = ("num_layers", "num_critical", "margin_size", "output_scale", "num_fp16_res")
_SG3_LAYER_ATTRS = ("in_channels", "out_channels", "conv_kernel", "up_factor", "down_factor", "up_taps",
                    "down_taps", "down_radial", "padding", "is_torgb", "is_critically_sampled")


def sg3_config_from_kwargs(kw: dict, g: PersistedObject) -> StyleGAN3Config:
    """networks_stylegan3.Generator kwargs -> `StyleGAN3Config`, checked against the built layers."""
    kw = _plain(kw)
    mapping = dict(kw.pop("mapping_kwargs", None) or {})
    cfg = {}
    for key in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels"):
        if key not in kw:
            raise CheckpointError(f"G_ema has no '{key}' argument; the file is not a StyleGAN3 generator pickle")
        cfg[key] = kw.pop(key)
    for key in list(kw):
        if key in _SG3_SYNTHESIS_KEYS:
            cfg[key] = kw.pop(key)
    unknown = sorted(set(kw) | (set(mapping) - set(_SG3_MAPPING_KEYS)))
    if unknown:
        raise CheckpointError(f"StyleGAN3 generator argument(s) {unknown} are not supported; "
                              "the file was written by a modified stylegan3 or is corrupt")
    for key, ours in _SG3_MAPPING_KEYS.items():
        if key in mapping and mapping[key] is not None:
            cfg[ours] = mapping[key]
    synthesis = (g.state.get("_modules") or {}).get("synthesis")
    if not isinstance(synthesis, PersistedObject):
        raise CheckpointError("G_ema has no synthesis network; the file is corrupt")
    for key in _SG3_NETWORK_ATTRS:  # the signature defaults the kwargs omit, as the module stored them
        value = _plain(synthesis.state.get(key))
        if value is not None and key not in cfg:
            cfg[key] = value
    layers = synthesis.state.get("_modules") or {}
    first = next((m for n, m in layers.items() if str(n).startswith("L0_")), None)
    if isinstance(first, PersistedObject):
        for key in ("conv_clamp", "magnitude_ema_beta", "conv_kernel"):
            if key in first.state and key not in cfg:
                cfg[key] = _plain(first.state[key])
    try:
        config = StyleGAN3Config(**cfg)
    except TypeError as e:
        raise CheckpointError(f"invalid StyleGAN3 generator arguments: {e}") from None
    _check_sg3_layers(config, layers)
    config.extra = {"format": "nvidia-pytorch-pickle"}
    return config


def _check_sg3_layers(cfg: StyleGAN3Config, layers: dict) -> None:
    """The stored layer names and schedule attributes must be the ones our config computes."""
    specs = cfg.layer_specs()
    names = [str(n) for n in layers if str(n) != "input"]
    expected = [s.name for s in specs]
    if names != expected:
        raise CheckpointError(f"the StyleGAN3 synthesis layers are {names[:4]}... but its arguments give "
                              f"{expected[:4]}...; the file is corrupt or not a stylegan3 snapshot")
    for spec in specs:
        layer = layers[spec.name]
        if not isinstance(layer, PersistedObject):
            raise CheckpointError(f"synthesis.{spec.name} is not a persisted module; the file is corrupt")
        for key in _SG3_LAYER_ATTRS:
            if key not in layer.state:
                continue
            stored, ours = _plain(layer.state[key]), getattr(spec, key)
            if (list(stored) if isinstance(stored, (list, tuple)) else stored) != \
                    (list(ours) if isinstance(ours, tuple) else ours):
                raise CheckpointError(f"synthesis.{spec.name}.{key} is {stored!r} in the file but {ours!r} "
                                      "for its arguments; the file is corrupt or from a modified stylegan3")


def read_nvidia_pickle(top) -> tuple[GeneratorConfig | StyleGAN3Config, dict[str, torch.Tensor]]:
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
    if g.class_name != "Generator":
        raise CheckpointError(f"'G_ema' is a {g.class_name}, not a Generator; the file is not supported")
    kwargs = g.state.get("_init_kwargs")
    if not isinstance(kwargs, dict) or g.state.get("_init_args"):
        raise CheckpointError("G_ema has no readable constructor arguments; the file is corrupt or not supported")
    if classes & _STYLEGAN3_CLASSES or any(k.startswith(("synthesis.L", "synthesis.input.")) for k in tensors):
        cfg = sg3_config_from_kwargs(kwargs, g)
    else:
        cfg = _config_from_kwargs(kwargs, _built_attributes(g), square=_is_square(tensors))
    # The mapping network is built with the generator's num_ws; its buffer layout is implicit.
    cfg.extra = {**cfg.extra, "format": "nvidia-pytorch-pickle",
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


# ---------------------------------------------------------------------------------------------
# The discriminator D of a training snapshot (stylegan2-ada-pytorch, the stylegan3 repo, StyleGAN-Human).

_D_KWARGS = {"c_dim", "img_resolution", "img_channels", "architecture", "channel_base", "channel_max",
             "num_fp16_res", "conv_clamp", "cmap_dim", "block_kwargs", "mapping_kwargs", "epilogue_kwargs",
             "square"}  # `square`: StyleGAN-Human's public train.py
# Block kwargs that only matter for training (layer freezing, memory layout) are accepted and ignored.
_D_BLOCK_KWARGS = {"activation", "resample_filter", "fp16_channels_last", "freeze_layers"}
_D_EPILOGUE_KWARGS = {"activation", "mbstd_group_size", "mbstd_num_channels"}


def read_nvidia_discriminator(top: dict) -> tuple[DiscriminatorConfig, dict[str, torch.Tensor]]:
    """The unpickled top-level dict -> (config, state dict) of its discriminator `D`."""
    d = top.get("D")
    if d is None:
        raise CheckpointError(f"the pickle has no discriminator 'D' (top-level keys: {sorted(map(str, top))}): "
                              f"{NO_DISCRIMINATOR_HINT}")
    if not isinstance(d, PersistedObject) or d.class_name != "Discriminator":
        name = d.class_name if isinstance(d, PersistedObject) else type(d).__name__
        raise CheckpointError(f"'D' is a {name}, not a StyleGAN2 Discriminator; the file is not supported")
    tensors: dict[str, torch.Tensor] = {}
    _walk(d, "", tensors, set(), root="D")
    kwargs = d.state.get("_init_kwargs")
    if not isinstance(kwargs, dict) or d.state.get("_init_args"):
        raise CheckpointError("D has no readable constructor arguments; the file is corrupt or not supported")
    cfg = _d_config_from_kwargs(kwargs, tensors)
    cfg.extra = {"format": "nvidia-pytorch-pickle"}
    return cfg, tensors


def _d_config_from_kwargs(kw: dict, tensors: dict[str, torch.Tensor]) -> DiscriminatorConfig:
    kw = _plain(kw)
    block = dict(kw.pop("block_kwargs", None) or {})
    epilogue = dict(kw.pop("epilogue_kwargs", None) or {})
    kw.pop("mapping_kwargs", None)  # used by conditional D only, which the config refuses
    kw.pop("cmap_dim", None)
    unknown = sorted(set(kw) - _D_KWARGS) + sorted(set(block) - _D_BLOCK_KWARGS) + \
        sorted(set(epilogue) - _D_EPILOGUE_KWARGS)
    if unknown:
        raise CheckpointError(f"D has argument(s) {unknown} that a StyleGAN2 discriminator does not take; "
                              "the file was written by a modified network or is corrupt")
    if block.get("activation", "lrelu") != "lrelu" or epilogue.get("activation", "lrelu") != "lrelu":
        raise CheckpointError("this discriminator uses a non-standard activation, which is not supported")
    for key in ("c_dim", "img_resolution", "img_channels"):
        if key not in kw:
            raise CheckpointError(f"D has no '{key}' argument; the file is not a StyleGAN2 discriminator pickle")
    square = _d_is_square(tensors)
    said = kw.pop("square", None)
    if said is not None and bool(said) != square:
        raise CheckpointError(f"D's kwargs say square={said} but its b4.fc weight is for "
                              f"{'square' if square else 'rectangular'} images; the file is corrupt")
    try:
        return DiscriminatorConfig(
            img_resolution=kw["img_resolution"], img_channels=kw["img_channels"], c_dim=kw["c_dim"],
            architecture=kw.get("architecture", "resnet"), channel_base=kw.get("channel_base", 32768),
            channel_max=kw.get("channel_max", 512), resample_filter=tuple(block.get("resample_filter", (1, 3, 3, 1))),
            conv_clamp=kw.get("conv_clamp"), num_fp16_res=kw.get("num_fp16_res", 0),
            mbstd_group_size=epilogue.get("mbstd_group_size", 4),
            mbstd_num_channels=epilogue.get("mbstd_num_channels", 1), square=square)
    except TypeError as e:
        raise CheckpointError(f"invalid discriminator arguments: {e}") from None


def _d_is_square(tensors: dict[str, torch.Tensor]) -> bool:
    """Square, or StyleGAN-Human's H x H/2: the epilogue's fc reads C x 4 x 4 or C x 4 x 2 values."""
    fc = tensors.get("b4.fc.weight")
    if fc is None or fc.ndim != 2 or fc.shape[1] not in (fc.shape[0] * 16, fc.shape[0] * 8):
        raise CheckpointError(f"D's b4.fc.weight has shape {None if fc is None else tuple(fc.shape)}, expected "
                              "[C, C*4*4] (StyleGAN2) or [C, C*4*2] (StyleGAN-Human); the file is not supported")
    return fc.shape[1] == fc.shape[0] * 16
