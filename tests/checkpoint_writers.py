"""Writers for the external checkpoint formats, for the reader tests.

They turn one of our generators into files laid out like the ones users bring:
NVIDIA's training-snapshot pickles (stylegan2-ada-pytorch and the stylegan3 repo's
StyleGAN2) and rosinality/stylegan2-pytorch `.pt` files. They are written from
docs/CHECKPOINTS.md and the public network definitions, never from the reader
code, so a naming or layout mistake in a reader is not mirrored here.

Pickles are produced with a pure-Python pickler that emits every global
(`torch_utils.persistence._reconstruct_persistent_obj`, `dnnlib.util.EasyDict`,
`numpy.core.multiarray.scalar`, ...) spelled exactly as in real files, without
importing or faking those modules. The same marker objects (`Global`, `Call`,
`NewObj`, `Persisted`) let the hostile-checkpoint tests build pickles that name any
global they like (`os.system`, ...), nested anywhere in an otherwise valid file.
"""

from __future__ import annotations

import argparse
import io
import math
import pickle
import pickletools
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["Global", "Call", "NewObj", "Persisted", "dumps", "tensor_ref", "nvidia_snapshot",
           "write_nvidia_pickle", "rosinality_state_dict", "write_rosinality_pt", "randomize_", "perturbed_state_dict",
           "pickle_globals", "legacy_storage_bytes", "ordered_dict", "sg3_kwargs", "sg3_state_dict", "sg3_snapshot",
           "scipy_lowpass"]


# ---------------------------------------------------------------------------------------------
# Pickle building blocks: objects that stand for "this global", "this call", "this instance".


class Global:
    """A global reference, pickled as GLOBAL / STACK_GLOBAL `module name` (never imported)."""

    _cache: dict[tuple[str, str], "Global"] = {}

    def __new__(cls, module: str, name: str):
        key = (module, name)
        if key not in cls._cache:  # one object per name so the pickle memo reuses it, like real files
            obj = super().__new__(cls)
            obj.module, obj.name = module, name
            cls._cache[key] = obj
        return cls._cache[key]

    def __repr__(self):
        return f"Global({self.module}.{self.name})"


@dataclass(eq=False)
class Call:
    """`func(*args)` (REDUCE), then optional BUILD `state` and SETITEMS `dictitems`."""
    func: Any
    args: tuple = ()
    state: Any = None
    dictitems: list | None = None


@dataclass(eq=False)
class NewObj:
    """`cls.__new__(cls)` (NEWOBJ) filled with SETITEMS: how a dict subclass (EasyDict) pickles."""
    cls: Any
    items: list = field(default_factory=list)


@dataclass(eq=False)
class Persisted:
    """An NVIDIA persisted module: `_reconstruct_persistent_obj(meta)` with meta['state'] = `state`."""
    class_name: str
    state: dict
    module_src: str = "# omitted\n"
    version: int = 6


ORDERED_DICT = Global("collections", "OrderedDict")
PERSISTENT = Global("torch_utils.persistence", "_reconstruct_persistent_obj")
EASY_DICT = Global("dnnlib.util", "EasyDict")
REBUILD_TENSOR = Global("torch._utils", "_rebuild_tensor_v2")
REBUILD_PARAMETER = Global("torch._utils", "_rebuild_parameter")
LOAD_FROM_BYTES = Global("torch.storage", "_load_from_bytes")
NUMPY_DTYPE = Global("numpy", "dtype")


def ordered_dict(items=()) -> Call:
    return Call(ORDERED_DICT, (), dictitems=list(dict(items).items()) if not isinstance(items, list) else items)


class MarkerPickler(pickle._Pickler):
    """Pickles plain data plus the marker objects above; `numpy_spelling` names numpy's core module.

    The pure-Python pickler is used because its type dispatch table can be extended: each marker
    writes its own opcodes, so globals are emitted by name and nothing is imported or faked in
    sys.modules (the C pickler's reducer_override can only return reduce tuples, whose callables it
    then looks up by import).
    """

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, protocol: int = 4, numpy_spelling: str = "numpy._core", persistent_ids=None):
        super().__init__(file, protocol=protocol)
        self.numpy_spelling = numpy_spelling
        self._persistent_ids = persistent_ids or {}

    def persistent_id(self, obj):  # hostile tests: emit PERSID for chosen objects
        return self._persistent_ids.get(id(obj))

    def save(self, obj, save_persistent_id=True):
        # numpy scalars and dtypes are written by hand so the scalar global carries `numpy_spelling`.
        if isinstance(obj, (np.generic, np.dtype)) and id(obj) not in self.memo:
            self.framer.commit_frame()
            if isinstance(obj, np.generic):  # numpy[._]core.multiarray.scalar(dtype, raw bytes)
                scalar = Global(f"{self.numpy_spelling}.multiarray", "scalar")
                call = Call(scalar, (obj.dtype, obj.tobytes()))
            else:  # numpy.dtype('f8', False, True) + BUILD state, as numpy pickles it
                order = "<" if obj.itemsize > 1 else "|"
                call = Call(NUMPY_DTYPE, (obj.str[1:], False, True), state=(3, order, None, None, None, -1, -1, 0))
            self._save_call(call)
            self.memo[id(obj)] = (self.memo.pop(id(call))[0], obj)  # later uses: memo GETs, as in real files
            return
        super().save(obj, save_persistent_id)

    # -- marker writers -----------------------------------------------------------------------

    def _save_global(self, obj: Global):
        if self.proto >= 4:
            self.save(obj.module)
            self.save(obj.name)
            self.write(pickle.STACK_GLOBAL)
        else:
            self.write(pickle.GLOBAL + obj.module.encode() + b"\n" + obj.name.encode() + b"\n")
        self.memoize(obj)

    def _setitems(self, items):
        items = list(items)
        for start in range(0, len(items), 1000):
            chunk = items[start:start + 1000]
            if len(chunk) == 1:
                self.save(chunk[0][0])
                self.save(chunk[0][1])
                self.write(pickle.SETITEM)
                continue
            self.write(pickle.MARK)
            for k, v in chunk:
                self.save(k)
                self.save(v)
            self.write(pickle.SETITEMS)

    def _save_call(self, obj: Call):
        self.save(obj.func)
        self.save(tuple(obj.args))
        self.write(pickle.REDUCE)
        self.memoize(obj)
        if obj.state is not None:
            self.save(obj.state)
            self.write(pickle.BUILD)
        if obj.dictitems:
            self._setitems(obj.dictitems)

    def _save_newobj(self, obj: NewObj):
        self.save(obj.cls)
        self.save(())
        self.write(pickle.NEWOBJ)
        self.memoize(obj)
        if obj.items:
            self._setitems(obj.items)

    def _save_persisted(self, obj: Persisted):
        meta = {"type": "class", "version": obj.version, "module_src": obj.module_src,
                "class_name": obj.class_name, "state": obj.state}
        self._save_call(Call(PERSISTENT, (meta,)))

    dispatch[Global] = _save_global
    dispatch[Call] = _save_call
    dispatch[NewObj] = _save_newobj
    dispatch[Persisted] = _save_persisted


