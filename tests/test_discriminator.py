"""The discriminator D: read from every format that carries it (no code run from the file), reproduces
NVIDIA's reference outputs, runs on StyleGAN-Human's rectangular images, and refuses files without D
with a message that says what to do."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as tnf

import stylegan2
from checkpoint_writers import EASY_DICT, Call, Global, NewObj, Persisted, _Ctx, _module_state, dumps, nvidia_snapshot
from conftest import fixture_path, tiny_generator
from stylegan2 import CheckpointError, Discriminator, DiscriminatorConfig, load_discriminator

TOL = dict(atol=1e-4, rtol=1e-4)  # the fixture README's tolerances


def _close(actual: torch.Tensor, expected: np.ndarray, what: str):
    actual = actual.detach().numpy()
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, err_msg=what, **TOL)


@pytest.fixture(scope="module")
def d_ref() -> dict[str, np.ndarray]:
    with np.load(fixture_path("sg2ada_64.D.ref.npz")) as ref:  # skips, saying why, without ../shared
        return {k: ref[k] for k in ref.files}


@pytest.fixture(scope="module")
def fixture_D(sg2ada_path) -> Discriminator:
    return load_discriminator(sg2ada_path)


def random_discriminator(seed: int = 0, **cfg) -> Discriminator:
    """A small D with every parameter random (biases too); the FIR buffers keep their values."""
    base = dict(img_resolution=32, channel_base=256, channel_max=16)
    D = Discriminator(DiscriminatorConfig(**{**base, **cfg}))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in D.state_dict().items():
            if not name.endswith("resample_filter"):
                t.copy_(torch.randn(t.shape, generator=g) * (0.2 if name.endswith("bias") else 1.0))
    return D.eval().requires_grad_(False)


# --------------------------------------------------------------------------------------------
# NVIDIA's reference outputs (sg2ada_64.D.ref.npz).


def test_config_is_the_one_the_reference_was_made_with(fixture_D, d_ref):
    kw = json.loads(str(d_ref["d_kwargs"]))
    cfg = fixture_D.cfg
    assert (cfg.architecture, cfg.channel_base, cfg.channel_max, cfg.img_resolution, cfg.c_dim) == \
        ("resnet", kw["channel_base"], kw["channel_max"], kw["img_resolution"], kw["c_dim"])
    assert cfg.mbstd_group_size == kw["epilogue_kwargs"]["mbstd_group_size"] and cfg.mbstd_num_channels == 1
    assert cfg.extra["format"] == "nvidia-pytorch-pickle"
    assert not any(p.requires_grad for p in fixture_D.parameters()) and not fixture_D.training


def test_matches_reference_block_by_block(fixture_D, d_ref):
    img = torch.from_numpy(d_ref["img_in"])  # the batch of 3: the stddev group is min(4, 3) = 3
    with torch.no_grad():
        feats = fixture_D.features(img)
        assert list(feats) == [64, 32, 16, 8]
        for res, x in feats.items():
            _close(x, d_ref[f"dfeat_b{res}"], f"dfeat_b{res}")
        x = torch.from_numpy(d_ref["epilogue_in"])
        _close(feats[8], d_ref["epilogue_in"], "epilogue_in")
        mbstd = fixture_D.b4.mbstd(x)
        _close(mbstd, d_ref["epilogue_mbstd"], "epilogue_mbstd")
        conv = fixture_D.b4.conv(torch.from_numpy(d_ref["epilogue_mbstd"]))
        _close(conv, d_ref["epilogue_conv"], "epilogue_conv")
        _close(fixture_D.b4.fc(torch.from_numpy(d_ref["epilogue_conv"]).flatten(1)), d_ref["epilogue_fc"],
               "epilogue_fc")
        _close(fixture_D(img, torch.from_numpy(d_ref["c"])), d_ref["logits"], "logits")
        _close(fixture_D(img), d_ref["logits"], "logits (c=None)")


def test_logits_depend_on_the_batch_but_features_do_not(fixture_D, d_ref):
    """Guards the reference test: one image at a time changes the logits (the README says by 0.034),
    so a stddev layer that ignored the batch would fail it; the features stay per-image."""
    img = torch.from_numpy(d_ref["img_in"])
    with torch.no_grad():
        single = torch.cat([fixture_D(img[i: i + 1]) for i in range(3)])
        assert (single - torch.from_numpy(d_ref["logits"])).abs().max() > 1e-2
        one = fixture_D.features(img[1:2])
        for res, x in fixture_D.features(img).items():
            torch.testing.assert_close(one[res], x[1:2], atol=1e-5, rtol=1e-5)


def test_features_stop_after_the_last_requested_block_and_carry_gradients(fixture_D, d_ref):
    img = torch.from_numpy(d_ref["img_in"]).clone().requires_grad_(True)
    ran = []
    hooks = [getattr(fixture_D, f"b{r}").register_forward_hook(lambda m, i, o, r=r: ran.append(r))
             for r in (64, 32, 16, 8)]
    try:
        feats = fixture_D.features(img, blocks=[32])
    finally:
        for h in hooks:
            h.remove()
    assert ran == [64, 32] and list(feats) == [32]
    _close(feats[32], d_ref["dfeat_b32"], "dfeat_b32 alone")
    feats[32].square().mean().backward()
    assert img.grad is not None and torch.isfinite(img.grad).all() and img.grad.abs().sum() > 0


def test_bad_inputs_raise_clear_errors(fixture_D):
    with pytest.raises(ValueError, match="no discriminator block at \\[4\\]"):
        fixture_D.features(torch.zeros(1, 3, 64, 64), blocks=[4])
    with pytest.raises(ValueError, match="shape \\[N, 3, 64, 64\\]"):
        fixture_D(torch.zeros(1, 3, 32, 32))
    with pytest.raises(ValueError, match="multiple of 4"):
        fixture_D(torch.zeros(5, 3, 64, 64))
    with pytest.raises(ValueError, match="unconditional"):
        fixture_D(torch.zeros(4, 3, 64, 64), torch.ones(4, 2))


# --------------------------------------------------------------------------------------------
# The other fixtures: StyleGAN-Human (rectangular), StyleGAN3 snapshots, TensorFlow.


def test_stylegan_human_d_is_rectangular():
    D = load_discriminator(fixture_path("shg_64x32.pkl"))
    assert not D.cfg.square and D.img_size == (64, 32)
    assert (D.cfg.conv_clamp, D.cfg.num_fp16_res, D.cfg.channel_max) == (256, 4, 32)
    img = torch.rand(4, 3, 64, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        feats = D.features(img)
        assert {r: tuple(x.shape) for r, x in feats.items()} == \
            {64: (4, 32, 32, 16), 32: (4, 32, 16, 8), 16: (4, 32, 8, 4), 8: (4, 32, 4, 2)}
        logits = D(img)
    assert logits.shape == (4, 1) and torch.isfinite(logits).all()
    with pytest.raises(ValueError, match="\\[N, 3, 64, 32\\]"):
        D(torch.zeros(4, 3, 64, 64))  # a square image is the wrong input, not a silent resize


def test_stylegan3_snapshot_carries_a_stylegan2_d():
    D = load_discriminator(fixture_path("sg3_t_64.pkl"))  # its block_kwargs also hold freeze_layers
    assert D.cfg.architecture == "resnet" and D.img_size == (64, 64)
    with torch.no_grad():
        assert D(torch.zeros(2, 3, 64, 64)).shape == (2, 1)


def test_tensorflow_d_equals_nvidia_d(fixture_D, d_ref):
    D = load_discriminator(fixture_path("tf_sg2_64_synthetic.pkl"))
    assert D.cfg.extra["format"] == "tensorflow-pickle"
    assert D.cfg.to_dict() | {"extra": None} == fixture_D.cfg.to_dict() | {"extra": None}
    ours, theirs = D.state_dict(), fixture_D.state_dict()
    assert set(ours) == set(theirs)
    for k in ours:
        torch.testing.assert_close(ours[k], theirs[k], atol=0, rtol=0, msg=k)
    with torch.no_grad():
        _close(D(torch.from_numpy(d_ref["img_in"])), d_ref["logits"], "TF logits")


def test_load_from_bytes(sg2ada_path, fixture_D):
    D = load_discriminator(sg2ada_path.read_bytes())
    for k, t in D.state_dict().items():
        assert torch.equal(t, fixture_D.state_dict()[k]), k


# --------------------------------------------------------------------------------------------
# NVIDIA pickles of every architecture and shape, written from the official module tree.


def _conv(ctx, prefix, in_ch, out_ch, k, *, activation="lrelu", down=1, bias=True, clamp=None):
    attrs = dict(activation=activation, up=1, down=down, conv_clamp=clamp, padding=k // 2,
                 weight_gain=1 / np.sqrt(in_ch * k * k), act_gain=np.sqrt(2) if activation == "lrelu" else 1)
    return Persisted("Conv2dLayer", _module_state(
        ctx, prefix, params=["weight"] + (["bias"] if bias else []), none_params=[] if bias else ["bias"],
        buffers=["resample_filter"], attrs=attrs, init_args=(in_ch, out_ch),
        init_kwargs=dict(kernel_size=k, activation=activation, down=down, bias=bias, conv_clamp=clamp)))


def nvidia_discriminator(D: Discriminator, extra_kwargs: dict | None = None) -> Persisted:
    """D's persisted tree as stylegan2-ada-pytorch pickles it (networks.py Discriminator)."""
    cfg = D.cfg
    ctx = _Ctx(sd=dict(D.state_dict()), flavour="ada", channels_last=False, storage_pad=0)
    mods = {}
    for res in cfg.block_resolutions:
        p, tmp, out = f"b{res}.", cfg.channels(res), cfg.channels(res // 2)
        sub = {}
        if res == cfg.img_resolution or cfg.architecture == "skip":
            sub["fromrgb"] = _conv(ctx, p + "fromrgb.", cfg.img_channels, tmp, 1, clamp=cfg.conv_clamp)
        sub["conv0"] = _conv(ctx, p + "conv0.", tmp, tmp, 3, clamp=cfg.conv_clamp)
        sub["conv1"] = _conv(ctx, p + "conv1.", tmp, out, 3, down=2, clamp=cfg.conv_clamp)
        if cfg.architecture == "resnet":
            sub["skip"] = _conv(ctx, p + "skip.", tmp, out, 1, activation="linear", down=2, bias=False)
        mods[f"b{res}"] = Persisted("DiscriminatorBlock", _module_state(
            ctx, p, buffers=["resample_filter"], modules=sub, init_args=(tmp if res < cfg.img_resolution else 0,),
            attrs=dict(resolution=res, architecture=cfg.architecture, use_fp16=False)))
    c4 = cfg.channels(4)
    head = {}
    if cfg.architecture == "skip":
        head["fromrgb"] = _conv(ctx, "b4.fromrgb.", cfg.img_channels, c4, 1)
    head["mbstd"] = Persisted("MinibatchStdLayer", _module_state(ctx, "mbstd.", attrs=dict(group_size=4,
                                                                                          num_channels=1)))
    head["conv"] = _conv(ctx, "b4.conv.", c4 + 1, c4, 3, clamp=cfg.conv_clamp)
    for name, shape in (("fc", D.b4.fc.weight.shape), ("out", D.b4.out.weight.shape)):
        head[name] = Persisted("FullyConnectedLayer", _module_state(
            ctx, f"b4.{name}.", params=["weight", "bias"], init_args=tuple(shape[::-1]),
            attrs=dict(activation="lrelu" if name == "fc" else "linear", weight_gain=1 / np.sqrt(shape[1]))))
    mods["b4"] = Persisted("DiscriminatorEpilogue", _module_state(ctx, "b4.", modules=head))
    kwargs = dict(c_dim=0, img_resolution=cfg.img_resolution, img_channels=cfg.img_channels,
                  architecture=cfg.architecture, channel_base=cfg.channel_base, channel_max=cfg.channel_max,
                  num_fp16_res=cfg.num_fp16_res, conv_clamp=cfg.conv_clamp,
                  block_kwargs=NewObj(EASY_DICT, [("freeze_layers", 0)]), mapping_kwargs=NewObj(EASY_DICT, []),
                  epilogue_kwargs=NewObj(EASY_DICT, [("mbstd_group_size", 4)]), **(extra_kwargs or {}))
    assert ctx.used == set(ctx.sd), f"writer did not place {set(ctx.sd) - ctx.used}"
    return Persisted("Discriminator", _module_state(ctx, "", modules=mods, init_kwargs=kwargs,
                                                    attrs=dict(c_dim=0, img_resolution=cfg.img_resolution)))


def _snapshot_bytes(D: Discriminator | None, G=None, extra_kwargs=None) -> bytes:
    snap = nvidia_snapshot(G if G is not None else tiny_generator())
    if D is None:
        del snap["D"]
    else:
        snap["D"] = nvidia_discriminator(D, extra_kwargs)
    return dumps(snap, numpy_spelling="numpy.core")


@pytest.mark.parametrize("arch", ["resnet", "skip", "orig"])
@pytest.mark.parametrize("square", [True, False])
def test_nvidia_round_trip(arch, square):
    D = random_discriminator(architecture=arch, square=square, conv_clamp=None if square else 256.0)
    extra = {} if square else {"square": False}  # StyleGAN-Human's public train.py writes it
    loaded = load_discriminator(_snapshot_bytes(D, extra_kwargs=extra))
    assert loaded.cfg.to_dict() | {"extra": None} == D.cfg.to_dict() | {"extra": None}
    for k, t in D.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], t), k
    img = torch.rand(4, 3, *D.img_size, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(img), D(img), atol=0, rtol=0)
        assert loaded(img).shape == (4, 1)
        assert [x.shape[-2:] for x in loaded.features(img).values()] == \
            [(r // 2, (r if square else r // 2) // 2) for r in D.block_resolutions]


def test_skip_architecture_reads_the_image_in_every_block():
    """'skip' adds fromrgb(downsampled image) in every block: b16's fromrgb changes b16's output
    and leaves b32's alone."""
    D = random_discriminator(architecture="skip")
    img = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        full = D.features(img)
        D.b16.fromrgb.weight.zero_()
        assert not torch.allclose(D.features(img)[16], full[16])
        torch.testing.assert_close(D.features(img)[32], full[32])


# --------------------------------------------------------------------------------------------
# rosinality/stylegan2-pytorch training checkpoints (`d`).


def rosinality_d(D: Discriminator) -> dict[str, torch.Tensor]:
    """Our resnet D's weights under rosinality's Discriminator names (model.py)."""
    sd, cfg = D.state_dict(), D.cfg
    blur = torch.tensor([1.0, 3, 3, 1])
    blur = (blur[:, None] * blur[None]) / 64
    top = f"b{cfg.img_resolution}"
    r = {"convs.0.0.weight": sd[f"{top}.fromrgb.weight"], "convs.0.1.bias": sd[f"{top}.fromrgb.bias"]}
    for i, res in enumerate(cfg.block_resolutions, start=1):
        b = f"b{res}"
        r |= {f"convs.{i}.conv1.0.weight": sd[f"{b}.conv0.weight"], f"convs.{i}.conv1.1.bias": sd[f"{b}.conv0.bias"],
              f"convs.{i}.conv2.0.kernel": blur, f"convs.{i}.conv2.1.weight": sd[f"{b}.conv1.weight"],
              f"convs.{i}.conv2.2.bias": sd[f"{b}.conv1.bias"], f"convs.{i}.skip.0.kernel": blur,
              f"convs.{i}.skip.1.weight": sd[f"{b}.skip.weight"]}
    r |= {"final_conv.0.weight": sd["b4.conv.weight"], "final_conv.1.bias": sd["b4.conv.bias"],
          "final_linear.0.weight": sd["b4.fc.weight"], "final_linear.0.bias": sd["b4.fc.bias"],
          "final_linear.1.weight": sd["b4.out.weight"], "final_linear.1.bias": sd["b4.out.bias"]}
    return {k: v.clone() for k, v in r.items()}


def rosinality_forward(d: dict[str, torch.Tensor], img: torch.Tensor) -> torch.Tensor:
    """rosinality's Discriminator.forward, written from its model.py, on the raw `d` tensors."""
    def conv_layer(x, p, k, down=False, act=True):
        w = d[f"{p}.{1 if down else 0}.weight"]
        w = w / math.sqrt(w.shape[1] * k * k)
        if down:  # Blur(pad=((p + 1) // 2, p // 2)) with p = 2 + (k - 1), then a stride-2 conv
            pad = 2 + k - 1
            x = tnf.pad(x, [(pad + 1) // 2, pad // 2] * 2)
            c = x.shape[1]
            x = tnf.conv2d(x, d[f"{p}.0.kernel"][None, None].expand(c, 1, 4, 4), groups=c)
            x = tnf.conv2d(x, w, stride=2)
        else:
            x = tnf.conv2d(x, w, padding=k // 2)
        if act:  # FusedLeakyReLU
            x = tnf.leaky_relu(x + d[f"{p}.{2 if down else 1}.bias"][None, :, None, None], 0.2) * math.sqrt(2)
        return x

    out = conv_layer(img, "convs.0", 1)
    i = 1
    while f"convs.{i}.conv1.0.weight" in d:
        y = conv_layer(conv_layer(out, f"convs.{i}.conv1", 3), f"convs.{i}.conv2", 3, down=True)
        out = (y + conv_layer(out, f"convs.{i}.skip", 1, down=True, act=False)) / math.sqrt(2)
        i += 1
    n, c, h, w = out.shape
    g = min(n, 4)
    std = torch.sqrt(out.view(g, -1, 1, c, h, w).var(0, unbiased=False) + 1e-8)
    std = std.mean([2, 3, 4], keepdim=True).squeeze(2).repeat(g, 1, h, w)
    out = conv_layer(torch.cat([out, std], 1), "final_conv", 3).view(n, -1)
    fc0, fc1 = d["final_linear.0.weight"], d["final_linear.1.weight"]
    out = tnf.leaky_relu(out @ (fc0 / math.sqrt(fc0.shape[1])).T + d["final_linear.0.bias"], 0.2) * math.sqrt(2)
    return out @ (fc1 / math.sqrt(fc1.shape[1])).T + d["final_linear.1.bias"]


def test_rosinality_d_agrees_with_rosinality_forward(tmp_path):
    D = random_discriminator()  # 8 channels in b32, 16 below: the channel rule is exercised
    d = rosinality_d(D)
    torch.save({"g_ema": {}, "d": d, "args": argparse.Namespace(size=32, channel_multiplier=2)},
               tmp_path / "train.pt")
    loaded = load_discriminator(tmp_path / "train.pt")
    assert loaded.cfg.extra["format"] == "rosinality-pt"
    img = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(3)) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(loaded(img), rosinality_forward(d, img), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(loaded(img), D(img), atol=1e-5, rtol=1e-5)


# --------------------------------------------------------------------------------------------
# Files without (a readable) D, and hostile ones: one CheckpointError each, saying what to do.


def _refused(source, *words) -> str:
    with pytest.raises(CheckpointError) as exc:
        load_discriminator(source)
    msg = str(exc.value)
    for w in words:
        assert w in msg, msg
    return msg


def test_g_only_pickle_says_d_is_missing_and_what_to_do():
    msg = _refused(_snapshot_bytes(None), "no discriminator 'D'")
    assert "snapshot that includes D" in msg and "loss that does" in msg


def test_native_safetensors_has_no_d(tmp_path):
    stylegan2.save_native(tiny_generator(), tmp_path / "g.safetensors")
    _refused(tmp_path / "g.safetensors", "only the generator", "loss that does")


def test_rosinality_without_d_and_with_a_partial_d(tmp_path):
    torch.save({"g_ema": {}}, tmp_path / "converted.pt")
    _refused(tmp_path / "converted.pt", "no discriminator 'd'")
    d = rosinality_d(random_discriminator())
    del d["final_conv.0.weight"]
    torch.save({"d": d}, tmp_path / "partial.pt")
    _refused(tmp_path / "partial.pt", "final_conv.0.weight")


def test_incomplete_or_conditional_d_is_refused():
    snap = nvidia_snapshot(tiny_generator())  # the writer's placeholder D: an epilogue fc, nothing else
    _refused(dumps(snap), "b4.fc.weight")
    with pytest.raises(CheckpointError, match="conditional"):
        DiscriminatorConfig(img_resolution=32, c_dim=10)


def test_truncated_snapshot(sg2ada_path):
    data = sg2ada_path.read_bytes()
    for cut in (1, 100, len(data) // 2, len(data) - 1):
        _refused(data[:cut], "cannot load the discriminator")
    _refused(b"", "empty")


def test_code_hidden_in_d_is_never_run(tmp_path):
    marker = tmp_path / "ran"
    snap = nvidia_snapshot(tiny_generator())
    snap["D"] = Call(Global("os", "system"), (f"touch {marker}",))
    _refused(dumps(snap), "os.system")
    assert not marker.exists()
