"""The command line against a clumsy or hostile user (issue 9): every bad input is one clear line.

Each test names the defect it guards. The contract: a user mistake exits with status 2 and
prints exactly one line, "draggan: error: ...", on stderr; no traceback; no input file is
ever overwritten; no output is left half-written. Runs in-process through `draggan.cli.main`.
"""

from __future__ import annotations

import errno
import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import draggan.bench as bench
import draggan.cli as cli
from draggan.cli import main

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "checkpoints" / "demo_faces_64.safetensors"
POINTS = {"handles": [[20, 30]], "targets": [[26, 30]]}
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, err, match=None):
    """Exit 2, exactly one stderr line starting 'draggan: error:', no traceback."""
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("draggan: error:"), err
    assert "Traceback" not in err
    if match is not None:
        assert match in err, err


@pytest.fixture
def points(tmp_path):
    path = tmp_path / "points.json"
    path.write_text(json.dumps(POINTS))
    return path


@pytest.fixture
def cached_model(monkeypatch, fixture_G):
    """Edits load the fixture once (the device is still checked): the hostile cases stay fast."""
    from draggan.devices import choose_device

    def load(checkpoint, device):
        choose_device(device)
        return fixture_G

    monkeypatch.setattr(cli, "_load", load)


@pytest.fixture
def no_model(monkeypatch):
    """The case must be refused before the model is loaded (outputs and numbers are checked first)."""
    def load(checkpoint, device):
        raise AssertionError("the model was loaded before the inputs were checked")

    monkeypatch.setattr(cli, "_load", load)


def png_claiming(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's shape)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def edit_args(sg2ada_path, points, out, *extra):
    return ["edit", sg2ada_path, "--points", points, "--out", out, "--steps", "2", "--no-progress", *extra]


# ---- outputs that are inputs ----

def test_points_file_named_like_the_report_is_not_overwritten(sg2ada_path, tmp_path, capsys, no_model):
    pts = tmp_path / "face.json"
    pts.write_text(json.dumps(POINTS))
    before = pts.read_bytes()
    code, _, err = run(capsys, *edit_args(sg2ada_path, pts, tmp_path / "face.png"))
    assert_user_error(code, err, "also an input")
    assert pts.read_bytes() == before and not (tmp_path / "face.png").exists()


def test_default_out_does_not_overwrite_a_points_file_named_result_json(sg2ada_path, tmp_path, capsys, monkeypatch,
                                                                         no_model):
    monkeypatch.chdir(tmp_path)
    Path("result.json").write_text(json.dumps(POINTS))
    code, _, err = run(capsys, "edit", sg2ada_path, "--points", "result.json", "--no-progress")
    assert_user_error(code, err, "result.json")
    assert json.loads(Path("result.json").read_text()) == POINTS and not Path("result.png").exists()


def test_mask_is_not_overwritten_by_the_result(sg2ada_path, tmp_path, points, capsys, no_model):
    mask = tmp_path / "mask.png"
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(mask)
    before = mask.read_bytes()
    code, _, err = run(capsys, *edit_args(sg2ada_path, points, mask, "--mask", mask))
    assert_user_error(code, err, "also an input")
    assert mask.read_bytes() == before


def test_mask_named_in_the_points_file_is_an_input_too(sg2ada_path, tmp_path, capsys, no_model):
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(tmp_path / "m.png")
    pts = tmp_path / "p.json"
    pts.write_text(json.dumps({**POINTS, "mask": "m.png"}))
    code, _, err = run(capsys, *edit_args(sg2ada_path, pts, tmp_path / "m.png"))
    assert_user_error(code, err, "also an input")


def test_latent_is_not_overwritten_by_the_results_latent(sg2ada_path, tmp_path, points, capsys, no_model):
    latent = tmp_path / "r.latent.npy"
    np.save(latent, np.zeros((1, 10, 64), np.float32))
    before = latent.read_bytes()
    code, _, err = run(capsys, *edit_args(sg2ada_path, points, tmp_path / "r.png", "--latent", latent))
    assert_user_error(code, err, "also an input")
    assert latent.read_bytes() == before


def test_convert_refuses_to_write_over_its_input(tmp_path, capsys, no_model):
    src = tmp_path / "model.safetensors"
    src.write_bytes(DEMO.read_bytes())
    code, _, err = run(capsys, "convert", src, src)
    assert_user_error(code, err, "also an input")
    assert src.read_bytes() == DEMO.read_bytes()


# ---- outputs checked before the work starts ----

@pytest.mark.parametrize("argv,match", [
    (["edit", "{ckpt}", "--points", "{points}", "--out", "{tmp}/r.png", "--video", "{tmp}/d.avi"], "'.avi'"),
    (["edit", "{ckpt}", "--points", "{points}", "--out", "{tmp}/r.png", "--video", "{tmp}/drag"], "no extension"),
    (["edit", "{ckpt}", "--points", "{points}", "--out", "{tmp}/r.jpg"], "'.jpg'"),
    (["edit", "{ckpt}", "--points", "{points}", "--out", "{tmp}/a_file/r.png"], "is a file, not a folder"),
    (["edit", "{ckpt}", "--points", "{points}", "--out", "{tmp}"], "no extension"),
    (["generate", "{ckpt}", "--out", "{tmp}/face"], "no extension"),
    (["generate", "{ckpt}", "--out", "{tmp}/face.txt"], "'.txt'"),
    (["generate", "{ckpt}", "--out", "{tmp}/.png"], "no extension"),
    (["generate", "{ckpt}", "--out", "{tmp}/a_file/deeper/face.png"], "is a file, not a folder"),
    (["convert", "{ckpt}", "{tmp}/model.pt"], "*.safetensors"),
    (["benchmark", "{ckpt}", "--json", "{tmp}/r.csv"], "'.csv'"),
    (["bench", "{ckpt}", "--json", "{tmp}/a_file/r.json"], "is a file, not a folder"),
])
def test_bad_outputs_are_refused_before_any_work(sg2ada_path, tmp_path, points, capsys, monkeypatch, no_model,
                                                 argv, match):
    (tmp_path / "a_file").write_text("a file, not a folder")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("a bench child was started"))
    argv = [a.format(ckpt=sg2ada_path, points=points, tmp=tmp_path) for a in argv]
    code, _, err = run(capsys, *argv)
    assert_user_error(code, err, match)


