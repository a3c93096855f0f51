"""Where the shipped demo checkpoint lives and how a user-named checkpoint is resolved."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DragGANError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CHECKPOINT = PROJECT_ROOT / "checkpoints" / "demo_faces_64.safetensors"
ENV_VAR = "DRAGGAN_CHECKPOINT"  # overrides the default checkpoint


def resolve_checkpoint(path: str | os.PathLike | None) -> Path:
    """The checkpoint to open: `path`, else $DRAGGAN_CHECKPOINT, else the shipped demo model."""
    if path:
        return Path(path)
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR])
    if DEFAULT_CHECKPOINT.is_file():
        return DEFAULT_CHECKPOINT
    raise DragGANError(f"no checkpoint given and the demo model {DEFAULT_CHECKPOINT} is missing: "
                       "name a checkpoint (a StyleGAN2 .pkl, .pt or .safetensors file)")
