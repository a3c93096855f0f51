"""Our native checkpoint format: safetensors with the generator config in the metadata.

safetensors holds only tensors and a JSON header, so reading it cannot run code,
and it loads fast. Metadata keys: `format` = "draggan-stylegan2", `format_version`,
`family` ("stylegan2" for `GeneratorConfig`, StyleGAN-Human included; "stylegan3" for
`StyleGAN3Config`; absent = "stylegan2", as files written before StyleGAN3 support),
`config` (JSON of that config), plus free-form string entries (provenance, training
settings) that `save_native` callers add.
"""

from __future__ import annotations

import json
import os
import struct

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from ..config import GeneratorConfig
from ..config_sg3 import StyleGAN3Config
from ..errors import CheckpointError

FORMAT_NAME = "draggan-stylegan2"
FORMAT_VERSION = "1"
FAMILIES = {"stylegan2": GeneratorConfig, "stylegan3": StyleGAN3Config}  # metadata `family` -> config class


def looks_like_safetensors(data: bytes) -> bool:
    if len(data) < 10:
        return False
    (n,) = struct.unpack("<Q", data[:8])
    return 2 <= n <= len(data) - 8 and data[8:9] == b"{"


def read_metadata(data: bytes) -> dict[str, str]:
    (n,) = struct.unpack("<Q", data[:8])
    try:
        header = json.loads(data[8: 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError("the safetensors header is not valid JSON; the file is corrupt") from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    return meta if isinstance(meta, dict) else {}


def read_native(data: bytes) -> tuple[GeneratorConfig | StyleGAN3Config, dict[str, torch.Tensor]]:
    meta = read_metadata(data)
    if meta.get("format") != FORMAT_NAME:
        raise CheckpointError("this .safetensors file has no StyleGAN2 config in its metadata; "
                              "write it with `draggan convert IN OUT`")
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"native format version {meta.get('format_version')!r} is not supported "
                              f"(this version reads {FORMAT_VERSION}); update the editor")
    family = meta.get("family", "stylegan2")
    if family not in FAMILIES:
        raise CheckpointError(f"this .safetensors file holds a {family!r} generator, which this version does not "
                              f"read (it reads {sorted(FAMILIES)}); update the editor")
    try:
        cfg = FAMILIES[family].from_dict(json.loads(meta["config"]))
    except (KeyError, json.JSONDecodeError, TypeError):
        raise CheckpointError("the generator config in the metadata is missing or corrupt") from None
    try:
        tensors = st_load(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"the safetensors data is corrupt ({e}); write the file again") from None
    return cfg, dict(tensors)


def save_native(G, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """Write generator `G` (ours) to `path` as safetensors with its config in the metadata."""
    family = "stylegan3" if isinstance(G.cfg, StyleGAN3Config) else "stylegan2"
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "family": family,
            "config": json.dumps(G.cfg.to_dict(), sort_keys=True)}
    for k, v in (metadata or {}).items():
        meta[str(k)] = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in G.state_dict().items()}
    blob = st_save(tensors, metadata=meta)
    tmp = f"{os.fspath(path)}.partial"
    with open(tmp, "wb") as f:
        f.write(blob)
    os.replace(tmp, path)  # never leave a half-written checkpoint under the real name