@pytest.mark.skipif(IS_ROOT, reason="root may write into read-only folders")
def test_read_only_folder_is_refused_before_any_work(sg2ada_path, tmp_path, points, capsys, no_model):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        code, _, err = run(capsys, "generate", sg2ada_path, "--out", folder / "face.png")
    finally:
        folder.chmod(0o755)
    assert_user_error(code, err, "not writable")


def test_a_failed_write_leaves_the_earlier_result_whole(sg2ada_path, tmp_path, points, capsys, monkeypatch,
                                                        cached_model):
    """A full disk while writing: one clear line, the earlier files untouched, no temporaries left behind."""
    out = tmp_path / "r.png"
    assert run(capsys, *edit_args(sg2ada_path, points, out))[0] == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def full_disk(frames, path, fps=15.0, hold_s=0.0):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("draggan.headless.save_animation", full_disk)
    code, _, err = run(capsys, *edit_args(sg2ada_path, points, out, "--video", tmp_path / "d.gif"))
    assert_user_error(code, err, "the disk is full")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # no new, changed or temporary file


def test_write_outputs_renames_only_after_every_file_was_written(tmp_path):
    """Two runs writing the same names cannot interleave their files: all temporaries first, then renames."""
    from draggan.outputs import write_outputs
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    seen = []

    def write_b(p):
        seen.append(a.exists())
        p.write_text("b")

    write_outputs([(a, lambda p: p.write_text("a")), (b, write_b)])
    assert seen == [False] and a.read_text() == "a" and b.read_text() == "b"


# ---- draggan bench: the parent checks, a child failure is one line ----

@pytest.mark.parametrize("argv,match", [
    (["bench", "{tmp}/missing.pkl"], "no checkpoint at"),
    (["bench", "{tmp}/not_a_model.pkl"], "cannot load"),
    (["bench", "--synthetic", "100"], "power of two"),
    (["bench", "--synthetic", "1e3"], "--synthetic"),
    (["bench", "{ckpt}", "--points", "0"], "--points"),
    (["bench", "{ckpt}", "--steps", "0"], "--steps"),
    (["bench", "{ckpt}", "--repeats", "0"], "--repeats"),
    (["bench", "{ckpt}", "--warmup", "-1"], "--warmup"),
    (["bench", "{ckpt}", "--synthetic", "256"], "not both"),
    (["bench", "{ckpt}", "--device", "xpu"], "not supported"),
    (["bench", "{ckpt}", "--variants", "ours,theirs"], "--variants"),
    (["bench", "{ckpt}", "--variants", ","], "--variants"),
    (["bench", "{ckpt}", "--variants", "ours,ours"], "distinct"),
    (["bench", "{ckpt}", "--image-every", "-1"], "--image-every"),
    (["bench", "{ckpt}", "--threads", "0"], "--threads"),
    (["bench", "--suite", "--synthetic", "256"], "--suite"),
    (["bench", "--suite", "{ckpt}"], "--suite"),
])
def test_bench_checks_in_the_parent(sg2ada_path, tmp_path, capsys, monkeypatch, argv, match):
    (tmp_path / "not_a_model.pkl").write_text("hello")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("a bench child was started"))
    code, _, err = run(capsys, *[a.format(ckpt=sg2ada_path, tmp=tmp_path) for a in argv])
    assert_user_error(code, err, match)


