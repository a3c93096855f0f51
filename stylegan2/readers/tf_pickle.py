"""Reader for TensorFlow-era StyleGAN2 pickles (`stylegan2-*-config-f.pkl`), without TensorFlow.

The pickle is a tuple (G, D, Gs) of `dnnlib.tflib.network.Network` states; the
restricted unpickler keeps each state as a dict. We use `Gs`: its static kwargs
become a `GeneratorConfig` and its variables (numpy arrays, TF layouts) are
renamed and re-laid-out to our (NVIDIA PyTorch) names. `read_tf_discriminator` does the same
for `D`.
"""

from __future__ import annotations

import math
import re

import numpy as np
import torch

from ..config import GeneratorConfig
from ..discriminator import NO_DISCRIMINATOR_HINT, DiscriminatorConfig, resample_filter_buffers
from ..errors import CheckpointError
from .safe_pickle import TFNetwork

# TF kwarg -> GeneratorConfig field; None = known and irrelevant to inference.
_KWARGS = {
    "latent_size": "z_dim", "label_size": "c_dim", "dlatent_size": "w_dim", "resolution": "img_resolution",
    "num_channels": "img_channels", "mapping_layers": "mapping_layers", "label_fmaps": "mapping_embed_features",
    "mapping_fmaps": "mapping_layer_features", "mapping_lrmul": "mapping_lr_multiplier",
    "w_avg_beta": "w_avg_beta", "dlatent_avg_beta": "w_avg_beta", "fmap_base": "channel_base",
    "fmap_max": "channel_max", "num_fp16_res": "num_fp16_res", "conv_clamp": "conv_clamp",
    "architecture": "architecture", "resample_kernel": "resample_filter", "use_noise": "use_noise",
    "nonlinearity": None, "truncation_psi": None, "truncation_cutoff": None, "style_mixing_prob": None,
    "structure": None,
}


def _state(net) -> dict:
    if not isinstance(net, TFNetwork) or not isinstance(getattr(net, "state", None), dict):
        raise CheckpointError("a TensorFlow network in this file has no state; the file is corrupt")
    st = net.state
    if int(st.get("version", 0)) < 4:
        raise CheckpointError(f"TensorFlow network state version {st.get('version')} is too old (need >= 4)")
    return st


def _variables(st: dict, scope: str) -> dict[str, np.ndarray]:
    out = {}
    for item in st.get("variables") or []:
        name, value = item
        name = re.sub(rf"^{scope}/", "", str(name))
        out[name] = np.asarray(value)
    return out


def _config(kwargs: dict) -> GeneratorConfig:
    cfg: dict = {}
    for key, value in kwargs.items():
        if key not in _KWARGS:
            raise CheckpointError(f"the TensorFlow generator has an unsupported argument '{key}'; "
                                  "this reader knows the official StyleGAN2 (config-f) networks only")
        field = _KWARGS[key]
        if key == "nonlinearity" and value != "lrelu":
            raise CheckpointError(f"nonlinearity {value!r} is not supported (only 'lrelu')")
        if field is None or value is None:
            continue
        value = value.item() if isinstance(value, np.generic) else value
        if key == "fmap_base":
            value = int(value) * 2  # TF computes fmap_base / 2**stage, PyTorch channel_base / res
        cfg[field] = value
    cfg.setdefault("channel_base", 16384 * 2)
    cfg.setdefault("mapping_embed_features", None)
    return GeneratorConfig(**cfg)


def read_tf_pickle(gs: TFNetwork) -> tuple[GeneratorConfig, dict[str, torch.Tensor]]:
    st = _state(gs)
    comps = st.get("components") or {}
    if "mapping" not in comps or "synthesis" not in comps:
        raise CheckpointError("the TensorFlow Gs network has no mapping/synthesis components; not a StyleGAN2 file")
    m_st, s_st = _state(comps["mapping"]), _state(comps["synthesis"])
    kwargs = {**m_st.get("static_kwargs", {}), **s_st.get("static_kwargs", {}), **st.get("static_kwargs", {})}
    cfg = _config(kwargs)
    cfg.extra = {"format": "tensorflow-pickle", "build_func_name": str(st.get("build_func_name"))}
    tf = {**_variables(st, "G"), **{"mapping/" + k: v for k, v in _variables(m_st, "G_mapping").items()},
          **{"synthesis/" + k: v for k, v in _variables(s_st, "G_synthesis").items()}}
    return cfg, _convert(cfg, tf)


