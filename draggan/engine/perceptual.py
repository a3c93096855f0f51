"""Image distances for GAN inversion that need no downloaded weights: pixel, MS-SSIM, random VGG, D features.

picture + generator output -> here -> `inversion.Inversion`. LPIPS needs an ImageNet network we cannot
download, so the perceptual terms are what is honestly available offline: MS-SSIM (Wang et al. 2003),
features of a VGG-style network with random weights, channel-normalised (Amir & Weiss, CVPR 2021: the
perceptual distance of random deep features is close to a trained VGG's), and the features of the
checkpoint's own discriminator. A loss spec is a '+'-joined list of optionally weighted terms,
e.g. "l1+msssim" or "l2+0.5*vgg".

Dimension legend: N batch, C channels, H/W image size; images are float in [-1, 1].
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as tnf
from torch import nn

from ..errors import DragGANError

LOSS_TERMS = ("l1", "l2", "msssim", "vgg", "d")
# Wang, Simoncelli & Bovik 2003, Table / Sec. 3.2: the weights of the 5 scales, and the 11-tap sigma 1.5 window.
MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K = (0.01, 0.03)  # stabilising constants, times the data range (Wang et al. 2004)
VGG_WIDTHS = (16, 32, 64, 128, 128)  # channels per stage: VGG-16's layout (2, 2, 3, 3, 3 convs) at 1/4 width
VGG_CONVS = (2, 2, 3, 3, 3)
FEATURE_EPS = 1e-8  # absolute floor of a channel's unit (an all-zero layer)
FEATURE_FLOOR = 0.1  # relative floor of a channel's unit: a share of its layer's mean rms (ours)


def parse_loss(spec: str) -> list[tuple[float, str]]:
    """"l1+0.5*vgg" -> [(1.0, 'l1'), (0.5, 'vgg')], or DragGANError saying what is allowed."""
    if not isinstance(spec, str) or not spec.strip():
        raise DragGANError(f"loss must be terms from {LOSS_TERMS} joined by '+', e.g. 'l1+msssim'; got {spec!r}")
    terms = []
    for part in spec.replace(" ", "").lower().split("+"):
        weight, _, name = part.rpartition("*")
        try:
            w = float(weight) if weight else 1.0
        except ValueError:
            w = float("nan")
        if name not in LOSS_TERMS or not math.isfinite(w) or w <= 0 or w > 1e6:
            raise DragGANError(f"unknown loss term {part!r} in {spec!r}: use {', '.join(LOSS_TERMS)}, each "
                               f"optionally weighted as '0.5*vgg' (a weight in (0, 1e6]), joined by '+'")
        if name in [n for _, n in terms]:
            raise DragGANError(f"the loss term {name!r} appears twice in {spec!r}")
        terms.append((w, name))
    return terms


# ---- MS-SSIM ----

def _gaussian(size: int, sigma: float, device) -> torch.Tensor:
    x = torch.arange(size, device=device, dtype=torch.float32) - (size - 1) / 2
    g = torch.exp(-x.square() / (2 * sigma ** 2))
    return g / g.sum()  # [size]


def msssim_scales(height: int, width: int, window: int = SSIM_WINDOW) -> int:
    """How many scales fit: the coarsest must still hold one window (64 px: 3 of the 5)."""
    side, scales = min(height, width), 1
    while scales < len(MSSSIM_WEIGHTS) and side // 2 >= window:
        side //= 2
        scales += 1
    return scales


def _ssim_parts(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor, data_range: float):
    """Per-channel mean SSIM and contrast-structure (cs) over valid windows: ([N, C], [N, C])."""
    C = x.shape[1]
    gh = g.view(1, 1, 1, -1).repeat(C, 1, 1, 1)  # separable Gaussian, one filter per channel
    gv = g.view(1, 1, -1, 1).repeat(C, 1, 1, 1)

    def blur(t):
        return tnf.conv2d(tnf.conv2d(t, gh, groups=C), gv, groups=C)

    c1, c2 = (SSIM_K[0] * data_range) ** 2, (SSIM_K[1] * data_range) ** 2
    mx, my = blur(x), blur(y)
    vx, vy, cov = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    cs = (2 * cov + c2) / (vx + vy + c2)
    ssim = (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
    return ssim.mean(dim=(2, 3)), cs.mean(dim=(2, 3))


def ms_ssim(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0, scales: int | None = None) -> torch.Tensor:
    """MS-SSIM of [N, C, H, W] images -> [N] (Wang et al. 2003); fewer scales when the image is small.

    The scales used get the paper's weights of the finest ones, renormalised to sum to 1; a window
    larger than the image shrinks to it. Negative cs / SSIM values are clamped to 0 before the powers.
    """
    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(f"ms_ssim needs two [N, C, H, W] images of one shape, got {tuple(x.shape)}, {tuple(y.shape)}")
    H, W = x.shape[-2:]
    window = min(SSIM_WINDOW, H, W)
    window -= 1 - window % 2  # odd
    m = scales if scales is not None else msssim_scales(H, W, window)
    weights = torch.tensor(MSSSIM_WEIGHTS[:m], device=x.device)
    weights = weights / weights.sum()
    g = _gaussian(window, SSIM_SIGMA, x.device)
    values = []
    for i in range(m):
        ssim, cs = _ssim_parts(x, y, g, data_range)
        values.append((ssim if i == m - 1 else cs).clamp_min(0).mean(dim=1))  # [N], mean over channels
        if i < m - 1:
            x, y = tnf.avg_pool2d(x, 2), tnf.avg_pool2d(y, 2)
    return torch.stack(values, dim=-1).pow(weights).prod(dim=-1)  # [N]


# ---- random-weight VGG ----

class RandomVGG(nn.Module):
    """VGG-16's conv layout (3x3 convs + ReLU, 2x2 max pools) at reduced width with fixed random weights.

    `features(x)` returns each stage's last ReLU output (LPIPS' relu1_2 ... relu5_3 taps). He-normal
    weights from `seed`: the same seed gives the same network on every machine.
    """

    def __init__(self, seed: int = 0, widths=VGG_WIDTHS, convs=VGG_CONVS):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        self.stages = nn.ModuleList()
        c_in = 3
        for width, n in zip(widths, convs):
            layers = []
            for _ in range(n):
                conv = nn.Conv2d(c_in, width, 3, padding=1)
                with torch.no_grad():
                    conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * math.sqrt(2 / (c_in * 9)))
                    conv.bias.zero_()
                layers += [conv, nn.ReLU()]
                c_in = width
            self.stages.append(nn.Sequential(*layers))
        self.requires_grad_(False).eval()

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for i, stage in enumerate(self.stages):
            if i > 0:
                if min(x.shape[-2:]) < 2:
                    break  # a small image runs out of resolution before the last stage
                x = tnf.max_pool2d(x, 2)
            x = stage(x)
            out.append(x)
        return out


def normalised_distance(feats: list[torch.Tensor], ref: list[torch.Tensor], scales: list[torch.Tensor]) -> torch.Tensor:
    """Mean over layers of the mean squared difference, each channel in units of its rms on the reference."""
    terms = [((f - r) / s).square().mean(dim=(1, 2, 3)) for f, r, s in zip(feats, ref, scales)]
    return torch.stack(terms, dim=-1).mean(dim=-1)  # [N]


def channel_units(feats: list[torch.Tensor]) -> list[torch.Tensor]:
    """Per-channel rms [1, C, 1, 1] of each reference map: the unit each channel is measured in.

    Floored at FEATURE_FLOOR x the layer's mean rms, so a channel that is (nearly) silent on the
    reference cannot turn a small response on the reconstruction into a huge loss.
    """
    out = []
    for f in feats:
        rms = f.square().mean(dim=(0, 2, 3), keepdim=True).sqrt()  # [1, C, 1, 1]
        out.append(rms.clamp_min(FEATURE_FLOOR * float(rms.mean()) + FEATURE_EPS))
    return out


def vgg_distance(vgg: RandomVGG, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Random-VGG distance of [N, 3, H, W] images -> [N] (0 for identical images), channels in y's units."""
    fy = vgg.features(y)
    return normalised_distance(vgg.features(x), fy, channel_units(fy))


