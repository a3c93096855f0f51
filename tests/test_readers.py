"""Checkpoint readers: the shared fixtures reproduce their references, and every format our
writers produce (tests/checkpoint_writers.py, written from docs/CHECKPOINTS.md) reads back to
the generator it was written from."""

from __future__ import annotations

import dataclasses
import pickle
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import stylegan2
from conftest import fixture_path
from checkpoint_writers import (Persisted, pickle_globals, randomize_, write_nvidia_pickle,
                                write_rosinality_pt)
from stylegan2 import CheckpointError, Generator, GeneratorConfig


# The globals docs/CHECKPOINTS.md lists for NVIDIA PyTorch pickles.
NVIDIA_GLOBALS = {
    "torch_utils.persistence._reconstruct_persistent_obj", "dnnlib.util.EasyDict", "collections.OrderedDict",
    "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter", "torch.storage._load_from_bytes",
    "numpy.dtype", "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar", "builtins.set",
}


def _assert_close(actual, expected, atol, rtol=0.0, what=""):
    actual = actual.detach().cpu().numpy() if isinstance(actual, torch.Tensor) else np.asarray(actual)
    expected = expected.detach().cpu().numpy() if isinstance(expected, torch.Tensor) else np.asarray(expected)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol, err_msg=what)


def _cfg_fields(cfg: GeneratorConfig) -> dict:
    d = dataclasses.asdict(cfg)
    d.pop("extra")
    # Training-only EMA decay: sg3-flavour files carry their repo's 0.998 whatever the source had.
    d.pop("w_avg_beta")
    return d


# --------------------------------------------------------------------------------------------
# The shared fixtures against their reference outputs.


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(fixture_path("sg2ada_64.ref.npz")) as ref:  # skips, saying why, without ../shared
        return {k: ref[k] for k in ref.files}


@pytest.mark.parametrize("name, fmt", [("sg2ada_64.pkl", "nvidia-pytorch-pickle"),
                                       ("tf_sg2_64_synthetic.pkl", "tensorflow-pickle")])
def test_fixture_reproduces_reference(name, fmt, reference):
    G = stylegan2.load_generator(fixture_path(name))
    assert G.cfg.extra["format"] == fmt
    cfg = G.cfg
    assert (cfg.z_dim, cfg.c_dim, cfg.w_dim, cfg.img_resolution, cfg.img_channels) == (64, 0, 64, 64, 3)
    assert (cfg.mapping_layers, cfg.channel_base, cfg.channel_max, cfg.architecture) == (2, 2048, 64, "skip")
    assert cfg.conv_clamp is None and G.num_ws == 10
    assert not G.training and not any(p.requires_grad for p in G.parameters())

    z = torch.from_numpy(reference["z"].astype(np.float32))
    blocks = G.synthesis.block_resolutions
    with torch.no_grad():
        ws = G.mapping(z, None)
        ws07 = G.mapping(z, None, truncation_psi=0.7)
        out = G.synthesis.run(ws, noise_mode="const", feature_blocks=blocks)
        img07 = G.synthesis(ws07, noise_mode="const")
        img_none = G.synthesis(ws, noise_mode="none")
    _assert_close(G.mapping.w_avg, reference["w_avg"], atol=1e-6, what="w_avg")
    _assert_close(ws, reference["ws"], atol=1e-5, what="ws")
    _assert_close(ws07, reference["ws_psi07"], atol=1e-5, what="ws_psi07")
    _assert_close(out.img, reference["img"], atol=1e-4, rtol=1e-4, what="img")
    _assert_close(img07, reference["img_psi07"], atol=1e-4, rtol=1e-4, what="img_psi07")
    _assert_close(img_none, reference["img_noise_none"], atol=1e-4, rtol=1e-4, what="img_noise_none")
    feat_keys = sorted((k for k in reference if k.startswith("feat_b")), key=lambda k: int(k[6:]))
    assert [int(k[6:]) for k in feat_keys] == blocks
    for k in feat_keys:
        _assert_close(out.features[int(k[6:])], reference[k], atol=1e-4, rtol=1e-4, what=k)
    # the references were made with noise: a reader that lost it would also match 'none'
    assert not np.allclose(reference["img"], reference["img_noise_none"], atol=1e-3)


