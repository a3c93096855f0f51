"""StyleGAN-Human (rectangular StyleGAN2): detected from tensor shapes, reproduces its references,
accepts `square=False`, needs only G_ema, and round-trips through our native format."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest
import torch

import stylegan2
from checkpoint_writers import dumps, nvidia_snapshot, randomize_, write_nvidia_pickle
from conftest import fixture_path
from stylegan2 import CheckpointError, Generator, GeneratorConfig

TOL = dict(atol=1e-4, rtol=1e-4)  # shared/fixtures/README.md


@lru_cache(maxsize=None)
def _fixture():
    return stylegan2.load_generator(fixture_path("shg_64x32.pkl")), dict(np.load(fixture_path("shg_64x32.ref.npz")))


def _z(ref):
    return torch.from_numpy(ref["z"]).to(torch.float32)


@torch.no_grad()
def test_fixture_reproduces_every_reference_array():
    G, ref = _fixture()
    assert G.family == "StyleGAN-Human" and not G.cfg.square
    assert (G.img_resolution, G.img_width, G.img_size, G.num_ws) == (64, 32, (64, 32), 10)
    ws = G.mapping(_z(ref), None)
    ws07 = G.mapping(_z(ref), None, truncation_psi=0.7)
    np.testing.assert_allclose(G.mapping.w_avg.numpy(), ref["w_avg"], atol=0)
    np.testing.assert_allclose(ws.numpy(), ref["ws"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(ws07.numpy(), ref["ws_psi07"], atol=1e-5, rtol=0)
    out = G.synthesis.run(ws, "const", feature_blocks=G.synthesis.block_resolutions)
    np.testing.assert_allclose(out.img.numpy(), ref["img"], **TOL)
    np.testing.assert_allclose(G.synthesis(ws07).numpy(), ref["img_psi07"], **TOL)
    np.testing.assert_allclose(G.synthesis(ws, noise_mode="none").numpy(), ref["img_noise_none"], **TOL)
    for res in (4, 8, 16, 32, 64):
        assert G.synthesis.block_sizes[res] == (res, res // 2) == G.synthesis.feature_box(res)[2:]
        np.testing.assert_allclose(out.features[res].numpy(), ref[f"feat_b{res}"], **TOL, err_msg=f"b{res}")
    # DragGAN's display pads H/4 white columns on each side; we show the image as it is.
    padded = torch.nn.functional.pad(out.img, (16, 16), value=1.0)
    np.testing.assert_allclose(padded.numpy(), ref["img_padded"], **TOL)


@pytest.mark.parametrize("name", ["synthesis.b4.const", "synthesis.b16.conv0.noise_const",
                                  "synthesis.b64.torgb.bias", "synthesis.b8.conv1.noise_strength"])
@torch.no_grad()
def test_zeroing_a_tensor_breaks_the_reference(name):
    G0, ref = _fixture()
    G = Generator(G0.cfg)
    G.load_state_dict(G0.state_dict())
    G.state_dict()[name].zero_()
    assert np.abs(G.synthesis(G.mapping(_z(ref), None)).numpy() - ref["img"]).max() > 2e-2


def test_random_noise_has_the_rectangular_shape():
    G, ref = _fixture()
    with torch.no_grad():
        img = G.synthesis(G.mapping(_z(ref)[:1], None), noise_mode="random")
    assert img.shape == (1, 3, 64, 32)


def _rect_generator(seed=3) -> Generator:
    cfg = GeneratorConfig(z_dim=8, w_dim=8, img_resolution=16, channel_base=64, channel_max=8, mapping_layers=1,
                          square=False)
    return randomize_(Generator(cfg), seed=seed)


@pytest.mark.parametrize("variant", ["released", "public_train_py_square_false", "g_ema_only", "sg3_flavour"])
def test_rectangular_snapshots_are_detected_from_shapes(tmp_path, variant):
    G = _rect_generator()
    extra = {"square": False} if variant == "public_train_py_square_false" else None
    snap = nvidia_snapshot(G, flavour="sg3" if variant == "sg3_flavour" else "ada", extra_kwargs=extra)
    if variant == "g_ema_only":
        snap = {"G_ema": snap["G_ema"]}
    path = tmp_path / "network-snapshot.pkl"  # nothing in the name says "human"
    path.write_bytes(dumps(snap, numpy_spelling="numpy.core"))
    H = stylegan2.load_generator(path)
    assert H.img_size == (16, 8) and H.family == "StyleGAN-Human"
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(H(z), G(z), atol=1e-5, rtol=0)


def test_square_kwarg_contradicting_the_tensors_is_refused(tmp_path):
    path = tmp_path / "x.pkl"
    path.write_bytes(dumps(nvidia_snapshot(_rect_generator(), extra_kwargs={"square": True})))
    with pytest.raises(CheckpointError, match="square"):
        stylegan2.load_generator(path)


def test_square_files_stay_square(tmp_path):
    G = randomize_(Generator(GeneratorConfig(z_dim=8, w_dim=8, img_resolution=16, channel_base=64, channel_max=8,
                                             mapping_layers=1)), seed=1)
    path = tmp_path / "sq.pkl"
    write_nvidia_pickle(path, G)
    H = stylegan2.load_generator(path)
    assert H.cfg.square and H.img_size == (16, 16) and H.family == "StyleGAN2"


def test_native_round_trip_keeps_the_shape(tmp_path):
    G, ref = _fixture()
    out = tmp_path / "human.safetensors"
    stylegan2.save_native(G, out)
    H = stylegan2.load_generator(out)
    assert H.img_size == (64, 32) and not H.cfg.square
    with torch.no_grad():
        torch.testing.assert_close(H(_z(ref)), G(_z(ref)), atol=0, rtol=0)


def test_cli_info_says_rectangular(capsys):
    from draggan.cli import main
    assert main(["info", str(fixture_path("shg_64x32.pkl"))]) == 0
    out = capsys.readouterr().out
    assert "StyleGAN-Human" in out and "rectangular" in out and "64x32" in out and "b64:64x32x32" in out
