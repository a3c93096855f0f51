"""Reading a block's feature map at image-resolution pixel positions.

DragGAN resizes the feature map F [1, C, h, w] bilinearly to the image size
[1, C, H, W] and samples it (paper Sec. 3.2). `sample_image_res` gives exactly
those values without building the full-size map: the resized map at pixel X is
a bilinear sample of the small map (align_corners=False), and a fractional
position is the bilinear mix of its four pixel neighbours. `upsample` +
`sample_bilinear` are the reference path, kept equal by tests.

Positions are pixel coordinates (x right, y down; pixel centres at integers,
valid range [0, W-1]). Outside that range, padding='border' clamps to the edge
pixels (ours) and padding='zeros' blends with zeros beyond them, as
grid_sample(align_corners=True) does in the official code.
Dimension legend: C channels, h/w feature size, H/W image size, P positions.
"""

from __future__ import annotations

import torch
import torch.nn.functional as tnf


def upsample(feat: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """[1, C, h, w] -> [1, C, H, W], bilinear (the paper's resize)."""
    if tuple(feat.shape[-2:]) == tuple(size):
        return feat
    return tnf.interpolate(feat, size=size, mode="bilinear", align_corners=False)


def sample_bilinear(img_feat: torch.Tensor, pos: torch.Tensor, padding: str = "border") -> torch.Tensor:
    """Bilinear sample of a full-size map [1, C, H, W] at pos [..., 2] (x, y) -> [..., C]."""
    _, c, h, w = img_feat.shape
    lead = pos.shape[:-1]
    scale = torch.tensor([2 / max(w - 1, 1), 2 / max(h - 1, 1)], device=pos.device, dtype=pos.dtype)
    grid = (pos.reshape(1, 1, -1, 2) * scale - 1).to(img_feat.dtype)
    out = tnf.grid_sample(img_feat, grid, mode="bilinear", padding_mode=padding, align_corners=True)
    return out.reshape(c, -1).t().reshape(*lead, c)


def pixels_image_res(feat: torch.Tensor, size: tuple[int, int], xy: torch.Tensor) -> torch.Tensor:
    """Values of the resized map at integer pixels xy [P, 2] -> [P, C], from the small map."""
    height, width = size
    c = feat.shape[1]
    norm = torch.stack([(2 * xy[:, 0] + 1) / width - 1, (2 * xy[:, 1] + 1) / height - 1], dim=-1)
    out = tnf.grid_sample(feat, norm.reshape(1, 1, -1, 2).to(feat.dtype), mode="bilinear",
                          padding_mode="border", align_corners=False)
    return out.reshape(c, -1).t()


def sample_image_res(feat: torch.Tensor, size: tuple[int, int], pos: torch.Tensor,
                     padding: str = "border") -> torch.Tensor:
    """Bilinear sample of upsample(feat, size) at pos [..., 2] -> [..., C], without building it."""
    height, width = size
    lead = pos.shape[:-1]
    p = pos.reshape(-1, 2)
    hi = torch.tensor([width - 1, height - 1], device=p.device, dtype=p.dtype)
    if padding == "border":
        p = torch.minimum(p.clamp(min=0), hi)
    p0 = p.floor()
    frac = p - p0  # [P, 2]
    p1 = p0 + 1
    corners = torch.cat([p0, torch.stack([p1[:, 0], p0[:, 1]], -1),
                         torch.stack([p0[:, 0], p1[:, 1]], -1), p1])  # [4P, 2]
    inside = ((corners >= 0) & (corners <= hi)).all(-1)  # [4P]
    # 'border': only a p1 past the last pixel moves here, and it has weight 0
    v = pixels_image_res(feat, size, torch.minimum(corners.clamp(min=0), hi))  # [4P, C]
    if padding == "zeros":  # a corner outside the image reads 0
        v = v * inside.unsqueeze(1).to(v.dtype)
    v = v.reshape(4, p.shape[0], -1)  # [4, P, C]
    fx, fy = frac[:, :1], frac[:, 1:]
    out = (v[0] * (1 - fx) + v[1] * fx) * (1 - fy) + (v[2] * (1 - fx) + v[3] * fx) * fy
    return out.reshape(*lead, -1)
