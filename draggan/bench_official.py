"""The authors' drag step as a cost model: what one step of their `viz/renderer.py` pays.

`draggan bench` times it as the 'official' variant, next to our engine, so that the speed-up over
the authors' code is one command. It reproduces their work per step (ALGORITHM.md, "Where the
official code differs"), not a result we use:

- the generator is rebuilt from the pickle and never frozen, so its weights require grad and the
  backward pass also fills (and accumulates) the weight gradients of every block below the feature map;
- nor set to eval(), so their modulated convolution takes its unfused path (`fused_modconv` is off in
  training mode): demodulation from the modulated weights [N, O, I, K, K], forward and backward
  (`authors_modulated_conv2d`; our ops compute it as a small product, which the cost model must not);
- the whole synthesis runs with autograd, image included, every step;
- the whole feature map is resized bilinearly to the image size (F.interpolate) and sliced there;
- per handle, in Python: the tracking window's L2 norm and torch.min with `.item()`, the disk from
  torch.linspace grids built on the host each step, F.grid_sample and F.l1_loss;
- the image is converted to uint8 and copied to the host every step (their GUI shows every step).

Supervision and tracking use the same feature block and radii as our engine, so the two variants
differ in how the step is computed, not in what it computes. Dimension legend: n handles,
L num_ws, D w_dim, C channels, H/W image size.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
import torch.nn.functional as F

import stylegan2.layers as sg2_layers
from stylegan2.ops import conv2d_up2

OFFICIAL_LAYERS = 6  # their renderer optimises ws[:, :6] (paper Sec. 3.4)
OFFICIAL_LR = 1e-3  # their GUI's default step size


def authors_modulated_conv2d(x: torch.Tensor, weight: torch.Tensor, styles: torch.Tensor, demodulate: bool = True,
                             up: int = 1, resample_filter: torch.Tensor | None = None,
                             noise: torch.Tensor | None = None) -> torch.Tensor:
    """Their networks_stylegan2.modulated_conv2d with fused_modconv=False (a generator in training mode).

    x [N, I, H, W], weight [O, I, K, K], styles [N, I]; the same values as stylegan2.ops.modulated_conv2d.
    """
    n = x.shape[0]
    o, i, k, _ = weight.shape
    w = weight.unsqueeze(0) * styles.reshape(n, 1, -1, 1, 1)  # [N, O, I, K, K], computed whenever demodulating
    dcoefs = (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt() if demodulate else None  # [N, O]
    x = x * styles.to(x.dtype).reshape(n, -1, 1, 1)
    if up == 1:
        x = F.conv2d(x, weight.to(x.dtype), padding=k // 2)
    else:
        x = conv2d_up2(x, weight.to(x.dtype), resample_filter)
    if dcoefs is not None:
        x = x * dcoefs.to(x.dtype).reshape(n, -1, 1, 1)
    if noise is not None:
        x = x + noise.to(x.dtype)
    return x


@contextlib.contextmanager
def authors_ops():
    """Run our generator with the authors' modulated convolution (their cost), for the length of one step."""
    ours = sg2_layers.modulated_conv2d
    sg2_layers.modulated_conv2d = authors_modulated_conv2d
    try:
        yield
    finally:
        sg2_layers.modulated_conv2d = ours


class OfficialStep:
    """One drag on `G` the authors' way; `step()` is one frame of their renderer with dragging on."""

    def __init__(self, G, ws: torch.Tensor, block: int, r1: float, r2: float, handles: np.ndarray,
                 targets: np.ndarray, noise_mode: str = "const"):
        self.G = G.requires_grad_(True)  # their get_network() rebuilds G and never calls requires_grad_(False)
        self.block, self.r1, self.r2, self.noise_mode = block, r1, r2, noise_mode
        self.w0 = ws.detach().clone()  # [1, L, D]
        self.w = ws.detach().clone().requires_grad_(True)  # the whole W+ is the Adam parameter, as theirs
        self.optimizer = torch.optim.Adam([self.w], lr=OFFICIAL_LR)
        # their points are [row, column] = [y, x], whole pixels
        self.points = [[round(float(p[1])), round(float(p[0]))] for p in handles]
        self.targets = [[round(float(t[1])), round(float(t[0]))] for t in targets]
        self.feat_refs = None

    def step(self) -> np.ndarray:
        """Track, supervise, Adam step; -> the uint8 image [H, W, 3] on the host."""
        with authors_ops():
            return self._step()

    def _step(self) -> np.ndarray:
        G, device = self.G, self.w.device
        ws = torch.cat([self.w[:, :OFFICIAL_LAYERS], self.w0[:, OFFICIAL_LAYERS:]], dim=1)  # [1, L, D]
        out = G.synthesis.run(ws, self.noise_mode, feature_blocks=[self.block], render_image=True)
        img, feat = out.img, out.features[self.block]
        h, w = G.img_size
        X, Y = torch.linspace(0, h, h), torch.linspace(0, w, w)
        xx, yy = torch.meshgrid(X, Y, indexing="ij")
        feat_resize = F.interpolate(feat, [h, w], mode="bilinear")  # [1, C, H, W] with autograd
        if self.feat_refs is None:
            feat0_resize = F.interpolate(feat.detach(), [h, w], mode="bilinear")
            self.feat_refs = [feat0_resize[:, :, p[0], p[1]] for p in self.points]  # [1, C] each
        with torch.no_grad():  # point tracking: nearest neighbour in L2, one handle at a time
            r = round(self.r2)
            for j, point in enumerate(self.points):
                up, down = max(point[0] - r, 0), min(point[0] + r + 1, h)
                left, right = max(point[1] - r, 0), min(point[1] + r + 1, w)
                feat_patch = feat_resize[:, :, up:down, left:right]
                dist = torch.linalg.norm(feat_patch - self.feat_refs[j].reshape(1, -1, 1, 1), dim=1)
                _, idx = torch.min(dist.view(1, -1), -1)
                width = right - left
                self.points[j] = [idx.item() // width + up, idx.item() % width + left]
        loss = 0
        for point, target in zip(self.points, self.targets):  # motion supervision, one handle at a time
            direction = torch.Tensor([target[1] - point[1], target[0] - point[0]])
            norm = torch.linalg.norm(direction)
            bool(norm > max(2 / 512 * h, 2))  # their stop test; always stepping here, so the time is comparable
            distance = ((xx.to(device) - point[0]) ** 2 + (yy.to(device) - point[1]) ** 2) ** 0.5
            relis, reljs = torch.where(distance < round(self.r1))
            direction = direction / (norm + 1e-7)
            gridh = (relis + direction[1].to(device)) / (h - 1) * 2 - 1
            gridw = (reljs + direction[0].to(device)) / (w - 1) * 2 - 1
            grid = torch.stack([gridw, gridh], dim=-1).unsqueeze(0).unsqueeze(0)
            shifted = F.grid_sample(feat_resize.float(), grid, align_corners=True).squeeze(2)
            loss = loss + F.l1_loss(feat_resize[:, :, relis, reljs].detach(), shifted)
        loss = loss + 0 * F.l1_loss(ws, self.w0)  # their latent regulariser (weight 0 in their GUI)
        self.optimizer.zero_grad()  # zeroes only w's gradient: G's weight gradients accumulate, as theirs
        loss.backward()
        self.optimizer.step()
        pixels = (img[0] * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(1, 2, 0)  # [H, W, C]
        return pixels.cpu().numpy()
