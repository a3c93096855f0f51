"""The StyleGAN3 (alias-free) generator in pure PyTorch: mapping (z -> w), then a Fourier-feature
input and `num_layers + 1` filtered, modulated layers (w -> image).

Same call conventions as our StyleGAN2 `Generator` (networks.py): `G.mapping(z, c, psi, cutoff)`,
`G.synthesis(ws)`, and `G.synthesis.run(ws, noise_mode, feature_blocks, render_image, grad_blocks)`
-> `SynthesisOutput`. Parameter and buffer names are NVIDIA's (`synthesis.input.*`,
`synthesis.L{k}_{size}_{ch}.*`), so an official state dict loads strictly.

Feature maps: the keys of `run(feature_blocks=...)` are layer indices k (layer `Lk`,
`layer_names[k]`). Layer k's output is [N, C_k, S_k, S_k] *with a margin*: `feature_box(k)`
gives the (top, left, height, width) of the part that covers the image, and image pixel
coordinate u (pixel centres at i + 0.5, 0 <= u <= img_resolution) sits at feature coordinate
left + u * width / img_resolution (same convention) — the input grid is laid out so that the
central `sampling_rate` samples of every layer span the image exactly.

Dimension legend: N batch, L num_ws, D w_dim, C channels, S layer side (margin included).
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as tnf
from torch import nn

from .config_sg3 import LayerSpec, StyleGAN3Config
from .layers import NOISE_MODES, FullyConnectedLayer
from .networks import Generator, SynthesisOutput
from .ops_sg3 import design_lowpass_filter, filtered_lrelu, modulated_conv2d_sg3


class SynthesisInput(nn.Module):
    """Fourier features (paper Sec. 3.1): sinusoids of fixed random frequencies and phases, sampled on
    a grid after a per-sample rotation + translation predicted from w, then a learned channel mix."""

    def __init__(self, w_dim: int, channels: int, size: int, sampling_rate: float, bandwidth: float):
        super().__init__()
        self.channels, self.size = channels, size
        self.sampling_rate, self.bandwidth = float(sampling_rate), float(bandwidth)
        # Frequencies uniform in a disc of radius `bandwidth` (the stylegan3 initialisation);
        # loaded files bring their own, so only native-from-scratch models use these.
        freqs = torch.randn(channels, 2)
        radii = freqs.square().sum(dim=1, keepdim=True).sqrt()
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * bandwidth
        self.weight = nn.Parameter(torch.randn(channels, channels))  # [C, C]
        # (r_c, r_s, t_x, t_y) from w; initialised to the identity transform.
        self.affine = FullyConnectedLayer(w_dim, 4)
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer("transform", torch.eye(3))  # [3, 3] user transform (e.g. translate the image)
        self.register_buffer("freqs", freqs)  # [C, 2] cycles per image side, (x, y)
        self.register_buffer("phases", torch.rand(channels) - 0.5)  # [C] in cycles

    def forward(self, w: torch.Tensor) -> torch.Tensor:  # [N, D] -> [N, C, S, S]
        n = w.shape[0]
        t = self.affine(w)  # [N, 4] = (r_c, r_s, t_x, t_y)
        t = t / t[:, :2].norm(dim=1, keepdim=True)  # unit rotation; translation scaled alike
        m_r = torch.eye(3, device=w.device).repeat(n, 1, 1)  # inverse rotation of the image
        m_r[:, 0, 0], m_r[:, 0, 1], m_r[:, 1, 0], m_r[:, 1, 1] = t[:, 0], -t[:, 1], t[:, 1], t[:, 0]
        m_t = torch.eye(3, device=w.device).repeat(n, 1, 1)  # inverse translation
        m_t[:, 0, 2], m_t[:, 1, 2] = -t[:, 2], -t[:, 3]
        transforms = m_r @ m_t @ self.transform.unsqueeze(0)  # [N, 3, 3]: rotate, translate, then user's
        freqs = self.freqs.unsqueeze(0)  # [1, C, 2]
        phases = self.phases.unsqueeze(0) + (freqs @ transforms[:, :2, 2:]).squeeze(2)  # [N, C]
        freqs = freqs @ transforms[:, :2, :2]  # [N, C, 2]
        # Fade out frequencies a user transform pushed beyond the band the layers can carry.
        amplitudes = (1 - (freqs.norm(dim=2) - self.bandwidth)
                      / (self.sampling_rate / 2 - self.bandwidth)).clamp(0, 1)  # [N, C]
        # Sample grid in image units: the central `sampling_rate` pixels span [-0.5, 0.5].
        theta = torch.zeros(1, 2, 3, device=w.device)
        theta[0, 0, 0] = theta[0, 1, 1] = 0.5 * self.size / self.sampling_rate
        grid = tnf.affine_grid(theta, [1, 1, self.size, self.size], align_corners=False)[0]  # [S, S, 2]
        x = torch.einsum("hwk,nck->nhwc", grid, freqs) + phases[:, None, None, :]  # [N, S, S, C]
        x = torch.sin(x * (2 * math.pi)) * amplitudes[:, None, None, :]
        x = x @ (self.weight / math.sqrt(self.channels)).t()
        return x.permute(0, 3, 1, 2).contiguous()  # [N, C, S, S]


class SynthesisLayer(nn.Module):
    """Modulated conv (3x3, or 1x1 in config R and toRGB) followed by the filtered leaky ReLU."""

    def __init__(self, spec: LayerSpec, w_dim: int, conv_clamp: float | None, filter_size: int,
                 lrelu_upsampling: int):
        super().__init__()
        self.spec = spec
        self.is_torgb = spec.is_torgb
        self.conv_kernel = spec.conv_kernel
        self.conv_clamp = conv_clamp
        self.up_factor, self.down_factor, self.padding = spec.up_factor, spec.down_factor, list(spec.padding)
        self.affine = FullyConnectedLayer(w_dim, spec.in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn(spec.out_channels, spec.in_channels, spec.conv_kernel,
                                               spec.conv_kernel))  # [O, I, K, K]
        self.bias = nn.Parameter(torch.zeros(spec.out_channels))  # [O]
        self.register_buffer("magnitude_ema", torch.ones([]))  # tracked mean square of the input
        rate = max(spec.in_sampling_rate, spec.out_sampling_rate) * (1 if spec.is_torgb else lrelu_upsampling)
        self.register_buffer("up_filter", design_lowpass_filter(
            spec.up_taps, spec.in_cutoff, spec.in_half_width * 2, rate))  # [Fu] or None
        self.register_buffer("down_filter", design_lowpass_filter(
            spec.down_taps, spec.out_cutoff, spec.out_half_width * 2, rate, radial=spec.down_radial))  # [Fd], [Fd, Fd]

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:  # [N, I, S_in, S_in] -> [N, O, S, S]
        input_gain = self.magnitude_ema.rsqrt()  # inference: normalise by the magnitude seen in training
        styles = self.affine(w)  # [N, I]
        if self.is_torgb:
            styles = styles / math.sqrt(self.weight.shape[1] * self.conv_kernel ** 2)
        x = modulated_conv2d_sg3(x, self.weight, styles, demodulate=not self.is_torgb,
                                 padding=self.conv_kernel - 1, input_gain=input_gain)
        return filtered_lrelu(x, self.up_filter, self.down_filter, self.bias, up=self.up_factor,
                              down=self.down_factor, padding=tuple(self.padding),
                              gain=1.0 if self.is_torgb else math.sqrt(2), slope=1.0 if self.is_torgb else 0.2,
                              clamp=self.conv_clamp)


class SynthesisNetwork(nn.Module):
    """ws [N, num_ws, w_dim] -> image [N, C, R, R]: `input` reads ws[:, 0], layer Lk reads ws[:, k + 1]."""

    def __init__(self, cfg: StyleGAN3Config):
        super().__init__()
        self.w_dim, self.num_ws = cfg.w_dim, cfg.num_ws
        self.img_resolution = self.img_width = cfg.img_resolution
        self.img_channels = cfg.img_channels
        self.output_scale = cfg.output_scale
        self.layer_specs = cfg.layer_specs()
        self.layer_names = [s.name for s in self.layer_specs]
        # What `run(feature_blocks=...)` accepts: layer indices. `block_resolutions` is the same list,
        # so code written for StyleGAN2 block keys validates against it; it is NOT a list of sizes.
        self.feature_keys = [s.index for s in self.layer_specs]
        self.block_resolutions = self.feature_keys
        self.layer_sizes = {s.index: s.out_size for s in self.layer_specs}  # k -> map side, margin included
        self.layer_margins = {s.index: s.margin for s in self.layer_specs}  # k -> margin on each side
        self.layer_channels = {s.index: s.out_channels for s in self.layer_specs}
        self.input = SynthesisInput(cfg.w_dim, **cfg.input_spec())
        for spec in self.layer_specs:
            setattr(self, spec.name, SynthesisLayer(spec, cfg.w_dim, cfg.conv_clamp, cfg.filter_size,
                                                    cfg.lrelu_upsampling))

    def feature_box(self, key: int) -> tuple[int, int, int, int]:
        """(top, left, height, width) of the part of layer `key`'s map that covers the image."""
        spec = self.layer_specs[key]
        return spec.margin, spec.margin, spec.out_sampling_rate, spec.out_sampling_rate

    def run(self, ws: torch.Tensor, noise_mode: str = "const", feature_blocks=(),
            render_image: bool = True, grad_blocks: int | None = None) -> SynthesisOutput:
        """Synthesis that also returns the output maps of the layers `feature_blocks` (indices k of Lk).

        render_image=False stops after the last requested layer. With `grad_blocks` = k, layers after
        Lk run without autograd (display only). `noise_mode` is checked but unused: no noise inputs.
        """
        if noise_mode not in NOISE_MODES:
            raise ValueError(f"noise_mode must be one of {NOISE_MODES}, got {noise_mode!r}")
        if ws.ndim != 3 or ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(f"ws must have shape [N, {self.num_ws}, {self.w_dim}], got {tuple(ws.shape)}")
        wanted = set(int(k) for k in feature_blocks)
        unknown = wanted - set(self.feature_keys)
        if unknown:
            raise ValueError(f"no synthesis layer {sorted(unknown)}; layers are 0 ... {self.feature_keys[-1]} "
                             f"({', '.join(self.layer_names)})")
        last = self.feature_keys[-1] if render_image or not wanted else max(wanted)
        ws = ws.to(torch.float32)
        out = SynthesisOutput(img=None)
        x = self.input(ws[:, 0])
        for k in self.feature_keys[: last + 1]:
            no_grad = grad_blocks is not None and k > grad_blocks and torch.is_grad_enabled()
            if no_grad:  # display-only remainder: cut the graph here
                ws, x = ws.detach(), x.detach()
            with torch.no_grad() if no_grad else contextlib.nullcontext():
                x = getattr(self, self.layer_names[k])(x, ws[:, k + 1])
            if k in wanted:
                out.features[k] = x
        if render_image:
            out.img = x * self.output_scale if self.output_scale != 1 else x
        return out

    def forward(self, ws: torch.Tensor, noise_mode: str = "const", **_ignored) -> torch.Tensor:
        return self.run(ws, noise_mode).img


class StyleGAN3Generator(Generator):
    """StyleGAN3 generator built from a `StyleGAN3Config`; `G(z, c)` maps and synthesises (StyleGAN2's shell)."""

    synthesis_type = SynthesisNetwork
