"""`official_config` is the authors' drag step, `paper_config` the paper's text.

The reference here is written from the formulas of the authors' `viz/renderer.py`, independently of
the engine: per point, in their (row, column) order, on the feature map resized to the image with
F.interpolate, the disk on torch.linspace grids, the shifted sample by F.grid_sample(align_corners=
True, zero padding), one F.l1_loss per handle summed, tracking by slicing [p - r, p + r] and
torch.min of the L2 norm, Adam over the whole W+ tensor of which only the first 6 rows are used.
It runs on the 64 px fixture with block b32, r1 = 2 px and a +-2 px window (round(12/512 * 64)).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from draggan.engine import DragConfig, DragSession, official_config, paper_config, seed_to_ws
from draggan.engine.motion import disk_patch, motion_loss, track_points
from draggan.engine.sampling import sample_bilinear, sample_image_res, upsample
from draggan.errors import DragGANError

from conftest import tiny_generator

RES = 64
BLOCK = 32
R1 = 2  # px, given directly: the authors' round(3/512 * 64) is 0
R2 = round(12 / 512 * RES)  # the authors' tracking radius at 64 px: 2
SIZE = (RES, RES)


def official64(**changes) -> DragConfig:
    return official_config(RES, feature_block=BLOCK, r1=float(R1), **changes)


# ---- the authors' formulas, points as [row, column] = [y, x] like theirs ----

def authors_disk(point, r1, h=RES, w=RES):
    xx, yy = torch.meshgrid(torch.linspace(0, h, h), torch.linspace(0, w, w), indexing="ij")
    distance = ((xx - point[0]) ** 2 + (yy - point[1]) ** 2) ** 0.5
    return torch.where(distance < r1)  # (rows, columns)


def authors_motion_loss(feat_resize, points, targets, r1):
    """-> (sum over handles of F.l1_loss(F(q).detach(), F(q + d)), stop) for the handles' current positions."""
    h, w = feat_resize.shape[-2:]
    loss, stop = 0, True
    for point, target in zip(points, targets):
        direction = torch.tensor([target[1] - point[1], target[0] - point[0]], dtype=torch.float32)
        if torch.linalg.norm(direction) > max(2 / 512 * h, 2):
            stop = False
        if torch.linalg.norm(direction) > 1:
            relis, reljs = authors_disk(point, r1, h, w)
            direction = direction / (torch.linalg.norm(direction) + 1e-7)
            gridh = (relis + direction[1]) / (h - 1) * 2 - 1
            gridw = (reljs + direction[0]) / (w - 1) * 2 - 1
            grid = torch.stack([gridw, gridh], dim=-1).unsqueeze(0).unsqueeze(0)
            shifted = F.grid_sample(feat_resize, grid, mode="bilinear", padding_mode="zeros",
                                    align_corners=True).squeeze(2)
            loss = loss + F.l1_loss(feat_resize[:, :, relis, reljs].detach(), shifted)
    return loss, stop