def test_fixture_g_and_g_ema_differ_and_reader_takes_g_ema(reference):
    """Guards the test above: the fixture's `G` is not `G_ema`, so reading `G` would fail it."""
    snap = _plain_unpickle(fixture_path("sg2ada_64.pkl").read_bytes())
    assert list(snap) == ["training_set_kwargs", "G", "D", "G_ema", "augment_pipe"]
    g, g_ema = _walk(snap["G"]), _walk(snap["G_ema"])
    assert g.keys() == g_ema.keys()
    assert not torch.equal(g["mapping.w_avg"], g_ema["mapping.w_avg"])
    _assert_close(g_ema["mapping.w_avg"], reference["w_avg"], atol=0, what="G_ema w_avg")


# --------------------------------------------------------------------------------------------
# A plain (unrestricted) unpickle of our own files with torch's real rebuild functions: checks the
# writers independently of the readers under test. Only ever used on files the tests wrote.


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) == ("torch_utils.persistence", "_reconstruct_persistent_obj"):
            return lambda meta: Persisted(meta["class_name"], meta["state"], meta["module_src"], meta["version"])
        if (module, name) == ("dnnlib.util", "EasyDict"):
            return _EasyDict
        if module.startswith(("torch", "numpy", "collections", "builtins")):
            return super().find_class(module, name)
        raise AssertionError(f"unexpected global {module}.{name}")


class _EasyDict(dict):
    pass


def _plain_unpickle(data: bytes):
    import io
    return _PlainUnpickler(io.BytesIO(data)).load()


def _walk(obj: Persisted, prefix: str = "", out=None) -> dict[str, torch.Tensor]:
    out = {} if out is None else out
    for group in ("_parameters", "_buffers"):
        for k, t in obj.state[group].items():
            if t is not None:
                out[prefix + k] = t
    for k, m in obj.state["_modules"].items():
        _walk(m, f"{prefix}{k}.", out)
    return out


# --------------------------------------------------------------------------------------------
# Small random generators written in every NVIDIA pickle variant and read back.

ARCHS = ("skip", "orig", "resnet")
GEN_CONFIGS = [(arch, c_dim, clamp) for arch in ARCHS for c_dim in (0, 3) for clamp in (None, 0.5)]
VARIANTS = [(flavour, protocol, spelling, cl) for flavour in ("ada", "sg3") for protocol in (3, 4)
            for spelling in ("numpy.core", "numpy._core") for cl in (False, True)]
# every writer variant once, every generator config at least once, configs shuffled across variants
CASES = [VARIANTS[i] + GEN_CONFIGS[(5 * i) % len(GEN_CONFIGS)] for i in range(len(VARIANTS))]


@lru_cache(maxsize=None)
def small_generator(architecture="skip", c_dim=0, conv_clamp=None, img_resolution=32, mapping_layers=2,
                    channel_max=32, seed=0) -> Generator:
    cfg = GeneratorConfig(z_dim=32, w_dim=32, c_dim=c_dim, img_resolution=img_resolution, channel_base=512,
                          channel_max=channel_max, mapping_layers=mapping_layers, architecture=architecture,
                          conv_clamp=conv_clamp)
    return randomize_(Generator(cfg), seed=seed + 17 * ARCHS.index(architecture) + c_dim)


def _inputs(G, n=3, seed=1):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, G.z_dim, generator=g)
    c = torch.nn.functional.one_hot(torch.arange(n) % G.c_dim, G.c_dim).float() if G.c_dim else None
    return z, c


