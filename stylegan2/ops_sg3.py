"""Reference tensor ops of StyleGAN3 in plain PyTorch: filter design, filtered leaky ReLU,
and the modulated convolution with magnitude normalisation.

Sits under `networks_sg3.py`, next to StyleGAN2's `ops.py` (whose `upfirdn2d` and
`bias_act` it reuses). No compiled kernels: `filtered_lrelu` is the composition the
paper describes (Sec. 3.2, Fig. 4b): upsample, bias + leaky ReLU + gain + clamp on the
upsampled signal, then low-pass and downsample, which suppresses the aliasing the
nonlinearity would otherwise introduce.

Dimension legend: N batch, C channels, H/W height/width, O/I output/input channels,
K kernel size, F filter taps.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as tnf

from .ops import bias_act, upfirdn2d


def _kaiser_beta(numtaps: int, width: float) -> float:
    """Kaiser window beta for `numtaps` taps and a transition width (fraction of Nyquist).

    Kaiser's empirical formulas (as in scipy.signal.kaiser_atten / kaiser_beta).
    """
    atten = 2.285 * (numtaps - 1) * math.pi * width + 7.95  # stopband attenuation in dB
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def design_lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float,
                          radial: bool = False) -> torch.Tensor | None:
    """Kaiser-windowed low-pass FIR filter, normalised to unit DC gain (paper Sec. 3.2, App. C).

    Separable: a 1-D windowed sinc [F] (scipy.signal.firwin with `width`). Radial (config R):
    a 2-D jinc [F, F] windowed by the outer product of the 1-D Kaiser window. One tap = no filter.
    """
    if numtaps < 1:
        raise ValueError(f"numtaps must be >= 1, got {numtaps}")
    if numtaps == 1:
        return None
    nyquist = fs / 2
    window = np.kaiser(numtaps, _kaiser_beta(numtaps, width / nyquist))
    if not radial:
        m = np.arange(numtaps) - (numtaps - 1) / 2
        c = cutoff / nyquist
        f = c * np.sinc(c * m) * window
    else:
        x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
        r = torch.from_numpy(np.hypot(*np.meshgrid(x, x)))  # never 0: the taps are even in number
        f = (torch.special.bessel_j1(2 * cutoff * math.pi * r) / (math.pi * r)).numpy()
        f = f * np.outer(window, window)
    return torch.as_tensor(f / np.sum(f), dtype=torch.float32)


def filtered_lrelu(x: torch.Tensor, fu: torch.Tensor | None, fd: torch.Tensor | None, b: torch.Tensor,
                   up: int = 1, down: int = 1, padding: tuple[int, int, int, int] = (0, 0, 0, 0),
                   gain: float = math.sqrt(2), slope: float = 0.2, clamp: float | None = None) -> torch.Tensor:
    """Bias, `up`x upsampling with fu, leaky ReLU (slope, gain, clamp), fd filter, `down`x decimation.

    x: [N, C, H, W]; fu/fd: [F] separable or [F, F] (radial), None = no filter; b: [C];
    padding (x0, x1, y0, y1) is applied after zero insertion (negative values crop).
    Output: [N, C, (H*up + x0 + x1 - Fu - Fd + 2) / down, ...] (rounded up).
    """
    x = bias_act(x, b)  # the bias goes in before upsampling, so the filter sees it
    x = upfirdn2d(x, fu, up=up, pad=padding, gain=up * up)  # gain up^2 restores the zero-inserted energy
    x = tnf.leaky_relu(x, slope) if slope != 1 else x
    x = bias_act(x, gain=gain, clamp=clamp)
    return upfirdn2d(x, fd, down=down)


def modulated_conv2d_sg3(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                         padding: int = 0, input_gain: torch.Tensor | None = None) -> torch.Tensor:
    """StyleGAN3's modulated convolution as a grouped per-sample convolution.

    x: [N, I, H, W]; weight: [O, I, K, K]; styles: [N, I]; input_gain: [] (1/sqrt of the tracked
    input magnitude, `magnitude_ema`), folded into the weights. Before demodulation the weight and the
    styles are brought to unit RMS (the styles over the whole batch, as the official code does); that
    only shows through the 1e-8 epsilon, and is kept so outputs match the authors' to float precision.
    """
    n, i = styles.shape
    o, _, k, _ = weight.shape
    if demodulate:
        weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        styles = styles * styles.square().mean().rsqrt()
    w = weight.unsqueeze(0) * styles.reshape(n, 1, i, 1, 1)  # [N, O, I, K, K]
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    if input_gain is not None:
        w = w * input_gain
    x = tnf.conv2d(x.reshape(1, n * i, *x.shape[2:]), w.reshape(n * o, i, k, k).to(x.dtype),
                   padding=padding, groups=n)
    return x.reshape(n, o, *x.shape[2:])
