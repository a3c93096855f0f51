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


def disk_patch(centres: torch.Tensor, radius: float, size: tuple[int, int],
               grid: str = "centred") -> tuple[torch.Tensor, torch.Tensor]:
    """Omega1(p, r1): integer pixels q inside the image at distance < r1 from p.

    grid='centred' measures from q itself (paper eq. 1); grid='official' from q placed on
    torch.linspace(0, W, W) x torch.linspace(0, H, H), i.e. at q * W/(W-1), as the official code.
    -> positions [n, P, 2] over a fixed square of candidates, and a validity mask [n, P].
    """
    height, width = size
    if grid == "official":
        # the official disk's centre in pixel units is p*(W-1)/W: up to 1 px up-left of p
        lin_x = torch.linspace(0, width, width, device=centres.device, dtype=centres.dtype)  # [W]
        lin_y = torch.linspace(0, height, height, device=centres.device, dtype=centres.dtype)  # [H]
        k = math.ceil(radius) + 1
        middle = torch.stack([centres[:, 0] * ((width - 1) / width), centres[:, 1] * ((height - 1) / height)],
                             dim=-1).round()
    else:
        k = math.ceil(radius)
        middle = centres.round()
    off = torch.arange(-k, k + 1, device=centres.device, dtype=centres.dtype)
    square = torch.stack(torch.meshgrid(off, off, indexing="xy"), dim=-1).reshape(-1, 2)  # [P, 2]
    q = middle.unsqueeze(1) + square  # [n, P, 2]
    inside = (q[..., 0] >= 0) & (q[..., 0] <= width - 1) & (q[..., 1] >= 0) & (q[..., 1] <= height - 1)
    if grid == "official":  # the linspace values themselves, so the test `< r1` agrees to the last bit
        gx = lin_x[q[..., 0].clamp(0, width - 1).long()]
        gy = lin_y[q[..., 1].clamp(0, height - 1).long()]
        c = centres.unsqueeze(1)
        dist = ((gy - c[..., 1]) ** 2 + (gx - c[..., 0]) ** 2) ** 0.5  # [n, P]
    else:
        dist = (q - centres.unsqueeze(1)).norm(dim=-1)
    return q, (dist < radius) & inside


