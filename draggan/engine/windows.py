"""Windowed drag steps: the feature maps computed only around the handles (stylegan2/regions.py).

A step reads each feature map only near its handles: the tracking window, then the supervision disk
around wherever tracking lands. `handle_boxes` gives those reaches in image pixels, grouped so that
handles close together share one window and handles far apart get one each. `windowed_maps` runs one
synthesis pass whose lower blocks all groups share, each group's higher blocks on its own windows, and
places every group's exact box into a whole-size map, so the rest of the engine reads positions of the
whole map and never sees a window. Outside the boxes the maps hold zeros (or another group's margin),
which no step reads.

Dimension legend: n handles, C channels, h/w feature size, H/W image size.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as tnf

ImageBox = tuple[float, float, float, float]  # x0, y0, x1, y1 in image px
WORTH_IT = 0.5  # window only while the groups' boxes cover at most this share of the image
MAX_GROUPED = 8  # more handles than this share one box (grouping is quadratic in the handles)


def reach(r1: float, r2: float, template: float) -> int:
    """Image px a step reads from a handle: the tracking window (r2, the +-0.5 px sub-pixel search, the
    template radius), then the disk (r1) around wherever tracking lands, shifted by up to 1 px, with
    its bilinear neighbours, and a pixel to spare on each."""
    return math.ceil(r2) + math.ceil(r1) + math.ceil(template) + 6


def step_boxes(G, cfg, mask, handles: np.ndarray) -> list[ImageBox] | None:
    """The boxes a drag step on `G` with settings `cfg` (ResolvedConfig) reads around `handles`, or None
    for whole maps: with a mask term (it reads the whole map), random noise (a window of it is not the
    map's), `full_forward`, a synthesis without windows (StyleGAN3), or when windows would not pay.

    Windowed steps render a requested image in a second pass without autograd: at 256 px 10 % more
    than sharing a whole-map pass, but without the whole graph's memory.
    """
    if (not getattr(G.synthesis, "supports_regions", False) or cfg.full_forward or cfg.noise_mode == "random"
            or len(handles) == 0 or (mask is not None and cfg.lambda_mask > 0)):
        return None
    return handle_boxes(handles, reach(cfg.r1, cfg.r2, cfg.tracking_patch), tuple(G.img_size))


def _area(b: ImageBox) -> float:
    return (b[2] - b[0]) * (b[3] - b[1])


def _union(a: ImageBox, b: ImageBox) -> ImageBox:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def handle_boxes(handles: np.ndarray, radius: float, size: tuple[int, int]) -> list[ImageBox] | None:
    """Boxes (image px) that hold what a step reads around `handles` [n, 2], or None when whole maps pay.

    Two boxes become one while their union is no larger than the two apart (one pass instead of two).
    """
    height, width = size
    boxes = [(x - radius, y - radius, x + radius, y + radius) for x, y in np.asarray(handles, np.float64)]
    if len(boxes) > MAX_GROUPED:
        merged = boxes[0]
        for b in boxes[1:]:
            merged = _union(merged, b)
        boxes = [merged]
    changed = True
    while changed and len(boxes) > 1:
        changed = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                u = _union(boxes[i], boxes[j])
                if _area(u) <= _area(boxes[i]) + _area(boxes[j]):
                    boxes[i] = u
                    del boxes[j]
                    changed = True
                    break
            if changed:
                break
    clipped = [(max(b[0], 0.0), max(b[1], 0.0), min(b[2], width - 1.0), min(b[3], height - 1.0)) for b in boxes]
    if sum(_area(b) for b in clipped) > WORTH_IT * height * width:
        return None
    return boxes


def feature_box(box: ImageBox, size: tuple[int, int], map_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """An image-px box -> (top, left, bottom, right) of a feature map's pixels that bilinear reads there touch."""
    height, width = size
    fh, fw = map_size
    fx = lambda v: (v + 0.5) * fw / width - 0.5  # noqa: E731  image px -> feature px (align_corners=False)
    fy = lambda v: (v + 0.5) * fh / height - 0.5  # noqa: E731
    return (math.floor(fy(box[1])) - 1, math.floor(fx(box[0])) - 1,
            math.ceil(fy(box[3])) + 2, math.ceil(fx(box[2])) + 2)


def _place(feat: torch.Tensor, origin: tuple[int, int] | None, map_size: tuple[int, int]) -> torch.Tensor:
    """A window zero-padded to the whole map, so positions stay those of the whole map."""
    if origin is None:
        return feat
    top, left = origin
    fh, fw = map_size
    return tnf.pad(feat, (left, fw - left - feat.shape[-1], top, fh - top - feat.shape[-2]))


def windowed_maps(synthesis, ws: torch.Tensor, noise_mode: str, blocks: list[int], grad_block: int,
                  boxes: list[ImageBox], size: tuple[int, int]) -> dict[int, torch.Tensor]:
    """{block: [1, C, h, w]} exact inside every box, for the blocks asked: one pass whose blocks below the
    windows are shared by all boxes, each box then on its own windows (`run_windows`)."""
    groups = [{k: feature_box(box, size, synthesis.block_sizes[k]) for k in blocks} for box in boxes]
    outs = synthesis.run_windows(ws, noise_mode, blocks, grad_block, groups)
    maps: dict[int, torch.Tensor] = {}
    for regions, out in zip(groups, outs):
        for k in blocks:
            placed = _place(out.features[k], out.origins.get(k), synthesis.block_sizes[k])
            if k not in maps:
                maps[k] = placed
            elif placed is not maps[k]:  # this box's pixels from this window; the rest as before
                top, left, bottom, right = regions[k]
                inside = torch.zeros(placed.shape[-2:], dtype=torch.bool, device=placed.device)
                inside[max(top, 0): max(bottom, 0), max(left, 0): max(right, 0)] = True
                maps[k] = torch.where(inside, placed, maps[k])
    return maps
