"""Reference tensor ops of StyleGAN2 in plain PyTorch (no compiled kernels).

Sits under `layers.py`: bias + activation, FIR resampling (upfirdn2d) and the
modulated convolution, written from their definitions (CHECKPOINTS.md,
"Reference ops in words"), so they run on CPU, CUDA and MPS alike.

Dimension legend: N batch, C channels, H/W height/width, O/I output/input
channels of a convolution, K kernel size, F filter taps.
"""

from __future__ import annotations

import math
import weakref

import torch
import torch.nn.functional as tnf
from torch import nn

LRELU_SLOPE = 0.2  # leaky ReLU slope of every StyleGAN2 activation
LRELU_GAIN = math.sqrt(2.0)  # keeps the activation variance-preserving


def bias_act(x: torch.Tensor, b: torch.Tensor | None = None, act: str = "linear",
             gain: float | None = None, clamp: float | None = None, dim: int = 1,
             inplace: bool = False) -> torch.Tensor:
    """Add a bias along `dim`, apply `act` ('linear' or 'lrelu'), scale by gain, clamp.

    inplace: overwrite x, a tensor the caller has just made (without autograd: a large map is then
    not copied four times, which sets the peak memory of rendering an image).
    """
    if act not in ("linear", "lrelu"):
        raise ValueError(f"unknown activation {act!r}")
    if b is not None:
        shape = [1] * x.ndim
        shape[dim] = -1
        x = x.add_(b.to(x.dtype).reshape(shape)) if inplace else x + b.to(x.dtype).reshape(shape)
    if act == "lrelu":
        x = tnf.leaky_relu_(x, LRELU_SLOPE) if inplace else tnf.leaky_relu(x, LRELU_SLOPE)
        gain = LRELU_GAIN if gain is None else gain
    if gain is not None and gain != 1:
        x = x.mul_(gain) if inplace else x * gain
    if clamp is not None:
        x = x.clamp_(-clamp, clamp) if inplace else x.clamp(-clamp, clamp)
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
    # A symmetric zero pad of a 2-D filter is the convolution's own padding: no padded copy of x.
    fused = f is not None and f.ndim == 2 and px0 == px1 >= 0 and py0 == py1 >= 0
    if not fused:
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
        # A contiguous [C, 1, F, F] kernel: an expanded (stride-0) one makes oneDNN copy or fall back.
        f = (f * gain ** (f.ndim / 2)).to(x.dtype).flip([0, 1])
        f = f[None, None].expand(c, 1, *f.shape).contiguous()
        x = tnf.conv2d(x, f, groups=c, padding=(py0, px0) if fused else 0)
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
    The weight is used in x's dtype.
    """
    k = weight.shape[-1]
    if k == 1:
        return upsample2d(tnf.conv2d(x, weight.to(x.dtype)), f)
    taps = f.shape[-1]
    # Padding arithmetic of the official conv2d_resample for up=2 and padding=k//2.
    p0 = k // 2 + (taps + 1) // 2 - (k - 1)
    p1 = k // 2 + (taps - 2) // 2 - (k - 2)
    # oneDNN copies a transposed view on every call (a third of an up-convolution at 512 channels, measured),
    # so a frozen weight is stored transposed, once (same values and shape; a kept copy cost 44 MB at 256 px)
    if (isinstance(weight, nn.Parameter) and not weight.requires_grad and weight.dtype == x.dtype
            and not weight.transpose(0, 1).is_contiguous()):
        with torch.no_grad():
            weight.data = weight.data.transpose(0, 1).contiguous().transpose(0, 1)
    if weight.dtype == x.dtype and weight.transpose(0, 1).is_contiguous():
        wt = weight.transpose(0, 1)
    else:
        wt = derived(weight, ("transposed", x.dtype), lambda w: w.to(x.dtype).transpose(0, 1).contiguous())
    x = tnf.conv_transpose2d(x, wt, stride=2)  # [N, O, 2H+K-2, 2W+K-2]
    return upfirdn2d(x, f, pad=(p0, p1, p0, p1), gain=4)


_DERIVED: dict[tuple, tuple] = {}  # (id(weight), tag) -> (weight's state, value); entries leave with their weight


def derived(weight: torch.Tensor, tag, fn):
    """fn(weight): a function of a frozen parameter, computed once and kept until the parameter changes.

    The drag step reads the same weights every step; what it derives from them (a transposed copy,
    a cast, the sums of squares for demodulation) is then worth keeping. A weight that requires grad
    or is not a parameter (a cast made on the fly) gets fn(weight) afresh, so autograd sees it.
    fn must return a new tensor, never `weight` itself (the cache must not keep the parameter alive).
    """
    if weight.requires_grad or not isinstance(weight, nn.Parameter):
        return fn(weight)
    state = (weight._version, weight.data_ptr(), weight.dtype)  # in-place updates, `.to()` and `.data =`
    slot = (id(weight), tag)
    hit = _DERIVED.get(slot)
    if hit is None or hit[0] != state:
        if hit is None:
            weakref.finalize(weight, _DERIVED.pop, slot, None)
        with torch.inference_mode(False), torch.no_grad():  # a normal tensor even if first made under inference_mode
            hit = (state, fn(weight.detach()))
        _DERIVED[slot] = hit
    return hit[1]


def modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor,
                     demodulate: bool = True, up: int = 1, resample_filter: torch.Tensor | None = None,
                     noise: torch.Tensor | None = None) -> torch.Tensor:
    """StyleGAN2 weight (de)modulation (paper Sec. 2.2, eq. 1-3) as scale-conv-scale.

    x: [N, I, H, W]; weight: [O, I, K, K]; styles: [N, I]; noise broadcastable to the output.
    Equivalent to the grouped per-sample convolution but uses one shared kernel. The
    convolution runs in x's dtype, the demodulation in the styles' (float32).
    """
    n = x.shape[0]
    o, i, k, _ = weight.shape
    if x.dtype == torch.float16 and demodulate:
        # Pre-normalise so the fp16 products cannot overflow; demodulation cancels the scale.
        weight = weight * (1 / math.sqrt(i * k * k) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
    dcoefs = None
    if demodulate:
        # sum_{i,k} (w_oik s_i)^2 = sum_i s_i^2 sum_k w_oik^2: an [N, I] x [I, O] product instead of
        # the modulated weights [N, O, I, K, K] and their backward (40% of a CPU step at 256 px, measured)
        sumsq = derived(weight, "sum of squares", lambda w: w.square().sum(dim=[2, 3]))  # [O, I]
        dcoefs = (styles.square() @ sumsq.t() + 1e-8).rsqrt()  # [N, O]
    x = x * styles.to(x.dtype).reshape(n, i, 1, 1)
    if up == 1:
        w = weight if weight.dtype == x.dtype else derived(weight, ("cast", x.dtype), lambda v: v.to(x.dtype))
        x = tnf.conv2d(x, w, padding=k // 2)
    else:
        assert up == 2 and resample_filter is not None
        x = conv2d_up2(x, weight, resample_filter)
    inplace = not torch.is_grad_enabled()  # x is the convolution's own output: no copies of it without autograd
    if dcoefs is not None:
        scale = dcoefs.to(x.dtype).reshape(n, o, 1, 1)
        x = x.mul_(scale) if inplace else x * scale
    if noise is not None:
        x = x.add_(noise.to(x.dtype)) if inplace else x + noise.to(x.dtype)
    return x


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    """Scale each vector to unit root-mean-square (the mapping network's input norm)."""
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()