def square_window(centres: torch.Tensor, radius: float, size: tuple[int, int],
                  inclusive: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Omega2(p, r2): integer pixels q with |q - p| < r2 per axis (<= r2 if inclusive), clipped to the image."""
    k = math.ceil(radius)
    off = torch.arange(-k, k + 1, device=centres.device, dtype=centres.dtype)
    grid = torch.stack(torch.meshgrid(off, off, indexing="xy"), dim=-1).reshape(-1, 2)
    q = centres.round().unsqueeze(1) + grid  # [n, P, 2]
    height, width = size
    inside = (q[..., 0] >= 0) & (q[..., 0] <= width - 1) & (q[..., 1] >= 0) & (q[..., 1] <= height - 1)
    gap = (q - centres.unsqueeze(1)).abs()
    valid = ((gap <= radius) if inclusive else (gap < radius)).all(dim=-1) & inside
    return q, valid


def motion_loss(feat: torch.Tensor, size: tuple[int, int], handles: torch.Tensor, targets: torch.Tensor,
                r1: float, reduction: str = "sum", active: torch.Tensor | None = None,
                grid: str = "centred", padding: str = "border",
                anchor: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
    """sum_i sum_{q in Omega1(p_i)} || F(q).detach() - F(q + d_i) ||_1 (paper eq. 1, first term).

    feat [1, C, h, w] with grad; handles/targets [n, 2]; active [n] bool (None = all).
    The gradient flows only through the shifted sample, pulling content from p toward t.
    reduction: 'sum' as written; 'mean' over all supervised positions and channels (ours);
    'sum_of_means' = sum_i F.l1_loss over handle i's disk (official code).
    anchor (feat0 [1, C, h, w], handles0 [n, 2]), ours: F(q).detach() becomes F0(q - p_i + p0_i), the
    drag's first features around the initial handle, so what is pulled along stays the original content.
    """
    q, valid = disk_patch(handles, r1, size, grid)  # [n, P, 2], [n, P]
    if active is not None:
        valid = valid & active.unsqueeze(1)
    d = directions(handles, targets).unsqueeze(1)  # [n, 1, 2]
    if anchor is None:
        here = pixels_image_res(feat, size, q.reshape(-1, 2)).reshape(*q.shape[:2], -1).detach()  # [n, P, C]
    else:  # the drag's first features, at the same place relative to the initial handle (ours)
        feat0, handles0 = anchor
        here = sample_image_res(feat0, size, q - handles.unsqueeze(1) + handles0.unsqueeze(1)).detach()
    shifted = sample_image_res(feat, size, q + d, padding)  # [n, P, C]
    per_pos = (shifted - here).abs().sum(-1) * valid  # [n, P]
    if reduction == "mean":  # one mean over positions and channels of all handles
        return per_pos.sum() / (valid.sum().clamp(min=1) * feat.shape[1])
    if reduction == "sum_of_means":  # an empty disk adds 0 (official: NaN loss, but also no gradient)
        return (per_pos.sum(1) / (valid.sum(1).clamp(min=1) * feat.shape[1])).sum()
    return per_pos.sum()


def mask_loss(feat: torch.Tensor, feat0_full: torch.Tensor, fixed: torch.Tensor, reduction: str = "sum",
              distance: str = "l1") -> torch.Tensor:
    """|| (F - F0) * (1 - M) ||_1 over the image (paper eq. 1, second term).

    feat [1, C, h, w]; feat0_full [1, C, H, W] (F0 at image size); fixed [H, W] = 1 - M.
    reduction 'mean' and 'sum_of_means': a mean over all pixels and channels (the official F.l1_loss).
    distance 'l2' (ours): (F - F0)^2 / mean|F0| per element instead of |F - F0|; its gradient grows
    with the change, so it does not resist the first small moves as the L1 term's constant pull does.
    """
    full = upsample(feat, tuple(feat0_full.shape[-2:]))
    if distance == "l2":  # divided by F0's mean magnitude: in the motion term's units for any model
        diff = (full - feat0_full).square() / feat0_full.abs().mean().clamp(min=1e-8) * fixed
    else:
        diff = (full - feat0_full).abs() * fixed
    if reduction in ("mean", "sum_of_means"):
        return diff.mean()
    return diff.sum()


def _feature_distance(f: torch.Tensor, f0: torch.Tensor, distance: str) -> torch.Tensor:
    """f [n, P, C] vs f0 [n, C] -> [n, P]: L1 (paper) or squared L2 (official code) over channels."""
    diff = f - f0.unsqueeze(1)
    return diff.abs().sum(-1) if distance == "l1" else diff.square().sum(-1)


def subpixel_offsets(subdivisions: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """The +-0.5 px grid in steps of 1/subdivisions, nearest to 0 first (ties keep the whole pixel): [S, 2]."""
    half = subdivisions // 2
    k = torch.arange(-half, half + 1, device=device, dtype=dtype) / subdivisions
    grid = torch.stack(torch.meshgrid(k, k, indexing="xy"), dim=-1).reshape(-1, 2)
    order = torch.argsort(grid.abs().sum(-1) * 1e3 + grid.abs().max(-1).values, stable=True)
    return grid[order]


def patch_offsets(radius: float, device=None, dtype=torch.float32) -> torch.Tensor:
    """Integer offsets o with ||o|| < radius, (0, 0) first: [K, 2]; just (0, 0) for radius <= 1."""
    k = max(math.ceil(radius) - 1, 0)
    off = torch.arange(-k, k + 1, device=device, dtype=dtype)
    grid = torch.stack(torch.meshgrid(off, off, indexing="xy"), dim=-1).reshape(-1, 2)
    grid = grid[(grid.norm(dim=-1) < radius) | (grid.abs().sum(-1) == 0)]
    return grid[torch.argsort(grid.norm(dim=-1), stable=True)]


def handle_features(feat: torch.Tensor, size: tuple[int, int], handles: torch.Tensor,
                    patch: torch.Tensor | None = None) -> torch.Tensor:
    """The tracking reference: F at each handle [n, C], or at handle + each patch offset [n, K, C] (ours)."""
    if patch is None:
        return sample_image_res(feat, size, handles)
    return sample_image_res(feat, size, handles.unsqueeze(1) + patch)


def _patch_distance(feat, size, pos: torch.Tensor, f0: torch.Tensor, distance: str,
                    patch: torch.Tensor | None) -> torch.Tensor:
    """Distance of the features at pos [n, P, 2] to f0 ([n, C], or [n, K, C] with `patch`) -> [n, P]."""
    if patch is None:
        return _feature_distance(sample_image_res(feat, size, pos), f0, distance)
    f = sample_image_res(feat, size, pos.unsqueeze(2) + patch)  # [n, P, K, C]
    return _feature_distance(f.flatten(2), f0.flatten(1), distance)


def track_points(feat: torch.Tensor, size: tuple[int, int], handles: torch.Tensor, f0: torch.Tensor,
                 r2: float, distance: str = "l1", inclusive: bool = False, subpixel: int = 1,
                 patch: torch.Tensor | None = None) -> torch.Tensor:
    """Move each handle to the pixel of Omega2(p_i, r2) whose feature is nearest to f0_i (paper eq. 2).

    feat [1, C, h, w]; handles [n, 2]; f0 [n, C] initial handle features -> new handles [n, 2].
    Ties go to the first pixel in row-major order, as torch.min over the official code's patch.
    subpixel > 1 (ours): then search +-0.5 px around that pixel in steps of 1/subpixel px, on the
    bilinearly resized map, inside the image; a motion of a fraction of a pixel becomes visible.
    patch [K, 2] offsets (ours): compare the features at q + each offset with f0 [n, K, C], read
    at the initial handle + the same offsets (`handle_features`), instead of one feature vector.
    """
    q, valid = square_window(handles, r2, size, inclusive)  # [n, P, 2]
    n = q.shape[0]
    with torch.no_grad():
        if patch is None:
            f = pixels_image_res(feat, size, q.reshape(-1, 2)).reshape(*q.shape[:2], -1)  # [n, P, C]
            dist = _feature_distance(f, f0, distance)
        else:
            dist = _patch_distance(feat, size, q, f0, distance, patch)
        dist = dist.masked_fill(~valid, float("inf"))
        best = q[torch.arange(n, device=q.device), dist.argmin(dim=1)]  # [n, 2]
        if subpixel <= 1:
            return best
        hi = torch.tensor([size[1] - 1, size[0] - 1], device=q.device, dtype=q.dtype)
        cand = best.unsqueeze(1) + subpixel_offsets(subpixel, q.device, q.dtype)  # [n, S, 2]
        cand = torch.minimum(cand.clamp(min=0), hi)  # the first candidate is `best` itself
        pick = _patch_distance(feat, size, cand, f0, distance, patch).argmin(dim=1)  # [n]
    return cand[torch.arange(n, device=q.device), pick]


# ---- reference implementations (per point, on the full-size map) for tests ----

def motion_loss_reference(feat: torch.Tensor, size, handles, targets, r1: float, reduction: str = "sum",
                          active=None, grid: str = "centred", padding: str = "border") -> torch.Tensor:
    full = upsample(feat, size)  # [1, C, H, W]
    height, width = size
    sx, sy = (width / (width - 1), height / (height - 1)) if grid == "official" else (1.0, 1.0)
    total, count_all = feat.new_zeros(()), 0
    for i, (p, t) in enumerate(zip(handles.tolist(), targets.tolist())):
        if active is not None and not bool(active[i]):
            continue
        dx, dy = t[0] - p[0], t[1] - p[1]
        norm = math.hypot(dx, dy)
        d = (dx / norm, dy / norm) if norm > 1e-6 else (0.0, 0.0)
        term, count = feat.new_zeros(()), 0
        for y in range(height):
            for x in range(width):
                if math.hypot(x * sx - p[0], y * sy - p[1]) >= r1:
                    continue
                here = full[0, :, y, x].detach()
                pos = torch.tensor([[x + d[0], y + d[1]]], dtype=feat.dtype, device=feat.device)
                term = term + (sample_bilinear(full, pos, padding)[0] - here).abs().sum()
                count += 1
        if reduction == "sum_of_means":
            term = term / max(count * feat.shape[1], 1)
        total, count_all = total + term, count_all + count
    if reduction == "mean":
        return total / max(count_all * feat.shape[1], 1)
    return total


def track_points_reference(feat: torch.Tensor, size, handles, f0, r2: float, distance: str = "l1",
                           inclusive: bool = False, subpixel: int = 1):
    full = upsample(feat, size)  # [1, C, H, W]
    height, width = size

    def far(pos, f):
        diff = sample_bilinear(full, torch.tensor([pos], dtype=full.dtype))[0] - f
        return float(diff.abs().sum() if distance == "l1" else diff.square().sum())

    out = []
    for p, f in zip(handles.tolist(), f0):
        best, best_d = None, float("inf")
        for y in range(height):
            for x in range(width):
                gap = max(abs(x - p[0]), abs(y - p[1]))
                if gap > r2 if inclusive else gap >= r2:
                    continue
                diff = full[0, :, y, x] - f
                d = float(diff.abs().sum() if distance == "l1" else diff.square().sum())
                if d < best_d:
                    best, best_d = (x, y), d
        if subpixel > 1:  # every fraction k/subpixel within half a pixel; the whole pixel wins ties
            centre, best_d = best, far(best, f)
            steps = [k / subpixel for k in range(-(subpixel // 2), subpixel // 2 + 1)]
            for oy in steps:
                for ox in steps:
                    pos = (min(max(centre[0] + ox, 0), width - 1), min(max(centre[1] + oy, 0), height - 1))
                    d = far(pos, f)
                    if d < best_d - 1e-9 * max(1.0, best_d):
                        best, best_d = pos, d
        out.append(best)
    return torch.tensor(out, dtype=handles.dtype)