@torch.no_grad()
def _outputs(G, z, c) -> dict[str, torch.Tensor]:
    ws = G.mapping(z, c)
    out = G.synthesis.run(ws, noise_mode="const", feature_blocks=G.synthesis.block_resolutions)
    res = {"ws": ws, "ws_psi07": G.mapping(z, c, truncation_psi=0.7),
           "ws_psi05_cut3": G.mapping(z, c, truncation_psi=0.5, truncation_cutoff=3),
           "img": out.img, "img_noise_none": G.synthesis(ws, noise_mode="none")}
    res.update({f"feat_b{r}": f for r, f in out.features.items()})
    return res


def _assert_same_generator(G2, G, atol=1e-5, exact_weights=True):
    assert _cfg_fields(G2.cfg) == _cfg_fields(G.cfg)
    sd, sd2 = G.state_dict(), G2.state_dict()
    assert sd.keys() == sd2.keys()
    if exact_weights:
        changed = [k for k in sd if not torch.equal(sd[k], sd2[k])]
        assert not changed, f"tensors changed on the way through the file: {changed[:5]}"
    z, c = _inputs(G)
    want, got = _outputs(G, z, c), _outputs(G2, z, c)
    for k in want:
        _assert_close(got[k], want[k], atol=atol, what=k)


def test_random_generators_are_not_degenerate():
    """The clamp, the conditioning, the architecture and the noise all change the image."""
    z, c = _inputs(small_generator("skip", 3))
    base = _outputs(small_generator("skip", 3), z, c)
    for arch, c_dim, clamp in [("skip", 3, 0.5), ("orig", 3, None), ("resnet", 3, None)]:
        G = small_generator(arch, c_dim, clamp)
        G2 = Generator(G.cfg).eval()
        G2.load_state_dict(small_generator("skip", 3).state_dict(), strict=False)  # same shared weights
        assert not torch.allclose(_outputs(G2, z, c)["img"], base["img"], atol=1e-3), (arch, clamp)
    G = small_generator("skip", 3)
    assert not torch.allclose(base["img"], base["img_noise_none"], atol=1e-3)
    assert not torch.allclose(G.mapping(z, c * 0 + 1 / 3), G.mapping(z, c), atol=1e-4)
    assert G.mapping.w_avg.abs().min() > 0 and all(
        G.state_dict()[k].abs() > 0 for k in G.state_dict() if k.endswith("noise_strength"))


@pytest.mark.parametrize("flavour, protocol, spelling, channels_last, arch, c_dim, clamp", CASES)
def test_nvidia_pickle_round_trip(tmp_path, flavour, protocol, spelling, channels_last, arch, c_dim, clamp):
    G = small_generator(arch, c_dim, clamp)
    path = tmp_path / "network-snapshot-000100.pkl"
    write_nvidia_pickle(path, G, flavour=flavour, protocol=protocol, numpy_spelling=spelling,
                        channels_last=channels_last)
    data = path.read_bytes()
    assert data[:2] == bytes([0x80, protocol])
    found = pickle_globals(data)
    assert found <= NVIDIA_GLOBALS, found - NVIDIA_GLOBALS
    assert f"{spelling}.multiarray.scalar" in found
    assert ("builtins.set" in found) == (protocol < 4)

    assert stylegan2.detect_format(data) == "pickle"
    info = stylegan2.checkpoint_info(path)
    assert info.format == "nvidia-pytorch-pickle"
    G2 = stylegan2.load_generator(path)
    assert G2.cfg.extra["format"] == "nvidia-pytorch-pickle"
    assert G2.cfg.extra["training_set_kwargs"]["resolution"] == 32
    _assert_same_generator(G2, G)


def test_nvidia_pickle_storage_offsets_are_honoured(tmp_path):
    """Tensors that start inside a larger storage (NaN around them) read back exactly."""
    G = small_generator("resnet", 3, 0.5)
    path = tmp_path / "offsets.pkl"
    write_nvidia_pickle(path, G, storage_pad=5)
    _assert_same_generator(stylegan2.load_generator(path), G)


