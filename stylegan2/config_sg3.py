"""The typed configuration a StyleGAN3 (alias-free) generator is built from, and its layer schedule.

StyleGAN3 (Karras et al. 2021, "Alias-Free Generative Adversarial Networks") derives every
layer's cutoff, stopband, sampling rate, size and channel count from a handful of numbers
(paper Sec. 3.2 and Appendix F); `layer_specs()` computes that schedule so that a reader can
check a file against it and `networks_sg3.py` can build the layers. Defaults are those of the
stylegan3 repo's `networks_stylegan3.py` and `train.py` (config T; R = `conv_kernel=1`,
`use_radial_filters=True`, and twice the channels).

Layer naming (NVIDIA's): `L{k}_{size}_{channels}` for k = 0 ... num_layers, preceded by the
Fourier-feature `input`. A layer's output is `size` x `size` pixels: its `sampling_rate`
pixels cover the image and `margin` pixels on every side extend beyond it (the last two
layers, which are critically sampled at the image resolution, have no margin).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from .errors import CheckpointError


@dataclass(frozen=True)
class LayerSpec:
    """One synthesis layer's place in the frequency schedule (all sizes in pixels, square)."""
    index: int  # k of `Lk`
    name: str  # NVIDIA's module name, `L{k}_{size}_{channels}`
    is_torgb: bool  # the last layer: 1x1 modulated conv to image channels, no demodulation
    is_critically_sampled: bool  # the last `num_critical` layers: cutoff = Nyquist, no radial filter
    in_channels: int
    out_channels: int
    in_size: int  # input map side, margin included
    out_size: int  # output map side, margin included
    in_sampling_rate: int  # samples per image side at the input
    out_sampling_rate: int  # samples per image side at the output (the image-covering part)
    in_cutoff: float
    out_cutoff: float
    in_half_width: float  # transition band half-widths of the filters
    out_half_width: float
    conv_kernel: int  # 3 (T) or 1 (R); always 1 for toRGB
    up_factor: int  # upsampling before the leaky ReLU
    down_factor: int  # downsampling after it
    up_taps: int  # FIR taps of up_filter (1 = no filter)
    down_taps: int
    down_radial: bool  # 2-D radially symmetric down filter (config R, non-critical layers)
    padding: tuple[int, int, int, int]  # (x0, x1, y0, y1) after upsampling; negative crops

    @property
    def margin(self) -> int:
        """Pixels of the output map beyond the image on each side."""
        return (self.out_size - self.out_sampling_rate) // 2