def authors_track(feat_resize, point, ref, r):
    h, w = feat_resize.shape[-2:]
    up, down = max(point[0] - r, 0), min(point[0] + r + 1, h)
    left, right = max(point[1] - r, 0), min(point[1] + r + 1, w)
    patch = feat_resize[:, :, up:down, left:right]
    l2 = torch.linalg.norm(patch - ref.reshape(1, -1, 1, 1), dim=1)
    _, idx = torch.min(l2.view(1, -1), -1)
    width = right - left
    return [idx.item() // width + up, idx.item() % width + left]


class AuthorsDrag:
    """The authors' drag loop on our generator; one `step` per GUI frame of theirs."""

    def __init__(self, G, w, block=BLOCK, r1=R1, r2=R2, lr=1e-3):
        self.G, self.block, self.r1, self.r2 = G, block, r1, r2
        self.w0 = w.detach().clone()  # [1, L, D]
        self.w = w.detach().clone().requires_grad_(True)  # the whole W+ tensor is the Adam parameter
        self.optim = torch.optim.Adam([self.w], lr=lr)
        self.refs = None

    def latent(self):
        return torch.cat([self.w[:, :6], self.w0[:, 6:]], dim=1)

    def step(self, points, targets, fixed=None, lambda_mask=20):
        """points [[y, x]] ints, tracked in place; fixed [H, W] 1 = keep -> (loss before the update, stop)."""
        out = self.G.synthesis.run(self.latent(), "const", feature_blocks=[self.block], render_image=True)
        feat_resize = F.interpolate(out.features[self.block], [RES, RES], mode="bilinear")
        if self.refs is None:
            self.feat0 = feat_resize.detach()
            self.refs = [self.feat0[:, :, round(p[0]), round(p[1])] for p in points]
        with torch.no_grad():
            for j, point in enumerate(points):
                points[j] = authors_track(feat_resize, point, self.refs[j], self.r2)
        loss, stop = authors_motion_loss(feat_resize, points, targets, self.r1)
        if fixed is not None and fixed.min() == 0 and fixed.max() == 1:
            loss = loss + lambda_mask * F.l1_loss(feat_resize * fixed, self.feat0 * fixed)
        if not stop:
            self.optim.zero_grad()
            loss.backward()
            self.optim.step()
        return float(torch.as_tensor(loss).detach()), stop


def xy(points_yx):
    return [[p[1], p[0]] for p in points_yx]


@pytest.fixture(scope="module")
def feat32(fixture_G):
    """b32 features of a fixture image: [1, C, 32, 32]."""
    ws = seed_to_ws(fixture_G, 5)
    with torch.no_grad():
        return fixture_G.synthesis.run(ws, "const", feature_blocks=[BLOCK], render_image=False).features[BLOCK]


# ---- each formula against the authors' ----

@pytest.mark.parametrize("handle", [(10, 20), (0, 0), (63, 63), (62, 1), (31, 47), (50.6, 7.2)])
def test_official_disk_is_the_linspace_disk(handle):
    """Pixel set of Omega1 with grid='official' == torch.where(linspace distance < r1), not the centred disk."""
    x, y = handle
    for r1 in (1.0, 2.0, 3.0):
        q, valid = disk_patch(torch.tensor([[x, y]], dtype=torch.float32), r1, SIZE, grid="official")
        ours = {(int(a), int(b)) for (a, b), v in zip(q[0].tolist(), valid[0].tolist()) if v}
        rows, cols = authors_disk([y, x], r1)
        assert ours == set(zip(cols.tolist(), rows.tolist())), (handle, r1)
    qc, vc = disk_patch(torch.tensor([[x, y]], dtype=torch.float32), 2.0, SIZE, grid="centred")
    centred = {(int(a), int(b)) for (a, b), v in zip(qc[0].tolist(), vc[0].tolist()) if v}
    if x > 20 or y > 20:  # the official disk drifts up-left toward the bottom-right of the image
        assert centred != ours


def test_official_disk_is_larger_and_off_centre_at_r1_2():
    """Away from the edges the centred disk holds 9 pixels; the official one mostly 11-13, up-left of p."""
    counts, shifts = [], []
    for x in range(2, 62, 3):
        for y in range(2, 62, 5):
            q, valid = disk_patch(torch.tensor([[float(x), float(y)]]), 2.0, SIZE, grid="official")
            counts.append(int(valid.sum()))
            shifts.append((q[0][valid[0]].mean(0) - torch.tensor([x, y])).tolist())
            assert int(disk_patch(torch.tensor([[float(x), float(y)]]), 2.0, SIZE)[1].sum()) == 9
    assert 9 <= min(counts) and max(counts) <= 14 and np.median(counts) >= 12
    shifts = np.array(shifts)
    assert (shifts <= 0.05).all() and shifts.min() < -0.7  # up-left, growing to about 1 px


HANDLES_YX = [[30, 20], [1, 3], [50, 40], [12, 60]]  # interior; at the top edge; within 1 px; right edge
TARGETS_YX = [[33, 28], [0, 0], [50, 41], [20, 63]]


def test_official_loss_and_gradient_equal_the_authors_formula(feat32):
    """Disk, per-handle sum of means, skip within 1 px and zero padding: value and gradient."""
    feat_a = feat32.clone().requires_grad_(True)
    feat_b = feat32.clone().requires_grad_(True)
    handles, targets = torch.tensor(xy(HANDLES_YX), dtype=torch.float32), torch.tensor(xy(TARGETS_YX),
                                                                                       dtype=torch.float32)
    active = (targets - handles).norm(dim=-1) > 1
    assert active.tolist() == [True, True, False, True]
    ours = motion_loss(feat_a, SIZE, handles, targets, R1, "sum_of_means", active, grid="official", padding="zeros")
    ref, _ = authors_motion_loss(F.interpolate(feat_b, [RES, RES], mode="bilinear"), HANDLES_YX, TARGETS_YX, R1)
    assert ours.item() == pytest.approx(ref.item(), rel=1e-5)
    ours.backward()
    ref.backward()
    assert torch.allclose(feat_a.grad, feat_b.grad, atol=1e-7, rtol=1e-4)
    # each official choice changes the value or the gradient here, so the equality above tests every one
    for changed in (dict(reduction="mean"), dict(grid="centred"), dict(padding="border"), dict(active=None)):
        kw = dict(reduction="sum_of_means", active=active, grid="official", padding="zeros") | changed
        feat_c = feat32.clone().requires_grad_(True)
        other = motion_loss(feat_c, SIZE, handles, targets, R1, **kw)
        other.backward()
        assert (other.item() != pytest.approx(ref.item(), rel=1e-5)
                or not torch.allclose(feat_c.grad, feat_b.grad, atol=1e-7, rtol=1e-4)), changed


def test_zero_padding_reads_zeros_beyond_the_edge(feat32):
    """Fast path == grid_sample(zeros) on the resized map; border differs only outside [0, W-1]."""
    pos = torch.tensor([[-0.4, 10.0], [63.5, 5.2], [20.3, -0.9], [-0.2, 63.7], [10.5, 30.25], [0.0, 63.0]])
    full = F.interpolate(feat32, [RES, RES], mode="bilinear")
    grid = (pos / (RES - 1) * 2 - 1).reshape(1, 1, -1, 2)
    direct = F.grid_sample(full, grid, mode="bilinear", padding_mode="zeros", align_corners=True)[0, :, 0].t()
    zeros = sample_image_res(feat32, SIZE, pos, padding="zeros")
    assert torch.allclose(zeros, direct, atol=1e-5)
    assert torch.allclose(sample_bilinear(upsample(feat32, SIZE), pos, padding="zeros"), direct, atol=1e-5)
    border = sample_image_res(feat32, SIZE, pos, padding="border")
    outside = ((pos < 0) | (pos > RES - 1)).any(-1)
    assert torch.allclose(zeros[~outside], border[~outside], atol=1e-6)
    assert ((zeros[outside] - border[outside]).abs().amax(-1) > 1e-3).all()


def test_inclusive_window_is_the_authors_slice(feat32):
    """Tracking with window='inclusive' and L2 == slicing [p - r, p + r] clipped, torch.min of the norm."""
    full = F.interpolate(feat32, [RES, RES], mode="bilinear")[0]  # [C, H, W]
    g = torch.Generator().manual_seed(0)
    cases = []  # (handle [y, x], reference feature)
    for p in ([30, 30], [0, 0], [63, 63], [1, 62], [40, 2]):
        for off in ([R2, -R2], [-R2, R2], [R2, R2], [1, 0]):  # the best match on the window's edge
            y, x = min(max(p[0] + off[0], 0), RES - 1), min(max(p[1] + off[1], 0), RES - 1)
            cases.append((p, full[:, y, x] + 1e-3 * torch.randn(full.shape[0], generator=g)))
        cases.append((p, torch.randn(full.shape[0], generator=g)))
    handles = torch.tensor([xy([p])[0] for p, _ in cases], dtype=torch.float32)
    f0 = torch.stack([f for _, f in cases])
    ours = track_points(feat32, SIZE, handles, f0, R2, "l2", inclusive=True)
    ref = [authors_track(full[None], p, f, R2) for p, f in cases]
    assert ours.tolist() == [[float(x), float(y)] for y, x in ref]
    strict = track_points(feat32, SIZE, handles, f0, R2, "l2", inclusive=False)
    assert not torch.equal(strict, ours)  # the +-r2 ring is what strict leaves out


# ---- the whole loop ----

def run_both(G, seed, handles_yx, targets_yx, steps, config, stop_after=None, fixed=None):
    """The authors' loop and an official session side by side -> per step (ours, theirs) results."""
    ws = seed_to_ws(G, seed)
    theirs = AuthorsDrag(G, ws)  # lr 1e-3, whatever `config` says
    session = DragSession(G, ws, config)
    session.set_points(xy(handles_yx), xy(targets_yx))
    if fixed is not None:
        session.set_mask(1 - fixed.numpy())  # ours: 1 = may move
    points, rows = [list(p) for p in handles_yx], []
    session_handles = xy(handles_yx)
    for i in range(steps):
        if stop_after is not None and i == stop_after:  # Stop, then Start on the (tracked) points
            session.stop()
            session.set_points(session_handles, xy(targets_yx))
        r = session.step()
        session_handles = r.handles.tolist()
        loss, stop = theirs.step(points, targets_yx, fixed)
        rows.append((r, loss, stop, [list(p) for p in points]))
        if stop:
            break
    return session, theirs, rows


def same_run(session, theirs, rows) -> bool:
    """Every step: the same tracked handles, stop and loss (to float level); then the same latent."""
    for r, loss, stop, points in rows:
        if (r.handles.tolist() != [[float(x), float(y)] for y, x in points] or r.converged != stop
                or r.loss != pytest.approx(loss, rel=1e-4)):
            return False
    with torch.no_grad():  # float-level drift only: one setting of ours moves the latent by ~3e-3 in 3 steps
        return torch.allclose(session.current_ws(), theirs.latent(), atol=1e-5)


def test_official_session_reproduces_the_authors_loop(fixture_G):
    """12 steps, 4 handles (edges, one within 1 px): same tracked handles, losses and latent."""
    session, theirs, rows = run_both(fixture_G, 3, HANDLES_YX, TARGETS_YX, 12, official64())
    assert len(rows) == 12 and same_run(session, theirs, rows)
    assert any(points != HANDLES_YX for *_, points in rows)  # tracking moved handles: the window was used
    assert not torch.equal(session.current_ws(), theirs.w0)


def test_official_mask_term_is_lambda_times_the_authors_l1_loss(fixture_G):
    fixed = torch.ones(RES, RES)
    fixed[10:45, 0:40] = 0  # the region around the first handles may move
    session, theirs, rows = run_both(fixture_G, 3, HANDLES_YX, TARGETS_YX, 6, official64(), fixed=fixed)
    assert same_run(session, theirs, rows) and rows[-1][0].loss_mask > 0
    session, theirs, rows = run_both(fixture_G, 3, HANDLES_YX, TARGETS_YX, 6, official64(loss_reduction="sum"),
                                     fixed=fixed)
    assert not same_run(session, theirs, rows)


@pytest.mark.parametrize("changed", [dict(lr=2e-3), dict(loss_reduction="mean"), dict(disk_grid="centred"),
                                     dict(padding="border"), dict(skip_reached=False)])
def test_each_official_setting_matters_in_that_loop(fixture_G, changed):
    """With any one official setting replaced by ours, the same comparison fails."""
    session, theirs, rows = run_both(fixture_G, 3, HANDLES_YX, TARGETS_YX, 3, official64(**changed))
    assert not same_run(session, theirs, rows)


def test_stop_then_start_on_the_same_points_continues_the_drag(fixture_G):
    """Adam's state and f0 carry over a Stop/Start (the authors' loop does not notice it); ours restarts."""
    session, theirs, rows = run_both(fixture_G, 3, HANDLES_YX, TARGETS_YX, 10, official64(), stop_after=4)
    assert same_run(session, theirs, rows)
    assert session.drag.steps == 10 and len(session.trajectory) == 10
    fresh, theirs, rows = run_both(fixture_G, 3, HANDLES_YX, TARGETS_YX, 10, official64(carry_over=False),
                                   stop_after=4)
    assert not same_run(fresh, theirs, rows)


def test_new_points_keep_adams_moments_until_the_latent_changes(fixture_G):
    session = DragSession.from_seed(fixture_G, 3, config=official64())
    session.set_points([[20, 30]], [[28, 33]])
    for _ in range(3):
        session.step()
    optimizer = session.drag.optimizer
    session.set_points([[40, 10]], [[44, 16]])  # other points: new f0, same Adam
    assert session.drag.optimizer is optimizer and session.drag.steps == 0
    assert next(iter(optimizer.state.values()))["step"] == 3
    session.stop()
    session.set_latent(session.current_ws())  # undo / reset: a new optimiser, as the authors' reset
    session.set_points([[40, 10]], [[44, 16]])
    assert session.drag.optimizer is not optimizer
    ours = DragSession.from_seed(fixture_G, 3, config=DragConfig(feature_block=BLOCK))
    ours.set_points([[20, 30]], [[28, 33]])
    ours.step()
    first = ours.drag.optimizer
    ours.set_points([[20, 30]], [[28, 33]])
    assert ours.drag.optimizer is not first  # ours: every drag starts afresh


def test_adam_over_the_whole_wplus_tensor_equals_adam_over_its_used_rows():
    """Adam is per element: rows that get no gradient never move, the used rows move identically."""
    g = torch.Generator().manual_seed(0)
    w0, proj = torch.randn(1, 10, 16, generator=g), torch.randn(16, 3, generator=g)
    whole = w0.clone().requires_grad_(True)
    rows = w0[:, :6].clone().requires_grad_(True)
    opt_whole, opt_rows = torch.optim.Adam([whole], lr=1e-3), torch.optim.Adam([rows], lr=1e-3)
    for _ in range(20):
        for opt, head in ((opt_whole, whole[:, :6]), (opt_rows, rows)):
            opt.zero_grad()
            (head @ proj).sin().sum().backward()
            opt.step()
    assert torch.equal(whole[:, :6], rows) and torch.equal(whole[:, 6:], w0[:, 6:])


def test_stop_rule_is_max_2_over_512_size_or_2_px_for_any_number_of_handles(fixture_G):
    assert official_config(64).stop_distance == 2.0 and official_config(1024).stop_distance == 4.0
    for n in (1, 5, 6):
        handles = [[8.0 + 8 * i, 20.0] for i in range(n)]
        for gap, stops in ((1.9, True), (2.0, True), (2.1, False)):
            session = DragSession.from_seed(fixture_G, 1, config=official64())
            before = session.current_ws()
            session.set_points(handles, [[x, y + gap] for x, y in handles])
            r = session.step()
            assert r.converged == stops and r.done == stops, (n, gap)
            assert torch.equal(session.current_ws(), before) == stops  # no update on that call
    paper = DragSession.from_seed(fixture_G, 1, config=paper_config(RES, feature_block=BLOCK, r1=2.0))
    paper.set_points([[20, 20]], [[20, 21.5]])
    assert not paper.step().converged  # the paper stops at 1 px for up to 5 handles


def test_a_handle_within_1_px_is_not_supervised(fixture_G):
    ws = seed_to_ws(fixture_G, 2)
    far, near = [20.0, 30.0], [45.0, 12.0]
    losses = {}
    for name, handles, targets, cfg in (
            ("far", [far], [[28.0, 33.0]], official64()),
            ("both", [far, near], [[28.0, 33.0], [46.0, 12.0]], official64()),  # 1.0 px: not > 1
            ("both supervised", [far, near], [[28.0, 33.0], [46.0, 12.0]], official64(skip_reached=False))):
        session = DragSession(fixture_G, ws, cfg)
        session.set_points(handles, targets)
        losses[name] = (session.step().loss, session.current_ws())
    assert losses["both"][0] == losses["far"][0]
    assert torch.allclose(losses["both"][1], losses["far"][1], atol=1e-7)  # the same update (to float level)
    assert not torch.allclose(losses["both supervised"][1], losses["far"][1], atol=1e-4)
    assert losses["both supervised"][0] > losses["far"][0] * 1.01


def test_sub_pixel_handles_are_rounded_like_the_authors_clicks(fixture_G):
    session = DragSession.from_seed(fixture_G, 1, config=official64())
    session.set_points([[20.4, 30.6]], [[28.0, 33.0]])
    assert session.handles.tolist() == [[20.0, 31.0]]
    ours = DragSession.from_seed(fixture_G, 1, config=DragConfig(feature_block=BLOCK))
    ours.set_points([[20.4, 30.6]], [[28.0, 33.0]])
    np.testing.assert_allclose(ours.handles, [[20.4, 30.6]], rtol=1e-6)


# ---- configs, errors, labels ----

def test_official_config_sets_every_official_choice_and_changes_override():
    cfg = official_config(512)
    assert (cfg.feature_block, cfg.radius_floor, cfg.lr, cfg.tracking_distance, cfg.stop_distance) == \
        (128, False, 1e-3, "l2", 2.0)
    assert (cfg.loss_reduction, cfg.disk_grid, cfg.window, cfg.padding, cfg.label) == \
        ("sum_of_means", "official", "inclusive", "zeros", "zeros")
    assert cfg.skip_reached and cfg.round_handles and cfg.carry_over
    resolved = cfg.resolved(512, [4, 8, 16, 32, 64, 128, 256, 512])
    assert (resolved.feature_block, resolved.r1, resolved.r2) == (128, 3.0, 12.0)
    assert official_config(256).resolved(256, [4, 8, 16, 32, 64, 128, 256]).feature_block == 128  # ours: b128 too
    assert official_config(128).resolved(128, [4, 8, 16, 32, 64, 128]).feature_block == 128  # ours: b64
    # was a TypeError: tracking_distance passed twice
    assert official_config(64, tracking_distance="l1").tracking_distance == "l1"
    assert official_config(64, stop_distance=1.0, lr=5e-3).stop_distance == 1.0


def test_paper_config_is_the_papers_text():
    cfg = paper_config(512)
    assert (cfg.feature_block, cfg.radius_floor, cfg.lr, cfg.lambda_mask, cfg.tracking_distance) == \
        (128, False, 2e-3, 20.0, "l1")
    assert (cfg.loss_reduction, cfg.disk_grid, cfg.window, cfg.stop_distance, cfg.skip_reached) == \
        ("sum", "centred", "strict", None, False)
    resolved = cfg.resolved(512, [4, 8, 16, 32, 64, 128, 256, 512])
    assert (resolved.r1, resolved.r2, resolved.stop_distance(5), resolved.stop_distance(6)) == (3.0, 12.0, 1.0, 2.0)
    assert paper_config(512, tracking_distance="l2").tracking_distance == "l2"
    assert DragConfig().resolved(64, [4, 8, 16, 32, 64]).r1 == 2.0  # ours keeps its floor


def test_official_mode_at_64_px_says_r1_is_zero(fixture_G):
    """round(3/512 * 64) = 0: the authors' disk is empty (NaN loss, no update); we say so instead."""
    ws = seed_to_ws(fixture_G, 0)
    with pytest.raises(DragGANError, match=r"r1 = round\(3/512 \* 64\) = 0 px.*nothing would be supervised"):
        DragSession(fixture_G, ws, official_config(RES, feature_block=BLOCK))
    with pytest.raises(DragGANError, match=r"r1 = round\(3/512 \* 64\) = 0 px"):
        DragSession(fixture_G, ws, paper_config(RES, feature_block=BLOCK))
    with pytest.raises(DragGANError, match="feature block 128 does not exist"):
        DragSession(fixture_G, ws, official_config(RES, r1=2.0))  # the authors' feat[5] needs >= 128 px
    session = DragSession(fixture_G, ws, DragConfig())
    with pytest.raises(DragGANError, match="r1 = round"):
        session.set_config(official_config(RES, feature_block=BLOCK))
    assert session.config == DragConfig()  # the rejected settings left the session as it was
    assert DragSession(fixture_G, ws, official64()).cfg.r1 == 2.0


def test_official_label_is_all_zeros_for_a_conditional_model():
    G = tiny_generator(seed=2, c_dim=4)
    z = torch.from_numpy(np.random.RandomState(7).randn(1, G.z_dim)).float()
    with torch.no_grad():
        zero_label = G.mapping(z, torch.zeros(1, 4))
        first_class = G.mapping(z, torch.eye(4)[:1])
    assert not torch.allclose(zero_label, first_class)
    assert torch.equal(seed_to_ws(G, 7, label="zeros"), zero_label)
    assert torch.equal(seed_to_ws(G, 7), first_class)
    official = DragSession.from_seed(G, 7, config=official_config(32, feature_block=16, r1=2.0))
    assert torch.equal(official.current_ws(), zero_label)
    ours = DragSession.from_seed(G, 7, config=DragConfig())
    assert torch.equal(ours.current_ws(), first_class)
    with pytest.raises(DragGANError, match="label"):
        seed_to_ws(G, 7, label="none")


def test_official_and_paper_configs_survive_a_session_file(tmp_path):
    from draggan.session_file import SessionData, load_session, save_session
    for cfg in (official64(), paper_config(RES, feature_block=BLOCK, r1=2.0)):
        data = SessionData(None, RES, 1, 0.7, np.zeros((1, 10, 8), np.float32), None,
                           np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]]), None, cfg)
        save_session(tmp_path / "s.json", data)
        assert load_session(tmp_path / "s.json").config == cfg


