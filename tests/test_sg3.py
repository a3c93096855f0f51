"""StyleGAN3: the fixture reproduces its references; our written R / conditional files read back;
run() stops at a layer, cuts autograd, and says where the image lies inside each layer's margin."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch

import stylegan2
from checkpoint_writers import dumps, scipy_lowpass, sg3_kwargs, sg3_snapshot
from conftest import fixture_path
from stylegan2 import CheckpointError, StyleGAN3Config, StyleGAN3Generator
from stylegan2.ops_sg3 import design_lowpass_filter

ATOL = dict(ws=1e-5, img=1e-4)  # shared/fixtures/README.md


@lru_cache(maxsize=None)
def _fixture():
    G = stylegan2.load_generator(fixture_path("sg3_t_64.pkl"))
    return G, dict(np.load(fixture_path("sg3_t_64.ref.npz")))


@pytest.fixture()
def sg3():
    return _fixture()


def _z(ref) -> torch.Tensor:
    return torch.from_numpy(ref["z"]).to(torch.float32)


@torch.no_grad()
def test_fixture_reproduces_every_reference_array(sg3):
    G, ref = sg3
    assert isinstance(G, StyleGAN3Generator) and G.family == "StyleGAN3-T"
    assert (G.z_dim, G.w_dim, G.c_dim, G.num_ws, G.img_resolution, G.img_size) == (64, 64, 0, 16, 64, (64, 64))
    for seed, z in zip(ref["seeds"], ref["z"]):
        assert np.array_equal(np.random.RandomState(int(seed)).randn(64), z)  # NVIDIA's seed convention
    np.testing.assert_allclose(G.mapping.w_avg.numpy(), ref["w_avg"], atol=0)
    ws = G.mapping(_z(ref), None)
    ws07 = G.mapping(_z(ref), None, truncation_psi=0.7)
    np.testing.assert_allclose(ws.numpy(), ref["ws"], atol=ATOL["ws"], rtol=0)
    np.testing.assert_allclose(ws07.numpy(), ref["ws_psi07"], atol=ATOL["ws"], rtol=0)
    keys = G.synthesis.feature_keys
    out = G.synthesis.run(ws, "const", feature_blocks=keys)
    np.testing.assert_allclose(out.img.numpy(), ref["img"], atol=ATOL["img"], rtol=1e-4)
    np.testing.assert_allclose(G.synthesis(ws07).numpy(), ref["img_psi07"], atol=ATOL["img"], rtol=1e-4)
    np.testing.assert_allclose(G.synthesis(ws, noise_mode="none").numpy(), ref["img_noise_none"],
                               atol=ATOL["img"], rtol=1e-4)
    maps = {"input": G.synthesis.input(ws[:, 0])}
    maps.update({G.synthesis.layer_names[k]: out.features[k] for k in keys})
    assert list(ref["sg3_layer_names"]) == list(maps)
    for name, x in maps.items():
        assert tuple(x.shape) == tuple(ref[f"sg3shape_{name}"]), name
        np.testing.assert_allclose(x[0, :4, :8, :8].numpy(), ref[f"sg3crop_{name}"], atol=ATOL["img"], rtol=1e-4,
                                   err_msg=name)


@torch.no_grad()
def test_batch_composition_does_not_change_a_sample(sg3):
    G, ref = sg3
    ws = G.mapping(_z(ref), None)
    np.testing.assert_allclose(G.synthesis(ws[1:2]).numpy(), G.synthesis(ws)[1:2].numpy(), atol=1e-5)


# Zeroing any one of these (or setting magnitude_ema to 1) must move the image far beyond the tolerance.
GUARDED = ["synthesis.input.weight", "synthesis.input.affine.bias", "synthesis.input.phases",
           "synthesis.L0_36_64.weight", "synthesis.L5_52_64.bias", "synthesis.L9_84_64.affine.weight",
           "synthesis.L13_64_32.affine.bias", "synthesis.L14_64_3.bias", "mapping.fc0.weight", "mapping.fc1.bias",
           "synthesis.L7_52_64.magnitude_ema", "synthesis.L14_64_3.magnitude_ema"]


@pytest.mark.parametrize("name", GUARDED)
@torch.no_grad()
def test_zeroing_a_parameter_breaks_the_reference(name):
    G0, ref = _fixture()
    G = StyleGAN3Generator(G0.cfg)
    G.load_state_dict(G0.state_dict())
    t = G.state_dict()[name]
    t.fill_(1.0) if name.endswith("magnitude_ema") else t.zero_()
    img = G.synthesis(G.mapping(_z(ref), None)).numpy()
    # (a zero conv weight makes its RMS normalisation 0/0, as in the official code: NaN also breaks it)
    assert np.nan_to_num(np.abs(img - ref["img"]), nan=np.inf).max() > 1e-2


def test_w_avg_is_used_by_truncation(sg3):
    G0, ref = sg3
    G = StyleGAN3Generator(G0.cfg)
    G.load_state_dict(G0.state_dict())
    with torch.no_grad():
        G.mapping.w_avg.zero_()
        ws07 = G.mapping(_z(ref), None, truncation_psi=0.7)
    assert np.abs(ws07.numpy() - ref["ws_psi07"]).max() > 1e-2


def test_our_schedule_and_filters_match_the_file(sg3):
    """Built from the file's arguments alone, our layers have the file's filters and names."""
    G, _ = sg3
    fresh = StyleGAN3Generator(G.cfg).state_dict()
    loaded = G.state_dict()
    filters = [k for k in loaded if k.endswith("_filter")]
    assert len(filters) == 2 * 14  # every layer but toRGB has both
    for k in filters:
        torch.testing.assert_close(fresh[k], loaded[k], atol=1e-7, rtol=0)
    assert set(fresh) == set(loaded)


@pytest.mark.parametrize("numtaps, cutoff, width, fs, radial", [
    (12, 2.0, 12.0, 32, False), (24, 4.0, 8.0, 64, False), (12, 32.0, 14.79, 128, False),
    (12, 5.04, 21.9, 64, True), (24, 10.0, 20.0, 128, True)])
def test_filter_design_matches_scipy(numtaps, cutoff, width, fs, radial):
    pytest.importorskip("scipy")
    ours = design_lowpass_filter(numtaps, cutoff, width, fs, radial=radial)
    assert ours.ndim == (2 if radial else 1)
    torch.testing.assert_close(ours, scipy_lowpass(numtaps, cutoff, width, fs, radial=radial), atol=1e-7, rtol=0)
    assert design_lowpass_filter(1, cutoff, width, fs) is None


# ----------------------------------------------------------------------------------------------
# run(): layers as feature keys, early stop, autograd cut, margins.


def test_run_stops_at_a_layer_and_matches_the_full_pass(sg3):
    G, ref = sg3
    with torch.no_grad():
        ws = G.mapping(_z(ref)[:1], None)
        full = G.synthesis.run(ws, feature_blocks=[5, 9])
        early = G.synthesis.run(ws, feature_blocks=[5], render_image=False)
    assert early.img is None and list(early.features) == [5]
    torch.testing.assert_close(early.features[5], full.features[5], atol=0, rtol=0)
    assert tuple(full.features[5].shape) == (1, 64, 52, 52)
    with pytest.raises(ValueError, match="no synthesis layer"):
        G.synthesis.run(ws, feature_blocks=[15])


def test_grad_blocks_cuts_autograd_above_the_feature_layer(sg3):
    G, ref = sg3
    ws = G.mapping(_z(ref)[:1], None).detach().requires_grad_(True)
    out = G.synthesis.run(ws, feature_blocks=[5], grad_blocks=5)
    assert out.features[5].requires_grad and not out.img.requires_grad
    out.features[5].square().mean().backward()
    assert ws.grad[:, :7].abs().sum() > 0 and ws.grad[:, 7:].abs().sum() == 0  # input + L0..L5 read ws[:7]


def test_feature_box_locates_the_image_inside_the_margin(sg3):
    G, _ = sg3
    s = G.synthesis
    assert s.block_resolutions == s.feature_keys == list(range(15))
    for k in s.feature_keys:
        top, left, h, w = s.feature_box(k)
        assert top == left == s.layer_margins[k] and h == w == s.layer_sizes[k] - 2 * s.layer_margins[k]
    assert s.feature_box(5) == (10, 10, 32, 32) and s.feature_box(13) == (0, 0, 64, 64)


@torch.no_grad()
def test_translating_the_input_moves_features_inside_the_image_box(sg3):
    """A translation of the input transform by d image units moves layer k's content by
    d * sampling_rate pixels: the margin-aware mapping (feature_box) is where the image is."""
    G, ref = sg3
    ws = G.mapping(_z(ref)[:1], None)
    k, shift = 5, 2  # L5 samples the image at 32 px per side; move by 2 of its pixels
    top, left, h, w = G.synthesis.feature_box(k)
    base = G.synthesis.run(ws, feature_blocks=[k], render_image=False).features[k]
    S = StyleGAN3Generator(G.cfg)
    S.load_state_dict(G.state_dict())
    S.synthesis.input.transform[0, 2] = -shift / h  # the transform is inverse: content moves +x
    moved = S.synthesis.run(ws, feature_blocks=[k], render_image=False).features[k]
    inner = slice(top + 4, top + h - 4)
    a = base[..., inner, left + 4: left + w - 4 - shift]
    b = moved[..., inner, left + 4 + shift: left + w - 4]
    err = (a - b).abs().mean() / base.abs().mean()
    assert err < 0.1, err  # aliasing-free up to the filters' finite attenuation
    unmoved = (base[..., inner, left + 4: left + w - 4 - shift] - moved[..., inner, left + 4: left + w - 4 - shift])
    assert unmoved.abs().mean() / base.abs().mean() > 3 * err


# ----------------------------------------------------------------------------------------------
# Files we write (R config, conditional, protocol 3 / numpy 1.x names) read back.


@pytest.mark.parametrize("config, changes, protocol, spelling", [
    ("R", {}, 4, "numpy._core"), ("R", {}, 3, "numpy.core"), ("T", {"c_dim": 5}, 4, "numpy._core"),
    ("R", {"c_dim": 3, "img_resolution": 32}, 3, "numpy.core")])
def test_written_stylegan3_snapshots_read_back(tmp_path, config, changes, protocol, spelling):
    kw = sg3_kwargs(config, **changes)
    snap, sd = sg3_snapshot(kw, seed=3)
    path = tmp_path / "network-snapshot-000100.pkl"
    path.write_bytes(dumps(snap, protocol=protocol, numpy_spelling=spelling))
    G = stylegan2.load_generator(path)
    assert G.family == f"StyleGAN3-{config}" and stylegan2.checkpoint_info(path).family == G.family
    own = G.state_dict()
    assert set(own) == set(sd)  # G_ema, not G; every tensor under its own name
    for k, v in sd.items():
        torch.testing.assert_close(own[k], v, atol=0, rtol=0, msg=k)
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0))
    c = torch.eye(G.c_dim)[:2] if G.c_dim else None
    with torch.no_grad():
        img = G(z, c, truncation_psi=0.8)
    assert img.shape == (2, 3, kw["img_resolution"], kw["img_resolution"]) and torch.isfinite(img).all()


def test_r_config_structure(tmp_path):
    snap, sd = sg3_snapshot(sg3_kwargs("R"), seed=1)
    path = tmp_path / "stylegan3-r.pkl"
    path.write_bytes(dumps(snap))
    G = stylegan2.load_generator(path)
    cfg: StyleGAN3Config = G.cfg
    assert cfg.conv_kernel == 1 and cfg.use_radial_filters and cfg.family == "StyleGAN3-R"
    for spec in G.synthesis.layer_specs:
        layer = getattr(G.synthesis, spec.name)
        assert layer.weight.shape[2:] == (1, 1), spec.name  # R: 1x1 convolutions everywhere
        if spec.is_torgb:
            assert layer.down_filter is None and layer.up_filter is None
        else:
            assert layer.up_filter.ndim == 1  # up filters stay separable
            # radial (2-D jinc) down filters except in the critically sampled layers
            assert layer.down_filter.ndim == (1 if spec.is_critically_sampled else 2), spec.name
            f = layer.down_filter
            if f.ndim == 2:
                torch.testing.assert_close(f, f.t())  # radially symmetric
                torch.testing.assert_close(f, f.flip(0))


@pytest.mark.parametrize("source", ["fixture_T", "written_R"])
def test_native_safetensors_round_trip(tmp_path, source):
    if source == "fixture_T":
        G = _fixture()[0]
    else:
        path = tmp_path / "r.pkl"
        path.write_bytes(dumps(sg3_snapshot(sg3_kwargs("R"), seed=2)[0]))
        G = stylegan2.load_generator(path)
    out = tmp_path / "g.safetensors"
    stylegan2.save_native(G, out)
    H = stylegan2.load_generator(out)
    assert isinstance(H, StyleGAN3Generator) and H.cfg.to_dict() | {"extra": None} == G.cfg.to_dict() | {"extra": None}
    assert stylegan2.checkpoint_info(out).format == "native-safetensors"
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(H(z), G(z), atol=0, rtol=0)


def test_unknown_native_family_is_refused(tmp_path):
    import json

    from safetensors.torch import save_file
    path = tmp_path / "x.safetensors"
    save_file({"a": torch.zeros(1)}, path, metadata={"format": "draggan-stylegan2", "format_version": "1",
                                                      "family": "stylegan9", "config": json.dumps({})})
    with pytest.raises(CheckpointError, match="stylegan9"):
        stylegan2.load_generator(path)


def test_cli_info_prints_family_and_layers(tmp_path, capsys):
    from draggan.cli import main
    path = tmp_path / "stylegan3-r.pkl"
    path.write_bytes(dumps(sg3_snapshot(sg3_kwargs("R"))[0]))
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "StyleGAN3-R" in out and "L0_" in out and "L14_16_3" in out and "margin" in out
    assert main(["info", str(fixture_path("sg3_t_64.pkl"))]) == 0
    out = capsys.readouterr().out
    assert "StyleGAN3-T" in out and "L5_52_64: 52x52 = 32 + 2x10" in out
