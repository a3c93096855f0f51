"""StyleGAN2 in pure PyTorch, and readers for the checkpoint formats users bring.

Data flow: checkpoint file -> `readers` (never executes code from the file) ->
`GeneratorConfig` + state dict -> `Generator`. Nothing here imports `draggan`.
"""

from .config import GeneratorConfig
from .errors import CheckpointError
from .networks import Generator, MappingNetwork, SynthesisNetwork, SynthesisOutput
from .readers import checkpoint_info, detect_format, load_generator, read_checkpoint
from .readers.native import save_native

__all__ = ["CheckpointError", "Generator", "GeneratorConfig", "MappingNetwork", "SynthesisNetwork",
           "SynthesisOutput", "checkpoint_info", "detect_format", "load_generator", "read_checkpoint",
           "save_native"]