def dumps(obj, protocol: int = 4, numpy_spelling: str = "numpy._core", persistent_ids=None) -> bytes:
    """Pickle plain data and markers; markers become exactly the opcodes real checkpoints hold."""
    buf = io.BytesIO()
    MarkerPickler(buf, protocol=protocol, numpy_spelling=numpy_spelling, persistent_ids=persistent_ids).dump(obj)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Tensors as NVIDIA pickles hold them.


def legacy_storage_bytes(t: torch.Tensor) -> bytes:
    """The bytes `torch.storage._load_from_bytes` takes: a legacy (non-zip) torch.save of one storage."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage is deprecated, but it is what these files hold
        torch.save(t.storage(), buf, _use_new_zipfile_serialization=False)
    return buf.getvalue()


def tensor_ref(t: torch.Tensor, *, parameter: bool, channels_last: bool = False, storage_pad: int = 0) -> Call:
    """`_rebuild_tensor_v2(_load_from_bytes(b), offset, size, stride, False, OrderedDict())`, for a
    Parameter wrapped in `_rebuild_parameter(..., False, OrderedDict())`.

    channels_last: 4-D tensors are stored with channels-last strides (NVIDIA's --nhwc / fp16 layers).
    storage_pad: the tensor starts `storage_pad` elements into a larger storage (nonzero offset).
    """
    t = t.detach().to("cpu", torch.float32)
    if channels_last and t.ndim == 4:
        t = t.clone(memory_format=torch.channels_last)
    elif storage_pad:
        base = torch.full([t.numel() + storage_pad + 2], float("nan"))  # NaN outside the view: must not leak
        base[storage_pad: storage_pad + t.numel()] = t.reshape(-1)
        t = base[storage_pad: storage_pad + t.numel()].view(t.shape)
    else:
        t = t.clone().contiguous()
    storage = Call(LOAD_FROM_BYTES, (legacy_storage_bytes(t),))
    rebuilt = Call(REBUILD_TENSOR, (storage, t.storage_offset(), tuple(t.shape), tuple(t.stride()), False,
                                    ordered_dict()))
    if parameter:
        return Call(REBUILD_PARAMETER, (rebuilt, False, ordered_dict()))
    return rebuilt


# ---------------------------------------------------------------------------------------------
# NVIDIA module trees, written from networks.py of stylegan2-ada-pytorch / stylegan3.


@dataclass
class _Ctx:
    sd: dict[str, torch.Tensor]
    flavour: str
    channels_last: bool
    storage_pad: int
    used: set = field(default_factory=set)

    def tensor(self, name: str, parameter: bool):
        self.used.add(name)
        t = self.sd[name]
        pad = self.storage_pad if t.ndim == 1 else 0  # offsets on the 1-D tensors (biases, w_avg)
        return tensor_ref(t, parameter=parameter, channels_last=self.channels_last, storage_pad=pad)


def _module_state(ctx: _Ctx, prefix: str, *, params: list[str] = (), buffers: list[str] = (),
                  modules: dict[str, Persisted] | None = None, attrs: dict | None = None,
                  init_args: tuple = (), init_kwargs: dict | None = None,
                  none_params: list[str] = ()) -> dict:
    """A torch.nn.Module __dict__ as persistence pickles it (torch 1.8-era bookkeeping keys)."""
    p = [(n, ctx.tensor(prefix + n, parameter=True)) for n in params] + [(n, None) for n in none_params]
    b = [(n, ctx.tensor(prefix + n, parameter=False)) for n in buffers]
    state = {
        "training": False,
        "_parameters": ordered_dict(p),
        "_buffers": ordered_dict(b),
        "_non_persistent_buffers_set": set(),
        "_backward_hooks": ordered_dict(),
        "_is_full_backward_hook": None,
        "_forward_hooks": ordered_dict(),
        "_forward_pre_hooks": ordered_dict(),
        "_state_dict_hooks": ordered_dict(),
        "_load_state_dict_pre_hooks": ordered_dict(),
        "_modules": ordered_dict(list((modules or {}).items())),
    }
    state.update(attrs or {})
    state["_init_args"] = tuple(init_args)
    state["_init_kwargs"] = dict(init_kwargs or {})
    return state


def _fc(ctx, prefix, in_f, out_f, *, activation="linear", lr=1.0, bias_init=None, init_args=None, init_kwargs=None):
    attrs = {}
    if ctx.flavour == "sg3":
        attrs.update(in_features=in_f, out_features=out_f)
    attrs.update(activation=activation, weight_gain=lr / np.sqrt(in_f), bias_gain=lr)
    kwargs = dict(init_kwargs or {})
    if bias_init is not None:
        kwargs["bias_init"] = bias_init
    return Persisted("FullyConnectedLayer", _module_state(
        ctx, prefix, params=["weight", "bias"], attrs=attrs,
        init_args=init_args if init_args is not None else (in_f, out_f), init_kwargs=kwargs))


def _synthesis_layer(ctx, prefix, cfg, in_ch, out_ch, res, up, block_kwargs):
    attrs = {}
    if ctx.flavour == "sg3":
        attrs.update(in_channels=in_ch, out_channels=out_ch, w_dim=cfg.w_dim)
    attrs.update(resolution=res, up=up, use_noise=cfg.use_noise, activation="lrelu", conv_clamp=cfg.conv_clamp,
                 padding=1, act_gain=np.sqrt(2))
    params = ["weight"] + (["noise_strength"] if cfg.use_noise else []) + ["bias"]
    buffers = ["resample_filter"] + (["noise_const"] if cfg.use_noise else [])
    kwargs = dict(w_dim=cfg.w_dim, resolution=res)
    if up != 1:
        kwargs["up"] = up
    kwargs.update(resample_filter=list(cfg.resample_filter), conv_clamp=cfg.conv_clamp,
                  channels_last=ctx.channels_last, **block_kwargs)
    return Persisted("SynthesisLayer", _module_state(
        ctx, prefix, params=params, buffers=buffers, attrs=attrs, init_args=(in_ch, out_ch), init_kwargs=kwargs,
        modules={"affine": _fc(ctx, prefix + "affine.", cfg.w_dim, in_ch, bias_init=1,
                               init_args=(cfg.w_dim, in_ch))}))


def _torgb(ctx, prefix, cfg, in_ch):
    attrs = {}
    if ctx.flavour == "sg3":
        attrs.update(in_channels=in_ch, out_channels=cfg.img_channels, w_dim=cfg.w_dim)
    attrs.update(conv_clamp=cfg.conv_clamp, weight_gain=1 / np.sqrt(in_ch * 1 ** 2))
    return Persisted("ToRGBLayer", _module_state(
        ctx, prefix, params=["weight", "bias"], attrs=attrs, init_args=(in_ch, cfg.img_channels),
        init_kwargs=dict(w_dim=cfg.w_dim, conv_clamp=cfg.conv_clamp, channels_last=ctx.channels_last),
        modules={"affine": _fc(ctx, prefix + "affine.", cfg.w_dim, in_ch, bias_init=1)}))


def _skip(ctx, prefix, cfg, in_ch, out_ch):
    attrs = {}
    if ctx.flavour == "sg3":
        attrs.update(in_channels=in_ch, out_channels=out_ch)
    attrs.update(activation="linear", up=2, down=1, conv_clamp=None, padding=0,
                 weight_gain=1 / np.sqrt(in_ch * 1 ** 2), act_gain=1)
    return Persisted("Conv2dLayer", _module_state(
        ctx, prefix, params=["weight"], none_params=["bias"], buffers=["resample_filter"], attrs=attrs,
        init_args=(in_ch, out_ch),
        init_kwargs=dict(kernel_size=1, bias=False, up=2, resample_filter=list(cfg.resample_filter),
                         channels_last=ctx.channels_last)))


def _block(ctx, prefix, cfg, res):
    in_ch = cfg.channels(res // 2) if res > 4 else 0
    out_ch = cfg.channels(res)
    is_last = res == cfg.img_resolution
    use_fp16 = res in cfg.block_resolutions[::-1][:cfg.num_fp16_res]
    layer_kwargs = {} if cfg.use_noise else {"use_noise": False}
    modules: dict[str, Persisted] = {}
    params = []
    if in_ch == 0:
        params.append("const")
    else:
        modules["conv0"] = _synthesis_layer(ctx, prefix + "conv0.", cfg, in_ch, out_ch, res, 2, layer_kwargs)
    modules["conv1"] = _synthesis_layer(ctx, prefix + "conv1.", cfg, out_ch, out_ch, res, 1, layer_kwargs)
    num_torgb = int(is_last or cfg.architecture == "skip")
    if num_torgb:
        modules["torgb"] = _torgb(ctx, prefix + "torgb.", cfg, out_ch)
    if in_ch != 0 and cfg.architecture == "resnet":
        modules["skip"] = _skip(ctx, prefix + "skip.", cfg, in_ch, out_ch)
    attrs = dict(in_channels=in_ch, w_dim=cfg.w_dim, resolution=res, img_channels=cfg.img_channels,
                 is_last=is_last, architecture=cfg.architecture, use_fp16=use_fp16,
                 channels_last=bool(ctx.channels_last))
    if ctx.flavour == "sg3":
        attrs["fused_modconv_default"] = "inference_only"
    attrs.update(num_conv=1 if in_ch == 0 else 2, num_torgb=num_torgb)
    kwargs = dict(w_dim=cfg.w_dim, resolution=res, img_channels=cfg.img_channels, is_last=is_last,
                  use_fp16=use_fp16, architecture=cfg.architecture, resample_filter=list(cfg.resample_filter),
                  conv_clamp=cfg.conv_clamp, **layer_kwargs)
    return Persisted("SynthesisBlock", _module_state(
        ctx, prefix, params=params, buffers=["resample_filter"], modules=modules, attrs=attrs,
        init_args=(in_ch, out_ch), init_kwargs=kwargs))


def _generator_kwargs(cfg, flavour: str):
    """Generator._init_kwargs as each repo's train.py passes them (ada: nested, sg3: flat synthesis)."""
    mapping = [("num_layers", cfg.mapping_layers)]
    if cfg.mapping_embed_features is not None:
        mapping.append(("embed_features", cfg.mapping_embed_features))
    if cfg.mapping_layer_features is not None:
        mapping.append(("layer_features", cfg.mapping_layer_features))
    if cfg.mapping_lr_multiplier != 0.01:
        mapping.append(("lr_multiplier", cfg.mapping_lr_multiplier))
    synthesis = [("channel_base", cfg.channel_base), ("channel_max", cfg.channel_max)]
    if flavour == "ada":
        # stylegan2-ada train.py always sets num_fp16_res and conv_clamp.
        synthesis += [("num_fp16_res", cfg.num_fp16_res), ("conv_clamp", cfg.conv_clamp)]
    else:
        # stylegan3 train.py sets them only with --fp32; otherwise the signature defaults apply
        # (num_fp16_res=4, conv_clamp=256), and the pickle does not mention them.
        synthesis.append(("fused_modconv_default", "inference_only"))
        if cfg.num_fp16_res != 4:
            synthesis.append(("num_fp16_res", cfg.num_fp16_res))
        if cfg.conv_clamp != 256:
            synthesis.append(("conv_clamp", cfg.conv_clamp))
    if cfg.architecture != "skip":
        synthesis.append(("architecture", cfg.architecture))
    if tuple(cfg.resample_filter) != (1, 3, 3, 1):
        synthesis.append(("resample_filter", list(cfg.resample_filter)))
    if not cfg.use_noise:
        synthesis.append(("use_noise", False))
    kwargs = {"z_dim": cfg.z_dim, "w_dim": cfg.w_dim, "mapping_kwargs": NewObj(EASY_DICT, mapping)}
    if flavour == "ada":
        kwargs["synthesis_kwargs"] = NewObj(EASY_DICT, synthesis)
    else:
        kwargs.update(synthesis)
    kwargs.update(c_dim=cfg.c_dim, img_resolution=cfg.img_resolution, img_channels=cfg.img_channels)
    return kwargs, dict(mapping), dict(synthesis)


def nvidia_generator(sd: dict[str, torch.Tensor], cfg, *, flavour: str = "ada", channels_last: bool = False,
                     storage_pad: int = 0, extra_kwargs: dict | None = None) -> Persisted:
    """The persisted `Generator` tree for a state dict in NVIDIA names (ours) and its config.

    extra_kwargs: added to the Generator's top-level `_init_kwargs` (e.g. StyleGAN-Human's `square=False`).
    """
    if flavour not in ("ada", "sg3"):
        raise ValueError(f"flavour must be 'ada' or 'sg3', got {flavour!r}")
    ctx = _Ctx(sd=sd, flavour=flavour, channels_last=channels_last, storage_pad=storage_pad)
    gen_kwargs, mapping_kwargs, synthesis_kwargs = _generator_kwargs(cfg, flavour)
    gen_kwargs.update(extra_kwargs or {})

    blocks = {f"b{res}": _block(ctx, f"synthesis.b{res}.", cfg, res) for res in cfg.block_resolutions}
    log2 = int(math.log2(cfg.img_resolution))
    synthesis = Persisted("SynthesisNetwork", _module_state(
        ctx, "synthesis.", modules=blocks,
        attrs=dict(w_dim=cfg.w_dim, img_resolution=cfg.img_resolution, img_resolution_log2=log2,
                   img_channels=cfg.img_channels, block_resolutions=list(cfg.block_resolutions),
                   num_fp16_res=cfg.num_fp16_res, num_ws=cfg.num_ws),
        init_kwargs=dict(w_dim=cfg.w_dim, img_resolution=cfg.img_resolution, img_channels=cfg.img_channels,
                         **synthesis_kwargs)))

    embed = cfg.mapping_embed_features or cfg.w_dim
    hidden = cfg.mapping_layer_features or cfg.w_dim
    feats = [cfg.z_dim + (embed if cfg.c_dim else 0)] + [hidden] * (cfg.mapping_layers - 1) + [cfg.w_dim]
    mods = {}
    if cfg.c_dim:
        mods["embed"] = _fc(ctx, "mapping.embed.", cfg.c_dim, embed)
    for i in range(cfg.mapping_layers):
        mods[f"fc{i}"] = _fc(ctx, f"mapping.fc{i}.", feats[i], feats[i + 1], activation="lrelu",
                             lr=cfg.mapping_lr_multiplier,
                             init_kwargs=dict(activation="lrelu", lr_multiplier=cfg.mapping_lr_multiplier))
    w_avg_beta = cfg.w_avg_beta if flavour == "ada" else 0.998
    mapping = Persisted("MappingNetwork", _module_state(
        ctx, "mapping.", buffers=["w_avg"], modules=mods,
        attrs=dict(z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, num_ws=cfg.num_ws,
                   num_layers=cfg.mapping_layers, w_avg_beta=w_avg_beta),
        init_kwargs=dict(z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, num_ws=cfg.num_ws, **mapping_kwargs)))

    gen = Persisted("Generator", _module_state(
        ctx, "", modules={"synthesis": synthesis, "mapping": mapping},
        attrs=dict(z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, img_resolution=cfg.img_resolution,
                   img_channels=cfg.img_channels, num_ws=cfg.num_ws),
        init_args=(), init_kwargs=gen_kwargs))
    missing = sorted(set(sd) - ctx.used)
    if missing:  # the writer must account for every tensor, or the file would be wrong, not the reader
        raise AssertionError(f"writer did not place {missing}")
    return gen


def _dummy_discriminator(seed: int) -> Persisted:
    g = torch.Generator().manual_seed(seed)
    sd = {"b4.fc.weight": torch.randn(8, 16, generator=g), "b4.fc.bias": torch.randn(8, generator=g)}
    ctx = _Ctx(sd=sd, flavour="ada", channels_last=False, storage_pad=0)
    fc = Persisted("FullyConnectedLayer", _module_state(ctx, "b4.fc.", params=["weight", "bias"],
                                                        attrs=dict(activation="lrelu", weight_gain=np.float64(0.25),
                                                                   bias_gain=1),
                                                        init_args=(16, 8), init_kwargs=dict(activation="lrelu")))
    block = Persisted("DiscriminatorEpilogue", _module_state(ctx, "b4.", modules={"fc": fc},
                                                             attrs=dict(in_channels=16, resolution=4),
                                                             init_args=(16,), init_kwargs=dict(resolution=4)))
    return Persisted("Discriminator", _module_state(ctx, "", modules={"b4": block},
                                                    attrs=dict(c_dim=0, img_resolution=32),
                                                    init_kwargs=dict(c_dim=0, img_resolution=32, img_channels=3,
                                                                     block_kwargs=NewObj(EASY_DICT, []))))


def _augment_pipe() -> Persisted:
    ctx = _Ctx(sd={"p": torch.tensor(0.125), "Hz_geom": torch.randn(12, generator=torch.Generator().manual_seed(3))},
               flavour="ada", channels_last=False, storage_pad=0)
    return Persisted("AugmentPipe", _module_state(ctx, "", buffers=["p", "Hz_geom"],
                                                  attrs=dict(xflip=np.float64(1), rotate90=1, brightness_std=0.2),
                                                  init_kwargs=dict(xflip=1, rotate90=1)))


def perturbed_state_dict(G, seed: int = 1234, scale: float = 0.5) -> dict[str, torch.Tensor]:
    """G's state dict with every floating tensor moved: the snapshot's training `G`, not `G_ema`."""
    g = torch.Generator().manual_seed(seed)
    return {k: (v + scale * torch.randn(v.shape, generator=g) if v.is_floating_point() else v.clone())
            for k, v in G.state_dict().items()}


def nvidia_snapshot(G, *, flavour: str = "ada", channels_last: bool = False, storage_pad: int = 0,
                    extra_kwargs: dict | None = None) -> dict:
    """The whole training-snapshot dict (markers), ready for `dumps`; hostile tests edit it first."""
    cfg = G.cfg
    ema = nvidia_generator({k: v.detach() for k, v in G.state_dict().items()}, cfg, flavour=flavour,
                           channels_last=channels_last, storage_pad=storage_pad, extra_kwargs=extra_kwargs)
    train = nvidia_generator(perturbed_state_dict(G), cfg, flavour=flavour, channels_last=channels_last,
                             extra_kwargs=extra_kwargs)
    ts_kwargs = {"class_name": "training.dataset.ImageFolderDataset", "path": "/datasets/fake.zip",
                 "use_labels": bool(cfg.c_dim), "max_size": 1000, "xflip": False,
                 "resolution": cfg.img_resolution}
    parts = {"G": train, "D": _dummy_discriminator(7), "G_ema": ema, "augment_pipe": _augment_pipe()}
    if flavour == "ada":
        return {"training_set_kwargs": ts_kwargs, **parts}
    ts_kwargs["random_seed"] = 0
    return {**parts, "augment_pipe": None, "training_set_kwargs": ts_kwargs}


def write_nvidia_pickle(path, G, *, flavour: str = "ada", protocol: int = 4, numpy_spelling: str = "numpy._core",
                        channels_last: bool = False, storage_pad: int = 0) -> None:
    """Write G as an NVIDIA training snapshot (`G_ema` = G; `G` = a perturbed copy; dummy `D`).

    flavour: 'ada' (stylegan2-ada-pytorch: nested mapping/synthesis kwargs, key order
    training_set_kwargs, G, D, G_ema, augment_pipe) or 'sg3' (stylegan3 repo's networks_stylegan2:
    flat synthesis kwargs + fused_modconv_default, key order G, D, G_ema, augment_pipe,
    training_set_kwargs). protocol 3 (old files, `builtins.set`) or 4; numpy_spelling 'numpy.core'
    (numpy 1.x) or 'numpy._core' (numpy 2). channels_last stores 4-D weights with NHWC strides.
    storage_pad (not in real files' usual layout, but legal): 1-D tensors of G_ema start that many
    elements into their storage.
    """
    if protocol not in (2, 3, 4, 5):
        raise ValueError("protocol must be 2..5")
    if numpy_spelling not in ("numpy.core", "numpy._core"):
        raise ValueError("numpy_spelling must be 'numpy.core' or 'numpy._core'")
    snap = nvidia_snapshot(G, flavour=flavour, channels_last=channels_last, storage_pad=storage_pad)
    data = dumps(snap, protocol=protocol, numpy_spelling=numpy_spelling)
    with open(path, "wb") as f:
        f.write(data)


# ---------------------------------------------------------------------------------------------
# rosinality/stylegan2-pytorch


def _make_kernel(taps, factor: int = 1) -> torch.Tensor:
    k = torch.tensor(taps, dtype=torch.float32)
    k = k[None, :] * k[:, None]
    return k / k.sum() * factor ** 2


def rosinality_state_dict(sd: dict[str, torch.Tensor], cfg) -> dict[str, torch.Tensor]:
    """Our (NVIDIA-named) state dict -> rosinality's `Generator.state_dict()` names and shapes."""
    if cfg.c_dim or cfg.architecture != "skip" or cfg.conv_clamp is not None or not cfg.use_noise:
        raise ValueError("rosinality's generator is unconditional, 'skip', unclamped, with noise")
    if cfg.z_dim != cfg.w_dim or (cfg.mapping_layer_features or cfg.w_dim) != cfg.w_dim:
        raise ValueError("rosinality's mapping has style_dim everywhere")
    if cfg.mapping_lr_multiplier != 0.01 or tuple(cfg.resample_filter) != (1, 3, 3, 1):
        raise ValueError("rosinality uses lr_mlp=0.01 and blur_kernel=[1,3,3,1]")
    r: dict[str, torch.Tensor] = {}
    for i in range(cfg.mapping_layers):
        # EqualLinear(lr_mul=0.01): stored weight randn/lr_mul, runtime scale lr_mul/sqrt(in); as NVIDIA.
        r[f"style.{i + 1}.weight"] = sd[f"mapping.fc{i}.weight"].clone()
        r[f"style.{i + 1}.bias"] = sd[f"mapping.fc{i}.bias"].clone()
    r["input.input"] = sd["synthesis.b4.const"][None].clone()  # [1, C, 4, 4]

    def styled(dst: str, src: str, upsample: bool):
        r[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None].clone()  # [1, O, I, 3, 3]
        if upsample:
            r[f"{dst}.conv.blur.kernel"] = _make_kernel([1, 3, 3, 1], 2)
        r[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"].clone()
        r[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"].clone()
        r[f"{dst}.noise.weight"] = sd[f"{src}.noise_strength"].reshape(1).clone()
        r[f"{dst}.activate.bias"] = sd[f"{src}.bias"].clone()

    def to_rgb(dst: str, src: str, upsample: bool):
        if upsample:
            r[f"{dst}.upsample.kernel"] = _make_kernel([1, 3, 3, 1], 2)
        r[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None].clone()  # [1, 3, C, 1, 1]
        r[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"].clone()
        r[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"].clone()
        r[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(1, -1, 1, 1).clone()  # [1, 3, 1, 1]

    styled("conv1", "synthesis.b4.conv1", False)
    to_rgb("to_rgb1", "synthesis.b4.torgb", False)
    noises = {0: sd["synthesis.b4.conv1.noise_const"]}
    for k, res in enumerate(cfg.block_resolutions[1:]):
        b = f"synthesis.b{res}"
        styled(f"convs.{2 * k}", f"{b}.conv0", True)
        styled(f"convs.{2 * k + 1}", f"{b}.conv1", False)
        to_rgb(f"to_rgbs.{k}", f"{b}.torgb", True)
        noises[2 * k + 1] = sd[f"{b}.conv0.noise_const"]
        noises[2 * k + 2] = sd[f"{b}.conv1.noise_const"]
    for i in sorted(noises):
        r[f"noises.noise_{i}"] = noises[i][None, None].clone()  # [1, 1, R, R]
    return r


def _adam_state(sd: dict[str, torch.Tensor]) -> dict:
    state = {i: {"step": torch.tensor(100.0), "exp_avg": torch.zeros_like(v), "exp_avg_sq": torch.zeros_like(v)}
             for i, v in enumerate(sd.values())}
    return {"state": state, "param_groups": [{"lr": 0.002, "betas": (0.0, 0.99), "eps": 1e-8, "weight_decay": 0,
                                              "amsgrad": False, "maximize": False, "foreach": None,
                                              "capturable": False, "differentiable": False, "fused": None,
                                              "params": list(range(len(sd)))}]}


def write_rosinality_pt(path, G, *, with_latent_avg: bool = False, training_ckpt: bool = True) -> None:
    """Write G as a rosinality `.pt` (a zip torch.save).

    training_ckpt=True: `{g, d, g_ema, g_optim, d_optim, args}` as train.py saves it (args an
    argparse.Namespace; `g` perturbed); False: `{g_ema}` as convert_weight.py writes it.
    with_latent_avg adds `latent_avg` (G.mapping.w_avg).
    """
    cfg = G.cfg
    g_ema = rosinality_state_dict({k: v.detach() for k, v in G.state_dict().items()}, cfg)
    ckpt: dict[str, Any] = {}
    if training_ckpt:
        g = rosinality_state_dict(perturbed_state_dict(G), cfg)
        gen = torch.Generator().manual_seed(5)
        d = {"convs.0.0.weight": torch.randn(16, 3, 1, 1, generator=gen), "convs.0.1.bias": torch.zeros(16),
             "final_linear.1.weight": torch.randn(1, 16, generator=gen)}
        ckpt.update(g=g, d=d, g_ema=g_ema, g_optim=_adam_state(g), d_optim=_adam_state(d),
                    args=argparse.Namespace(path="/data/lmdb", iter=800000, batch=16, n_sample=64,
                                            size=cfg.img_resolution, r1=10.0, path_regularize=2.0,
                                            path_batch_shrink=2, d_reg_every=16, g_reg_every=4, mixing=0.9,
                                            ckpt=None, lr=0.002, channel_multiplier=2, wandb=False,
                                            local_rank=0, augment=False, augment_p=0.0, ada_target=0.6,
                                            ada_length=500000, ada_every=256, latent=cfg.w_dim,
                                            n_mlp=cfg.mapping_layers, start_iter=0, distributed=False))
    else:
        ckpt["g_ema"] = g_ema
    if with_latent_avg:
        ckpt["latent_avg"] = G.mapping.w_avg.detach().clone()
    torch.save(ckpt, path)


# ---------------------------------------------------------------------------------------------
# Random generators for the round-trip tests.


@torch.no_grad()
def randomize_(G, seed: int = 0):
    """Give every parameter and buffer of G a random value (not its init: noise strengths and w_avg
    start at zero, biases at 0 or 1), so a reader that drops or confuses any of them is caught.
    The FIR filter buffers keep their value: real files always hold setup_filter(resample_filter)."""
    g = torch.Generator().manual_seed(seed)
    lr = G.cfg.mapping_lr_multiplier
    for name, t in G.state_dict().items():
        if name.endswith("resample_filter"):
            continue
        noise = torch.randn(t.shape, generator=g)
        # the mapping stores weights and biases divided by its lr multiplier (equalised lr)
        scale = 1 / lr if name.startswith("mapping.fc") else 1.0
        if name.endswith("noise_strength"):
            t.copy_(0.3 * noise)
        elif name.endswith("affine.bias"):
            t.copy_(1 + 0.2 * noise)
        elif name.endswith(".bias") or name.endswith("w_avg"):
            t.copy_(0.2 * scale * noise)
        else:
            t.copy_(scale * noise)
    return G.eval().requires_grad_(False)


def pickle_globals(data: bytes) -> set[str]:
    """Every global (`module.name`) a pickle names, read from its opcodes without unpickling."""
    found, memo, pushed = set(), {}, []
    for op, arg, _ in pickletools.genops(data):
        name = op.name
        if name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE"):
            pushed.append(arg)
        elif name in ("BINGET", "LONG_BINGET", "GET"):
            pushed.append(memo.get(int(arg)))
        elif name == "MEMOIZE":
            memo[len(memo)] = pushed[-1] if pushed else None
        elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
            memo[int(arg)] = pushed[-1] if pushed else None
        elif name in ("GLOBAL", "INST"):
            found.add(arg.replace(" ", "."))
            pushed.append(None)
        elif name == "STACK_GLOBAL":
            found.add(f"{pushed[-2]}.{pushed[-1]}")
            pushed.append(None)
        else:
            pushed.append(None)
    return found


# ---------------------------------------------------------------------------------------------
# StyleGAN3 (networks_stylegan3.py) snapshots. Written from the stylegan3 paper's Appendix F
# schedule and the repo's file layout (CHECKPOINTS.md section 4), with scipy's filter design,
# independently of stylegan2/config_sg3.py and ops_sg3.py.


def sg3_kwargs(config: str = "T", **changes) -> dict:
    """Generator kwargs as stylegan3's train.py passes them (flat), for a tiny generator.

    config 'R' adds what train.py adds for --cfg=stylegan3-r: conv_kernel=1, use_radial_filters,
    doubled channel_base / channel_max.
    """
    kw = dict(z_dim=16, w_dim=16, mapping_kwargs={"num_layers": 2}, channel_base=512, channel_max=16,
              c_dim=0, img_resolution=16, img_channels=3, magnitude_ema_beta=0.999)
    if config == "R":
        kw.update(conv_kernel=1, use_radial_filters=True, channel_base=1024, channel_max=32)
    kw.update(changes)
    return kw


def _sg3_layers(kw: dict) -> tuple[dict, list[dict]]:
    """The synthesis schedule (paper App. F): input spec and one dict of attributes per layer."""
    res, n, n_crit, margin = kw["img_resolution"], kw.get("num_layers", 14), kw.get("num_critical", 2), 10
    cutoff0, stop0, last_cut = 2.0, 2 ** 2.1, res / 2
    last_stop = last_cut * 2 ** 0.3
    out = []
    for k in range(n + 1):
        e = min(k / (n - n_crit), 1.0)
        cut = cutoff0 * (last_cut / cutoff0) ** e
        stop = stop0 * (last_stop / stop0) ** e
        rate = 2 ** math.ceil(math.log2(min(stop * 2, res)))
        size = res if k >= n - 1 else rate + 2 * margin
        ch = kw["img_channels"] if k == n else int(np.rint(min(kw["channel_base"] / 2 / cut, kw["channel_max"])))
        out.append(dict(cutoff=cut, half_width=max(stop, rate / 2) - cut, rate=rate, size=size, channels=ch))
    layers = []
    for k in range(n + 1):
        prev, cur = out[max(k - 1, 0)], out[k]
        torgb, critical = k == n, k >= n - n_crit
        kernel = 1 if torgb else kw.get("conv_kernel", 3)
        tmp = max(prev["rate"], cur["rate"]) * (1 if torgb else 2)
        up, down = tmp // prev["rate"], tmp // cur["rate"]
        up_taps = 6 * up if up > 1 and not torgb else 1
        down_taps = 6 * down if down > 1 and not torgb else 1
        total = (cur["size"] - 1) * down + 1 - (prev["size"] + kernel - 1) * up + up_taps + down_taps - 2
        lo = (total + up) // 2
        layers.append(dict(
            name=f"L{k}_{cur['size']}_{cur['channels']}", is_torgb=torgb, is_critically_sampled=critical,
            in_channels=prev["channels"], out_channels=cur["channels"], in_size=prev["size"], out_size=cur["size"],
            in_sampling_rate=prev["rate"], out_sampling_rate=cur["rate"], tmp_sampling_rate=tmp,
            in_cutoff=prev["cutoff"], out_cutoff=cur["cutoff"], in_half_width=prev["half_width"],
            out_half_width=cur["half_width"], conv_kernel=kernel, up_factor=up, down_factor=down,
            up_taps=up_taps, down_taps=down_taps,
            down_radial=bool(kw.get("use_radial_filters", False) and not critical),
            padding=[lo, total - lo, lo, total - lo]))
    first = out[0]
    return dict(channels=first["channels"], size=first["size"], sampling_rate=first["rate"],
                bandwidth=first["cutoff"]), layers


def scipy_lowpass(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False):
    """The stylegan3 filter design with scipy (windowed sinc, or windowed jinc when radial)."""
    import scipy.signal
    import scipy.special
    if numtaps == 1:
        return None
    if not radial:
        return torch.as_tensor(scipy.signal.firwin(numtaps=numtaps, cutoff=cutoff, width=width, fs=fs),
                               dtype=torch.float32)
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = np.hypot(*np.meshgrid(x, x))
    f = scipy.special.j1(2 * cutoff * (np.pi * r)) / (np.pi * r)
    beta = scipy.signal.kaiser_beta(scipy.signal.kaiser_atten(numtaps, width / (fs / 2)))
    w = np.kaiser(numtaps, beta)
    f *= np.outer(w, w)
    return torch.as_tensor(f / np.sum(f), dtype=torch.float32)


def sg3_state_dict(kw: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random G_ema tensors in NVIDIA's names, every learnable value and EMA away from its init."""
    g = torch.Generator().manual_seed(seed)
    rnd = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    inp, layers = _sg3_layers(kw)
    w_dim, c = kw["w_dim"], inp["channels"]
    sd = {"synthesis.input.weight": rnd(c, c), "synthesis.input.transform": torch.eye(3),
          "synthesis.input.freqs": rnd(c, 2) * inp["bandwidth"] / 2, "synthesis.input.phases": rnd(c) * 0.3,
          "synthesis.input.affine.weight": rnd(4, w_dim) * 0.1,
          "synthesis.input.affine.bias": torch.tensor([1.0, 0.0, 0.0, 0.0]) + 0.1 * rnd(4)}
    for L in layers:
        p = f"synthesis.{L['name']}."
        k = L["conv_kernel"]
        sd[p + "weight"] = rnd(L["out_channels"], L["in_channels"], k, k)
        sd[p + "bias"] = 0.2 * rnd(L["out_channels"])
        sd[p + "magnitude_ema"] = 0.5 + torch.rand([], generator=g)
        fu = scipy_lowpass(L["up_taps"], L["in_cutoff"], L["in_half_width"] * 2, L["tmp_sampling_rate"])
        fd = scipy_lowpass(L["down_taps"], L["out_cutoff"], L["out_half_width"] * 2, L["tmp_sampling_rate"],
                           radial=L["down_radial"])
        if fu is not None:
            sd[p + "up_filter"] = fu
        if fd is not None:
            sd[p + "down_filter"] = fd
        sd[p + "affine.weight"] = rnd(L["in_channels"], w_dim)
        sd[p + "affine.bias"] = 1 + 0.2 * rnd(L["in_channels"])
    lr, n_map = 0.01, kw["mapping_kwargs"].get("num_layers", 2)
    feats = [kw["z_dim"] + (w_dim if kw["c_dim"] else 0)] + [w_dim] * n_map
    if kw["c_dim"]:
        sd["mapping.embed.weight"], sd["mapping.embed.bias"] = rnd(w_dim, kw["c_dim"]), 0.2 * rnd(w_dim)
    for i in range(n_map):
        sd[f"mapping.fc{i}.weight"] = rnd(feats[i + 1], feats[i]) / lr
        sd[f"mapping.fc{i}.bias"] = 0.2 * rnd(feats[i + 1]) / lr
    sd["mapping.w_avg"] = 0.3 * rnd(w_dim)
    return sd


def nvidia_sg3_generator(sd: dict[str, torch.Tensor], kw: dict) -> Persisted:
    """The persisted networks_stylegan3 `Generator` tree for a state dict in NVIDIA names."""
    ctx = _Ctx(sd=sd, flavour="sg3", channels_last=False, storage_pad=0)
    inp, layers = _sg3_layers(kw)
    w_dim = kw["w_dim"]

    def fc(prefix, in_f, out_f, activation="linear", lr=1.0, **init_kwargs):
        return Persisted("FullyConnectedLayer", _module_state(
            ctx, prefix, params=["weight", "bias"],
            attrs=dict(in_features=in_f, out_features=out_f, activation=activation,
                       weight_gain=lr / np.sqrt(in_f), bias_gain=lr),
            init_args=(in_f, out_f), init_kwargs=init_kwargs))

    mods = {"input": Persisted("SynthesisInput", _module_state(
        ctx, "synthesis.input.", params=["weight"], buffers=["transform", "freqs", "phases"],
        modules={"affine": fc("synthesis.input.affine.", w_dim, 4, weight_init=0, bias_init=[1, 0, 0, 0])},
        attrs=dict(w_dim=w_dim, channels=inp["channels"], size=[inp["size"]] * 2,
                   sampling_rate=np.float64(inp["sampling_rate"]), bandwidth=np.float64(inp["bandwidth"])),
        init_kwargs=dict(w_dim=w_dim, channels=inp["channels"], size=inp["size"],
                         sampling_rate=np.float64(inp["sampling_rate"]), bandwidth=np.float64(inp["bandwidth"]))))}
    for L in layers:
        p = f"synthesis.{L['name']}."
        bufs = ["magnitude_ema"] + [b for b in ("up_filter", "down_filter") if p + b in sd]
        attrs = {k: v for k, v in L.items() if k != "name"}
        attrs.update(w_dim=w_dim, use_fp16=np.bool_(False), conv_clamp=256, magnitude_ema_beta=0.999,
                     in_size=[L["in_size"]] * 2, out_size=[L["out_size"]] * 2,
                     in_cutoff=np.float64(L["in_cutoff"]), out_cutoff=np.float64(L["out_cutoff"]))
        init = {k: attrs[k] for k in ("w_dim", "is_torgb", "is_critically_sampled", "use_fp16", "in_channels",
                                      "out_channels", "in_cutoff", "out_cutoff")}
        init.update(in_size=L["in_size"], out_size=L["out_size"])
        for key in ("conv_kernel", "use_radial_filters", "magnitude_ema_beta"):
            if key in kw:
                init[key] = kw[key]
        mods[L["name"]] = Persisted("SynthesisLayer", _module_state(
            ctx, p, params=["weight", "bias"], buffers=bufs, attrs=attrs, init_kwargs=init,
            modules={"affine": fc(p + "affine.", w_dim, L["in_channels"], bias_init=1)}))
    num_ws = len(layers) + 1
    synth_kwargs = {k: v for k, v in kw.items() if k not in ("z_dim", "c_dim", "mapping_kwargs")}
    synthesis = Persisted("SynthesisNetwork", _module_state(
        ctx, "synthesis.", modules=mods,
        attrs=dict(w_dim=w_dim, num_ws=num_ws, img_resolution=kw["img_resolution"],
                   img_channels=kw["img_channels"], num_layers=len(layers) - 1, num_critical=2, margin_size=10,
                   output_scale=0.25, num_fp16_res=4, layer_names=[L["name"] for L in layers]),
        init_kwargs=synth_kwargs))
    n_map = kw["mapping_kwargs"].get("num_layers", 2)
    feats = [kw["z_dim"] + (w_dim if kw["c_dim"] else 0)] + [w_dim] * n_map
    mmods = {"embed": fc("mapping.embed.", kw["c_dim"], w_dim)} if kw["c_dim"] else {}
    for i in range(n_map):
        mmods[f"fc{i}"] = fc(f"mapping.fc{i}.", feats[i], feats[i + 1], activation="lrelu", lr=0.01)
    mapping = Persisted("MappingNetwork", _module_state(
        ctx, "mapping.", buffers=["w_avg"], modules=mmods,
        attrs=dict(z_dim=kw["z_dim"], c_dim=kw["c_dim"], w_dim=w_dim, num_ws=num_ws, num_layers=n_map,
                   w_avg_beta=0.998),
        init_kwargs=dict(z_dim=kw["z_dim"], c_dim=kw["c_dim"], w_dim=w_dim, num_ws=num_ws,
                         num_layers=n_map)))
    gen_kwargs = {k: (NewObj(EASY_DICT, list(v.items())) if k == "mapping_kwargs" else v) for k, v in kw.items()}
    gen = Persisted("Generator", _module_state(
        ctx, "", modules={"synthesis": synthesis, "mapping": mapping},
        attrs=dict(z_dim=kw["z_dim"], c_dim=kw["c_dim"], w_dim=w_dim, img_resolution=kw["img_resolution"],
                   img_channels=kw["img_channels"], num_ws=num_ws),
        init_kwargs=gen_kwargs))
    missing = sorted(set(sd) - ctx.used)
    if missing:
        raise AssertionError(f"writer did not place {missing}")
    return gen


def sg3_snapshot(kw: dict, seed: int = 0) -> tuple[dict, dict[str, torch.Tensor]]:
    """A stylegan3 training snapshot (markers, key order G, D, G_ema, augment_pipe, training_set_kwargs)
    and the G_ema state dict it holds."""
    sd = sg3_state_dict(kw, seed)
    train = perturbed_state_dict(_Dict(sd))
    snap = {"G": nvidia_sg3_generator(train, kw), "D": _dummy_discriminator(7),
            "G_ema": nvidia_sg3_generator(sd, kw), "augment_pipe": None,
            "training_set_kwargs": {"class_name": "training.dataset.ImageFolderDataset", "path": "/x.zip",
                                    "resolution": kw["img_resolution"], "use_labels": bool(kw["c_dim"])}}
    return snap, sd


class _Dict:
    """Adapter so `perturbed_state_dict` takes a plain state dict."""

    def __init__(self, sd):
        self._sd = sd

    def state_dict(self):
        return self._sd
