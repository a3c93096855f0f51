"""The `draggan` command line: info, generate, convert, edit, and its error reporting."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from draggan.cli import main
from stylegan2 import load_generator


def run_cli(*args, cwd=None):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "draggan.cli", *map(str, args)], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


def test_info_describes_the_fixture(sg2ada_path, capsys):
    assert main(["info", str(sg2ada_path)]) == 0
    out = capsys.readouterr().out
    assert "nvidia-pytorch-pickle" in out and "64x64" in out and "num_ws" in out and "b32" in out
    assert main(["info", str(sg2ada_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["config"]["w_dim"] == 64 and data["config"]["mapping_layers"] == 2


def test_generate_follows_nvidias_seed_convention(sg2ada_path, tmp_path):
    out = tmp_path / "seed7.png"
    assert main(["generate", str(sg2ada_path), "--seed", "7", "--trunc", "0.7", "--out", str(out)]) == 0
    G = load_generator(sg2ada_path)
    z = torch.from_numpy(np.random.RandomState(7).randn(1, G.z_dim)).float()
    with torch.no_grad():
        img = G.synthesis(G.mapping(z, truncation_psi=0.7))
    expected = ((img[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()
    png = Image.open(out)
    assert np.array_equal(np.asarray(png), expected)
    assert "draggan-editor" in png.text["Software"] and "Edited with" in png.text["Comment"]


def test_convert_round_trip_is_exact(sg2ada_path, tmp_path):
    out = tmp_path / "native.safetensors"
    assert main(["convert", str(sg2ada_path), str(out)]) == 0
    a, b = load_generator(sg2ada_path), load_generator(out)
    assert b.cfg.extra["format"] == "native-safetensors"
    ws = a.mapping(torch.randn(2, a.z_dim))
    assert torch.equal(a.synthesis(ws), b.synthesis(ws))
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


def test_edit_writes_all_outputs(sg2ada_path, tmp_path):
    pts = tmp_path / "points.json"
    pts.write_text(json.dumps({"handles": [[20, 30]], "targets": [[28, 30]], "note": "test", "extra": 1}))
    out = tmp_path / "res" / "result.png"
    code = main(["edit", str(sg2ada_path), "--seed", "1", "--trunc", "1", "--points", str(pts),
                 "--out", str(out), "--video", str(tmp_path / "drag.gif"), "--steps", "40", "--no-progress"])
    assert code == 0
    assert Image.open(out).size == (64, 64)
    latent = np.load(tmp_path / "res" / "result.latent.npy")
    assert latent.shape == (1, 10, 64)
    report = json.loads((tmp_path / "res" / "result.json").read_text())
    assert len(report["trajectory"]) >= 2 and len(report["final_distances"]) == 1
    assert report["final_distances"][0] < 8.0  # moved toward the target
    assert report["ignored_points_keys"] == ["extra"]
    gif = Image.open(tmp_path / "drag.gif")
    assert gif.n_frames >= 3
    # the saved latent restarts the edit exactly where it ended
    G = load_generator(sg2ada_path)
    with torch.no_grad():
        img = G.synthesis(torch.from_numpy(latent))
    assert np.abs(((img[0].permute(1, 2, 0) + 1) * 127.5).clamp(0, 255).numpy()
                  - np.asarray(Image.open(out), np.float32)).max() <= 0.51


@pytest.mark.parametrize("points,match", [
    ({"handles": [[20, 30]], "targets": [[70, 30]]}, "outside"),
    ({"handles": [[20, 30]]}, "'handles' and 'targets'"),
    ({"handles": [[20, 30], [1, 1]], "targets": [[28, 30]]}, "as many targets"),
    ("not json", "not valid JSON"),
])
def test_edit_bad_points_give_clear_errors(sg2ada_path, tmp_path, points, match, capsys):
    pts = tmp_path / "points.json"
    pts.write_text(points if isinstance(points, str) else json.dumps(points))
    code = main(["edit", str(sg2ada_path), "--points", str(pts), "--out", str(tmp_path / "r.png"), "--no-progress"])
    assert code == 2
    assert match in capsys.readouterr().err
    assert not (tmp_path / "r.png").exists()


def test_corrupt_checkpoint_is_one_clear_line_not_a_traceback(sg2ada_path, tmp_path):
    bad = tmp_path / "broken.pkl"
    bad.write_bytes(sg2ada_path.read_bytes()[: 50_000])
    proc = run_cli("info", bad)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "truncated or corrupt" in proc.stderr
    proc = run_cli("generate", tmp_path / "missing.pkl")
    assert proc.returncode == 2 and "no checkpoint at" in proc.stderr


def test_edit_reads_the_mask_and_rejects_a_non_image(sg2ada_path, tmp_path, capsys):
    pts = tmp_path / "p.json"
    pts.write_text(json.dumps({"handles": [[20, 30]], "targets": [[28, 30]], "mask": "mask.png"}))
    mask = np.zeros((32, 32), np.uint8)  # another size: resized to the model's
    mask[5:25, 5:22] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")
    out = tmp_path / "m.png"
    assert main(["edit", str(sg2ada_path), "--points", str(pts), "--out", str(out), "--steps", "3",
                 "--no-progress"]) == 0
    assert json.loads((tmp_path / "m.json").read_text())["steps"] == 3
    (tmp_path / "mask.png").write_text("not an image")
    assert main(["edit", str(sg2ada_path), "--points", str(pts), "--out", str(out), "--no-progress"]) == 2
    assert "cannot read the mask" in capsys.readouterr().err


def test_edit_with_a_wrong_latent_shape(sg2ada_path, tmp_path, capsys):
    np.save(tmp_path / "bad.npy", np.zeros((1, 3, 64), np.float32))
    pts = tmp_path / "p.json"
    pts.write_text(json.dumps({"handles": [[20, 30]], "targets": [[28, 30]]}))
    code = main(["edit", str(sg2ada_path), "--latent", str(tmp_path / "bad.npy"), "--points", str(pts),
                 "--out", str(tmp_path / "r.png"), "--no-progress"])
    assert code == 2 and "[1, 10, 64]" in capsys.readouterr().err
