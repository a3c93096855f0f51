"""Pictures of a generator's feature maps for the researchers' view, as pure functions.

generator features (worker) -> here -> GUI textures. `pca_rgb` shows a block's
feature map F [1, C, h, w] as colours (its first three principal components);
`similarity_map` shows how close every feature is to the one at a query pixel,
in the distance the tracking uses (L1, paper Sec. 3.3) or as a cosine;
`colormap` turns such a map into colours.

Dimension legend: C channels, h/w feature-map size, H/W image size, N = h*w.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .engine.sampling import sample_image_res
from .engine.session import image_part

METRICS = ("l1", "cosine")
PCA_PERCENTILE = 1.0  # %, both tails clipped so a few outliers do not wash out the colours
PCA_MIN_RANGE = 0.1  # a component is stretched at most to 1/0.1 times the first one's contrast
# Control points of the heat map colour scale (dark = dissimilar, bright = similar), an inferno-like ramp.
HEAT_STOPS = np.array([[0, 0, 4], [60, 12, 100], [150, 38, 100], [230, 90, 40], [250, 200, 40],
                       [252, 255, 164]], dtype=np.float64)


def _check_feat(feat: torch.Tensor) -> torch.Tensor:
    if feat.ndim == 3:
        feat = feat.unsqueeze(0)
    if feat.ndim != 4 or feat.shape[0] != 1:
        raise ValueError(f"feature map must be [1, C, h, w], got {tuple(feat.shape)}")
    return feat.detach().float()


def pca_rgb(feat: torch.Tensor) -> np.ndarray:
    """The first three principal components of the channels, as RGB: uint8 [h, w, 3].

    Each component's sign is fixed (its largest loading positive) so that colours stay
    put from one step to the next instead of flipping.
    """
    feat = _check_feat(feat)
    _, c, h, w = feat.shape
    x = feat[0].reshape(c, h * w).t().double()  # [N, C]
    x = x - x.mean(0, keepdim=True)
    cov = x.t() @ x / max(h * w - 1, 1)  # [C, C]
    _, vecs = torch.linalg.eigh(cov)  # ascending eigenvalues
    k = min(3, c)
    comps = vecs[:, -k:].flip(1)  # [C, k], largest first
    big = comps.abs().argmax(0)
    signs = torch.sign(comps[big, torch.arange(k)])
    comps = comps * torch.where(signs == 0, torch.ones_like(signs), signs)
    proj = (x @ comps).numpy()  # [N, k]
    lo, hi = np.percentile(proj, [PCA_PERCENTILE, 100 - PCA_PERCENTILE], axis=0)  # [k] each
    scale = np.maximum(hi - lo, PCA_MIN_RANGE * (hi[0] - lo[0]) + 1e-12)  # weak components stay grey, not noise
    out = np.full((h * w, 3), 0.5)
    out[:, :k] = np.clip(0.5 + (proj - (lo + hi) / 2) / scale, 0, 1)
    return (out.reshape(h, w, 3) * 255).round().astype(np.uint8)


def similarity_map(feat: torch.Tensor, size: tuple[int, int], query, metric: str = "l1") -> np.ndarray:
    """Similarity of every feature to the one at image pixel `query` (x, y): float32 [h, w] in [0, 1].

    The query feature is read from the map resized to the image size (as the engine
    reads handles); the map itself is compared at its own resolution. The raw score is
    minus the L1 distance ("l1", what the tracking minimises, paper Sec. 3.3) or the
    cosine similarity ("cosine"); it is shown as 1 at the best match (the query itself)
    falling to 0 at the median score, so that the few close matches stand out.
    """
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {METRICS}, got {metric!r}")
    feat = _check_feat(feat)
    _, c, h, w = feat.shape
    q = sample_image_res(feat, size, torch.tensor([[float(query[0]), float(query[1])]], dtype=feat.dtype))  # [1, C]
    f = feat[0].reshape(c, h * w).t()  # [N, C]
    if metric == "l1":
        score = -(f - q).abs().sum(-1)  # [N]
    else:
        score = torch.nn.functional.cosine_similarity(f, q, dim=-1, eps=1e-12)
    top, mid = score.max(), score.median()
    sim = ((score - mid) / (top - mid).clamp(min=1e-12)).clamp(0, 1)
    return sim.reshape(h, w).numpy().astype(np.float32)


def colormap(values: np.ndarray) -> np.ndarray:
    """Values in [0, 1] -> uint8 [..., 3] on the heat scale (piecewise linear between HEAT_STOPS)."""
    v = np.clip(np.nan_to_num(np.asarray(values, dtype=np.float64)), 0, 1) * (len(HEAT_STOPS) - 1)
    i = np.minimum(v.astype(int), len(HEAT_STOPS) - 2)
    t = (v - i)[..., None]
    return (HEAT_STOPS[i] * (1 - t) + HEAT_STOPS[i + 1] * t).round().astype(np.uint8)


@dataclass(frozen=True, eq=False)
class FeatureView:
    block: int  # feature block resolution shown
    channels: int  # C of that block
    pca: np.ndarray  # uint8 [b, b, 3] first three principal components as RGB
    heat: np.ndarray | None  # uint8 [b, b, 3] similarity to the query feature, colour-mapped
    query: tuple[float, float] | None  # image px of the query
    metric: str
    version: int  # increases with every new view (texture upload key)


class FeatureViewer:
    """The researchers' view of one latent: the block's features are computed once per latent and block."""

    def __init__(self):
        self._key = None  # (latent version, block) of the cached features
        self._feat: torch.Tensor | None = None  # [1, C, b, b] on the host
        self._pca: np.ndarray | None = None
        self._version = 0

    def view(self, G, ws: torch.Tensor, noise_mode: str, size: tuple[int, int], block: int,
             query: tuple[float, float] | None, metric: str, latent_version: int) -> FeatureView:
        key = (latent_version, block)
        if key != self._key:
            with torch.no_grad():
                out = G.synthesis.run(ws, noise_mode, feature_blocks=[block], render_image=False)
            self._feat = image_part(G, out.features[block], block).cpu()
            self._pca = pca_rgb(self._feat)
            self._key = key
        heat = colormap(similarity_map(self._feat, size, query, metric)) if query is not None else None
        self._version += 1
        return FeatureView(block, self._feat.shape[1], self._pca, heat, query, metric, self._version)
