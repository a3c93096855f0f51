"""StyleGAN2 (incl. StyleGAN-Human's rectangular variant) and StyleGAN3 in pure PyTorch, and readers
for the checkpoint formats users bring.

Data flow: checkpoint file -> `readers` (never executes code from the file) ->
`GeneratorConfig` + state dict -> `Generator`, or `StyleGAN3Config` -> `StyleGAN3Generator`;
the same files' discriminator: `DiscriminatorConfig` + state dict -> `Discriminator` (`load_discriminator`).
Nothing here imports `draggan`.
"""

from .config import GeneratorConfig
from .config_sg3 import StyleGAN3Config
from .discriminator import Discriminator, DiscriminatorConfig
from .errors import CheckpointError
from .networks import Generator, MappingNetwork, SynthesisNetwork, SynthesisOutput
from .networks_sg3 import StyleGAN3Generator
from .readers import checkpoint_info, detect_format, load_discriminator, load_generator, read_checkpoint
from .readers.native import save_native

__all__ = ["CheckpointError", "Discriminator", "DiscriminatorConfig", "Generator", "GeneratorConfig",
           "MappingNetwork", "SynthesisNetwork", "SynthesisOutput", "checkpoint_info", "detect_format",
           "load_discriminator", "load_generator", "read_checkpoint", "save_native", "StyleGAN3Config",
           "StyleGAN3Generator"]
