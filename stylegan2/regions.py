"""Which part of each block's feature map a windowed synthesis pass computes (`SynthesisNetwork.run(regions=...)`).

A drag step reads the feature map only near its handles: a motion-supervision disk and a tracking
window per handle. Every StyleGAN2 layer is local (3x3 convolutions, a 4-tap FIR filter around each
2x up-sampling), so those few pixels depend only on a window of each lower block's map. Computing
the higher blocks on windows, not whole maps, gives the same values inside the requested boxes for a
fraction of the cost; everything below the first windowed block still runs on whole (small) maps.

Boxes are (top, left, bottom, right) in pixels of one block's map, bottom and right exclusive.

How far a block's output reaches back: output pixel j of a block at resolution R (conv0: transposed
3x3 stride-2 convolution then the 4-tap filter; conv1: 3x3) reads input pixels
ceil((j - 4) / 2) ... floor((j + 3) / 2) at R/2, and the resnet shortcut (1x1 then the filter) a
subset of them. `MARGIN` = 3 input pixels on each side of j/2 covers both with a pixel to spare;
`tests/test_regions.py` checks every pixel of the boxes against the whole-map pass, and that a
smaller margin would be caught.
"""

from __future__ import annotations

import math

Box = tuple[int, int, int, int]  # top, left, bottom, right (exclusive)

MARGIN = 2  # input pixels each block's output box reaches beyond half its extent (see above)
WORTH_IT = 0.5  # a block is windowed only when its input window is at most this share of the map


def clip(box: Box, height: int, width: int) -> Box:
    top, left, bottom, right = box
    return max(top, 0), max(left, 0), min(bottom, height), min(right, width)


def union(a: Box | None, b: Box | None) -> Box | None:
    if a is None or b is None:
        return a if b is None else b
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def area(box: Box) -> int:
    return max(box[2] - box[0], 0) * max(box[3] - box[1], 0)


def input_box(box: Box, margin: int | None = None) -> Box:
    """The window of a block's input (the map at half resolution) that `box` of its output depends on."""
    margin = MARGIN if margin is None else margin
    top, left, bottom, right = box
    return top // 2 - margin, left // 2 - margin, math.ceil(bottom / 2) + margin, math.ceil(right / 2) + margin


def plan(regions: dict[int, Box], resolutions: list[int], sizes: dict[int, tuple[int, int]],
         margin: int | None = None) -> dict[int, Box]:
    """-> {block resolution R: the window of its input map (at R/2) to compute it on}; {} for whole maps.

    `regions` maps block resolutions to the boxes whose values must be exact; `resolutions` are the
    blocks that run, lowest first, up to the highest requested. Each windowed block runs on the
    window of its input that its own exact box depends on, so its output holds that box and a
    margin; blocks whose window would be more than `WORTH_IT` of the map run whole, and so does
    everything below them.
    """
    windows: dict[int, Box] = {}
    need: Box | None = None  # the exact box at the current block's output
    for lower, res in zip(reversed(resolutions[:-1]), reversed(resolutions[1:])):  # (R/2, R) pairs, top down
        need = clip(union(need, regions.get(res)), *sizes[res])
        need = clip(union(input_box(need, margin), regions.get(lower)), *sizes[lower])  # res's input window
        h, w = sizes[lower]
        if area(need) > WORTH_IT * h * w:
            break
        windows[res] = need
    return windows
