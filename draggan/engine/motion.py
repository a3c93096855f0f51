"""Motion supervision (paper Sec. 3.2, eq. 1) and point tracking (Sec. 3.3) as pure functions.

Both read a block feature map F [1, C, h, w] at image-resolution positions
through `sampling`, vectorised over handles; the `*_reference` functions are
per-point loops over a full-size map, kept only to test the fast versions.

Dimension legend: n handles, C channels, h/w feature size, H/W image size,
P positions per handle (patch or window), all positions (x, y) in pixels.
"""

from __future__ import annotations

import math

import torch

from .sampling import pixels_image_res, sample_bilinear, sample_image_res, upsample


def directions(handles: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """d_i = (t_i - p_i) / ||t_i - p_i||, 0 where a handle sits on its target: [n, 2]."""
    delta = targets - handles
    norm = delta.norm(dim=-1, keepdim=True)
    return torch.where(norm > 1e-6, delta / norm.clamp(min=1e-6), torch.zeros_like(delta))


def disk_patch(centres: torch.Tensor, radius: float, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Omega1(p, r1): integer pixels q with ||q - p|| < r1, inside the image.

    -> positions [n, P, 2] over a fixed square of candidates, and a validity mask [n, P].
    """
    k = math.ceil(radius)
    off = torch.arange(-k, k + 1, device=centres.device, dtype=centres.dtype)
    grid = torch.stack(torch.meshgrid(off, off, indexing="xy"), dim=-1).reshape(-1, 2)  # [P, 2]
    q = centres.round().unsqueeze(1) + grid  # [n, P, 2]
    height, width = size
    inside = (q[..., 0] >= 0) & (q[..., 0] <= width - 1) & (q[..., 1] >= 0) & (q[..., 1] <= height - 1)
    valid = ((q - centres.unsqueeze(1)).norm(dim=-1) < radius) & inside
    return q, valid


def square_window(centres: torch.Tensor, radius: float, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Omega2(p, r2): integer pixels q with |q.x - p.x| < r2 and |q.y - p.y| < r2, clipped to the image."""
    k = math.ceil(radius)
    off = torch.arange(-k, k + 1, device=centres.device, dtype=centres.dtype)
    grid = torch.stack(torch.meshgrid(off, off, indexing="xy"), dim=-1).reshape(-1, 2)
    q = centres.round().unsqueeze(1) + grid  # [n, P, 2]
    height, width = size
    inside = (q[..., 0] >= 0) & (q[..., 0] <= width - 1) & (q[..., 1] >= 0) & (q[..., 1] <= height - 1)
    valid = ((q - centres.unsqueeze(1)).abs() < radius).all(dim=-1) & inside
    return q, valid


def motion_loss(feat: torch.Tensor, size: tuple[int, int], handles: torch.Tensor, targets: torch.Tensor,
                r1: float, reduction: str = "sum", active: torch.Tensor | None = None) -> torch.Tensor:
    """sum_i sum_{q in Omega1(p_i)} || F(q).detach() - F(q + d_i) ||_1 (paper eq. 1, first term).

    feat [1, C, h, w] with grad; handles/targets [n, 2]; active [n] bool (None = all).
    The gradient flows only through the shifted sample, pulling content from p toward t.
    """
    q, valid = disk_patch(handles, r1, size)  # [n, P, 2], [n, P]
    if active is not None:
        valid = valid & active.unsqueeze(1)
    d = directions(handles, targets).unsqueeze(1)  # [n, 1, 2]
    here = pixels_image_res(feat, size, q.reshape(-1, 2)).reshape(*q.shape[:2], -1).detach()  # [n, P, C]
    shifted = sample_image_res(feat, size, q + d)  # [n, P, C]
    per_pos = (shifted - here).abs().sum(-1) * valid  # [n, P]
    if reduction == "mean":  # official code: F.l1_loss, a mean over positions and channels
        return per_pos.sum() / (valid.sum().clamp(min=1) * feat.shape[1])
    return per_pos.sum()


def mask_loss(feat: torch.Tensor, feat0_full: torch.Tensor, fixed: torch.Tensor, reduction: str = "sum") -> torch.Tensor:
    """|| (F - F0) * (1 - M) ||_1 over the image (paper eq. 1, second term).

    feat [1, C, h, w]; feat0_full [1, C, H, W] (F0 at image size); fixed [H, W] = 1 - M.
    """
    full = upsample(feat, tuple(feat0_full.shape[-2:]))
    diff = (full - feat0_full).abs() * fixed
    if reduction == "mean":
        return diff.mean()
    return diff.sum()


def track_points(feat: torch.Tensor, size: tuple[int, int], handles: torch.Tensor, f0: torch.Tensor,
                 r2: float, distance: str = "l1") -> torch.Tensor:
    """Move each handle to the pixel of Omega2(p_i, r2) whose feature is nearest to f0_i (paper eq. 2).

    feat [1, C, h, w]; handles [n, 2]; f0 [n, C] initial handle features -> new handles [n, 2].
    """
    q, valid = square_window(handles, r2, size)  # [n, P, 2]
    with torch.no_grad():
        f = pixels_image_res(feat, size, q.reshape(-1, 2)).reshape(*q.shape[:2], -1)  # [n, P, C]
        diff = f - f0.unsqueeze(1)
        dist = diff.abs().sum(-1) if distance == "l1" else diff.square().sum(-1)
        dist = dist.masked_fill(~valid, float("inf"))
        best = dist.argmin(dim=1)  # [n]
    return q[torch.arange(q.shape[0], device=q.device), best]


# ---- reference implementations (per point, on the full-size map) for tests ----

def motion_loss_reference(feat: torch.Tensor, size, handles, targets, r1: float) -> torch.Tensor:
    full = upsample(feat, size)  # [1, C, H, W]
    height, width = size
    total = feat.new_zeros(())
    for p, t in zip(handles.tolist(), targets.tolist()):
        dx, dy = t[0] - p[0], t[1] - p[1]
        norm = math.hypot(dx, dy)
        d = (dx / norm, dy / norm) if norm > 1e-6 else (0.0, 0.0)
        for y in range(height):
            for x in range(width):
                if math.hypot(x - p[0], y - p[1]) >= r1:
                    continue
                here = full[0, :, y, x].detach()
                pos = torch.tensor([[x + d[0], y + d[1]]], dtype=feat.dtype, device=feat.device)
                total = total + (sample_bilinear(full, pos)[0] - here).abs().sum()
    return total


def track_points_reference(feat: torch.Tensor, size, handles, f0, r2: float, distance: str = "l1"):
    full = upsample(feat, size)[0]  # [C, H, W]
    height, width = size
    out = []
    for p, f in zip(handles.tolist(), f0):
        best, best_d = None, float("inf")
        for y in range(height):
            for x in range(width):
                if abs(x - p[0]) >= r2 or abs(y - p[1]) >= r2:
                    continue
                diff = full[:, y, x] - f
                d = float(diff.abs().sum() if distance == "l1" else diff.square().sum())
                if d < best_d:
                    best, best_d = (x, y), d
        out.append(best)
    return torch.tensor(out, dtype=handles.dtype)