class _Variables:
    """A TF network's variables by name, read as float32; `finish()` refuses any the conversion did not read."""

    def __init__(self, tf: dict[str, np.ndarray], what: str):
        self.tf, self.what, self.used = tf, what, set()

    def __call__(self, name: str) -> np.ndarray:
        if name not in self.tf:
            raise CheckpointError(f"the TensorFlow {self.what} lacks variable '{name}'; the file is incomplete")
        self.used.add(name)
        return self.tf[name].astype(np.float32)

    def finish(self) -> None:
        unused = sorted(set(self.tf) - self.used)
        if unused:
            raise CheckpointError(f"the TensorFlow {self.what} has variables this reader does not know: {unused[:5]}")


def _convert(cfg: GeneratorConfig, tf: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    get = _Variables(tf, "generator")

    def conv(name: str, flip: bool) -> np.ndarray:  # HWIO -> OIHW
        w = get(name)
        if flip:
            w = w[::-1, ::-1]
        return w.transpose(3, 2, 0, 1)

    sd: dict[str, np.ndarray] = {"mapping.w_avg": get("dlatent_avg")}
    for i in range(cfg.mapping_layers):
        sd[f"mapping.fc{i}.weight"] = get(f"mapping/Dense{i}/weight").T
        sd[f"mapping.fc{i}.bias"] = get(f"mapping/Dense{i}/bias")
    if cfg.c_dim > 0:
        if "mapping/LabelEmbed/weight" not in tf:
            raise CheckpointError("conditional TensorFlow generators without 'LabelEmbed' are not supported")
        sd["mapping.embed.weight"] = get("mapping/LabelEmbed/weight").T
        sd["mapping.embed.bias"] = get("mapping/LabelEmbed/bias")

    def styled(prefix: str, tf_prefix: str, flip: bool, noise_index: int | None):
        sd[f"{prefix}.weight"] = conv(f"{tf_prefix}/weight", flip)
        sd[f"{prefix}.bias"] = get(f"{tf_prefix}/bias")
        sd[f"{prefix}.affine.weight"] = get(f"{tf_prefix}/mod_weight").T
        sd[f"{prefix}.affine.bias"] = get(f"{tf_prefix}/mod_bias") + 1  # TF adds the 1 at run time
        if noise_index is not None and cfg.use_noise:
            sd[f"{prefix}.noise_strength"] = get(f"{tf_prefix}/noise_strength")
            sd[f"{prefix}.noise_const"] = get(f"synthesis/noise{noise_index}")[0, 0]

    filt = _filter(cfg.resample_filter)
    for res in cfg.block_resolutions:
        b, t, lg = f"synthesis.b{res}", f"synthesis/{res}x{res}", int(math.log2(res))
        sd[f"{b}.resample_filter"] = filt
        if res == 4:
            sd[f"{b}.const"] = get(f"{t}/Const/const")[0]
            styled(f"{b}.conv1", f"{t}/Conv", False, 0)
            sd[f"{b}.conv1.resample_filter"] = filt
        else:
            styled(f"{b}.conv0", f"{t}/Conv0_up", True, 2 * lg - 5)
            styled(f"{b}.conv1", f"{t}/Conv1", False, 2 * lg - 4)
            sd[f"{b}.conv0.resample_filter"] = filt
            sd[f"{b}.conv1.resample_filter"] = filt
            if cfg.architecture == "resnet":
                sd[f"{b}.skip.weight"] = conv(f"{t}/Skip/weight", True)
                sd[f"{b}.skip.resample_filter"] = filt
        if cfg.architecture == "skip" or res == cfg.img_resolution:
            styled(f"{b}.torgb", f"{t}/ToRGB", False, None)
    get.finish()
    return {k: torch.from_numpy(np.array(v, dtype=np.float32, order="C")) for k, v in sd.items()}


def _filter(taps) -> np.ndarray:
    f = np.asarray(taps, dtype=np.float32)
    f = np.outer(f, f)
    return f / f.sum()


# ---------------------------------------------------------------------------------------------
# The discriminator D (`D_stylegan2`, and stylegan2-ada's TF `D_main`), renamed as NVIDIA's
# legacy.py `convert_tf_discriminator` does: conv kernels HWIO -> OIHW with no flip (TF's
# strided down-convolution is a plain correlation, as in PyTorch), dense weights transposed.

# TF kwarg -> DiscriminatorConfig field; None = known and irrelevant to inference (or checked below).
_D_KWARGS = {
    "label_size": "c_dim", "resolution": "img_resolution", "num_channels": "img_channels",
    "architecture": "architecture", "fmap_base": "channel_base", "fmap_max": "channel_max",
    "num_fp16_res": "num_fp16_res", "conv_clamp": "conv_clamp", "resample_kernel": "resample_filter",
    "mbstd_group_size": "mbstd_group_size", "mbstd_num_features": "mbstd_num_channels",
    "nonlinearity": None, "mapping_layers": None, "mapping_fmaps": None, "mapping_lrmul": None,
    "freeze_layers": None, "structure": None,
}


def _d_config(kwargs: dict) -> DiscriminatorConfig:
    cfg: dict = {}
    for key, value in kwargs.items():
        if key not in _D_KWARGS:
            raise CheckpointError(f"the TensorFlow discriminator has an unsupported argument '{key}'; "
                                  "this reader knows the official StyleGAN2 / StyleGAN2-ADA networks only")
        value = value.item() if isinstance(value, np.generic) else value
        if key == "nonlinearity" and value != "lrelu":
            raise CheckpointError(f"nonlinearity {value!r} is not supported (only 'lrelu')")
        field = _D_KWARGS[key]
        if field is None or (value is None and field != "mbstd_group_size"):
            continue
        cfg[field] = int(value) * 2 if key == "fmap_base" else value  # TF: fmap_base / 2**stage
    cfg.setdefault("channel_base", 16384 * 2)
    # TF's D uses mbstd_group_size=4 when the kwargs omit it (the legacy converter assumes the whole
    # batch instead); 4 reproduces what the TF network computes.
    cfg.setdefault("mbstd_group_size", 4)
    if cfg["mbstd_group_size"] is not None and cfg["mbstd_group_size"] <= 1:
        cfg["mbstd_num_channels"] = 0  # TF skips the layer for group sizes <= 1
        cfg["mbstd_group_size"] = None
    return DiscriminatorConfig(**cfg)


def read_tf_discriminator(d: TFNetwork) -> tuple[DiscriminatorConfig, dict[str, torch.Tensor]]:
    """The `D` network of a TF (G, D, Gs) tuple -> (config, state dict in NVIDIA's names)."""
    st = _state(d)
    tf = _variables(st, "D")
    if any(re.fullmatch(r"FromRGB_lod\d+/.*", n) for n in tf):
        raise CheckpointError("this TensorFlow discriminator is a progressive-growing (StyleGAN1-style) "
                              "network, which is not supported: " + NO_DISCRIMINATOR_HINT)
    cfg = _d_config(dict(st.get("static_kwargs") or {}))
    cfg.extra = {"format": "tensorflow-pickle", "build_func_name": str(st.get("build_func_name"))}
    get = _Variables(tf, "discriminator")

    def conv(dst: str, src: str, bias: bool = True):
        sd[f"{dst}.weight"] = get(f"{src}/weight").transpose(3, 2, 0, 1)  # HWIO -> OIHW
        if bias:
            sd[f"{dst}.bias"] = get(f"{src}/bias")

    sd: dict[str, np.ndarray] = {}
    for res in cfg.block_resolutions:
        b, t = f"b{res}", f"{res}x{res}"
        if res == cfg.img_resolution or cfg.architecture == "skip":
            conv(f"{b}.fromrgb", f"{t}/FromRGB")
        conv(f"{b}.conv0", f"{t}/Conv0")
        conv(f"{b}.conv1", f"{t}/Conv1_down")
        if cfg.architecture == "resnet":
            conv(f"{b}.skip", f"{t}/Skip", bias=False)
    if cfg.architecture == "skip":
        conv("b4.fromrgb", "4x4/FromRGB")
    conv("b4.conv", "4x4/Conv")
    sd["b4.fc.weight"], sd["b4.fc.bias"] = get("4x4/Dense0/weight").T, get("4x4/Dense0/bias")
    sd["b4.out.weight"], sd["b4.out.bias"] = get("Output/weight").T, get("Output/bias")
    get.finish()
    out = {k: torch.from_numpy(np.array(v, dtype=np.float32, order="C")) for k, v in sd.items()}
    return cfg, {**out, **resample_filter_buffers(cfg)}
