"""The drag engine: sampling, motion supervision, tracking, the session loop and its safety."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from draggan.engine import DragConfig, DragSession, official_config
from draggan.engine.session import w_spread
from draggan.engine.motion import (mask_loss, motion_loss, motion_loss_reference, track_points,
                                   track_points_reference)
from draggan.engine.sampling import sample_bilinear, sample_image_res, upsample
from draggan.errors import DragGANError

from conftest import tiny_generator

SIZE = (32, 32)


def _feat(c=6, h=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, c, h, h, generator=g)


# ---- sampling ----

@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_direct_sampling_equals_upsample_then_sample(padding):
    feat = _feat()
    pos = torch.rand(200, 2) * 40 - 4  # fractional, some outside the image
    fast = sample_image_res(feat, SIZE, pos, padding)
    ref = sample_bilinear(upsample(feat, SIZE), pos, padding)
    assert torch.allclose(fast, ref, atol=1e-5)


@pytest.mark.parametrize("padding", ["border", "zeros"])
def test_direct_sampling_gradients_equal_reference(padding):
    feat1 = _feat().requires_grad_(True)
    feat2 = feat1.detach().clone().requires_grad_(True)
    pos = torch.rand(50, 2) * 33 - 1
    sample_image_res(feat1, SIZE, pos, padding).square().sum().backward()
    sample_bilinear(upsample(feat2, SIZE), pos, padding).square().sum().backward()
    assert torch.allclose(feat1.grad, feat2.grad, atol=1e-4)


# ---- motion supervision ----

@pytest.mark.parametrize("r1", [1.5, 2.0, 3.0])
def test_vectorised_motion_loss_equals_per_point_reference(r1):
    feat1 = _feat().requires_grad_(True)
    feat2 = feat1.detach().clone().requires_grad_(True)
    handles = torch.tensor([[5.0, 7.0], [20.3, 11.6], [0.0, 31.0]])
    targets = torch.tensor([[9.0, 7.0], [15.0, 20.0], [3.0, 28.0]])
    fast = motion_loss(feat1, SIZE, handles, targets, r1)
    ref = motion_loss_reference(feat2, SIZE, handles, targets, r1)
    assert torch.allclose(fast, ref, rtol=1e-5)
    fast.backward()
    ref.backward()
    assert torch.allclose(feat1.grad, feat2.grad, atol=1e-5)


@pytest.mark.parametrize("reduction, grid, padding", [("mean", "centred", "border"), ("sum_of_means", "official", "zeros"),
                                                       ("sum", "official", "border"), ("mean", "centred", "zeros")])
def test_vectorised_motion_loss_options_equal_reference(reduction, grid, padding):
    feat1 = _feat().requires_grad_(True)
    feat2 = feat1.detach().clone().requires_grad_(True)
    handles = torch.tensor([[5.0, 7.0], [20.3, 11.6], [0.0, 31.0], [30.0, 1.0]])
    targets = torch.tensor([[9.0, 7.0], [15.0, 20.0], [0.0, 28.0], [31.0, 0.0]])  # the last two point outward
    active = torch.tensor([True, False, True, True])
    fast = motion_loss(feat1, SIZE, handles, targets, 2.0, reduction, active, grid, padding)
    ref = motion_loss_reference(feat2, SIZE, handles, targets, 2.0, reduction, active, grid, padding)
    assert torch.allclose(fast, ref, rtol=1e-5)
    fast.backward()
    ref.backward()
    assert torch.allclose(feat1.grad, feat2.grad, atol=1e-6)


def test_motion_loss_is_zero_without_requested_movement():
    feat = _feat().requires_grad_(True)
    pts = torch.tensor([[10.0, 12.0], [20.0, 5.0]])
    loss = motion_loss(feat, SIZE, pts, pts.clone(), 3.0)
    loss.backward()
    assert loss.item() == 0
    assert feat.grad.abs().max() == 0


def test_motion_loss_gradient_moves_a_textured_patch_toward_the_target():
    # A bright textured blob around p in a full-size map; one gradient step must shift its
    # centre of mass toward t (and only the shifted sample carries gradient).
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    blob = torch.exp(-((xs - 12) ** 2 + (ys - 16) ** 2) / 8)
    texture = torch.stack([blob, blob * torch.cos(xs), blob * torch.sin(ys)])[None]
    feat = texture.clone().requires_grad_(True)
    handles, targets = torch.tensor([[12.0, 16.0]]), torch.tensor([[20.0, 16.0]])

    def centre_x(f):
        w = f[0, 0].clamp(min=0)
        return float((w * xs).sum() / w.sum())

    before = centre_x(feat.detach())
    loss = motion_loss(feat, SIZE, handles, targets, 3.0)
    loss.backward()
    with torch.no_grad():
        moved = feat - 0.2 * feat.grad
    assert centre_x(moved) > before + 0.05
    # tracking on the updated map follows the blob to the right
    f0 = sample_image_res(texture, SIZE, handles)
    new = track_points(moved, SIZE, handles, f0, r2=3.0)
    assert new[0, 0] >= handles[0, 0]


def test_mask_term_is_zero_where_movable_and_counts_fixed_pixels():
    feat0 = _feat()
    feat = feat0 + 0.5
    full0 = upsample(feat0, SIZE)
    all_movable = torch.zeros(SIZE)
    assert mask_loss(feat, full0, all_movable).item() == 0
    half = torch.zeros(SIZE)
    half[:, :16] = 1
    assert mask_loss(feat, full0, half).item() == pytest.approx(0.5 * 6 * 32 * 16, rel=1e-4)


# ---- tracking ----

@pytest.mark.parametrize("shift", [(2, 0), (-1, 2), (2, -2), (0, 0)])
def test_tracking_finds_a_known_displacement_exactly(shift):
    feat = _feat(c=8, h=32, seed=3)  # full resolution: upsampling is the identity
    handles = torch.tensor([[10.0, 12.0], [20.0, 25.0]])
    f0 = sample_image_res(feat, SIZE, handles)
    moved = torch.roll(feat, shifts=(shift[1], shift[0]), dims=(2, 3))
    found = track_points(moved, SIZE, handles, f0, r2=3.0)
    assert torch.equal(found, handles + torch.tensor(shift, dtype=torch.float32))


def test_tracking_window_is_clipped_at_the_border():
    feat = _feat(c=8, h=32, seed=4)
    handles = torch.tensor([[0.0, 31.0]])
    f0 = torch.full((1, 8), 100.0)  # nothing matches: the answer must still lie inside the image
    found = track_points(feat, SIZE, handles, f0, r2=4.0)
    assert 0 <= found[0, 0] <= 31 and 0 <= found[0, 1] <= 31


@pytest.mark.parametrize("distance", ["l1", "l2"])
@pytest.mark.parametrize("inclusive", [False, True])
def test_vectorised_tracking_equals_reference(distance, inclusive):
    feat = _feat(c=5, h=16, seed=5)
    handles = torch.tensor([[3.0, 4.0], [17.0, 29.0], [31.0, 0.0]])
    f0 = torch.randn(3, 5)
    fast = track_points(feat, SIZE, handles, f0, 4.0, distance, inclusive)
    ref = track_points_reference(feat, SIZE, handles, f0, 4.0, distance, inclusive)
    assert torch.equal(fast, ref)


def test_inclusive_window_reaches_r2_and_strict_does_not():
    feat = _feat(c=8, h=32, seed=3)  # full resolution
    handles = torch.tensor([[10.0, 12.0]])
    f0 = sample_image_res(feat, SIZE, handles + torch.tensor([3.0, -3.0]))  # the best match 3 px away
    assert track_points(feat, SIZE, handles, f0, 3.0, inclusive=True).tolist() == [[13.0, 9.0]]
    assert track_points(feat, SIZE, handles, f0, 3.0, inclusive=False).tolist() != [[13.0, 9.0]]


# ---- the session ----

@pytest.fixture()
def G():
    return tiny_generator(seed=1, img_resolution=32)


def test_stop_rule_follows_the_paper(G):
    session = DragSession.from_seed(G, 0, config=DragConfig(few_handles_stop=1.0))  # ours: 0.5 (test_method.py)
    five = [[5.0 + 4 * i, 10.0] for i in range(5)]
    session.set_points(five, [[x + 1.5, y] for x, y in five])
    assert session.cfg.stop_distance(5) == 1.0
    r = session.step()
    assert not r.converged and not r.done
    six = [[4.0 + 4 * i, 10.0] for i in range(6)]
    session.set_points(six, [[x + 1.5, y] for x, y in six])
    assert session.cfg.stop_distance(6) == 2.0
    r = session.step()
    assert r.converged and r.done and r.step == 0


def test_converged_step_does_not_change_the_latent(G):
    session = DragSession.from_seed(G, 0)
    session.set_points([[10, 10]], [[10.5, 10]])
    before = session.current_ws()
    r = session.step()
    assert r.converged
    assert torch.equal(before, session.current_ws())


def test_a_step_only_changes_the_optimised_layers(G):
    for space, layers in (("w+", 3), ("w", 4)):
        session = DragSession.from_seed(G, 0, config=DragConfig(latent_space=space, num_optimized_layers=layers))
        ws0 = session.current_ws()
        session.set_points([[10, 10]], [[20, 14]])
        for _ in range(3):
            session.step()
        ws = session.current_ws()
        assert torch.equal(ws[:, layers:], ws0[:, layers:])
        assert not torch.equal(ws[:, :layers], ws0[:, :layers])
        if space == "w":
            assert torch.allclose(ws[:, :layers], ws[:, :1].expand(-1, layers, -1))


@pytest.mark.parametrize("config", [DragConfig(), official_config(32, feature_block=16, r1=2.0, r2=3.0)])
def test_fast_path_equals_full_forward_path(G, config):
    a = DragSession.from_seed(G, 3, config=config)
    b = DragSession.from_seed(G, 3, config=config.with_(full_forward=True))
    for s in (a, b):
        s.set_points([[8, 9], [20, 22]], [[14, 12], [18, 26]])
    for _ in range(5):
        ra, rb = a.step(render_image=True), b.step(render_image=True)
        assert np.array_equal(ra.handles, rb.handles)
        assert ra.loss == pytest.approx(rb.loss, rel=1e-4)
        # float-level differences in the gradient, times our larger step, may flip a uint8 rounding
        assert np.abs(ra.image.astype(int) - rb.image.astype(int)).max() <= 1
    assert torch.allclose(a.current_ws(), b.current_ws(), atol=1e-5)


@pytest.mark.parametrize("lambda_mask, most", [(None, 0.85), (2.0, 0.5)])
def test_mask_keeps_the_fixed_region(fixture_G, lambda_mask, most):
    """Our default weight (0.5, chosen so masked edits still arrive) holds back less than a larger one."""
    changes = {}
    fixed = np.ones((64, 64), np.float32)
    fixed[:, 24:] = 0  # the right part must stay (mask = 1 where movable)
    config = DragConfig(max_steps=15)
    if lambda_mask is not None:
        config = config.with_(lambda_mask=lambda_mask)
    for use_mask in (False, True):
        session = DragSession.from_seed(fixture_G, 2, config=config)
        start = session.render().astype(np.float32)
        session.set_points([[12, 30]], [[20, 30]])
        if use_mask:
            session.set_mask(fixed)
        session.run()
        end = session.render().astype(np.float32)
        changes[use_mask] = np.abs(end - start)[:, 32:].mean()
    assert changes[True] < most * changes[False]


def test_run_moves_the_handle_toward_the_target_and_continues(fixture_G):
    session = DragSession.from_seed(fixture_G, 1, config=DragConfig(max_steps=60))
    session.set_points([[20, 30]], [[30, 30]])
    first = session.step()
    r = session.run()
    assert r.distances[0] < first.distances[0]
    assert len(session.trajectory) >= 2
    # continuing: new points start from the edited latent, not the original
    edited = session.current_ws()
    session.set_points([[40, 20]], [[40, 26]])
    assert torch.equal(session.current_ws(), edited)
    session.run(max_steps=5)
    assert not torch.equal(session.current_ws(), edited)
    session.set_latent(edited)  # the editor's undo swaps a latent in; the drag ends
    assert session.drag is None and torch.equal(session.current_ws(), edited)


def test_structural_setting_change_mid_drag_keeps_dragging(fixture_G):
    """W/W+, optimised layers or the feature block changed while a drag runs: the drag goes on (was AttributeError)."""
    session = DragSession.from_seed(fixture_G, 1, config=DragConfig(max_steps=60))
    session.set_points([[20, 30]], [[30, 30]])
    for _ in range(3):
        session.step()
    tracked = session.handles.copy()
    for change in (dict(latent_space="w"), dict(num_optimized_layers=4), dict(feature_block=16)):
        session.set_config(session.config.with_(**change))
        assert session.drag is not None
        np.testing.assert_allclose(session.handles, tracked)
        r = session.step()
        tracked = r.handles
        assert r.error is None


def test_step_size_change_applies_to_the_running_drag(G):
    session = DragSession.from_seed(G, 0)
    session.set_points([[10, 10]], [[20, 14]])
    session.step()
    session.set_config(session.config.with_(lr=0.05))  # ours: in units of the model's W spread
    assert session.drag is not None
    assert session.drag.optimizer.param_groups[0]["lr"] == pytest.approx(0.05 * w_spread(G))
    session.set_config(session.config.with_(lr=0.05, lr_relative=False))
    assert session.drag.optimizer.param_groups[0]["lr"] == 0.05


def test_nan_step_keeps_the_last_good_latent(G):
    session = DragSession.from_seed(G, 0)
    session.set_points([[10, 10]], [[20, 14]])
    session.step()
    good = session.current_ws()
    with torch.no_grad():
        G.synthesis.b8.conv1.weight[0, 0, 0, 0] = float("nan")
    r = session.step()
    assert r.error and "NaN" in r.error and r.done
    assert torch.equal(session.current_ws(), good)


@pytest.mark.parametrize("handles,targets,match", [
    ([[10, 10]], [], "every handle needs a target"),
    ([], [], "at least one"),
    ([[40, 10]], [[10, 10]], "outside"),
    ([[10, 10]], [[10, -1]], "outside"),
    ([[10, float("nan")]], [[10, 10]], "finite"),
    ("abc", [[1, 2]], "pairs"),
])
def test_bad_points_get_clear_errors(G, handles, targets, match):
    session = DragSession.from_seed(G, 0)
    with pytest.raises(DragGANError, match=match):
        session.set_points(handles, targets)


def test_bad_mask_and_latent_get_clear_errors(G):
    session = DragSession.from_seed(G, 0)
    with pytest.raises(DragGANError, match="32x32"):
        session.set_mask(np.ones((16, 16)))
    with pytest.raises(DragGANError, match=r"\[0, 1\]"):
        session.set_mask(np.full((32, 32), 2.0))
    with pytest.raises(DragGANError, match="latent"):
        DragSession(G, torch.zeros(1, 3, G.w_dim))
    with pytest.raises(DragGANError, match="feature block"):
        DragSession.from_seed(G, 0, config=DragConfig(feature_block=100))
    with pytest.raises(DragGANError):
        DragConfig(latent_space="z")
    with pytest.raises(DragGANError, match="set handle"):
        session.step()


def test_default_radii_never_fall_below_usable_minimums(G):
    cfg = DragConfig().resolved(64, [4, 8, 16, 32, 64])
    assert cfg.r1 >= 2 and cfg.r2 >= 3 and cfg.feature_block == 32
    big = DragConfig().resolved(512, [4, 8, 16, 32, 64, 128, 256, 512])
    assert (big.r1, big.r2, big.feature_block) == (3, 12, 128)
    off = official_config(512)
    assert off.tracking_distance == "l2" and off.stop_distance == 2.0