def d_features(D, x: torch.Tensor, blocks=None) -> list[torch.Tensor]:
    """The discriminator's intermediate maps of [N, C, H, W] images in [-1, 1], finest first."""
    feats = D.features(x, blocks)
    return [feats[k] for k in sorted(feats, reverse=True)]


# ---- the loss an inversion minimises ----

class ImageLoss:
    """A weighted sum of LOSS_TERMS against one fixed target: `loss(img) -> [N]` (lower is closer).

    The target's features and channel units are computed once. vgg runs at most at `feature_size`
    px (area-downsampled above it, as NVIDIA's projector does for LPIPS); d runs at D's own size.
    """

    def __init__(self, spec: str, target: torch.Tensor, D=None, seed: int = 0, feature_size: int = 256,
                 d_blocks=None):
        self.terms = parse_loss(spec)
        self.target = target  # [1, C, H, W] in [-1, 1]
        self.feature_size = feature_size
        self.d_blocks = d_blocks
        names = [n for _, n in self.terms]
        self.vgg = self.D = None
        if "vgg" in names:
            self.vgg = RandomVGG(seed).to(target.device)
            self._vgg_ref = self.vgg.features(self._small(self._rgb(target)))
            self._vgg_scale = channel_units(self._vgg_ref)
        if "d" in names:
            if D is None or not callable(getattr(D, "features", None)):
                raise DragGANError("the 'd' loss needs the checkpoint's discriminator; this checkpoint has none "
                                   "that could be read: choose another loss (e.g. l1+msssim)")
            self.D = D
            with torch.no_grad():
                self._d_ref = d_features(D, target, d_blocks)
            self._d_scale = channel_units(self._d_ref)

    @staticmethod
    def _rgb(x: torch.Tensor) -> torch.Tensor:
        return x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x[:, :3]

    def _small(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        f = max(H, W) / self.feature_size
        if f <= 1:
            return x
        return tnf.interpolate(x, size=(max(1, round(H / f)), max(1, round(W / f))), mode="area")

    def term(self, name: str, img: torch.Tensor) -> torch.Tensor:
        t = self.target
        if name == "l1":
            return (img - t).abs().mean(dim=(1, 2, 3))
        if name == "l2":
            return (img - t).square().mean(dim=(1, 2, 3))
        if name == "msssim":
            return 1 - ms_ssim(img, t.expand_as(img))
        if name == "vgg":
            return normalised_distance(self.vgg.features(self._small(self._rgb(img))), self._vgg_ref,
                                       self._vgg_scale)
        return normalised_distance(d_features(self.D, img, self.d_blocks), self._d_ref, self._d_scale)

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        return sum(w * self.term(n, img) for w, n in self.terms)


def psnr(x: torch.Tensor, y: torch.Tensor, data_range: float = 2.0) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of [N, C, H, W] images -> [N] (inf for identical images)."""
    mse = (x - y).square().mean(dim=(1, 2, 3))
    return 10 * torch.log10(data_range ** 2 / mse)