def test_bench_child_failure_is_one_line(sg2ada_path, capsys, monkeypatch):
    traceback = ("Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\n"
                 "RuntimeError: CUDA out of memory\n")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", traceback))
    code, _, err = run(capsys, "bench", sg2ada_path, "--steps", "1", "--warmup", "0", "--repeats", "1")
    assert_user_error(code, err, "'ours' measurement failed: RuntimeError: CUDA out of memory")


def _fake_child(speeds: dict):
    """A stand-in for the measuring process: a row whose speed and memory depend on the variant only."""
    def run(argv, **kwargs):
        spec = json.loads(argv[-1])
        v = spec["variant"]
        row = dict(variant=v, label=bench.VARIANTS[v], resolution=spec["synthetic"] or 64, feature_block=32,
                   family="StyleGAN2", image_every=1 if v != "ours" else spec["image_every"],
                   steps_per_s=speeds[v], ms_per_step=1000 / speeds[v], peak_mb=100 * speeds["official"] / speeds[v],
                   memory="process max RSS", device=spec["device"], threads=spec["threads"] or 2)
        return subprocess.CompletedProcess(argv, 0, json.dumps(row) + "\n", "")
    return run


def test_bench_suite_times_every_variant_of_every_model_and_writes_json(tmp_path, capsys, monkeypatch):
    """--suite: the demo model, config-f 256 and 512, each variant side by side with its ratios to 'official'."""
    speeds = {"ours": 6.0, "ours-image": 4.0, "full-forward": 2.5, "official": 2.0}
    monkeypatch.setattr(subprocess, "run", _fake_child(speeds))
    out_json = tmp_path / "suite.json"
    code, out, err = run(capsys, "bench", "--suite", "--repeats", "1", "--threads", "1", "--no-progress",
                         "--json", out_json)
    assert code == 0, err
    result = json.loads(out_json.read_text())
    rows = result["rows"]
    assert [r["model"] for r in rows] == [m[0] for m in bench.SUITE for _ in bench.VARIANTS]
    assert [r["variant"] for r in rows[:4]] == list(bench.VARIANTS)
    by = {(r["model"], r["variant"]): r for r in rows}
    assert by[("config-f 512", "ours")]["speedup_vs_official"] == pytest.approx(3.0)
    assert by[("config-f 512", "ours")]["memory_vs_official"] == pytest.approx(2.0 / 6.0)
    assert by[("demo model", "official")]["speedup_vs_official"] == 1.0
    assert by[("demo model", "ours")]["image_every"] == 4 and by[("demo model", "ours")]["steps"] == bench.SUITE[0][2]
    assert result["machine"]["cores"] and result["options"]["suite"] is True
    assert out.count("vs official") == 3 and "3.00x" in out and "ours, image every step" in out


def test_bench_variants_and_image_rate_reach_the_child(sg2ada_path, capsys, monkeypatch):
    specs = []
    fake = _fake_child({"ours": 3.0, "official": 1.0})
    monkeypatch.setattr(subprocess, "run", lambda argv, **kw: specs.append(json.loads(argv[-1])) or fake(argv))
    code, out, err = run(capsys, "bench", sg2ada_path, "--variants", "official,ours", "--image-every", "8",
                         "--repeats", "2", "--no-progress")
    assert code == 0, err
    assert [s["variant"] for s in specs] == ["official", "ours"] * 2
    assert {s["image_every"] for s in specs} == {8} and {(s["steps"], s["warmup"]) for s in specs} == {(20, 3)}
    assert "full forward" not in out and "3.00x" in out


def test_bench_child_reports_a_user_error_as_its_own_line(tmp_path):
    spec = dict(variant="ours", device="cpu", synthetic=None, checkpoint=str(tmp_path / "missing.pkl"),
                steps=1, warmup=0, points=1)
    proc = subprocess.run([sys.executable, "-m", "draggan.bench", json.dumps(spec)], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"no checkpoint at '{tmp_path / 'missing.pkl'}': check the path"]


# ---- numbers ----

