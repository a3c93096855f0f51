"""`load_generator(path, device)`: one entry point for every checkpoint format we read;
`load_discriminator(path_or_bytes, device)` reads the same files' discriminator D.

The format is detected from the file's bytes, not its name:
- zip archive -> a `torch.save` file (rosinality/stylegan2-pytorch), read with weights_only;
- safetensors header -> our native format;
- pickle -> NVIDIA PyTorch snapshot (dict with `G_ema`) or TensorFlow-era `(G, D, Gs)` tuple,
  both through the restricted unpickler.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import GeneratorConfig
from ..config_sg3 import StyleGAN3Config
from ..discriminator import NO_DISCRIMINATOR_HINT, Discriminator, DiscriminatorConfig
from ..errors import CheckpointError
from ..networks import Generator
from ..networks_sg3 import StyleGAN3Generator
from . import native, nvidia_pickle, rosinality, safe_pickle, tf_pickle

FORMATS = ("nvidia-pytorch-pickle", "tensorflow-pickle", "rosinality-pt", "native-safetensors")


@dataclass
class CheckpointInfo:
    path: str
    format: str  # one of FORMATS
    config: GeneratorConfig | StyleGAN3Config  # by family: StyleGAN2 / StyleGAN-Human, or StyleGAN3-T / -R

    @property
    def family(self) -> str:
        """'StyleGAN2', 'StyleGAN-Human' (rectangular), 'StyleGAN3-T' or 'StyleGAN3-R'."""
        return self.config.family


def detect_format(data: bytes) -> str:
    """Name the checkpoint format from the leading bytes (and, for pickles, the top-level object)."""
    if data[:4] == b"PK\x03\x04":
        return "rosinality-pt"
    if native.looks_like_safetensors(data):
        return "native-safetensors"
    if data[:1] == b"\x80":
        return "pickle"
    raise CheckpointError("the file is not a checkpoint this editor reads (expected an NVIDIA or TensorFlow "
                          "StyleGAN2 .pkl, a rosinality .pt, or a .safetensors written by `draggan convert`)")


def read_checkpoint(path: str | os.PathLike) -> tuple[GeneratorConfig | StyleGAN3Config, dict[str, torch.Tensor], str]:
    """Read a checkpoint file into (config, state dict in our names, format name) on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at '{path}': check the path")
    data = path.read_bytes()
    if not data:
        raise CheckpointError(f"'{path}' is empty: download or copy the checkpoint again")
    try:
        fmt = detect_format(data)
        if fmt == "rosinality-pt":
            cfg, sd = rosinality.read_rosinality(data)
        elif fmt == "native-safetensors":
            cfg, sd = native.read_native(data)
        else:
            top = safe_pickle.safe_load(data)
            if isinstance(top, dict) and "G_ema" in top:
                fmt = "nvidia-pytorch-pickle"
                cfg, sd = nvidia_pickle.read_nvidia_pickle(top)
            elif isinstance(top, tuple) and len(top) == 3 and all(isinstance(n, safe_pickle.TFNetwork) for n in top):
                fmt = "tensorflow-pickle"
                cfg, sd = tf_pickle.read_tf_pickle(top[2])
            elif isinstance(top, dict):
                raise CheckpointError(f"the pickle has no 'G_ema' generator (keys: {sorted(map(str, top))[:8]}); "
                                      "it is not a StyleGAN2 snapshot")
            else:
                raise CheckpointError(f"the pickle holds a {type(top).__name__}, not a StyleGAN2 generator snapshot")
    except CheckpointError as e:
        raise CheckpointError(f"cannot load '{path}': {e}") from None
    except Exception as e:  # a damaged file can break any step; report it, never a traceback
        raise CheckpointError(f"cannot load '{path}': the file is corrupt ({type(e).__name__}: {e}); "
                              "download or copy it again") from None
    return cfg, sd, fmt


def build_generator(cfg: GeneratorConfig | StyleGAN3Config, state_dict: dict[str, torch.Tensor],
                    source: str = "file") -> Generator | StyleGAN3Generator:
    """Instantiate our generator of the config's family and load the weights strictly, with a readable
    mismatch report."""
    G = StyleGAN3Generator(cfg) if isinstance(cfg, StyleGAN3Config) else Generator(cfg)
    return _load_strict(G, state_dict, source, f"a {cfg.family} generator")


