"""The DragGAN engine: motion supervision + point tracking on a StyleGAN2 generator.

generator (stylegan2) -> engine -> worker / CLI. Import `DragSession`, `DragConfig`;
`Inversion`, `InversionConfig` turn a picture into a latent to edit.
"""

from .config import DragConfig, default_feature_block, official_config, paper_config
from .inversion import Inversion, InversionConfig, InversionProgress, InversionResult
from .session import DragSession, StepResult, seed_to_ws

__all__ = ["DragConfig", "DragSession", "Inversion", "InversionConfig", "InversionProgress", "InversionResult",
           "StepResult", "default_feature_block", "official_config", "paper_config", "seed_to_ws"]
