"""Brush strokes and the mask they make (draggan.mask)."""

import numpy as np

from draggan.mask import FIXED, MOVABLE, UNPAINTED, empty_paint, mask_from_paint, overlay_rgba, paint_segment


def test_segment_has_no_gaps_between_distant_samples():
    paint = empty_paint(64)
    assert paint_segment(paint, (5, 30), (55, 30), 2, MOVABLE)  # two samples 50 px apart
    assert (paint[30, 5:56] == MOVABLE).all()
    assert (paint[28:33, 20] == MOVABLE).all() and paint[27, 20] == UNPAINTED and paint[33, 20] == UNPAINTED


def test_segment_matches_a_loop_of_disks():
    paint = empty_paint(40)
    paint_segment(paint, (3.2, 7.9), (30.5, 21.1), 3.5, MOVABLE)
    ref = empty_paint(40)
    ys, xs = np.mgrid[:40, :40]
    for t in np.linspace(0, 1, 2000):
        cx, cy = 3.2 + t * (30.5 - 3.2), 7.9 + t * (21.1 - 7.9)
        ref[(xs - cx) ** 2 + (ys - cy) ** 2 <= 3.5 ** 2] = MOVABLE
    assert (paint != ref).sum() <= 2  # only pixels right on the edge may differ


def test_clipped_at_the_border_and_erase():
    paint = empty_paint(16)
    paint_segment(paint, (-5, -5), (2, 2), 3, FIXED)
    assert paint[0, 0] == FIXED
    assert not paint_segment(paint, (100, 100), (120, 100), 3, FIXED)
    assert paint_segment(paint, (0, 0), (0, 0), 10, UNPAINTED) and not paint.any()


def test_mask_from_paint():
    paint = empty_paint(8)
    assert mask_from_paint(paint) is None and mask_from_paint(None) is None
    paint[0, 0] = FIXED
    m = mask_from_paint(paint)
    assert m[0, 0] == 0 and m.sum() == 63  # only pins: everything else may move
    paint[5, 5] = MOVABLE
    m = mask_from_paint(paint)
    assert m[5, 5] == 1 and m.sum() == 1  # a movable region: only it may move
    rgba = overlay_rgba(paint).astype(int)
    assert rgba[0, 0, 3] > 0 and rgba[3, 3, 3] == rgba[0, 0, 3]  # everything fixed is darkened alike
    assert rgba[5, 5, 1] > rgba[5, 5, 0] and rgba[5, 5, 3] < rgba[0, 0, 3]  # the movable stroke: a light green tint
    assert not overlay_rgba(empty_paint(8)).any()