def test_bench_official_variant_is_the_authors_step():
    """`draggan bench`'s 'official' cost model does the authors' work: their loop's handles and latent, step for step,
    with the generator's weights requiring grad (their G is never frozen), their modulated convolution
    (unfused, as in training mode: their G is never set to eval()) and an image every step."""
    from draggan.bench_official import OfficialStep
    G = tiny_generator(3, img_resolution=RES, channel_base=2048, channel_max=32)
    ws = seed_to_ws(G, 7)
    handles_yx, targets_yx = [[30, 20], [12, 50]], [[36, 30], [20, 44]]
    theirs, points = AuthorsDrag(G, ws, block=BLOCK, r1=R1, r2=R2), [list(p) for p in handles_yx]
    bench = OfficialStep(G, ws, BLOCK, R1, R2, np.array(xy(handles_yx), float), np.array(xy(targets_yx), float))
    assert all(p.requires_grad for p in G.synthesis.parameters())
    import stylegan2.layers
    ours = stylegan2.layers.modulated_conv2d
    for _ in range(4):
        image = bench.step()
        assert stylegan2.layers.modulated_conv2d is ours  # their op only inside the step
        loss, stop = theirs.step(points, targets_yx)
        assert not stop and bench.points == points
        assert image.shape == (RES, RES, 3) and image.dtype == np.uint8
    assert torch.allclose(bench.w, theirs.w, atol=1e-6)  # their unfused modulated conv: the same values
    assert G.synthesis.b16.conv1.weight.grad is not None  # weight gradients were computed, as theirs
