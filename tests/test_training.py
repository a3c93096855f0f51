"""The demo-model trainer: it learns, records its settings, and resumes where it stopped."""

from __future__ import annotations

import json

import pytest

import torch
from safetensors import safe_open

from draggan.demo.faces.training import TrainSettings, evaluate, target_images, train, z_to_unit
from stylegan2 import load_generator

TINY = dict(resolution=16, w_dim=16, mapping_layers=2, channel_base=256, channel_max=16, batch=4,
            w_avg_samples=64, bf16=False)


def test_target_map_is_deterministic_and_uniform():
    z = torch.randn(2000, 32, generator=torch.Generator().manual_seed(0))
    u = z_to_unit(z)
    assert 0 <= u.min() and u.max() <= 1
    assert abs(float(u.mean()) - 0.5) < 0.02  # Phi(z) of standard normals is uniform
    a, b = target_images(z[:2], 16), target_images(z[:2], 16)
    assert torch.equal(a, b) and a.shape == (2, 3, 16, 16) and a.min() >= -1 and a.max() <= 1


def test_training_lowers_the_error_and_records_settings(tmp_path):
    out = tmp_path / "tiny.safetensors"
    train(out, TrainSettings(steps=1, **TINY), progress=False)
    before = evaluate(out, n=16)
    result = train(out, TrainSettings(steps=60, lr=5e-3, **TINY), resume=True, progress=False)
    assert result["steps"] == 60
    assert evaluate(out, n=16) < before
    with safe_open(str(out), "pt") as f:
        meta = f.metadata()
    assert json.loads(meta["training"])["resolution"] == 16
    assert int(meta["steps_done"]) == 60
    G = load_generator(out)
    assert G.img_resolution == 16 and G.z_dim == 32


def test_resume_continues_from_the_saved_state(tmp_path):
    out = tmp_path / "tiny.safetensors"
    train(out, TrainSettings(steps=3, **TINY), progress=False)
    first = load_generator(out).state_dict()
    result = train(out, TrainSettings(steps=5, **TINY), resume=True, progress=False)
    assert result["steps"] == 5  # 2 more, not 5 from scratch
    state = torch.load(str(out) + ".trainstate", weights_only=True)
    assert int(state["optimizer"]["state"][0]["step"]) == 5
    second = load_generator(out).state_dict()
    assert any(not torch.equal(first[k], second[k]) for k in first)


def test_init_starts_from_a_checkpoints_weights(tmp_path):
    first = tmp_path / "a.safetensors"
    train(first, TrainSettings(steps=2, **TINY), progress=False)
    second = tmp_path / "b.safetensors"
    train(second, TrainSettings(steps=1, lr=1e-9, **TINY), progress=False, init=first)
    a, b = load_generator(first).state_dict(), load_generator(second).state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a if k != "mapping.w_avg")

    with pytest.raises(ValueError, match="architecture"):
        train(tmp_path / "c.safetensors", TrainSettings(steps=1, **{**TINY, "w_dim": 8}), progress=False, init=first)


def test_landmark_weights_peak_at_the_landmarks():
    from draggan.demo.faces.training import landmark_weights
    w = landmark_weights(torch.tensor([[[4.5, 10.5]]]), 16, sigma=0.1)
    assert w.shape == (1, 1, 16, 16)
    assert w[0, 0].argmax() == 10 * 16 + 4 and float(w.max()) == pytest.approx(1.0)


def test_init_under_another_mapping_lr_multiplier_keeps_the_function(tmp_path):
    first = tmp_path / "a.safetensors"
    train(first, TrainSettings(steps=2, mapping_lr_multiplier=0.01, **TINY), progress=False)
    from draggan.demo.faces.training import _weights_for, generator_config
    from stylegan2 import Generator
    cfg = generator_config(TrainSettings(mapping_lr_multiplier=1.0, **TINY))
    A = load_generator(first)
    B = Generator(cfg)
    B.load_state_dict(_weights_for(A, cfg, first))
    z = torch.randn(3, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert torch.allclose(A.mapping(z), B.mapping(z), atol=1e-5)  # same w, other stored scale
    assert not torch.allclose(A.mapping.fc0.weight, B.mapping.fc0.weight)


def test_coordinate_const_holds_normalised_polynomials():
    from draggan.demo.faces.training import coordinate_const
    c = coordinate_const(12, 4)
    assert c.shape == (12, 4, 4)
    x = c[0]
    assert torch.allclose(x[:, 1] - x[:, 0], x[:, 3] - x[:, 2])  # a linear ramp along x
    assert torch.allclose(x, x[0].expand(4, 4))  # constant along y
    assert torch.allclose(c[:9].square().mean((1, 2)), torch.ones(9))
    assert torch.equal(c[10:], coordinate_const(12, 4)[10:])  # seeded random rest