@dataclass
class StyleGAN3Config:
    z_dim: int = 512  # input latent size
    c_dim: int = 0  # conditioning label size; 0 = unconditional
    w_dim: int = 512  # intermediate latent (W) size
    img_resolution: int = 1024  # output size in pixels (square), a power of two
    img_channels: int = 3  # 3 for RGB
    mapping_layers: int = 2  # fully connected layers of the mapping network (stylegan3 default 2)
    mapping_lr_multiplier: float = 0.01  # equalised-lr factor of the mapping network
    w_avg_beta: float = 0.998  # EMA decay of the tracked mean w (training only)
    channel_base: int = 32768  # channels = rint(min(channel_base / 2 / cutoff, channel_max)); R: 65536
    channel_max: int = 512  # cap on channels per layer; R: 1024
    num_layers: int = 14  # synthesis layers before toRGB (paper: 14)
    num_critical: int = 2  # critically sampled layers at the end
    first_cutoff: float = 2.0  # cutoff of the first layer, in cycles per image side
    first_stopband: float = 2 ** 2.1  # stopband of the first layer
    last_stopband_rel: float = 2 ** 0.3  # last layer's stopband relative to its cutoff
    margin_size: int = 10  # pixels each layer computes beyond the image on every side
    output_scale: float = 0.25  # scale of the final image
    num_fp16_res: int = 4  # layers above img_resolution / 2^this ran in fp16 in training (informational)
    conv_kernel: int = 3  # 3 for config T, 1 for config R
    filter_size: int = 6  # FIR taps per unit of the resampling factor
    lrelu_upsampling: int = 2  # how much the leaky ReLU's temporary rate exceeds the layer's
    use_radial_filters: bool = False  # config R: radially symmetric 2-D down filters
    conv_clamp: float | None = 256  # clamp layer outputs to +-this
    magnitude_ema_beta: float = 0.999  # EMA decay of the input magnitude (training only)
    extra: dict = field(default_factory=dict)  # where the config came from (format, file kwargs)

    def __post_init__(self):
        res = self.img_resolution
        if not isinstance(res, int) or res < 4 or res & (res - 1):
            raise CheckpointError(f"img_resolution must be a power of two >= 4, got {res!r}")
        for name in ("w_dim", "img_channels", "channel_base", "channel_max", "num_layers", "mapping_layers",
                     "filter_size", "lrelu_upsampling"):
            if int(getattr(self, name)) <= 0:
                raise CheckpointError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.z_dim < 0 or self.c_dim < 0 or (self.z_dim == 0 and self.c_dim == 0):
            raise CheckpointError("a generator needs z_dim > 0 or c_dim > 0 (and neither negative)")
        if self.conv_kernel not in (1, 3):
            raise CheckpointError(f"conv_kernel must be 1 (config R) or 3 (config T), got {self.conv_kernel!r}")
        if not 0 <= self.num_critical < self.num_layers or self.margin_size < 0:
            raise CheckpointError("num_critical must be in [0, num_layers) and margin_size >= 0")

    # The mapping network is StyleGAN2's, with these fixed choices (networks_stylegan3.MappingNetwork).
    mapping_embed_features = property(lambda self: self.w_dim)
    mapping_layer_features = property(lambda self: self.w_dim)

    @property
    def family(self) -> str:
        return "StyleGAN3-R" if self.use_radial_filters else "StyleGAN3-T"

    @property
    def num_ws(self) -> int:
        """w rows: one for the input's transform, one per layer (num_layers + 1 including toRGB)."""
        return self.num_layers + 2

    @property
    def img_width(self) -> int:
        return self.img_resolution

    def layer_specs(self) -> list[LayerSpec]:
        """The frequency schedule of the synthesis layers L0 ... L{num_layers} (paper Appendix F)."""
        n, res = self.num_layers, self.img_resolution
        last_cutoff = res / 2  # Nyquist of the output
        last_stopband = last_cutoff * self.last_stopband_rel
        exponents = np.minimum(np.arange(n + 1) / (n - self.num_critical), 1)  # geometric ramp, then flat
        cutoffs = self.first_cutoff * (last_cutoff / self.first_cutoff) ** exponents
        stopbands = self.first_stopband * (last_stopband / self.first_stopband) ** exponents
        rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, res))))  # power of two >= 2 * stopband
        half_widths = np.maximum(stopbands, rates / 2) - cutoffs
        sizes = rates + self.margin_size * 2
        sizes[-2:] = res  # the critically sampled output layers have no margin
        channels = np.rint(np.minimum((self.channel_base / 2) / cutoffs, self.channel_max))
        channels[-1] = self.img_channels
        specs = []
        for k in range(n + 1):
            p = max(k - 1, 0)
            is_torgb = k == n
            critical = k >= n - self.num_critical
            kernel = 1 if is_torgb else self.conv_kernel
            tmp_rate = max(rates[p], rates[k]) * (1 if is_torgb else self.lrelu_upsampling)
            up = int(round(tmp_rate / rates[p]))
            down = int(round(tmp_rate / rates[k]))
            up_taps = self.filter_size * up if up > 1 and not is_torgb else 1
            down_taps = self.filter_size * down if down > 1 and not is_torgb else 1
            # Padding that makes the output exactly out_size, sample positions centred (Appendix C.3).
            pad_total = (int(sizes[k]) - 1) * down + 1
            pad_total -= (int(sizes[p]) + kernel - 1) * up
            pad_total += up_taps + down_taps - 2
            pad_lo = (pad_total + up) // 2
            pad_hi = pad_total - pad_lo
            out_ch = int(channels[k])
            specs.append(LayerSpec(
                index=k, name=f"L{k}_{int(sizes[k])}_{out_ch}", is_torgb=is_torgb, is_critically_sampled=critical,
                in_channels=int(channels[p]), out_channels=out_ch, in_size=int(sizes[p]), out_size=int(sizes[k]),
                in_sampling_rate=int(rates[p]), out_sampling_rate=int(rates[k]),
                in_cutoff=float(cutoffs[p]), out_cutoff=float(cutoffs[k]),
                in_half_width=float(half_widths[p]), out_half_width=float(half_widths[k]),
                conv_kernel=kernel, up_factor=up, down_factor=down, up_taps=up_taps, down_taps=down_taps,
                down_radial=self.use_radial_filters and not critical,
                padding=(pad_lo, pad_hi, pad_lo, pad_hi)))
        return specs

    def input_spec(self) -> dict:
        """The Fourier-feature input: channels, size (margin included), sampling rate, bandwidth."""
        first = self.layer_specs()[0]
        return dict(channels=first.in_channels, size=first.in_size, sampling_rate=first.in_sampling_rate,
                    bandwidth=first.in_cutoff)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "StyleGAN3Config":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise CheckpointError(f"unknown StyleGAN3 config keys {sorted(unknown)}; "
                                  "the file was written by a newer version or is corrupt")
        try:
            return cls(**d)
        except TypeError as e:
            raise CheckpointError(f"invalid StyleGAN3 config: {e}") from None
