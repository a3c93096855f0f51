"""Our StyleGAN2: early stopping, feature outputs, variants, and the reference ops."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as tnf

from stylegan2 import CheckpointError, GeneratorConfig
from stylegan2.ops import conv2d_up2, setup_filter, upfirdn2d, upsample2d

from conftest import tiny_generator


@pytest.mark.parametrize("architecture", ["skip", "orig", "resnet"])
def test_stop_after_block_gives_the_same_features(architecture):
    G = tiny_generator(architecture=architecture, img_resolution=64)
    ws = G.mapping(torch.randn(2, G.z_dim))
    full = G.synthesis.run(ws, feature_blocks=G.synthesis.block_resolutions)
    for res in G.synthesis.block_resolutions:
        early = G.synthesis.run(ws, feature_blocks=[res], render_image=False)
        assert early.img is None
        assert torch.equal(early.features[res], full.features[res])
    assert torch.equal(full.img, G.synthesis(ws))


def test_stopping_early_skips_the_higher_blocks():
    G = tiny_generator(img_resolution=64)
    called = []
    for res in G.synthesis.block_resolutions:
        getattr(G.synthesis, f"b{res}").register_forward_pre_hook(lambda m, a, r=res: called.append(r))
        getattr(G.synthesis, f"b{res}").conv1.register_forward_pre_hook(lambda m, a, r=res: called.append(r))
    G.synthesis.run(G.mapping(torch.randn(1, G.z_dim)), feature_blocks=[16], render_image=False)
    assert max(called) == 16


def test_grad_blocks_keeps_outputs_and_limits_the_graph():
    G = tiny_generator(img_resolution=64)
    ws = G.mapping(torch.randn(1, G.z_dim)).requires_grad_(True)
    ref = G.synthesis.run(ws, feature_blocks=[16])
    cut = G.synthesis.run(ws, feature_blocks=[16], grad_blocks=16)
    assert torch.equal(ref.img, cut.img) and torch.equal(ref.features[16], cut.features[16])
    assert cut.features[16].requires_grad and not cut.img.requires_grad
    assert ref.img.requires_grad


def test_truncation_lerps_toward_w_avg_and_honours_cutoff():
    G = tiny_generator()
    z = torch.randn(3, G.z_dim)
    ws = G.mapping(z)
    ws5 = G.mapping(z, truncation_psi=0.5, truncation_cutoff=2)
    assert torch.allclose(ws5[:, :2], G.mapping.w_avg + 0.5 * (ws[:, :2] - G.mapping.w_avg), atol=1e-6)
    assert torch.equal(ws5[:, 2:], ws[:, 2:])
    assert torch.allclose(G.mapping(z, truncation_psi=0.0), G.mapping.w_avg.expand_as(ws))


def test_noise_modes():
    G = tiny_generator()
    ws = G.mapping(torch.randn(1, G.z_dim))
    const1, const2 = G.synthesis(ws, noise_mode="const"), G.synthesis(ws, noise_mode="const")
    assert torch.equal(const1, const2)
    r1, r2 = G.synthesis(ws, noise_mode="random"), G.synthesis(ws, noise_mode="random")
    assert not torch.equal(r1, r2)
    none = G.synthesis(ws, noise_mode="none")
    assert not torch.equal(none, const1)
    with pytest.raises(ValueError):
        G.synthesis(ws, noise_mode="bogus")


def test_conditional_mapping_uses_the_label():
    G = tiny_generator(c_dim=4)
    z = torch.randn(1, G.z_dim)
    a = G.mapping(z, torch.eye(4)[:1])
    b = G.mapping(z, torch.eye(4)[1:2])
    assert not torch.allclose(a, b)
    with pytest.raises(ValueError, match="conditional"):
        G.mapping(z)


def test_shapes_and_num_ws():
    for res in (16, 64):
        G = tiny_generator(img_resolution=res)
        assert G.num_ws == 2 * int(np.log2(res)) - 2
        img = G(torch.randn(2, G.z_dim))
        assert img.shape == (2, 3, res, res)
    with pytest.raises(ValueError, match="ws must have shape"):
        G.synthesis(torch.zeros(1, 3, G.w_dim))


def test_config_validation():
    with pytest.raises(CheckpointError):
        GeneratorConfig(img_resolution=100)
    with pytest.raises(CheckpointError):
        GeneratorConfig(architecture="fancy")
    with pytest.raises(CheckpointError, match="unknown"):
        GeneratorConfig.from_dict({"bogus": 1})
    cfg = GeneratorConfig(img_resolution=64, c_dim=3)
    assert GeneratorConfig.from_dict(cfg.to_dict()) == cfg


# ---- reference ops against independent formulations ----

def test_upsample2d_matches_explicit_zero_insertion_and_filtering():
    x = torch.randn(1, 2, 5, 5)
    f = setup_filter([1, 3, 3, 1])
    # independent: insert zeros, pad (2, 1), full correlation with the (symmetric) 4x4 filter * 4
    z = torch.zeros(1, 2, 10, 10)
    z[:, :, ::2, ::2] = x
    z = tnf.pad(z, [2, 1, 2, 1])
    k = (f * 4)[None, None].repeat(2, 1, 1, 1)
    ref = tnf.conv2d(z, k, groups=2)
    assert torch.allclose(upsample2d(x, f), ref, atol=1e-6)
    # a constant image stays constant away from the border
    ones = upsample2d(torch.ones(1, 1, 6, 6), f)
    assert torch.allclose(ones[..., 2:-2, 2:-2], torch.ones(1, 1, 8, 8))


def test_conv2d_up2_equals_upsample_then_conv_for_1x1():
    x, w, f = torch.randn(1, 3, 4, 4), torch.randn(5, 3, 1, 1), setup_filter([1, 3, 3, 1])
    assert torch.allclose(conv2d_up2(x, w, f), tnf.conv2d(upsample2d(x, f), w), atol=1e-5)


def test_conv2d_up2_3x3_matches_zero_insertion_formulation():
    # transposed stride-2 conv == zero insertion then conv with the flipped kernel (full padding)
    x, w, f = torch.randn(1, 2, 4, 4), torch.randn(3, 2, 3, 3), setup_filter([1, 3, 3, 1])
    z = torch.zeros(1, 2, 7, 7)
    z[:, :, ::2, ::2] = x
    t = tnf.conv2d(tnf.pad(z, [2, 2, 2, 2]), w.flip([2, 3]))  # [1, 3, 9, 9] = 2H+1
    ref = upfirdn2d(t, f, pad=(1, 1, 1, 1), gain=4)
    assert torch.allclose(conv2d_up2(x, w, f), ref, atol=1e-5)
    assert conv2d_up2(x, w, f).shape[-1] == 8


def test_fp16_modulated_conv_matches_fp32():
    from stylegan2.ops import modulated_conv2d
    g = torch.Generator().manual_seed(0)
    x, w, s = torch.randn(2, 8, 8, 8, generator=g), torch.randn(4, 8, 3, 3, generator=g), torch.randn(2, 8, generator=g)
    ref = modulated_conv2d(x, w, s)
    half = modulated_conv2d(x.half(), w, s)
    assert half.dtype == torch.float16
    assert torch.allclose(half.float(), ref, atol=1e-2 * ref.abs().max())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fp16_synthesis_on_cuda_matches_fp32():
    G = tiny_generator(img_resolution=64, num_fp16_res=2).cuda()
    ws = G.mapping(torch.randn(2, G.z_dim, device="cuda"))
    ref = G.synthesis(ws)
    G.synthesis.use_fp16 = True
    half = G.synthesis(ws)
    assert half.dtype == torch.float32
    assert (half - ref).abs().max() < 0.05 * ref.abs().max()


# ---- fast paths of the ops against their definitions ----

def test_demodulation_by_matmul_equals_the_modulated_weights():
    """dcoefs from [N, I] x [I, O] sums of squares == from the explicit [N, O, I, K, K] weights; gradients too."""
    from stylegan2.ops import modulated_conv2d
    g = torch.Generator().manual_seed(1)
    x, w = torch.randn(2, 6, 7, 7, generator=g), torch.randn(5, 6, 3, 3, generator=g)
    s_fast = torch.randn(2, 6, generator=g).requires_grad_(True)
    s_ref = s_fast.detach().clone().requires_grad_(True)
    fast = modulated_conv2d(x, torch.nn.Parameter(w, requires_grad=False), s_fast)
    wmod = w.unsqueeze(0) * s_ref.reshape(2, 1, 6, 1, 1)  # [N, O, I, K, K]
    wmod = wmod * (wmod.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    ref = torch.cat([tnf.conv2d(x[i:i + 1], wmod[i], padding=1) for i in range(2)])
    assert torch.allclose(fast, ref, atol=1e-5)
    fast.square().sum().backward()
    ref.square().sum().backward()
    assert torch.allclose(s_fast.grad, s_ref.grad, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("pad", [(1, 1, 1, 1), (2, 2, 0, 0), (2, 1, 2, 1), (-1, -1, 1, 1)])
def test_upfirdn2d_padding_in_the_convolution_equals_padding_first(pad):
    x, f = torch.randn(1, 3, 9, 9), setup_filter([1, 3, 3, 1])
    px0, px1, py0, py1 = pad
    ref = tnf.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    ref = ref[:, :, max(-py0, 0): ref.shape[2] - max(-py1, 0), max(-px0, 0): ref.shape[3] - max(-px1, 0)]
    ref = tnf.conv2d(ref, (4 * f).flip([0, 1])[None, None].repeat(3, 1, 1, 1), groups=3)
    assert torch.allclose(upfirdn2d(x, f, pad=pad, gain=4), ref, atol=1e-5)


def test_weights_derived_once_follow_changes_of_the_weight():
    """What the up-convolution reads of a frozen weight (its transposed storage, the sums of squares)
    follows an in-place change and new storage; a weight that requires grad is read afresh, so its
    gradient still arrives."""
    G = tiny_generator()
    ws = G.mapping(torch.randn(1, G.z_dim))
    before = G.synthesis(ws)
    layer = G.synthesis.b16.conv0
    with torch.no_grad():
        layer.weight.mul_(-1.5)  # as load_state_dict or an optimiser would
    changed = G.synthesis(ws)
    fresh = tiny_generator()
    with torch.no_grad():
        fresh.synthesis.b16.conv0.weight.mul_(-1.5)
    assert not torch.allclose(before, changed) and torch.allclose(changed, fresh.synthesis(ws), atol=1e-6)
    layer.weight.data = layer.weight.data / -1.5  # new storage, as `.to(device)` gives
    assert torch.allclose(G.synthesis(ws), before, atol=1e-6)
    G.float().requires_grad_(True)
    G.synthesis(ws).square().mean().backward()
    assert layer.weight.grad is not None and layer.weight.grad.abs().sum() > 0


def test_frozen_upsampling_weights_are_stored_transposed_with_the_same_values():
    """conv_transpose2d reads [I, O, K, K]: a frozen weight is laid out so, once, instead of a kept copy."""
    G = tiny_generator().requires_grad_(True)  # weights that require grad keep their layout
    ws = G.mapping(torch.randn(1, G.z_dim)).detach()
    weight = G.synthesis.b16.conv0.weight
    values = weight.detach().clone()
    reference = G.synthesis(ws).detach()
    assert weight.is_contiguous()
    G.requires_grad_(False)
    image = G.synthesis(ws)
    assert weight.transpose(0, 1).is_contiguous() and not weight.is_contiguous()
    assert torch.equal(weight, values) and torch.equal(G.state_dict()["synthesis.b16.conv0.weight"], values)
    torch.testing.assert_close(image, reference, atol=1e-5, rtol=1e-5)


def test_synthesis_without_autograd_equals_with_it():
    """Without autograd the layers overwrite their own outputs in place (the render's peak memory):
    the same image as the out-of-place path that autograd needs."""
    G = tiny_generator(3, img_resolution=64)
    ws = G.mapping(torch.randn(2, G.z_dim)).detach()
    with torch.no_grad():
        in_place = G.synthesis(ws)
    out_of_place = G.synthesis(ws.clone().requires_grad_(True))
    assert out_of_place.requires_grad
    torch.testing.assert_close(in_place, out_of_place.detach(), atol=1e-6, rtol=1e-6)
