"""Hostile and damaged checkpoints: loading never runs code from the file, and every failure is a
`CheckpointError` with a message, never another exception or a hang.

Each hostile pickle tries to create a marker file (in tmp_path); the tests check the marker never
appears, that the error names the refused global, and that no module named in the file is imported.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import subprocess
import sys
import textwrap
import time
import types
import zipfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
import torch

import stylegan2
from conftest import fixture_path
from checkpoint_writers import (EASY_DICT, LOAD_FROM_BYTES, REBUILD_PARAMETER, REBUILD_TENSOR, Call, Global, NewObj,
                                Persisted, dumps, legacy_storage_bytes, nvidia_snapshot, ordered_dict, randomize_,
                                tensor_ref, write_rosinality_pt)
from stylegan2 import CheckpointError, Generator, GeneratorConfig

PROJECT = Path(__file__).resolve().parents[1]
FIXTURES = PROJECT.parent / "shared" / "fixtures"
TIME_LIMIT_S = 20.0


@lru_cache(maxsize=None)
def tiny_generator() -> Generator:
    cfg = GeneratorConfig(z_dim=8, w_dim=8, img_resolution=8, channel_base=64, channel_max=8, mapping_layers=1)
    return randomize_(Generator(cfg), seed=4)


def _load_refused(path: Path, marker: Path) -> str:
    """Load `path`; it must raise CheckpointError, quickly, without creating `marker`."""
    t0 = time.monotonic()
    with pytest.raises(CheckpointError) as exc:
        stylegan2.load_generator(path)
    assert time.monotonic() - t0 < TIME_LIMIT_S
    assert not marker.exists(), "code from the file ran"
    return str(exc.value)


def _touch(marker: Path) -> str:
    return f"touch {shlex.quote(str(marker))}"


def _call(module: str, name: str, *args) -> Call:
    return Call(Global(module, name), args)


# --------------------------------------------------------------------------------------------
# Payloads: (refused global, builder(marker) -> marker object tree)

PAYLOADS = {
    "os.system": ("os.system", lambda m: _call("os", "system", _touch(m))),
    "posix.system": ("posix.system", lambda m: _call("posix", "system", _touch(m))),
    "builtins.eval": ("builtins.eval", lambda m: _call("builtins", "eval", f"__import__('os').system({_touch(m)!r})")),
    "builtins.exec": ("builtins.exec", lambda m: _call("builtins", "exec", f"import os; os.system({_touch(m)!r})")),
    "builtins.__import__": ("builtins.__import__", lambda m: _call("builtins", "__import__", "os")),
    "subprocess.call": ("subprocess.call", lambda m: _call("subprocess", "call", ["touch", str(m)])),
    "subprocess.Popen": ("subprocess.Popen", lambda m: _call("subprocess", "Popen", ["touch", str(m)])),
    "subprocess.check_output": ("subprocess.check_output",
                                lambda m: _call("subprocess", "check_output", ["touch", str(m)])),
    "importlib.import_module": ("importlib.import_module", lambda m: _call("importlib", "import_module", "os")),
    "torch.load": ("torch.load", lambda m: _call("torch", "load", str(m))),
    "numpy.load": ("numpy.load", lambda m: _call("numpy", "load", str(m), None, True)),
    # os.system reached through nested reduces on objects the allow-list does resolve
    "getattr_on_allowed_global": ("builtins.getattr", lambda m: Call(
        _call("builtins", "getattr", Global("collections", "OrderedDict"), "fromkeys"), (_touch(m),))),
    "getattr_system": ("builtins.getattr", lambda m: Call(
        _call("builtins", "getattr", _call("importlib", "import_module", "os"), "system"), (_touch(m),))),
    "methodcaller": ("operator.methodcaller", lambda m: Call(
        _call("operator", "methodcaller", "system", _touch(m)), (_call("importlib", "import_module", "os"),))),
    "attrgetter_on_allowed": ("operator.attrgetter", lambda m: Call(
        _call("operator", "attrgetter", "__globals__"), (Global("torch._utils", "_rebuild_tensor_v2"),))),
    # legitimate modules, wrong names: the allow-list is by (module, name), not by module
    "torch._utils.other": ("torch._utils._import_dotted_name",
                           lambda m: _call("torch._utils", "_import_dotted_name", "os.system")),
    "torch_utils.persistence.other": ("torch_utils.persistence._module_to_src",
                                      lambda m: _call("torch_utils.persistence", "_module_to_src", "os")),
    "dnnlib.util.call_func_by_name": ("dnnlib.util.call_func_by_name",
                                      lambda m: _call("dnnlib.util", "call_func_by_name", _touch(m))),
}


@pytest.mark.parametrize("payload", sorted(PAYLOADS))
def test_top_level_payload_is_refused(tmp_path, payload):
    refused, build = PAYLOADS[payload]
    marker = tmp_path / "MARKER"
    path = tmp_path / "evil.pkl"
    path.write_bytes(dumps({"G_ema": build(marker)}, protocol=4))
    msg = _load_refused(path, marker)
    assert refused in msg and "refus" in msg.lower(), msg


def _snapshot_with(payload_obj, where: str):
    """A valid-looking NVIDIA snapshot of a tiny generator with `payload_obj` hidden at `where`."""
    snap = nvidia_snapshot(tiny_generator())
    g_ema: Persisted = snap["G_ema"]
    synthesis = g_ema.state["_modules"].dictitems[0][1]
    b8 = dict(synthesis.state["_modules"].dictitems)["b8"]
    conv0 = dict(b8.state["_modules"].dictitems)["conv0"]
    mapping = g_ema.state["_modules"].dictitems[1][1]
    fc0 = dict(mapping.state["_modules"].dictitems)["fc0"]
    if where == "layer_attribute":
        conv0.state["act_gain"] = payload_obj
    elif where == "tensor_storage":  # a tensor whose storage argument is the call
        fc0.state["_parameters"].dictitems[0] = (
            "weight", Call(REBUILD_PARAMETER, (Call(REBUILD_TENSOR, (payload_obj, 0, (8, 8), (8, 1), False,
                                                                      ordered_dict())), False, ordered_dict())))
    elif where == "parameter_hooks":  # the backward-hooks argument of _rebuild_parameter
        fc0.state["_parameters"].dictitems[1] = (
            "bias", Call(REBUILD_PARAMETER, (tensor_ref(torch.zeros(8), parameter=False), False, payload_obj)))
    elif where == "storage_bytes":  # _load_from_bytes given the call instead of bytes
        conv0.state["_buffers"].dictitems[0] = (
            "resample_filter", Call(REBUILD_TENSOR, (Call(LOAD_FROM_BYTES, (payload_obj,)), 0, (4, 4), (4, 1),
                                                     False, ordered_dict())))
    elif where == "init_kwargs":
        g_ema.state["_init_kwargs"]["mapping_kwargs"] = NewObj(EASY_DICT, [("num_layers", payload_obj)])
    elif where == "module_src":
        synthesis.module_src = payload_obj
    elif where == "persisted_meta":  # a whole module replaced by the call, deep in the tree
        b8.state["_modules"].dictitems[1] = ("conv1", payload_obj)
    elif where == "augment_pipe":  # after G_ema in the file
        snap["augment_pipe"] = payload_obj
    elif where == "training_set_kwargs":  # before anything else
        snap["training_set_kwargs"]["path"] = payload_obj
    else:
        raise AssertionError(where)
    return snap


WHERE = ["layer_attribute", "tensor_storage", "parameter_hooks", "storage_bytes", "init_kwargs", "module_src",
         "persisted_meta", "augment_pipe", "training_set_kwargs"]


@pytest.mark.parametrize("where", WHERE)
@pytest.mark.parametrize("payload", ["os.system", "builtins.eval", "getattr_system"])
def test_payload_hidden_in_valid_snapshot_is_refused(tmp_path, payload, where):
    refused, build = PAYLOADS[payload]
    marker = tmp_path / "MARKER"
    path = tmp_path / "network-snapshot.pkl"
    path.write_bytes(dumps(_snapshot_with(build(marker), where), protocol=4))
    msg = _load_refused(path, marker)
    assert refused in msg, msg


def test_snapshot_helper_without_payload_loads(tmp_path):
    """Guards the test above: the same snapshot, unedited, is a valid checkpoint."""
    path = tmp_path / "network-snapshot.pkl"
    path.write_bytes(dumps(nvidia_snapshot(tiny_generator()), protocol=3, numpy_spelling="numpy.core"))
    G = stylegan2.load_generator(path)
    sd, want = G.state_dict(), tiny_generator().state_dict()
    assert all(torch.equal(sd[k], want[k]) for k in want)


def test_module_named_in_file_is_never_imported(tmp_path, monkeypatch):
    """A global naming an importable module with side effects: refused by name, never imported."""
    marker = tmp_path / "MARKER"
    modname = f"evil_checkpoint_module_{os.getpid()}"
    (tmp_path / f"{modname}.py").write_text(
        f"open({str(marker)!r}, 'w').close()\ndef build(*a):\n    return a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = tmp_path / "evil.pkl"
    path.write_bytes(dumps(_snapshot_with(_call(modname, "build", 1), "layer_attribute")))
    msg = _load_refused(path, marker)
    assert f"{modname}.build" in msg
    assert modname not in sys.modules


@pytest.mark.parametrize("protocol", [0, 2])
def test_old_protocol_opcodes_are_refused(tmp_path, protocol):
    """GLOBAL / INST / OBJ spellings of the same calls, including __builtin__ (protocol 2 naming)."""
    marker = tmp_path / "MARKER"
    cmd = _touch(marker).encode()
    variants = {
        "inst": b"(S'" + cmd + b"'\nios\nsystem\n.",  # INST: module/name inline
        "global_reduce": b"cos\nsystem\n(S'" + cmd + b"'\ntR.",
        "builtin_eval": b"c__builtin__\neval\n(S'__import__(\"os\").system(\"" + cmd + b"\")'\ntR.",
        "obj": b"(cos\nsystem\nS'" + cmd + b"'\no.",  # OBJ: class taken from the stack
    }
    for name, body in variants.items():
        data = (b"\x80\x02" + body) if protocol == 2 else body
        path = tmp_path / f"{name}.pkl"
        path.write_bytes(data)
        if data[:1] != b"\x80":  # a protocol-0 file is not even taken for a pickle
            with pytest.raises(CheckpointError, match="not a checkpoint"):
                stylegan2.load_generator(path)
            assert not marker.exists()
            continue
        msg = _load_refused(path, marker)
        assert "system" in msg or "eval" in msg, msg


@pytest.mark.parametrize("where", ["top", "deep"])
def test_persistent_id_is_refused(tmp_path, where):
    marker = tmp_path / "MARKER"
    secret = ["storage", "os.system", "0", "cpu", 1]
    obj = {"G_ema": secret} if where == "top" else _snapshot_with(secret, "layer_attribute")
    path = tmp_path / "persid.pkl"
    path.write_bytes(dumps(obj, persistent_ids={id(secret): "evil-id"}))
    assert b"evil-id" in path.read_bytes()
    msg = _load_refused(path, marker)
    assert "persistent" in msg.lower(), msg


def test_hostile_legacy_storage_blob_is_refused(tmp_path):
    """A storage blob (a nested legacy torch.save) whose own pickle calls os.system."""
    marker = tmp_path / "MARKER"

    class Evil:
        def __reduce__(self):
            return os.system, (_touch(marker),)

    buf = io.BytesIO()
    torch.save(Evil(), buf, _use_new_zipfile_serialization=False)
    blob = buf.getvalue()
    assert b"system" in blob
    path = tmp_path / "network-snapshot.pkl"
    path.write_bytes(dumps(_snapshot_with(blob, "storage_bytes")))
    msg = _load_refused(path, marker)
    assert "storage" in msg, msg


# --------------------------------------------------------------------------------------------
# StyleGAN3 networks: a malformed one is refused with a clear message; payloads hidden in a valid
# StyleGAN3 snapshot are refused like those in StyleGAN2 ones.


def _sg3_generator(with_input_class: bool) -> Persisted:
    def module(class_name, params=(), buffers=(), modules=(), **attrs):
        tensors = {n: tensor_ref(torch.randn(shape), parameter=True) for n, shape in params}
        bufs = {n: tensor_ref(torch.randn(shape), parameter=False) for n, shape in buffers}
        return Persisted(class_name, {
            "training": False, "_parameters": ordered_dict(tensors), "_buffers": ordered_dict(bufs),
            "_non_persistent_buffers_set": set(), "_modules": ordered_dict(dict(modules)), **attrs,
            "_init_args": (), "_init_kwargs": {}})

    layers = {}
    if with_input_class:
        layers["input"] = module("SynthesisInput", params=[("freqs", (8, 2)), ("phases", (8,)), ("weight", (8, 8))],
                                 buffers=[("transform", (3, 3))], size=np.array([36, 36]))
    for i, (size, ch) in enumerate([(36, 8), (36, 8), (20, 3)]):
        layers[f"L{i}_{size}_{ch}"] = module(
            "SynthesisLayer", params=[("weight", (ch, 8, 3, 3)), ("bias", (ch,))],
            buffers=[("magnitude_ema", ()), ("up_filter", (12,)), ("down_filter", (12,))],
            modules={"affine": module("FullyConnectedLayer", params=[("weight", (8, 8)), ("bias", (8,))])})
    synthesis = module("SynthesisNetwork", modules=layers, num_ws=4, img_resolution=16)
    mapping = module("MappingNetwork", buffers=[("w_avg", (8,))],
                     modules={"fc0": module("FullyConnectedLayer", params=[("weight", (8, 8)), ("bias", (8,))])})
    gen = module("Generator", modules={"synthesis": synthesis, "mapping": mapping},
                 z_dim=8, c_dim=0, w_dim=8, img_resolution=16, img_channels=3)
    gen.state["_init_kwargs"] = {"z_dim": 8, "c_dim": 0, "w_dim": 8, "img_resolution": 16, "img_channels": 3,
                                 "mapping_kwargs": NewObj(EASY_DICT, [("num_layers", 1)]),
                                 "channel_base": 64, "channel_max": 8, "magnitude_ema_beta": 0.999}
    return gen


@pytest.mark.parametrize("with_input_class", [True, False])
def test_malformed_stylegan3_pickle_is_refused_with_clear_message(tmp_path, with_input_class):
    # Layers that do not follow the schedule of the file's own arguments (and lack tensors).
    snap = {"G": _sg3_generator(with_input_class), "D": None, "G_ema": _sg3_generator(with_input_class),
            "augment_pipe": None, "training_set_kwargs": {"resolution": 16}}
    path = tmp_path / "stylegan3-t-ffhqu-256x256.pkl"
    path.write_bytes(dumps(snap))
    msg = _load_refused(path, tmp_path / "MARKER")
    assert "StyleGAN3" in msg, msg


def _sg3_snapshot_with(payload_obj, where: str) -> dict:
    from checkpoint_writers import sg3_kwargs, sg3_snapshot
    snap, _ = sg3_snapshot(sg3_kwargs("R"))
    g_ema: Persisted = snap["G_ema"]
    synthesis = g_ema.state["_modules"].dictitems[0][1]
    layers = dict(synthesis.state["_modules"].dictitems)
    layer = layers["L3_" + next(n[3:] for n in layers if n.startswith("L3_"))]
    if where == "layer_attribute":  # where real files hold numpy scalars
        layer.state["magnitude_ema_beta"] = payload_obj
    elif where == "filter_storage":
        layer.state["_buffers"].dictitems[-1] = (
            "down_filter", Call(REBUILD_TENSOR, (Call(LOAD_FROM_BYTES, (payload_obj,)), 0, (12, 12), (12, 1),
                                                 False, ordered_dict())))
    elif where == "input_module":
        synthesis.state["_modules"].dictitems[0] = ("input", payload_obj)
    elif where == "flat_kwargs":
        g_ema.state["_init_kwargs"]["magnitude_ema_beta"] = payload_obj
    else:
        raise AssertionError(where)
    return snap


@pytest.mark.parametrize("where", ["layer_attribute", "filter_storage", "input_module", "flat_kwargs"])
@pytest.mark.parametrize("payload", ["os.system", "getattr_system"])
def test_payload_hidden_in_stylegan3_snapshot_is_refused(tmp_path, payload, where):
    refused, build = PAYLOADS[payload]
    marker = tmp_path / "MARKER"
    path = tmp_path / "stylegan3-r-snapshot.pkl"
    path.write_bytes(dumps(_sg3_snapshot_with(build(marker), where), protocol=4))
    msg = _load_refused(path, marker)
    assert refused in msg, msg


def test_stylegan3_with_unknown_argument_or_tampered_schedule_is_refused(tmp_path):
    from checkpoint_writers import sg3_kwargs, sg3_snapshot
    snap, _ = sg3_snapshot(sg3_kwargs("T"))
    snap["G_ema"].state["_init_kwargs"]["use_custom_op"] = True
    path = tmp_path / "a.pkl"
    path.write_bytes(dumps(snap))
    msg = _load_refused(path, tmp_path / "MARKER")
    assert "use_custom_op" in msg, msg
    snap, _ = sg3_snapshot(sg3_kwargs("T"))
    synthesis = snap["G_ema"].state["_modules"].dictitems[0][1]
    layer = synthesis.state["_modules"].dictitems[3][1]
    layer.state["padding"] = [0, 0, 0, 0]
    path.write_bytes(dumps(snap))
    msg = _load_refused(path, tmp_path / "MARKER")
    assert "padding" in msg, msg


# --------------------------------------------------------------------------------------------
# rosinality-style zip .pt with a hostile data.pkl


def _hostile_zip_pt(path: Path, payload) -> None:
    """A torch zip checkpoint with real tensors whose data.pkl also holds `payload` (a marker tree)."""
    from checkpoint_writers import MarkerPickler

    class _PickleModule(types.SimpleNamespace):
        Pickler = MarkerPickler  # torch.save subclasses it and adds persistent_id for the tensors

    obj = {"g_ema": {"style.1.weight": torch.randn(8, 8)}, "args": payload}
    torch.save(obj, path, pickle_module=_PickleModule(__name__="pickle"), pickle_protocol=2)


@pytest.mark.parametrize("payload", ["os.system", "builtins.eval", "subprocess.Popen"])
def test_hostile_rosinality_zip_is_refused(tmp_path, payload):
    refused, build = PAYLOADS[payload]
    marker = tmp_path / "MARKER"
    path = tmp_path / "550000.pt"
    _hostile_zip_pt(path, build(marker))
    assert path.read_bytes()[:4] == b"PK\x03\x04"
    with zipfile.ZipFile(path) as zf:  # the payload really is in the archive's pickle
        data_pkl = next(n for n in zf.namelist() if n.endswith("data.pkl"))
        assert refused.split(".")[-1].encode() in zf.read(data_pkl)
    msg = _load_refused(path, marker)
    # torch's weights_only unpickler names builtins without their module ("GLOBAL eval")
    assert "refusing" in msg and f"GLOBAL {refused.removeprefix('builtins.')}" in msg, msg
    assert "weights_only` set to `False" not in msg  # never relay torch's "re-run unsafely" advice


def test_hostile_rosinality_zip_with_reduce_object_is_refused(tmp_path):
    marker = tmp_path / "MARKER"

    class Evil:
        def __reduce__(self):
            return os.system, (_touch(marker),)

    path = tmp_path / "evil.pt"
    torch.save({"g_ema": {}, "x": Evil()}, path)
    msg = _load_refused(path, marker)
    assert "system" in msg and "refusing" in msg, msg


# --------------------------------------------------------------------------------------------
# Damaged files: truncated and bit-flipped copies of the fixtures (and of our own writers' files).


@lru_cache(maxsize=None)
def _fixture_bytes(name: str) -> bytes:
    return fixture_path(name).read_bytes()  # skips, saying why, from a clone without ../shared


def _load_damaged(path: Path):
    """Damaged files either load or raise CheckpointError: nothing else, and fast."""
    t0 = time.monotonic()
    try:
        G = stylegan2.load_generator(path)
    except CheckpointError as e:
        assert str(e), "empty error message"
        result = "error"
    except Exception as e:  # noqa: BLE001 - the point of the test
        pytest.fail(f"{type(e).__name__} escaped instead of CheckpointError: {e}")
    else:
        assert isinstance(G, (Generator, stylegan2.StyleGAN3Generator))
        result = "loaded"
    elapsed = time.monotonic() - t0
    assert elapsed < TIME_LIMIT_S, f"load took {elapsed:.1f}s"
    return result


FIXTURE_NAMES = ["sg2ada_64.pkl", "tf_sg2_64_synthetic.pkl", "sg3_t_64.pkl", "shg_64x32.pkl"]


def _cut_points(n: int) -> list[int]:
    return sorted({1, 2, 3, 11, 64, 199} | {n * k // 10 for k in range(1, 10)} | {n - 1})


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_truncated_fixture(tmp_path, name):
    data = _fixture_bytes(name)
    for cut in _cut_points(len(data)):
        path = tmp_path / f"cut{cut}.pkl"
        path.write_bytes(data[:cut])
        assert _load_damaged(path) == "error", f"a file cut at {cut} of {len(data)} bytes loaded"


def _flip_positions(n: int, count: int = 30, seed: int = 0) -> list[tuple[int, int]]:
    rng = np.random.RandomState(seed)
    head = [(int(p), int(rng.randint(8))) for p in rng.choice(200, size=10, replace=False)]
    spread = [(int(p), int(rng.randint(8))) for p in np.linspace(200, n - 1, count - 10).astype(int)]
    return head + spread


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_bit_flipped_fixture(tmp_path, name):
    data = _fixture_bytes(name)
    outcomes = {}
    for pos, bit in _flip_positions(len(data)):
        damaged = bytearray(data)
        damaged[pos] ^= 1 << bit
        path = tmp_path / "flipped.pkl"
        path.write_bytes(bytes(damaged))
        outcomes[(pos, bit)] = _load_damaged(path)
    assert "error" in outcomes.values()  # the header flips at least must be noticed


def test_truncated_and_flipped_rosinality_and_native(tmp_path):
    G = tiny_generator()
    files = {"pt": tmp_path / "g.pt", "safetensors": tmp_path / "g.safetensors"}
    write_rosinality_pt(files["pt"], G, with_latent_avg=True)
    stylegan2.save_native(G, files["safetensors"])
    for kind, src in files.items():
        data = src.read_bytes()
        for cut in _cut_points(len(data)):
            path = tmp_path / f"cut.{kind}"
            path.write_bytes(data[:cut])
            assert _load_damaged(path) == "error", (kind, cut)
        for pos, bit in _flip_positions(len(data), count=20, seed=1):
            damaged = bytearray(data)
            damaged[pos] ^= 1 << bit
            path = tmp_path / f"flip.{kind}"
            path.write_bytes(bytes(damaged))
            _load_damaged(path)


# --------------------------------------------------------------------------------------------
# Memory amplification: a few hundred bytes must not make the loader allocate hundreds of MB.

_AMPLIFY_SCRIPT = textwrap.dedent("""
    import json, sys
    import stylegan2

    def status_kb(key):
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))

    grown = {}
    for kind, path in json.loads(sys.argv[1]).items():
        with open("/proc/self/clear_refs", "w") as f:  # reset the peak RSS (VmHWM) to the current RSS
            f.write("5")
        base = status_kb("VmRSS")
        try:
            stylegan2.load_generator(path)
        except stylegan2.CheckpointError:
            pass
        grown[kind] = (status_kb("VmHWM") - base) / 1024
    print("grown_mb=" + json.dumps(grown))
