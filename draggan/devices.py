"""Choosing the torch device a model runs on, from a user's `--device` string or none.

CLI / GUI launcher -> here -> `load_generator(path, device)`. Only the devices the
editor is tested on are accepted (CPU, CUDA, Apple MPS); anything else, or one that
this machine lacks, is one `DragGANError` line saying what to use instead.
"""

from __future__ import annotations

import torch

from .errors import DragGANError

SUPPORTED = ("cpu", "cuda", "mps")
_HINT = "use cpu, cuda, cuda:N or mps"


def choose_device(name: str | None) -> torch.device:
    """`name` ('cpu', 'cuda', 'cuda:1', 'mps') -> torch.device; None = CUDA if present, else CPU."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    text = str(name).strip().lower()
    try:
        dev = torch.device(text)
    except (RuntimeError, ValueError, TypeError):
        raise DragGANError(f"unknown device '{name}' ({_HINT})") from None
    if dev.type not in SUPPORTED:
        raise DragGANError(f"the device '{name}' is not supported by this editor ({_HINT})")
    if dev.type == "cpu":
        if dev.index not in (None, 0):
            raise DragGANError(f"there is only one CPU device; use --device cpu, not '{name}'")
        return torch.device("cpu")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DragGANError("CUDA was asked for but is not available on this machine; use --device cpu")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise DragGANError(f"there is no CUDA device {dev.index}: this machine has {count} "
                               f"(cuda:0 .. cuda:{count - 1})")
        return dev
    if not torch.backends.mps.is_available():
        raise DragGANError("MPS was asked for but is not available on this machine; use --device cpu")
    if dev.index not in (None, 0):
        raise DragGANError(f"there is only one MPS device; use --device mps, not '{name}'")
    return torch.device("mps")
