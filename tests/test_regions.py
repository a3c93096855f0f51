"""Windowed synthesis (stylegan2/regions.py) against the whole-map pass, and the drag step that uses it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import stylegan2.regions as regions
from draggan.engine import DragConfig, DragSession, official_config
from draggan.engine.windows import MAX_GROUPED, handle_boxes
from stylegan2.regions import area, input_box, plan

from conftest import tiny_generator


def _generator(architecture="skip", **cfg):
    return tiny_generator(1, img_resolution=128, channel_base=1024, channel_max=32, architecture=architecture,
                          **cfg)


def _inside(out, whole, key, box):
    """The box of the windowed map `key` and of the whole map."""
    top, left = out.origins.get(key, (0, 0))
    a = out.features[key][..., box[0] - top: box[2] - top, box[1] - left: box[3] - left]
    b = whole.features[key][..., box[0]: box[2], box[1]: box[3]]
    assert a.shape == b.shape, "the window does not hold the requested box"
    return a, b


BOXES = [{64: (20, 30, 34, 44)},  # inside
         {64: (0, 0, 10, 12)},  # a corner: the window touches the map's edge
         {64: (50, 40, 64, 64), 32: (20, 18, 28, 26)},  # two blocks (tracking on another block)
         {32: (10, 10, 16, 20)}]  # a lower block only: the higher ones are not run


@pytest.mark.parametrize("architecture", ["skip", "resnet"])
@pytest.mark.parametrize("boxes", BOXES)
def test_windows_equal_the_whole_map_inside_the_boxes(architecture, boxes):
    G = _generator(architecture)
    ws = G.mapping(torch.randn(1, G.z_dim))
    blocks = sorted(boxes)
    whole = G.synthesis.run(ws, feature_blocks=blocks, render_image=False)
    out = G.synthesis.run(ws, feature_blocks=blocks, render_image=False, regions=boxes)
    assert out.origins, "these boxes are small enough to window"
    for key, box in boxes.items():
        a, b = _inside(out, whole, key, box)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        assert out.features[key].numel() < whole.features[key].numel()


def test_a_margin_too_small_is_caught(monkeypatch):
    """The comparison above can fail: one pixel less margin changes values inside the box."""
    G = _generator()
    ws = G.mapping(torch.randn(1, G.z_dim))
    boxes = BOXES[0]
    whole = G.synthesis.run(ws, feature_blocks=[64], render_image=False)
    monkeypatch.setattr(regions, "MARGIN", regions.MARGIN - 1)
    out = G.synthesis.run(ws, feature_blocks=[64], render_image=False, regions=boxes)
    a, b = _inside(out, whole, 64, boxes[64])
    assert (a - b).abs().max() > 1e-3


def test_gradients_through_windows_equal_the_whole_map():
    G = _generator()
    box = (20, 30, 34, 44)
    weight = torch.randn(1, G.synthesis.b64.conv1.weight.shape[0], box[2] - box[0], box[3] - box[1])
    grads = []
    for boxes in (None, {64: box}):
        ws = G.mapping(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(3))).requires_grad_(True)
        out = G.synthesis.run(ws, feature_blocks=[64], render_image=False, regions=boxes)
        top, left = out.origins.get(64, (0, 0))
        f = out.features[64][..., box[0] - top: box[2] - top, box[1] - left: box[3] - left]
        (f * weight).sum().backward()
        grads.append(ws.grad)
    torch.testing.assert_close(grads[1], grads[0], atol=1e-5, rtol=1e-4)


def test_rectangular_generator_windows():
    G = tiny_generator(2, img_resolution=128, channel_base=1024, channel_max=32, square=False)  # 128 x 64
    ws = G.mapping(torch.randn(1, G.z_dim))
    box = {64: (30, 5, 44, 20)}
    whole = G.synthesis.run(ws, feature_blocks=[64], render_image=False)
    out = G.synthesis.run(ws, feature_blocks=[64], render_image=False, regions=box)
    assert out.origins
    torch.testing.assert_close(*_inside(out, whole, 64, box[64]), atol=1e-5, rtol=1e-5)


def test_plan_windows_only_what_pays():
    sizes = {r: (r, r) for r in (4, 8, 16, 32, 64, 128)}
    res = [4, 8, 16, 32, 64, 128]
    small = plan({128: (60, 60, 70, 70)}, res, sizes)
    assert set(small) == {32, 64, 128}  # b16's window would be more than half of b16's map
    for r in (32, 64):  # each block's output window (twice its input window) holds the next one's input window
        out_window = tuple(2 * v for v in small[r])
        above = small[2 * r]
        assert out_window[0] <= above[0] and out_window[1] <= above[1]
        assert out_window[2] >= above[2] and out_window[3] >= above[3]
    assert small[128] == input_box((60, 60, 70, 70))  # only what the box needs: (28, 28, 37, 37)
    assert plan({128: (0, 0, 128, 128)}, res, sizes) == {}  # the whole map is asked for
    assert plan({128: (0, 0, 100, 100)}, res, sizes) == {}
    assert area((3, 4, 2, 9)) == 0


def _spy_windows(monkeypatch, G, used: list) -> None:
    """Record, for every synthesis pass, whether it windowed any block.

    And spoil each windowed map outside the boxes the session asked for (1e6 there), so a step that
    reads beyond its boxes no longer matches the whole-map step: the session's boxes are tested
    without the slack the windows have around them.
    """
    run, run_windows = G.synthesis.run, G.synthesis.run_windows

    def spoil(out, boxes):
        for key, (top, left) in out.origins.items():
            b, f = boxes[key], out.features[key]
            ys = torch.arange(f.shape[-2]).reshape(-1, 1) + top
            xs = torch.arange(f.shape[-1]).reshape(1, -1) + left
            inside = (ys >= b[0]) & (ys < b[2]) & (xs >= b[1]) & (xs < b[3])
            out.features[key] = torch.where(inside, f, torch.full_like(f, 1e6))

    def spy_run(*args, **kwargs):
        out = run(*args, **kwargs)
        used.append(bool(out.origins))
        if out.origins:
            spoil(out, kwargs["regions"])
        return out

    def spy_run_windows(ws, noise_mode, blocks, grad_block, groups):
        outs = run_windows(ws, noise_mode, blocks, grad_block, groups)
        used.append(any(out.origins for out in outs))
        for out, boxes in zip(outs, groups):
            spoil(out, boxes)
        return outs
    monkeypatch.setattr(G.synthesis, "run", spy_run)
    monkeypatch.setattr(G.synthesis, "run_windows", spy_run_windows)


def _drag(G, config, handles, targets, windowed, steps=12, mask=None):
    s = DragSession.from_seed(G, 4, 0.7, config)
    s.windowed = windowed
    s.set_mask(mask)
    s.set_points(handles, targets)
    results = [s.step(render_image=i % 3 == 0) for i in range(steps)]
    return s, results


CASES = {
    "one handle": (DragConfig(), [[60, 50]], [[70, 58]]),
    "two handles": (DragConfig(), [[40, 40], [50, 60]], [[44, 34], [58, 64]]),
    "two handles far apart (two windows)": (DragConfig(), [[20, 24], [100, 96]], [[26, 30], [94, 104]]),
    "at the corner": (DragConfig(), [[2, 1]], [[9, 6]]),
    "official settings": (official_config(128, feature_block=64, r1=2.0, lr=0.05), [[60, 50]], [[68, 50]]),
    "tracked on a lower block, a template": (DragConfig(tracking_block=32, tracking_patch=2.0), [[60, 50]],
                                              [[70, 58]]),
    "whole-pixel tracking, not anchored": (DragConfig(tracking_subpixel=1, anchored_supervision=False),
                                           [[60, 50]], [[52, 60]]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_windowed_drag_equals_whole_map_drag(case, monkeypatch):
    config, handles, targets = CASES[case]
    G = _generator()
    used = []
    _spy_windows(monkeypatch, G, used)
    s0, whole = _drag(G, config.with_(max_steps=300), handles, targets, windowed=False)
    assert not any(used)
    s1, windowed = _drag(G, config.with_(max_steps=300), handles, targets, windowed=True)
    assert any(used), "the windowed session never windowed"
    for a, b in zip(whole, windowed):
        np.testing.assert_allclose(b.handles, a.handles, atol=1e-4)
        assert b.loss == pytest.approx(a.loss, rel=1e-4, abs=1e-6)
        assert (a.image is None) == (b.image is None)
        if a.image is not None:
            assert np.abs(a.image.astype(int) - b.image.astype(int)).max() <= 1
    torch.testing.assert_close(s1.current_ws(), s0.current_ws(), atol=1e-5, rtol=1e-4)
    assert np.abs(whole[-1].handles - np.asarray(handles)).max() > 0.1, "the drag should have moved"


def test_mask_random_noise_and_spread_handles_use_whole_maps(monkeypatch):
    G = _generator()
    used = []
    _spy_windows(monkeypatch, G, used)
    mask = np.zeros((128, 128), np.float32)
    mask[30:90, 30:90] = 1
    _drag(G, DragConfig(), [[60, 50]], [[70, 58]], True, steps=3, mask=mask)
    _drag(G, DragConfig(noise_mode="random"), [[60, 50]], [[70, 58]], True, steps=3)
    grid = [[x, y] for x in (10, 60, 110) for y in (10, 60, 110)]  # nine handles over the whole image
    _drag(G, DragConfig(), grid, [[x + 3, y] for x, y in grid], True, steps=3)
    assert not any(used)
    _drag(G, DragConfig(), [[60, 50]], [[70, 58]], True, steps=3)
    assert any(used)


def test_handles_close_together_share_a_window_and_far_apart_do_not():
    size = (256, 256)
    assert len(handle_boxes(np.array([[100, 100], [104, 98]]), 10, size)) == 1
    far = handle_boxes(np.array([[30, 30], [200, 210], [34, 36]]), 10, size)
    assert sorted(far) == [(20, 20, 44, 46), (190, 200, 210, 220)]
    many = np.array([[20 + 10 * i, 40] for i in range(MAX_GROUPED + 1)], float)
    assert handle_boxes(many, 10, size) == [(10, 30, 110, 50)]  # one box past MAX_GROUPED handles
    assert handle_boxes(np.array([[10, 10], [240, 240]]), 120, size) is None  # the boxes would cover the image