""")
AMPLIFY_KINDS = ["control_valid_snapshot", "memo_index", "zero_stride_tensor"]


def _amplification_file(directory: Path, kind: str) -> Path:
    path = directory / f"{kind}.pkl"
    if kind == "memo_index":  # LONG_BINPUT 0x02000000: the C unpickler sizes its memo table to 2x that
        path.write_bytes(b"\x80\x02}q\x00X\x05\x00\x00\x00G_emar\x00\x00\x00\x02N" + b"s.")
    elif kind == "zero_stride_tensor":  # a 1-element storage viewed as 8192x8192 with stride 0
        storage = Call(LOAD_FROM_BYTES, (legacy_storage_bytes(torch.ones(1)),))
        t = Call(REBUILD_TENSOR, (storage, 0, (8192, 8192), (0, 0), False, ordered_dict()))
        path.write_bytes(dumps({"G_ema": t}))
    else:  # the measurement's control: a valid (tiny) snapshot
        path.write_bytes(dumps(nvidia_snapshot(tiny_generator())))
        return path
    assert path.stat().st_size < 1000
    return path


@pytest.fixture(scope="module")
def memory_growth(tmp_path_factory) -> dict[str, tuple[int, float]]:
    """Loads each amplification file in one fresh process: kind -> (file size, peak RSS growth MB)."""
    directory = tmp_path_factory.mktemp("amplify")
    paths = {kind: _amplification_file(directory, kind) for kind in AMPLIFY_KINDS}
    out = subprocess.run([sys.executable, "-c", _AMPLIFY_SCRIPT, json.dumps({k: str(p) for k, p in paths.items()})],
                         capture_output=True, text=True, cwd=PROJECT, timeout=120,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    grown = json.loads(out.stdout.strip().rsplit("grown_mb=", 1)[1])
    return {kind: (paths[kind].stat().st_size, grown[kind]) for kind in AMPLIFY_KINDS}


@pytest.mark.parametrize("kind", ["control_valid_snapshot", "memo_index", "zero_stride_tensor"])
def test_small_file_does_not_amplify_memory(memory_growth, kind):
    size, grown = memory_growth[kind]
    assert grown < 128, f"loading a {size}-byte file grew the process by {grown:.0f} MB"


# --------------------------------------------------------------------------------------------
# The CLI reports a bad file as a message, not a traceback.

CLI = PROJECT / "draggan" / "cli.py"


@pytest.mark.skipif(not CLI.exists(), reason="draggan/cli.py does not exist yet")
@pytest.mark.parametrize("kind", ["truncated", "hostile"])
def test_cli_info_reports_bad_file_without_traceback(tmp_path, kind):
    path = tmp_path / f"{kind}.pkl"
    marker = tmp_path / "MARKER"
    if kind == "truncated":
        path.write_bytes(_fixture_bytes("sg2ada_64.pkl")[:5000])
    else:
        path.write_bytes(dumps({"G_ema": PAYLOADS["os.system"][1](marker)}))
    out = subprocess.run([sys.executable, "-m", "draggan.cli", "info", str(path)], capture_output=True, text=True,
                         cwd=PROJECT, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode != 0
    assert "Traceback" not in text
    assert "error" in text.lower() or "cannot" in text.lower(), text
    assert str(path.name) in text, "the message should name the file"
    assert not marker.exists()