@pytest.mark.parametrize("flavour, channels_last", [("ada", True), ("sg3", False)])
def test_writer_self_check_with_torch_rebuild(tmp_path, flavour, channels_last):
    """Our writer, read with torch's own rebuild functions (no reader code): the file holds G_ema,
    a different G, the layout and the kwargs that docs/CHECKPOINTS.md describes."""
    G = small_generator("resnet", 3, None)
    path = tmp_path / "snap.pkl"
    write_nvidia_pickle(path, G, flavour=flavour, channels_last=channels_last)
    snap = _plain_unpickle(path.read_bytes())
    order = (["training_set_kwargs", "G", "D", "G_ema", "augment_pipe"] if flavour == "ada"
             else ["G", "D", "G_ema", "augment_pipe", "training_set_kwargs"])
    assert list(snap) == order
    ema = snap["G_ema"]
    assert ema.class_name == "Generator" and ema.version == 6 and ema.state["_init_args"] == ()
    kw = ema.state["_init_kwargs"]
    if flavour == "ada":
        assert isinstance(kw["synthesis_kwargs"], _EasyDict) and kw["synthesis_kwargs"]["architecture"] == "resnet"
    else:
        assert "synthesis_kwargs" not in kw and kw["architecture"] == "resnet"
        assert kw["fused_modconv_default"] == "inference_only"
    assert isinstance(kw["mapping_kwargs"], _EasyDict) and kw["mapping_kwargs"]["num_layers"] == 2
    layer = ema.state["_modules"]["synthesis"].state["_modules"]["b8"].state["_modules"]["conv0"]
    assert layer.class_name == "SynthesisLayer" and type(layer.state["act_gain"]) is np.float64
    assert isinstance(layer.state["_parameters"]["weight"], torch.nn.Parameter)
    assert layer.state["_parameters"]["weight"].is_contiguous() != channels_last

    got = _walk(ema)
    sd = G.state_dict()
    assert got.keys() == sd.keys()
    assert all(torch.equal(got[k], sd[k]) for k in sd)
    train = _walk(snap["G"])
    assert not any(torch.equal(train[k], sd[k]) for k in sd if not k.endswith("resample_filter"))


def test_sg2ada_fixture_and_writer_name_the_same_globals(tmp_path):
    write_nvidia_pickle(tmp_path / "x.pkl", small_generator())
    assert pickle_globals((tmp_path / "x.pkl").read_bytes()) == pickle_globals(fixture_path("sg2ada_64.pkl").read_bytes())


def test_sg3_flavour_uses_stylegan3_defaults_for_missing_kwargs(tmp_path):
    G = randomize_(Generator(dataclasses.replace(small_generator().cfg, conv_clamp=256, num_fp16_res=4)))
    path = tmp_path / "sg3-stylegan2.pkl"
    write_nvidia_pickle(path, G, flavour="sg3")
    G2 = stylegan2.load_generator(path)
    assert (G2.cfg.conv_clamp, G2.cfg.num_fp16_res) == (256, 4)


# --------------------------------------------------------------------------------------------
# rosinality


def _rosinality_generator(img_resolution, mapping_layers):
    return small_generator("skip", 0, None, img_resolution=img_resolution, mapping_layers=mapping_layers,
                           channel_max=32 if img_resolution == 32 else 16, seed=3)


def _assert_equivalent_rosinality_config(got: GeneratorConfig, want: GeneratorConfig):
    """rosinality files store no config: channel_base/channel_max are inferred from the shapes and
    may differ from the source's when several pairs give the same channel counts."""
    g, w = _cfg_fields(got), _cfg_fields(want)
    for key in ("channel_base", "channel_max"):
        g.pop(key), w.pop(key)
    assert g == w
    assert [got.channels(r) for r in got.block_resolutions] == [want.channels(r) for r in want.block_resolutions]


@pytest.mark.parametrize("img_resolution, mapping_layers, training_ckpt",
                         [(32, 2, True), (16, 3, False)])