def _load_strict(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], source: str, what: str):
    """Load `state_dict` into `model` (names, shapes, dtype, finiteness checked); eval, no grad."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    if missing or unexpected:
        raise CheckpointError(f"{source}: the weights do not match {what} of this config "
                              f"(missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
                              f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''})")
    for k, t in state_dict.items():
        if tuple(t.shape) != tuple(own[k].shape):
            raise CheckpointError(f"{source}: '{k}' has shape {tuple(t.shape)}, expected {tuple(own[k].shape)}")
        if not t.is_floating_point():
            raise CheckpointError(f"{source}: '{k}' is not a floating-point tensor")
        if not torch.isfinite(t).all():
            raise CheckpointError(f"{source}: '{k}' contains NaN or infinity; the file is corrupt")
    model.load_state_dict({k: t.to(torch.float32) for k, t in state_dict.items()}, strict=True)
    return model.eval().requires_grad_(False)


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> Generator | StyleGAN3Generator:
    """Load any supported checkpoint as our generator (G_ema for NVIDIA files), in eval mode.

    The family is decided by the file's content: StyleGAN3 layers -> `StyleGAN3Generator`;
    otherwise `Generator` (StyleGAN2, or StyleGAN-Human when the const / noise tensors are H x H/2).
    """
    cfg, sd, fmt = read_checkpoint(path)
    try:
        G = build_generator(cfg, sd, source=f"cannot load '{path}'")
    except CheckpointError:
        raise
    G.cfg.extra = {**cfg.extra, "format": fmt, "path": str(path)}
    return G.to(device)


def checkpoint_info(path: str | os.PathLike) -> CheckpointInfo:
    cfg, _, fmt = read_checkpoint(path)
    return CheckpointInfo(path=str(path), format=fmt, config=cfg)


def read_discriminator(source: str | os.PathLike | bytes) -> tuple[DiscriminatorConfig, dict[str, torch.Tensor], str]:
    """Read a checkpoint's discriminator D into (config, state dict in NVIDIA's names, format name) on the CPU.

    `source` is a path or the file's bytes. Files without D (our native .safetensors, G-only pickles,
    converted .pt files) raise `CheckpointError` saying so and what to do instead.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        name, data = "the checkpoint", bytes(source)
    else:
        path = Path(source)
        name = f"'{path}'"
        if not path.is_file():
            raise CheckpointError(f"no checkpoint at {name}: check the path")
        data = path.read_bytes()
    if not data:
        raise CheckpointError(f"{name} is empty: download or copy the checkpoint again")
    try:
        fmt = detect_format(data)
        if fmt == "native-safetensors":
            raise CheckpointError("a .safetensors file written by `draggan convert` (or by pivotal tuning) holds "
                                  f"only the generator, not the discriminator D: {NO_DISCRIMINATOR_HINT}")
        if fmt == "rosinality-pt":
            cfg, sd = rosinality.read_rosinality_discriminator(data)
        else:
            top = safe_pickle.safe_load(data)
            if isinstance(top, dict) and ("G_ema" in top or "D" in top):
                fmt = "nvidia-pytorch-pickle"
                cfg, sd = nvidia_pickle.read_nvidia_discriminator(top)
            elif isinstance(top, tuple) and len(top) == 3 and all(isinstance(n, safe_pickle.TFNetwork) for n in top):
                fmt = "tensorflow-pickle"
                cfg, sd = tf_pickle.read_tf_discriminator(top[1])
            else:
                raise CheckpointError(f"the pickle holds a {type(top).__name__}, not a StyleGAN2 training snapshot "
                                      f"with a discriminator: {NO_DISCRIMINATOR_HINT}")
    except CheckpointError as e:
        raise CheckpointError(f"cannot load the discriminator from {name}: {e}") from None
    except Exception as e:  # a damaged file can break any step; report it, never a traceback
        raise CheckpointError(f"cannot load the discriminator from {name}: the file is corrupt "
                              f"({type(e).__name__}: {e}); download or copy it again") from None
    return cfg, sd, fmt


def build_discriminator(cfg: DiscriminatorConfig, state_dict: dict[str, torch.Tensor],
                        source: str = "file") -> Discriminator:
    """Instantiate our discriminator for `cfg` and load the weights strictly, in eval mode without grad."""
    return _load_strict(Discriminator(cfg), state_dict, source, "a StyleGAN2 discriminator")


def load_discriminator(source: str | os.PathLike | bytes, device: str | torch.device = "cpu") -> Discriminator:
    """Load the discriminator D of a checkpoint (path or bytes) as our `Discriminator`, in eval mode.

    NVIDIA snapshots (stylegan2-ada-pytorch, stylegan3, StyleGAN-Human), TensorFlow (G, D, Gs) pickles
    and rosinality training `.pt` files carry D; loading never runs code from the file.
    """
    cfg, sd, fmt = read_discriminator(source)
    where = "the checkpoint" if isinstance(source, (bytes, bytearray, memoryview)) else f"'{source}'"
    D = build_discriminator(cfg, sd, source=f"cannot load the discriminator from {where}")
    D.cfg.extra = {**cfg.extra, "format": fmt}
    if not isinstance(source, (bytes, bytearray, memoryview)):
        D.cfg.extra["path"] = str(source)
    return D.to(device)