@pytest.mark.parametrize("argv,match", [
    (["generate", "{ckpt}", "--trunc", "nan"], "--trunc"),
    (["generate", "{ckpt}", "--trunc", "inf"], "finite"),
    (["generate", "{ckpt}", "--trunc", "1e999"], "finite"),
    (["generate", "{ckpt}", "--trunc", "50"], "at most 2"),
    (["generate", "{ckpt}", "--seed", "-1"], "[0, 2^32)"),
    (["generate", "{ckpt}", "--seed", "4294967296"], "[0, 2^32)"),
    (["generate", "{ckpt}", "--seed", "1" + "0" * 400], "[0, 2^32)"),
    (["generate", "{ckpt}", "--seed", "1.5"], "--seed"),
    (["edit", "{ckpt}", "--points", "{points}", "--lambda-mask", "nan"], "--lambda-mask"),
    (["edit", "{ckpt}", "--points", "{points}", "--lambda-mask", "inf"], "finite"),
    (["edit", "{ckpt}", "--points", "{points}", "--lambda-mask", "-1"], ">= 0"),
    (["edit", "{ckpt}", "--points", "{points}", "--lr", "inf"], "--lr"),
    (["edit", "{ckpt}", "--points", "{points}", "--lr", "0"], "> 0"),
    (["edit", "{ckpt}", "--points", "{points}", "--lr", "5"], "at most 1"),
    (["edit", "{ckpt}", "--points", "{points}", "--r1", "inf"], "--r1"),
    (["edit", "{ckpt}", "--points", "{points}", "--r2", "nan"], "--r2"),
    (["edit", "{ckpt}", "--points", "{points}", "--r1", "0"], "> 0"),
    (["edit", "{ckpt}", "--points", "{points}", "--r2", "-3"], "> 0"),
    (["edit", "{ckpt}", "--points", "{points}", "--steps", "0"], "--steps"),
    (["edit", "{ckpt}", "--points", "{points}", "--layers", "0"], "--layers"),
    (["edit", "{ckpt}", "--points", "{points}", "--block", "-64"], "--block"),
    (["edit", "{ckpt}", "--points", "{points}", "--seed", "4294967296"], "[0, 2^32)"),
    (["gui", "{ckpt}", "--seed", "3000000000000"], "[0, 2^32)"),
    (["gui", "{ckpt}", "--device", "meta"], "not supported"),
    (["benchmark", "{ckpt}", "--seed", "4294967296"], "[0, 2^32)"),
    (["benchmark", "{ckpt}", "--pairs", "0"], "--pairs"),
    (["benchmark", "{ckpt}", "--pairs", "-2"], "--pairs"),
    (["benchmark", "{ckpt}", "--variant-pairs", "-1"], "--variant-pairs"),
    (["benchmark", "{ckpt}", "--variant-pairs", "0"], "--variant-pairs"),
    (["benchmark", "{ckpt}", "--workers", "0"], "--workers"),
    (["benchmark", "{ckpt}", "--trunc", "nan"], "--trunc"),
    (["benchmark", "{ckpt}", "--steps", "0"], "--steps"),
])
def test_bad_numbers_are_refused_before_any_work(sg2ada_path, tmp_path, points, capsys, no_model, argv, match):
    argv = [a.format(ckpt=sg2ada_path, points=points) for a in argv]
    code, _, err = run(capsys, *argv, *(["--out", tmp_path / "o.png"] if argv[0] in ("generate", "edit") else []))
    assert_user_error(code, err, match)
    assert list(tmp_path.iterdir()) == [points]


def test_edge_seed_and_printed_truncation(sg2ada_path, tmp_path, capsys):
    code, out, err = run(capsys, "generate", sg2ada_path, "--seed", 2 ** 32 - 1, "--trunc", "0.7",
                         "--out", tmp_path / "s.png")
    assert code == 0, err
    assert "truncation psi 0.7" in out
    assert Image.open(tmp_path / "s.png").text["seed"] == str(2 ** 32 - 1)
    code, out, _ = run(capsys, "generate", sg2ada_path, "--out", tmp_path / "t.png")
    assert code == 0 and "truncation psi 0.7" in out  # the default of every command and the editor
    code, out, _ = run(capsys, "generate", sg2ada_path, "--trunc", "1", "--out", tmp_path / "t.png")
    assert code == 0 and "truncation psi 1 (none)" in out