def test_rosinality_without_latent_avg_estimates_w_avg(tmp_path, img_resolution, mapping_layers, training_ckpt):
    G = _rosinality_generator(img_resolution, mapping_layers)
    path = tmp_path / "checkpoint.pt"
    write_rosinality_pt(path, G, with_latent_avg=False, training_ckpt=training_ckpt)
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    assert stylegan2.checkpoint_info(path).format == "rosinality-pt"
    G2 = stylegan2.load_generator(path)
    G3 = stylegan2.load_generator(path)
    assert torch.equal(G2.mapping.w_avg, G3.mapping.w_avg), "the w_avg estimate must be deterministic"

    # everything but w_avg is exactly G's; images agree (rosinality's maths differ by the 1e-8 epsilon)
    sd, sd2 = G.state_dict(), G2.state_dict()
    _assert_equivalent_rosinality_config(G2.cfg, G.cfg)
    assert all(torch.equal(sd[k], sd2[k]) for k in sd if k != "mapping.w_avg")
    z, _ = _inputs(G, n=4)
    with torch.no_grad():
        ws = G.mapping(z, None)
        _assert_close(G2.mapping(z, None), ws, atol=1e-5, what="ws")
        _assert_close(G2.synthesis(ws), G.synthesis(ws), atol=1e-4, what="img")
        # w_avg: the mean of mapped z, checked against an independent sample
        w = G.mapping(torch.randn(20000, G.z_dim, generator=torch.Generator().manual_seed(12345)), None)[:, 0]
    std_err = w.std(0) * (1 / 10000 + 1 / 20000) ** 0.5
    assert ((G2.mapping.w_avg - w.mean(0)).abs() <= 6 * std_err + 1e-6).all()
    assert not torch.allclose(G2.mapping.w_avg, G.mapping.w_avg, atol=1e-2)  # it was not in the file


@pytest.mark.parametrize("training_ckpt", [True, False])
def test_rosinality_with_latent_avg_is_exact(tmp_path, training_ckpt):
    G = _rosinality_generator(32, 2)
    path = tmp_path / "converted.pt"
    write_rosinality_pt(path, G, with_latent_avg=True, training_ckpt=training_ckpt)
    G2 = stylegan2.load_generator(path)
    assert torch.equal(G2.mapping.w_avg, G.mapping.w_avg)
    _assert_equivalent_rosinality_config(G2.cfg, G.cfg)
    G2.cfg = G.cfg  # channel_base/channel_max spelled differently, same network
    _assert_same_generator(G2, G, atol=1e-4)


# --------------------------------------------------------------------------------------------
# native safetensors


def test_native_round_trip_is_exact(tmp_path):
    G = small_generator("resnet", 3, 0.5)
    path = tmp_path / "g.safetensors"
    stylegan2.save_native(G, path, metadata={"source": "test", "kimg": 100})
    assert stylegan2.checkpoint_info(path).format == "native-safetensors"
    G2 = stylegan2.load_generator(path)
    assert _cfg_fields(G2.cfg) == _cfg_fields(G.cfg)
    z, c = _inputs(G)
    want, got = _outputs(G, z, c), _outputs(G2, z, c)
    for k in want:
        assert torch.equal(got[k], want[k]), k
    assert not list(tmp_path.glob("*.partial"))


def test_fixture_pickle_to_native_round_trip(tmp_path):
    G = stylegan2.load_generator(fixture_path("sg2ada_64.pkl"))
    stylegan2.save_native(G, tmp_path / "fixture.safetensors")
    G2 = stylegan2.load_generator(tmp_path / "fixture.safetensors")
    assert _cfg_fields(G2.cfg) == _cfg_fields(G.cfg)
    sd, sd2 = G.state_dict(), G2.state_dict()
    assert all(torch.equal(sd[k], sd2[k]) for k in sd)
    z = torch.randn(2, G.z_dim, generator=torch.Generator().manual_seed(0))
    want, got = _outputs(G, z, None), _outputs(G2, z, None)
    for k in want:
        assert torch.equal(got[k], want[k]), k


