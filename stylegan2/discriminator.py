"""The StyleGAN2 discriminator D (stylegan2-ada-pytorch's `Discriminator`), for inference.

Where it sits: checkpoint -> `readers.load_discriminator` -> `Discriminator`. GAN inversion uses
its block outputs as a perceptual distance (`Discriminator.features`) and its logits as a realism
score; nothing here trains D. Parameter and buffer names match NVIDIA's, so an official state dict
loads with `load_state_dict(strict=True)`. Blocks run in float32 (`num_fp16_res` is informational).

Architecture (Karras et al. 2020, Fig. 7): blocks b{R} for R = img_resolution ... 8, each
(fromrgb) -> conv0 (3x3) -> conv1 (3x3, 2x FIR down) [+ 1x1 down skip for 'resnet'], halving the
map; then the epilogue b4: minibatch stddev -> conv (3x3) -> fc -> out.

Dimension legend: N batch, C channels, R block resolution (height), W width (W = R, or R / 2 for
StyleGAN-Human's rectangular models), G minibatch-stddev group, F stddev channels.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as tnf
from torch import nn

from .config import ARCHITECTURES, RectangularSize
from .errors import CheckpointError
from .layers import FullyConnectedLayer
from .ops import LRELU_GAIN, bias_act, setup_filter, upfirdn2d

# What to tell a user whose checkpoint has no (readable) D.
NO_DISCRIMINATOR_HINT = ("use a training snapshot that includes D (an NVIDIA network-snapshot-*.pkl, a TensorFlow "
                         "(G, D, Gs) pickle, or a rosinality .pt with 'd'), or pick an inversion loss that does "
                         "not need D (pixel, MS-SSIM or random-VGG features)")
DEFAULT_FILTER = (1, 3, 3, 1)  # what NVIDIA's Conv2dLayer stores when it is not given a filter


@dataclass
class DiscriminatorConfig(RectangularSize):
    """What a `Discriminator` is built from; defaults are stylegan2-ada-pytorch's `Discriminator`."""
    img_resolution: int = 1024  # input height in pixels, a power of two >= 8
    img_channels: int = 3  # 3 for RGB, 1 for greyscale
    c_dim: int = 0  # conditioning label size; only 0 (unconditional) is supported
    architecture: str = "resnet"  # 'resnet' (config-f D), 'skip' or 'orig'
    channel_base: int = 32768  # channels at resolution r = min(channel_base // r, channel_max)
    channel_max: int = 512  # cap on channels per block
    resample_filter: tuple[int, ...] = DEFAULT_FILTER  # FIR taps of the 2x downsampling
    conv_clamp: float | None = None  # clamp conv outputs to +-this (fp16 training); None = off
    num_fp16_res: int = 0  # how many top resolutions the file was trained in fp16 (informational)
    mbstd_group_size: int | None = 4  # minibatch-stddev group (paper: 4); None = the whole batch
    mbstd_num_channels: int = 1  # stddev feature channels appended in the epilogue; 0 = no mbstd layer
    square: bool = True  # False: StyleGAN-Human, images (and every block) R x R/2
    extra: dict = field(default_factory=dict)  # where the config came from (format, path)

    def __post_init__(self):
        self.resample_filter = tuple(int(t) for t in self.resample_filter)
        res = self.img_resolution
        if not isinstance(res, int) or res < 8 or res & (res - 1):
            raise CheckpointError(f"the discriminator's img_resolution must be a power of two >= 8, got {res!r}")
        if self.architecture not in ARCHITECTURES:
            raise CheckpointError(f"discriminator architecture must be one of {ARCHITECTURES}, "
                                  f"got {self.architecture!r}")
        if self.c_dim != 0:
            raise CheckpointError(f"this discriminator is conditional (c_dim={self.c_dim}), which is not supported "
                                  "yet; pick an inversion loss that does not need D")
        for name in ("img_channels", "channel_base", "channel_max"):
            if int(getattr(self, name)) <= 0:
                raise CheckpointError(f"discriminator {name} must be positive, got {getattr(self, name)!r}")
        if self.mbstd_num_channels < 0 or (self.mbstd_group_size is not None and self.mbstd_group_size < 1):
            raise CheckpointError("the minibatch-stddev settings of this discriminator are invalid")

    @property
    def block_resolutions(self) -> list[int]:
        """Resolutions of the DiscriminatorBlocks in evaluation order: img_resolution ... 8."""
        return [2 ** i for i in range(int(math.log2(self.img_resolution)), 2, -1)]

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["resample_filter"] = list(self.resample_filter)
        return d


