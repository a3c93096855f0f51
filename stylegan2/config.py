"""The typed configuration a StyleGAN2 generator is built from.

Every reader turns its file's own kwargs into a `GeneratorConfig`; the native
format stores it as JSON in the checkpoint metadata, so a file rebuilds its model.
Defaults are those of stylegan2-ada-pytorch's `networks.py` (config-f at 1024).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from .errors import CheckpointError

ARCHITECTURES = ("skip", "orig", "resnet")


class RectangularSize:
    """Sizes of a network whose `img_resolution` is the height: square, or StyleGAN-Human's H x H/2 (`square`)."""

    @property
    def img_width(self) -> int:
        """Image width in pixels (StyleGAN-Human: width = height / 2)."""
        return self.img_resolution if self.square else self.img_resolution // 2

    def block_size(self, res: int) -> tuple[int, int]:
        """(height, width) of the maps of the block at resolution `res`."""
        return (res, res) if self.square else (res, res // 2)


@dataclass
class GeneratorConfig(RectangularSize):
    z_dim: int = 512  # input latent size (0 allowed for label-only generators)
    c_dim: int = 0  # conditioning label size; 0 = unconditional
    w_dim: int = 512  # intermediate latent (W) size
    img_resolution: int = 1024  # output size in pixels, a power of two >= 4
    img_channels: int = 3  # 3 for RGB, 1 for greyscale
    mapping_layers: int = 8  # fully connected layers of the mapping network
    mapping_embed_features: int | None = None  # label embedding size; None = w_dim
    mapping_layer_features: int | None = None  # hidden width of the mapping; None = w_dim
    mapping_lr_multiplier: float = 0.01  # equalised-lr factor of the mapping (paper: 100x lower lr)
    w_avg_beta: float = 0.995  # EMA decay of the tracked mean w (only used when training)
    channel_base: int = 32768  # channels at resolution r = min(channel_base // r, channel_max)
    channel_max: int = 512  # cap on channels per block
    architecture: str = "skip"  # 'skip' (config-f), 'orig' or 'resnet' image path
    resample_filter: tuple[int, ...] = (1, 3, 3, 1)  # FIR taps for up/down sampling
    conv_clamp: float | None = None  # clamp conv outputs to +-this (fp16 training); None = off
    use_noise: bool = True  # per-pixel noise inputs in every conv layer
    num_fp16_res: int = 0  # how many top resolutions the file was trained in fp16 (informational)
    square: bool = True  # False: StyleGAN-Human's rectangular synthesis, every block R x R/2 (H x W)
    extra: dict = field(default_factory=dict)  # where the config came from (format, file kwargs)

    def __post_init__(self):
        self.resample_filter = tuple(int(t) for t in self.resample_filter)
        res = self.img_resolution
        if not isinstance(res, int) or res < 4 or res & (res - 1):
            raise CheckpointError(f"img_resolution must be a power of two >= 4, got {res!r}")
        if self.architecture not in ARCHITECTURES:
            raise CheckpointError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        for name in ("w_dim", "img_channels", "channel_base", "channel_max"):
            if int(getattr(self, name)) <= 0:
                raise CheckpointError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.z_dim < 0 or self.c_dim < 0 or self.mapping_layers < 1:
            raise CheckpointError("z_dim and c_dim must be >= 0 and mapping_layers >= 1")
        if self.z_dim == 0 and self.c_dim == 0:
            raise CheckpointError("a generator needs z_dim > 0 or c_dim > 0")

    @property
    def family(self) -> str:
        """Human-readable model family: 'StyleGAN2', or 'StyleGAN-Human' for the rectangular variant."""
        return "StyleGAN2" if self.square else "StyleGAN-Human"

    @property
    def block_resolutions(self) -> list[int]:
        """Resolutions of the synthesis blocks, 4 ... img_resolution."""
        return [2 ** i for i in range(2, int(math.log2(self.img_resolution)) + 1)]

    def channels(self, res: int) -> int:
        """Feature channels of the block at resolution `res`."""
        return min(self.channel_base // res, self.channel_max)

    @property
    def num_ws(self) -> int:
        """Number of per-layer w vectors the synthesis network reads (W+ rows)."""
        return 2 * int(math.log2(self.img_resolution)) - 2

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["resample_filter"] = list(self.resample_filter)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "GeneratorConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise CheckpointError(f"unknown generator config keys {sorted(unknown)}; "
                                  "the file was written by a newer version or is corrupt")
        try:
            return cls(**d)
        except TypeError as e:
            raise CheckpointError(f"invalid generator config: {e}") from None