# --------------------------------------------------------------------------------------------
# format detection and errors


def _random_bytes(n: int, seed: int = 0) -> bytes:
    data = np.random.RandomState(seed).bytes(n)
    return b"\x13" + data[1:]  # not a pickle / zip / safetensors lead byte


def test_detect_format_from_bytes(tmp_path):
    save_file({"x": torch.zeros(2)}, tmp_path / "t.safetensors")
    assert stylegan2.detect_format((tmp_path / "t.safetensors").read_bytes()) == "native-safetensors"
    assert stylegan2.detect_format(fixture_path("sg2ada_64.pkl").read_bytes()[:64]) == "pickle"
    assert stylegan2.detect_format(b"PK\x03\x04" + b"\0" * 60) == "rosinality-pt"
    for data in (b"", b"hello world\n", _random_bytes(256)):
        with pytest.raises(CheckpointError, match="not a checkpoint"):
            stylegan2.detect_format(data)


def _write_case(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.pkl"
    if kind == "random":
        path.write_bytes(_random_bytes(4096))
    elif kind == "random_pickle_lead":
        path.write_bytes(b"\x80" + _random_bytes(4096, seed=1)[1:])
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("This is a README, not a network.\n" * 10)
    elif kind == "safetensors_without_metadata":
        path = tmp_path / "weights.safetensors"
        save_file({"mapping.w_avg": torch.zeros(8)}, path)
    elif kind == "safetensors_other_format":
        path = tmp_path / "weights.safetensors"
        save_file({"mapping.w_avg": torch.zeros(8)}, path, metadata={"format": "pt"})
    elif kind == "pickled_list":
        path.write_bytes(pickle.dumps([1, 2, 3], protocol=4))
    elif kind == "dict_without_g_ema":
        path.write_bytes(pickle.dumps({"G": None, "D": None}, protocol=4))
    elif kind == "zip_not_torch":
        import zipfile
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("readme.txt", "hello")
    elif kind == "torch_save_tensor":
        torch.save(torch.zeros(3), path)
    elif kind == "torch_save_dict_without_g_ema":
        torch.save({"state_dict": {"w": torch.zeros(3)}}, path)
    elif kind == "directory":
        path = tmp_path / "a_directory.pkl"
        path.mkdir()
    elif kind == "missing":
        path = tmp_path / "nope" / "stylegan2-ffhq-512x512.pkl"
    else:
        raise AssertionError(kind)
    return path


ERROR_CASES = {
    "random": ["not a checkpoint"],
    "random_pickle_lead": ["corrupt"],
    "empty": ["empty"],
    "text": ["not a checkpoint"],
    "safetensors_without_metadata": ["safetensors", "metadata"],
    "safetensors_other_format": ["safetensors", "metadata"],
    "pickled_list": ["not a StyleGAN2"],
    "dict_without_g_ema": ["G_ema"],
    "zip_not_torch": ["corrupt"],
    "torch_save_tensor": ["not a rosinality"],
    "torch_save_dict_without_g_ema": ["g_ema"],
    "directory": ["no checkpoint"],
    "missing": ["no checkpoint", "stylegan2-ffhq-512x512.pkl"],
}


@pytest.mark.parametrize("kind", sorted(ERROR_CASES))
def test_unreadable_files_raise_checkpoint_error(tmp_path, kind):
    path = _write_case(tmp_path, kind)
    for load in (stylegan2.load_generator, stylegan2.checkpoint_info):
        with pytest.raises(CheckpointError) as exc:
            load(path)
        msg = str(exc.value)
        for word in ERROR_CASES[kind]:
            assert word.lower() in msg.lower(), (word, msg)
        assert "Traceback" not in msg and len(msg) < 600
    assert isinstance(exc.value, ValueError)  # CheckpointError stays a ValueError for callers