def resample_filter_buffers(cfg: DiscriminatorConfig) -> dict[str, torch.Tensor]:
    """Every `resample_filter` buffer of NVIDIA's D for `cfg`, by name: formats that store none (TF,
    rosinality) get them from here. Layers that never resample hold the default filter, as NVIDIA's do."""
    block, default = setup_filter(cfg.resample_filter), setup_filter(DEFAULT_FILTER)
    out = {}
    for res in cfg.block_resolutions:
        out[f"b{res}.resample_filter"] = block
        if res == cfg.img_resolution or cfg.architecture == "skip":
            out[f"b{res}.fromrgb.resample_filter"] = default
        out[f"b{res}.conv0.resample_filter"] = default
        out[f"b{res}.conv1.resample_filter"] = block
        if cfg.architecture == "resnet":
            out[f"b{res}.skip.resample_filter"] = block
    if cfg.architecture == "skip":
        out["b4.fromrgb.resample_filter"] = default
    out["b4.conv.resample_filter"] = default
    return {k: v.clone() for k, v in out.items()}


def downsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2x FIR downsampling that keeps the signal centred: [N, C, H, W] -> [N, C, H/2, W/2]."""
    taps = f.shape[-1]
    p0, p1 = (taps - 1) // 2, (taps - 2) // 2
    return upfirdn2d(x, f, down=2, pad=(p0, p1, p0, p1))


class DownConv2dLayer(nn.Module):
    """D's `Conv2dLayer`: equalised-lr conv (optionally fused with 2x FIR downsampling), bias, activation.

    down=2 follows the official conv2d_resample: filter with the padding that a 'same' conv plus the
    4-tap filter need, then a stride-2 convolution, so [N, I, H, W] -> [N, O, H/2, W/2].
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True,
                 activation: str = "linear", down: int = 1, resample_filter=DEFAULT_FILTER,
                 conv_clamp: float | None = None):
        super().__init__()
        self.activation = activation
        self.down = down
        self.conv_clamp = conv_clamp
        self.padding = kernel_size // 2
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))  # [O, I, K, K]
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None  # [O]
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size ** 2)
        self.act_gain = LRELU_GAIN if activation == "lrelu" else 1.0

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        if self.down == 1:
            x = tnf.conv2d(x, w, padding=self.padding)
        else:
            taps = self.resample_filter.shape[-1]
            p0 = self.padding + (taps - self.down + 1) // 2
            p1 = self.padding + (taps - self.down) // 2
            x = upfirdn2d(x, self.resample_filter, pad=(p0, p1, p0, p1))
            x = tnf.conv2d(x, w, stride=self.down)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)


class MinibatchStdLayer(nn.Module):
    """Append the feature stddev over groups of G images as F extra channels (Karras et al. 2018, Sec. 3)."""

    def __init__(self, group_size: int | None, num_channels: int = 1):
        super().__init__()
        self.group_size = group_size
        self.num_channels = num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, C, H, W] -> [N, C + F, H, W]
        n, c, h, w = x.shape
        g = n if self.group_size is None else min(self.group_size, n)
        f = self.num_channels
        if n % g:
            raise ValueError(f"a batch of {n} images cannot be split into minibatch-stddev groups of {g}: "
                             f"pass a multiple of {g} images (the logits depend on the batch)")
        y = x.reshape(g, -1, f, c // f, h, w)  # [G, N/G, F, C/F, H, W]
        y = (y - y.mean(dim=0)).square().mean(dim=0)  # variance over the group
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])  # [N/G, F]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)  # [N, F, H, W]
        return torch.cat([x, y], dim=1)


class DiscriminatorBlock(nn.Module):
    """One resolution: (fromrgb) -> conv0 -> conv1 (2x down), resnet skip; [N, C, R, W] -> [N, C', R/2, W/2]."""

    def __init__(self, in_channels: int, tmp_channels: int, out_channels: int, resolution: int,
                 img_channels: int, architecture: str = "resnet", resample_filter=DEFAULT_FILTER,
                 conv_clamp: float | None = None):
        super().__init__()
        self.in_channels = in_channels  # 0 for the first block, which reads only the image
        self.resolution = resolution
        self.architecture = architecture
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        if in_channels == 0 or architecture == "skip":
            self.fromrgb = DownConv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
        self.conv0 = DownConv2dLayer(tmp_channels, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = DownConv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2,
                                     resample_filter=resample_filter, conv_clamp=conv_clamp)
        if architecture == "resnet":
            self.skip = DownConv2dLayer(tmp_channels, out_channels, 1, bias=False, down=2,
                                        resample_filter=resample_filter)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor | None):
        """(x, img) -> (x, img): img is carried (downsampled) only by the 'skip' architecture."""
        if self.in_channels == 0 or self.architecture == "skip":
            y = self.fromrgb(img)
            x = y if x is None else x + y
            img = downsample2d(img, self.resample_filter) if self.architecture == "skip" else None
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            return y + self.conv1(self.conv0(x), gain=math.sqrt(0.5)), img
        return self.conv1(self.conv0(x)), img


