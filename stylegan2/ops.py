"""Reference tensor ops of StyleGAN2 in plain PyTorch (no compiled kernels).

Sits under `layers.py`: bias + activation, FIR resampling (upfirdn2d) and the
modulated convolution, written from their definitions (CHECKPOINTS.md,
"Reference ops in words"), so they run on CPU, CUDA and MPS alike.

Dimension legend: N batch, C channels, H/W height/width, O/I output/input
channels of a convolution, K kernel size, F filter taps.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as tnf

LRELU_SLOPE = 0.2  # leaky ReLU slope of every StyleGAN2 activation
LRELU_GAIN = math.sqrt(2.0)  # keeps the activation variance-preserving


def bias_act(x: torch.Tensor, b: torch.Tensor | None = None, act: str = "linear",
             gain: float | None = None, clamp: float | None = None, dim: int = 1) -> torch.Tensor:
    """Add a bias along `dim`, apply `act` ('linear' or 'lrelu'), scale by gain, clamp."""
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x + b.to(x.dtype).reshape(shape)
    if act == "lrelu":
        x = tnf.leaky_relu(x, LRELU_SLOPE)
        gain = LRELU_GAIN if gain is None else gain
    elif act != "linear":
        raise ValueError(f"unknown activation {act!r}")
    if gain is not None and gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def setup_filter(taps) -> torch.Tensor:
    """A 1-D list of taps -> a normalised 2-D FIR filter [F, F] (outer product, sum 1)."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    if f.ndim == 1:
        f = f[:, None] * f[None, :]
    return f / f.sum()


def upfirdn2d(x: torch.Tensor, f: torch.Tensor | None, up: int = 1, down: int = 1,
              pad: tuple[int, int, int, int] = (0, 0, 0, 0), gain: float = 1.0) -> torch.Tensor:
    """Upsample by zero insertion, pad (negative crops), FIR filter, downsample.

    x: [N, C, H, W]; f: [F, F], or [F] for a separable filter applied along W then H
    (gain split between the passes), or None for no filter; pad: (x0, x1, y0, y1).
    """
    n, c, h, w = x.shape
    px0, px1, py0, py1 = pad
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = tnf.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    x = tnf.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0): x.shape[2] - max(-py1, 0), max(-px0, 0): x.shape[3] - max(-px1, 0)]
    if f is None:
        x = x * gain if gain != 1 else x
    elif f.ndim == 1:  # separable: two 1-D passes, each with gain^(1/2)
        f = (f * gain ** 0.5).to(x.dtype).flip([0])
        x = tnf.conv2d(x, f.reshape(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
        x = tnf.conv2d(x, f.reshape(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)
    else:
        # Convolution flips the kernel relative to correlation; flip so that f acts as a true FIR.
        f = (f * gain ** (f.ndim / 2)).to(x.dtype).flip([0, 1])
        f = f[None, None].expand(c, 1, *f.shape)
        x = tnf.conv2d(x, f, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    """2x (or `up`x) FIR upsampling that keeps the signal centred: [N,C,H,W] -> [N,C,uH,uW]."""
    taps = f.shape[-1]
    p0, p1 = (taps + up - 1) // 2, (taps - up) // 2
    return upfirdn2d(x, f, up=up, pad=(p0, p1, p0, p1), gain=up * up)


def conv2d_up2(x: torch.Tensor, weight: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """A 'same' convolution fused with 2x upsampling: [N,I,H,W], [O,I,K,K] -> [N,O,2H,2W].

    Transposed stride-2 convolution (no kernel flip) then the FIR filter, as in the
    official networks; a 1x1 kernel is a plain convolution followed by upsampling.
    """
    k = weight.shape[-1]
    if k == 1:
        return upsample2d(tnf.conv2d(x, weight), f)
    taps = f.shape[-1]
    # Padding arithmetic of the official conv2d_resample for up=2 and padding=k//2.
    p0 = k // 2 + (taps + 1) // 2 - (k - 1)
    p1 = k // 2 + (taps - 2) // 2 - (k - 2)
    x = tnf.conv_transpose2d(x, weight.transpose(0, 1), stride=2)  # [N, O, 2H+K-2, 2W+K-2]
    return upfirdn2d(x, f, pad=(p0, p1, p0, p1), gain=4)


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     demodulate: bool = True, up: int = 1, resample_filter: torch.Tensor | None = None,
                     noise: torch.Tensor | None = None) -> torch.Tensor:
    """StyleGAN2 weight (de)modulation (paper Sec. 2.2, eq. 1-3) as scale-conv-scale.

    x: [N, I, H, W]; weight: [O, I, K, K]; styles: [N, I]; noise broadcastable to the output.
    Equivalent to the grouped per-sample convolution but uses one shared kernel.
    """
    n = x.shape[0]
    o, i, k, _ = weight.shape
    if x.dtype == torch.float16 and demodulate:
        # Pre-normalise so the fp16 products cannot overflow; demodulation cancels the scale.
        weight = weight * (1 / math.sqrt(i * k * k) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    dcoefs = None
    if demodulate:
        wmod = weight.unsqueeze(0) * styles.reshape(n, 1, i, 1, 1)  # [N, O, I, K, K]
        dcoefs = (wmod.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [N, O]
    x = x * styles.to(x.dtype).reshape(n, i, 1, 1)
    w = weight.to(x.dtype)
    if up == 1:
        x = tnf.conv2d(x, w, padding=k // 2)
    else:
        assert up == 2 and resample_filter is not None
        x = conv2d_up2(x, w, resample_filter)
    if dcoefs is not None:
        x = x * dcoefs.to(x.dtype).reshape(n, o, 1, 1)
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root-mean-square (the mapping network's input norm)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()