def test_huge_radii_are_clamped_to_the_image(sg2ada_path, tmp_path, points, capsys, cached_model):
    """--r1 2000 once allocated over 5 GB on a 64 px model; --r2 1e9 crashed."""
    code, out, err = run(capsys, *edit_args(sg2ada_path, points, tmp_path / "r.png", "--r1", "2000",
                                            "--r2", "1e9"))
    assert code == 0, err
    assert "--r1 2000 px is larger than the 64x64 image" in out
    settings = json.loads((tmp_path / "r.json").read_text())["settings"]
    assert settings["r1"] == 64 and settings["r2"] == 64


# ---- an edit that stops on an error ----

def test_edit_that_stops_on_an_error_exits_1_and_keeps_the_last_good_result(sg2ada_path, tmp_path, points, capsys,
                                                                            monkeypatch, cached_model):
    from draggan.engine import DragSession
    real_step = DragSession.step

    def failing_step(self, render_image=False):
        r = real_step(self, render_image)
        if r.step >= 1:
            r.done, r.error = True, "the step produced NaN or infinity; the last good latent was kept"
        return r

    monkeypatch.setattr(DragSession, "step", failing_step)
    code, out, err = run(capsys, *edit_args(sg2ada_path, points, tmp_path / "r.png", "--steps", "5"))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("draggan: error: the edit stopped") and "NaN" in lines[0]
    report = json.loads((tmp_path / "r.json").read_text())
    assert "NaN" in report["error"] and report["converged"] is False
    assert np.load(tmp_path / "r.latent.npy").shape == (1, 10, 64)
    assert "error" in Image.open(tmp_path / "r.png").text


# ---- provenance ----

def test_an_edit_from_a_latent_records_the_latent_not_the_seed(sg2ada_path, tmp_path, points, capsys,
                                                               cached_model):
    latent = tmp_path / "start.npy"
    np.save(latent, np.random.default_rng(0).standard_normal((1, 10, 64)).astype(np.float32) * 0.1)
    code, out, err = run(capsys, *edit_args(sg2ada_path, points, tmp_path / "r.png", "--latent", latent,
                                            "--seed", "5"))
    assert code == 0, err
    text = Image.open(tmp_path / "r.png").text
    assert "seed" not in text and "truncation_psi" not in text
    assert json.loads(text["latent"]) == str(latent)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["latent"] == str(latent) and "seed" not in report
    assert "--seed and --trunc are ignored" in out


# ---- files that are not what they claim ----

def test_points_file_problems(tmp_path, capsys, no_model, sg2ada_path):
    cases = {
        "folder.json": None,
        "huge_int.json": '{"handles": [[1' + "0" * 400 + ', 1]], "targets": [[1, 1]]}',
        "huge_seed.json": json.dumps({**POINTS, "seed": 10 ** 400}),
        "huge_psi.json": '{"handles": [[1, 1]], "targets": [[2, 2]], "truncation_psi": 1' + "0" * 400 + "}",
        "deep_top.json": "[" * 100_000 + "]" * 100_000,
        "deep_inner.json": '{"handles": ' + "[" * 100_000 + "]" * 100_000 + ', "targets": [[1, 1]]}',
        "too_many_digits.json": '{"handles": [[1' + "0" * 5000 + ', 1]], "targets": [[1, 1]]}',
        "binary.json": b"\xff\xfe\x00garbage",
        "bool_seed.json": json.dumps({**POINTS, "seed": True}),
        "nan.json": '{"handles": [[NaN, 1]], "targets": [[1, 1]]}',
        "mask_list.json": json.dumps({**POINTS, "mask": [1, 2]}),
        "image_size.json": json.dumps({**POINTS, "image_size": [0, 64]}),
    }
    for name, content in cases.items():
        path = tmp_path / name
        if content is None:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        code, _, err = run(capsys, *edit_args(sg2ada_path, path, tmp_path / "out" / "r.png"))
        assert_user_error(code, err)
        assert not (tmp_path / "out").exists(), name


@pytest.mark.skipif(IS_ROOT, reason="root reads files without read permission")
def test_unreadable_points_file(tmp_path, points, capsys, no_model, sg2ada_path):
    points.chmod(0)
    try:
        code, _, err = run(capsys, *edit_args(sg2ada_path, points, tmp_path / "r.png"))
    finally:
        points.chmod(0o644)
    assert_user_error(code, err, "permission denied")


def test_points_file_image_size_scales_and_checks_the_range(tmp_path):
    from draggan.errors import DragGANError
    from draggan.points_file import read_points
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"handles": [[100, 50]], "targets": [[120, 60]], "image_size": [128, 256]}))
    pf = read_points(path, 64)  # x * 64/128, y * 64/256
    assert np.allclose(pf.handles, [[50, 12.5]]) and np.allclose(pf.targets, [[60, 15]])
    path.write_text(json.dumps({"handles": [[100, 50]], "targets": [[130, 60]], "image_size": [128, 256]}))
    with pytest.raises(DragGANError, match="target 0 at .* lies outside the 64x64 image"):
        read_points(path, 64)


