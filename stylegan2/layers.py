"""StyleGAN2 building blocks, bottom-up: equalised linear -> modulated conv -> block.

Parameter and buffer names match NVIDIA's networks exactly, so an official
state dict loads with `load_state_dict(strict=True)`.

Dimension legend: N batch, C channels, R resolution, I/O input/output channels.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .ops import bias_act, conv2d_up2, modulated_conv2d, setup_filter, upsample2d

NOISE_MODES = ("const", "random", "none")


class FullyConnectedLayer(nn.Module):
    """Linear layer with equalised learning rate (runtime weight scaling, Karras et al. 2018)."""

    def __init__(self, in_features: int, out_features: int, activation: str = "linear",
                 lr_multiplier: float = 1.0, bias_init: float = 0.0):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)  # [O, I]
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))  # [O]
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, I] -> [N, O]
        w = self.weight.to(x.dtype) * self.weight_gain
        b = self.bias.to(x.dtype) * self.bias_gain
        if self.activation == "linear":
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally 2x up) + noise + bias + leaky ReLU."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 up: int = 1, use_noise: bool = True, conv_clamp: float | None = None,
                 resample_filter=(1, 3, 3, 1), kernel_size: int = 3, width: int | None = None):
        super().__init__()
        self.resolution = resolution  # feature-map height
        self.width = resolution if width is None else width  # feature-map width (StyleGAN-Human: R / 2)
        self.up = up
        self.use_noise = use_noise
        self.conv_clamp = conv_clamp
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        if use_noise:
            self.register_buffer("noise_const", torch.randn(resolution, self.width))  # [R, W]
            self.noise_strength = nn.Parameter(torch.zeros([]))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const",
                gain: float = 1.0, origin: tuple[int, int] | None = None) -> torch.Tensor:
        """origin (top, left): x is a window of the input map whose output starts there (regions.py)."""
        styles = self.affine(w)  # [N, I]
        noise = None
        if self.use_noise and noise_mode == "random":
            noise = torch.randn(x.shape[0], 1, self.resolution, self.width,
                                device=x.device, dtype=torch.float32) * self.noise_strength
        elif self.use_noise and noise_mode == "const":
            noise = self.noise_const
            if origin is not None:  # the same window of the constant noise
                top, left = origin
                h, w_ = x.shape[2] * self.up, x.shape[3] * self.up
                noise = noise[top: top + h, left: left + w_]
            noise = noise * self.noise_strength
        x = modulated_conv2d(x, self.weight, styles, up=self.up,
                             resample_filter=self.resample_filter, noise=noise)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act="lrelu", gain=math.sqrt(2) * gain, clamp=clamp,
                        inplace=not torch.is_grad_enabled())  # x: the convolution's own output


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to image channels, without demodulation or activation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain  # [N, I]
        x = modulated_conv2d(x, self.weight, styles, demodulate=False)
        return bias_act(x, self.bias, clamp=self.conv_clamp)


class Conv2dLayer(nn.Module):
    """The resnet shortcut: equalised 1x1 conv with 2x upsampling and no bias."""

    def __init__(self, in_channels: int, out_channels: int, resample_filter=(1, 3, 3, 1)):
        super().__init__()
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, 1, 1))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        return conv2d_up2(x, w, self.resample_filter) * gain


class SynthesisBlock(nn.Module):
    """One resolution of the synthesis network: (const | 2x up conv0) -> conv1 -> toRGB."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int,
                 img_channels: int, is_last: bool, architecture: str = "skip",
                 resample_filter=(1, 3, 3, 1), conv_clamp: float | None = None, use_noise: bool = True,
                 width: int | None = None):
        super().__init__()
        self.in_channels = in_channels
        self.resolution = resolution  # feature-map height
        self.width = resolution if width is None else width  # feature-map width (StyleGAN-Human: R / 2)
        self.is_last = is_last
        self.architecture = architecture
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        layer_kwargs = dict(w_dim=w_dim, resolution=resolution, use_noise=use_noise,
                            conv_clamp=conv_clamp, resample_filter=resample_filter, width=self.width)
        if in_channels == 0:
            self.const = nn.Parameter(torch.randn(out_channels, resolution, self.width))  # [C, 4, 4] or [C, 4, 2]
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, up=2, **layer_kwargs)
        self.conv1 = SynthesisLayer(out_channels, out_channels, **layer_kwargs)
        self.num_conv = 1 if in_channels == 0 else 2
        self.num_torgb = 1 if (is_last or architecture == "skip") else 0
        if self.num_torgb:
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim=w_dim, conv_clamp=conv_clamp)
        if in_channels != 0 and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, resample_filter=resample_filter)

    def features(self, x: torch.Tensor | None, ws: torch.Tensor, noise_mode: str = "const",
                 dtype: torch.dtype = torch.float32, origin: tuple[int, int] | None = None) -> torch.Tensor:
        """The block's feature map x (after conv1, before toRGB): ws [N, num_conv, w_dim].

        origin (top, left): x is a window of the lower block's map, and the result the window of this
        block's map that starts there (twice x's size; exact away from its edges, see regions.py).
        """
        if self.in_channels == 0:
            x = self.const.to(dtype).unsqueeze(0).expand(ws.shape[0], -1, -1, -1)
            return self.conv1(x, ws[:, 0], noise_mode)
        x = x.to(dtype)
        if self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, ws[:, 0], noise_mode, origin=origin)
            return y + self.conv1(x, ws[:, 1], noise_mode, gain=math.sqrt(0.5), origin=origin)
        x = self.conv0(x, ws[:, 0], noise_mode, origin=origin)
        return self.conv1(x, ws[:, 1], noise_mode, origin=origin)

    def image(self, x: torch.Tensor, img: torch.Tensor | None, w_rgb: torch.Tensor | None) -> torch.Tensor | None:
        """Add this block's RGB contribution to the (upsampled) running image [N, 3, R, W]."""
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.num_torgb:
            y = self.torgb(x, w_rgb).to(torch.float32)
            img = y if img is None else img + y
        return img