class DiscriminatorEpilogue(nn.Module):
    """The 4 x 4 (4 x 2) head: (fromrgb) -> minibatch stddev -> conv -> fc -> out; [N, C, 4, W] -> [N, 1]."""

    def __init__(self, in_channels: int, img_channels: int, architecture: str = "resnet",
                 mbstd_group_size: int | None = 4, mbstd_num_channels: int = 1,
                 conv_clamp: float | None = None, width: int = 4):
        super().__init__()
        self.architecture = architecture
        if architecture == "skip":  # the official epilogue's fromrgb has no clamp
            self.fromrgb = DownConv2dLayer(img_channels, in_channels, 1, activation="lrelu")
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = DownConv2dLayer(in_channels + mbstd_num_channels, in_channels, 3, activation="lrelu",
                                    conv_clamp=conv_clamp)
        self.fc = FullyConnectedLayer(in_channels * 4 * width, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1)

    def forward(self, x: torch.Tensor, img: torch.Tensor | None) -> torch.Tensor:
        if self.architecture == "skip":
            x = x + self.fromrgb(img)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.conv(x)  # [N, C, 4, W]
        return self.out(self.fc(x.flatten(1)))  # [N, 1]


class Discriminator(nn.Module):
    """StyleGAN2 D built from a `DiscriminatorConfig`: `D(img) -> logits [N, 1]`, `D.features(img)`."""

    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        self.cfg = cfg
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels  # resolution = height
        self.img_width = cfg.img_width
        self.c_dim = cfg.c_dim
        self.block_resolutions = cfg.block_resolutions  # feature keys, in evaluation order
        for res in self.block_resolutions:
            in_channels = cfg.channels(res) if res < cfg.img_resolution else 0
            block = DiscriminatorBlock(in_channels, cfg.channels(res), cfg.channels(res // 2), res, cfg.img_channels,
                                       architecture=cfg.architecture, resample_filter=cfg.resample_filter,
                                       conv_clamp=cfg.conv_clamp)
            setattr(self, f"b{res}", block)
        self.b4 = DiscriminatorEpilogue(cfg.channels(4), cfg.img_channels, architecture=cfg.architecture,
                                        mbstd_group_size=cfg.mbstd_group_size,
                                        mbstd_num_channels=cfg.mbstd_num_channels,
                                        conv_clamp=cfg.conv_clamp, width=cfg.block_size(4)[1])

    @property
    def img_size(self) -> tuple[int, int]:
        """(height, width) of the images D reads, in pixels."""
        return self.img_resolution, self.img_width

    def _check_img(self, img: torch.Tensor) -> torch.Tensor:
        want = (self.img_channels, self.img_resolution, self.img_width)
        if not isinstance(img, torch.Tensor) or img.ndim != 4 or tuple(img.shape[1:]) != want:
            got = tuple(img.shape) if isinstance(img, torch.Tensor) else type(img).__name__
            raise ValueError(f"D reads images of shape [N, {want[0]}, {want[1]}, {want[2]}] in [-1, 1], got {got}")
        return img.to(torch.float32)

    def _blocks(self, img: torch.Tensor, last: int):
        """Yield (res, x, img) after each block down to resolution `last`."""
        x = None
        for res in self.block_resolutions:
            if res < last:
                break
            x, img = getattr(self, f"b{res}")(x, img)
            yield res, x, img

    def features(self, img: torch.Tensor, blocks=None) -> dict[int, torch.Tensor]:
        """Block outputs x for the requested block resolutions (None = all): res -> [N, C, R/2, W/2].

        Stops after the last requested block and never reaches the batch-dependent stddev layer, so each
        image's features depend on that image alone. Differentiable w.r.t. `img`.
        """
        img = self._check_img(img)
        wanted = set(self.block_resolutions if blocks is None else (int(b) for b in blocks))
        unknown = wanted - set(self.block_resolutions)
        if unknown or not wanted:
            raise ValueError(f"no discriminator block at {sorted(unknown) or 'none requested'}; "
                             f"blocks are {self.block_resolutions}")
        return {res: x for res, x, _ in self._blocks(img, min(wanted)) if res in wanted}

    def forward(self, img: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """Logits [N, 1] for images [N, C, H, W] in [-1, 1]. They depend on the batch through the
        minibatch-stddev layer (groups of `mbstd_group_size` images)."""
        img = self._check_img(img)
        if c is not None and c.numel() != 0:
            raise ValueError("this discriminator is unconditional: pass c=None")
        for _, x, img_rest in self._blocks(img, 8):  # img_rest: the downsampled image ('skip') or None
            pass
        return self.b4(x, img_rest)