def npy(path: Path, arr: np.ndarray, **kw) -> None:
    """np.save under exactly `path` (np.save itself appends .npy to other names)."""
    with open(path, "wb") as f:
        np.save(f, arr, **kw)


def npy_header_only(path: Path, shape) -> None:
    """A valid .npy header claiming `shape` float32, with no data behind it."""
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": shape})


@pytest.mark.parametrize("make,match", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: np.savez(p, w=np.zeros((1, 64), np.float32)), "archive"),
    (lambda p: p.write_bytes(b"\x93NUMPY garbage"), "cannot read"),
    (lambda p: p.mkdir(), "folder"),
    (lambda p: npy(p, np.zeros((1, 10, 64), np.int64)), "not floating point"),
    (lambda p: npy(p, np.full((1, 10, 64), np.nan, np.float32)), "NaN"),
    (lambda p: npy(p, np.zeros((7, 64), np.float32)), "[1, 10, 64]"),
    (lambda p: npy(p, np.array([{"a": 1}], dtype=object), allow_pickle=True), "not floating point"),
    (lambda p: npy_header_only(p, (100000, 100000, 64)), "[1, 10, 64]"),
    (lambda p: npy_header_only(p, (1, 10, 64)), "cut off"),
])
def test_bad_latents(sg2ada_path, tmp_path, points, capsys, cached_model, make, match):
    latent = tmp_path / "bad.npz"
    make(latent)
    code, _, err = run(capsys, *edit_args(sg2ada_path, points, tmp_path / "out" / "r.png", "--latent", latent))
    assert_user_error(code, err, match)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("make,match", [
    (lambda p: png_claiming(p, 20000, 20000), "megapixels"),
    (lambda p: png_claiming(p, 10000, 10000), "megapixels"),
    (lambda p: png_claiming(p, 9000, 9000), "megapixels"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40), "cannot read the mask"),
    (lambda p: p.mkdir(), "folder"),
    (lambda p: p.write_text("not an image"), "cannot read the mask"),
    (lambda p: p.write_bytes(png_claiming(p, 64, 64).read_bytes()[:40]), "cannot read the mask"),
])
def test_bad_masks(sg2ada_path, tmp_path, points, capsys, cached_model, make, match):
    mask = tmp_path / "mask.png"
    make(mask)
    code, _, err = run(capsys, *edit_args(sg2ada_path, points, tmp_path / "out" / "r.png", "--mask", mask))
    assert_user_error(code, err, match)


@pytest.mark.parametrize("device,match", [
    ("xpu", "not supported"), ("meta", "not supported"), ("foo", "unknown device"), ("", "unknown device"),
    ("cpu:3", "only one CPU"), ("cuda:-1", "unknown device"),
])
def test_bad_devices(sg2ada_path, capsys, device, match, tmp_path):
    code, _, err = run(capsys, "generate", sg2ada_path, "--device", device, "--out", tmp_path / "x.png")
    assert_user_error(code, err, match)


