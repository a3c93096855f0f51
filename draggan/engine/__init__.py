"""The DragGAN engine: motion supervision + point tracking on a StyleGAN2 generator.

generator (stylegan2) -> engine -> worker / CLI. Import `DragSession`, `DragConfig`.
"""

from .config import DragConfig, default_feature_block, official_config, paper_config
from .session import DragSession, StepResult, seed_to_ws

__all__ = ["DragConfig", "DragSession", "StepResult", "default_feature_block", "official_config", "paper_config",
           "seed_to_ws"]