def test_cuda_without_cuda(sg2ada_path, capsys, tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = run(capsys, "info", sg2ada_path)
    assert code == 0
    code, _, err = run(capsys, "generate", sg2ada_path, "--device", "cuda", "--out", tmp_path / "x.png")
    assert_user_error(code, err, "CUDA was asked for but is not available")


def test_usage_mistakes_are_one_line(capsys):
    for argv in (["edit"], ["generate", "--nope"], ["frobnicate"], ["edit", "--space", "z", "--points", "p"]):
        code, _, err = run(capsys, *argv)
        assert_user_error(code, err, "--help")


def test_no_module_imports_the_cli():
    for path in (ROOT / "draggan").rglob("*.py"):
        if path.name in ("cli.py",):
            continue
        text = path.read_text()
        assert "from .cli import" not in text and "from ..cli import" not in text and "draggan.cli" not in text, path


# ---- fuzz: generated bad inputs, each one clear line ----

BAD_NUMBERS = {  # command -> flag -> values that must be refused
    "edit": {
        "--trunc": ["nan", "inf", "-inf", "1e999", "3", "-2.5", "1e30", "abc", "", "0x1"],
        "--seed": ["-1", "4294967296", "1e3", "1.5", "nan", "9" * 400, "", "seven"],
        "--lr": ["0", "-1e-3", "nan", "inf", "2", "1e999", "x"],
        "--r1": ["0", "-1", "nan", "inf", "-inf", "1e999"],
        "--r2": ["0", "-0.5", "nan", "inf"],
        "--lambda-mask": ["-1", "nan", "inf", "1e7", "1e999"],
        "--steps": ["0", "-5", "1.5", "1e3", "100001", "inf", "9" * 400],
        "--layers": ["0", "-1", "2.5", "2000"],
        "--block": ["0", "3", "-64", "x", "1e2", "128"],
    },
    "generate": {
        "--trunc": ["nan", "-inf", "2.0001", "1e400"],
        "--seed": ["-7", str(2 ** 32), str(2 ** 64), "0.5", "1_000_000_000_000"],
    },
    "benchmark": {
        "--pairs": ["0", "-2", "1e2", "nan"],
        "--variant-pairs": ["-1", "0", "x"],
        "--workers": ["0", "-1", "100000"],
        "--seed": ["-1", str(2 ** 32)],
        "--trunc": ["nan", "inf", "5"],
        "--steps": ["0", "-300"],
    },
    "gui": {"--seed": ["-1", "3" + "0" * 12, "nan"]},
}


def _bad_number(rng, tmp: Path, points: Path) -> list[str]:
    command = list(BAD_NUMBERS)[int(rng.integers(0, len(BAD_NUMBERS)))]
    flag = list(BAD_NUMBERS[command])[int(rng.integers(0, len(BAD_NUMBERS[command])))]
    values = BAD_NUMBERS[command][flag]
    argv = [command, f"{flag}={values[int(rng.integers(0, len(values)))]}"]
    if command == "edit":
        argv += ["--points", str(points), "--out", str(tmp / "out" / "r.png"), "--steps", "2"]
    if command == "generate":
        argv += ["--out", str(tmp / "out" / "g.png")]
    return argv


def _bad_points_document(rng) -> str | bytes:
    """One generated points file that must be refused."""
    n = int(rng.integers(1, 4))
    good = rng.uniform(0, 63, size=(n, 2)).round(1).tolist()
    kind = int(rng.integers(0, 16))
    big = "1" + "0" * int(rng.integers(310, 600))
    depth = int(rng.integers(2_000, 60_000))
    if kind == 0:
        return json.dumps({"handles": good, "targets": good[:-1] or [[1, 2, 3]]})
    if kind == 1:
        return json.dumps({"handles": good, "targets": (np.array(good) + rng.uniform(70, 1e6)).tolist()})
    if kind == 2:
        return '{"handles": [[' + big + ', 1]], "targets": [[1, 1]]}'
    if kind == 3:
        return '{"handles": ' + "[" * depth + "]" * depth + ', "targets": [[1, 1]]}'
    if kind == 4:
        return "[" * depth
    if kind == 5:
        return json.dumps({"handles": good, "targets": good})[: int(rng.integers(1, 20))]
    if kind == 6:
        return bytes(rng.integers(128, 256, size=int(rng.integers(1, 64))).astype(np.uint8))
    if kind == 7:
        return json.dumps({"handles": [["a", "b"]] * n, "targets": good})
    if kind == 8:
        return json.dumps({"handles": good, "targets": good, "seed": [-1, 2 ** 32, 1.5, True, "7"][n]})
    if kind == 9:
        psi = ['"x"', "NaN", "Infinity", big, "-1e400"][int(rng.integers(0, 5))]
        return '{"handles": [[1, 1]], "targets": [[2, 2]], "truncation_psi": ' + psi + "}"
    if kind == 10:
        size = [[0, 64], [-5, 64], [64], ["a", 1], [64, 64, 64]][int(rng.integers(0, 5))]
        return json.dumps({"handles": good, "targets": good, "image_size": size})
    if kind == 11:
        return json.dumps({"handles": good, "targets": good, "mask": [None, 5, "", "missing.png", "."][n]})
    if kind == 12:
        return json.dumps({"handles": [[1, 1]] * 1001, "targets": [[2, 2]] * 1001})
    if kind == 13:
        return json.dumps([good, good])
    if kind == 14:
        return json.dumps({"handles": {"x": 1}, "targets": good})
    return '{"handles": [[NaN, 1]], "targets": [[Infinity, 1]]}'


def _bad_mask(rng, path: Path) -> None:
    kind = int(rng.integers(0, 5))
    if kind == 0:
        png_claiming(path, int(rng.integers(9000, 60000)), int(rng.integers(9000, 60000)))
    elif kind == 1:
        path.write_bytes(bytes(rng.integers(0, 256, size=int(rng.integers(0, 200))).astype(np.uint8)))
    elif kind == 2:
        good = png_claiming(path.with_suffix(".tmp"), 64, 64).read_bytes()
        path.write_bytes(good[: int(rng.integers(1, len(good) - 12))])
    elif kind == 3:
        path.mkdir()
    else:
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, size=50).astype(np.uint8)))


def _bad_latent(rng, path: Path) -> None:
    kind = int(rng.integers(0, 6))
    if kind == 0:
        np.save(path, np.zeros(tuple(int(s) for s in rng.integers(1, 12, size=int(rng.integers(1, 4)))), np.float32))
    elif kind == 1:
        np.save(path, rng.integers(0, 5, size=(1, 10, 64)))
    elif kind == 2:
        arr = np.zeros((1, 10, 64), np.float32)
        arr[0, int(rng.integers(0, 10)), int(rng.integers(0, 64))] = [np.nan, np.inf, -np.inf][int(rng.integers(0, 3))]
        np.save(path, arr)
    elif kind == 3:
        np.save(path, np.zeros((1, 10, 64), np.float32))
        raw = path.read_bytes()
        path.write_bytes(raw[: int(rng.integers(0, len(raw) - 1))])
    elif kind == 4:
        path.write_bytes(bytes(rng.integers(0, 256, size=int(rng.integers(1, 300))).astype(np.uint8)))
    else:
        np.savez(path, w=np.zeros((1, 64), np.float32))


def _bad_output(rng, tmp: Path, points: Path) -> list[str]:
    kind = int(rng.integers(0, 6))
    if kind == 0:
        return ["--out", str(tmp / f"r.{['jpg', 'txt', 'gif', 'npy', ''][int(rng.integers(0, 5))]}")]
    if kind == 1:
        return ["--out", str(tmp / "a_file" / "r.png")]
    if kind == 2:
        return ["--out", str(points.with_suffix(".png"))]  # its report would overwrite the points file
    if kind == 3:
        suffix = ["avi", "png", "webm", ""][int(rng.integers(0, 4))]
        return ["--out", str(tmp / "r.png"), "--video", str(tmp / f"d.{suffix}")]
    if kind == 4:
        return ["--out", str(tmp)]
    return ["--out", str(tmp / ".png")]


def test_fuzz_bad_cli_inputs_give_one_clear_line(sg2ada_path, tmp_path, capsys, cached_model):
    rng = np.random.default_rng(2023)
    good_points = tmp_path / "good.json"
    good_points.write_text(json.dumps(POINTS))
    (tmp_path / "a_file").write_text("a file")
    cases = []
    for i in range(30):
        cases.append(("number", _bad_number(rng, tmp_path, good_points)))
    for i in range(24):
        path = tmp_path / f"points{i}.json"
        doc = _bad_points_document(rng)
        path.write_bytes(doc if isinstance(doc, bytes) else doc.encode())
        cases.append(("points", ["--points", str(path)]))
    for i in range(10):
        path = tmp_path / f"mask{i}.png"
        _bad_mask(rng, path)
        cases.append(("mask", ["--mask", str(path)]))
    for i in range(10):
        path = tmp_path / f"latent{i}.npy"
        _bad_latent(rng, path)
        cases.append(("latent", ["--latent", str(path)]))
    for i in range(10):
        cases.append(("output", _bad_output(rng, tmp_path, good_points)))
    order = rng.permutation(len(cases))
    for i in order:
        kind, extra = cases[i]
        if kind == "number":  # a whole command line
            argv = [*extra[:1], str(sg2ada_path), *extra[1:]]
        else:
            argv = ["edit", str(sg2ada_path), "--steps", "2", "--no-progress", *extra]
            if kind != "points":
                argv += ["--points", str(good_points)]
            if kind != "output":
                argv += ["--out", str(tmp_path / "out" / "r.png")]
        code, _, err = run(capsys, *argv)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("draggan: error:"), (argv, err)
        assert "Traceback" not in err, argv
        assert not (tmp_path / "out").exists(), argv
    assert json.loads(good_points.read_text()) == POINTS


@pytest.mark.skipif(sys.platform == "win32", reason="a bash script")
def test_gpu_check_says_plainly_that_it_needs_cuda(tmp_path):
    """scripts/gpu_check.sh on a machine without CUDA: exit 3, one line saying why, nothing measured or written."""
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the check would run")
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(tmp_path / "out")], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 3 and "no CUDA device" in proc.stderr and "--dry-run" in proc.stderr
    assert not (tmp_path / "out").exists()
