"""Session files: a round trip keeps everything; every kind of broken file gives a DragGANError naming it."""

import base64
import json

import numpy as np
import pytest
import torch

from draggan.engine import DragConfig
from draggan.errors import DragGANError
from draggan.mask import FIXED, MOVABLE, empty_paint
from draggan.session_file import SessionData, find_checkpoint, load_session, save_session


def make_data(tmp_path) -> SessionData:
    rng = np.random.default_rng(0)
    paint = empty_paint(64)
    paint[10:20, 5:30] = MOVABLE
    paint[40:50, 40:60] = FIXED
    ckpt = tmp_path / "model.pkl"
    ckpt.write_bytes(b"x")
    return SessionData(str(ckpt), 64, 123, 0.7, rng.standard_normal((1, 10, 64)).astype(np.float32),
                       rng.standard_normal((1, 10, 64)).astype(np.float32),
                       np.array([[1.5, 2.0], [30.0, 40.0]]), np.array([[5.0, 6.25]]), paint,
                       DragConfig(lr=1e-3, r1=2.5, latent_space="w", feature_block=32, max_steps=77))


def test_round_trip(tmp_path):
    data = make_data(tmp_path)
    save_session(tmp_path / "s.json", data)
    back = load_session(tmp_path / "s.json")
    np.testing.assert_array_equal(back.latent, data.latent)
    np.testing.assert_array_equal(back.latent_original, data.latent_original)
    np.testing.assert_array_equal(back.handles, data.handles)
    np.testing.assert_array_equal(back.targets, data.targets)
    np.testing.assert_array_equal(back.paint, data.paint)
    assert back.config == data.config and (back.seed, back.truncation_psi, back.resolution) == (123, 0.7, 64)
    assert back.checkpoint == str((tmp_path / "model.pkl").resolve())
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["format"] == "draggan-session" and "pickle" not in (tmp_path / "s.json").read_text()


def test_unpainted_mask_and_no_points(tmp_path):
    data = make_data(tmp_path)
    data.paint = empty_paint(64)
    data.handles, data.targets = np.zeros((0, 2)), np.zeros((0, 2))
    data.latent_original = None
    save_session(tmp_path / "s.json", data)
    back = load_session(tmp_path / "s.json")
    assert back.paint is None and back.handles.shape == (0, 2) and back.latent_original is None


def test_checkpoint_found_beside_the_session(tmp_path):
    data = make_data(tmp_path)
    save_session(tmp_path / "s.json", data)
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    (tmp_path / "s.json").rename(moved / "s.json")
    (tmp_path / "model.pkl").rename(moved / "model.pkl")
    assert find_checkpoint(load_session(moved / "s.json"), moved / "s.json") == moved / "model.pkl"
    (moved / "model.pkl").unlink()
    with pytest.raises(DragGANError, match="was not found"):
        find_checkpoint(load_session(moved / "s.json"), moved / "s.json")


def _b64(a):
    return base64.b64encode(np.asarray(a, "<f4").tobytes()).decode()


BREAKAGES = [
    (lambda d: d.pop("latent"), "missing fields"),
    (lambda d: d.update(format="something"), "not a draggan session"),
    (lambda d: d.update(version=99), "version 99"),
    (lambda d: d["latent"].update(base64="!!!"), "not valid base64"),
    (lambda d: d["latent"].update(shape=[1, 10, 63]), "needs"),
    (lambda d: d["latent"].update(shape=[2, 10, 64]), "shape must be"),
    (lambda d: d["latent"].update(dtype="float64"), "float32"),
    (lambda d: d["latent"].update(base64=_b64(np.full((1, 10, 64), np.nan))), "NaN"),
    (lambda d: d["latent_original"].update(shape=[1, 5, 128]), "'latent_original' has shape"),
    (lambda d: d["points"].update(handles=[[1, 2, 3]]), "pairs"),
    (lambda d: d["points"].update(handles=[[1, 70]]), "outside the 64x64"),
    (lambda d: d["points"].update(targets=[[1, 1], [2, 2], [3, 3]]), "every target belongs to a handle"),
    (lambda d: d["points"].update(extra=1), "'points' must be"),
    (lambda d: d["paint"].update(png_base64="aGVsbG8="), "not a base64 PNG"),
    (lambda d: d["settings"].update(lr="fast"), "setting 'lr'"),
    (lambda d: d["settings"].update(max_steps=True), "setting 'max_steps'"),
    (lambda d: d["settings"].update(lr=-1.0), "bad settings"),
    (lambda d: d["settings"].update(latent_space="z"), "bad settings"),
    (lambda d: d["settings"].update(warp=9), "unknown settings"),
    (lambda d: d.update(seed=-4), "'seed'"),
    (lambda d: d.update(truncation_psi="x"), "'truncation_psi'"),
    (lambda d: d.update(resolution="64"), "'resolution'"),
]


@pytest.mark.parametrize("breakage, message", BREAKAGES)
def test_broken_files_say_what_is_wrong(tmp_path, breakage, message):
    save_session(tmp_path / "s.json", make_data(tmp_path))
    doc = json.loads((tmp_path / "s.json").read_text())
    breakage(doc)
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(DragGANError, match=message):
        load_session(tmp_path / "s.json")


def test_paint_of_the_wrong_size_or_values(tmp_path):
    data = make_data(tmp_path)
    data.paint = np.zeros((32, 32), np.int8)
    data.paint[0, 0] = MOVABLE
    save_session(tmp_path / "s.json", data)
    with pytest.raises(DragGANError, match="'paint' is 32x32"):
        load_session(tmp_path / "s.json")


@pytest.mark.parametrize("content, message", [(b"\x80\x04not json", "not a JSON file"), (b"[1, 2]", "not a draggan")])
def test_not_a_session(tmp_path, content, message):
    (tmp_path / "s.json").write_bytes(content)
    with pytest.raises(DragGANError, match=message):
        load_session(tmp_path / "s.json")


def test_missing_file(tmp_path):
    with pytest.raises(DragGANError, match="no session file"):
        load_session(tmp_path / "nope.json")


def test_a_mask_claiming_20000x20000_is_refused_before_decoding(tmp_path, fixture_G):
    """A decompression bomb inside a session: the PNG header alone is read, then refused."""
    import base64
    import struct
    import time
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)  # 8-bit greyscale
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + \
        chunk(b"IEND", b"")
    from draggan.editor import Editor
    e = Editor("cpu")
    e.open_generator(fixture_G, torch.zeros(1, fixture_G.w_dim))
    e.save_session(tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    doc["paint"] = {"shape": [20000, 20000], "png_base64": base64.b64encode(bomb).decode()}
    (tmp_path / "bomb.json").write_text(json.dumps(doc))
    t0 = time.perf_counter()
    with pytest.raises(DragGANError, match="far larger than the 64x64"):
        load_session(tmp_path / "bomb.json")
    assert time.perf_counter() - t0 < 2.0
    header = struct.pack(">IIBBBBB", 9000, 9000, 8, 0, 0, 0, 0)  # below Pillow's own limit: our size check
    doc["paint"]["png_base64"] = base64.b64encode(bomb.replace(chunk(b"IHDR", struct.pack(
        ">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)), chunk(b"IHDR", header))).decode()
    (tmp_path / "bomb.json").write_text(json.dumps(doc))
    with pytest.raises(DragGANError, match="9000x9000, the image is 64x64"):
        load_session(tmp_path / "bomb.json")


PHOTO = {"path": "/pictures/me.jpg", "box": [10, 0, 74, 64], "tuned": True, "base_checkpoint": "/models/m.pkl",
         "psnr": 31.5, "notes": ["rotated as its EXIF orientation (6) says"]}


def test_a_photo_round_trips_and_older_files_have_none(tmp_path):
    from draggan.session_file import generator_path
    data = make_data(tmp_path)
    save_session(tmp_path / "old.json", data)
    assert "photo" not in json.loads((tmp_path / "old.json").read_text())  # unchanged for seed images
    assert load_session(tmp_path / "old.json").photo is None
    data.photo = dict(PHOTO)
    save_session(tmp_path / "p.json", data)
    assert load_session(tmp_path / "p.json").photo == PHOTO
    assert generator_path(tmp_path / "a.session.json") == tmp_path / "a.session.generator.safetensors"


@pytest.mark.parametrize("photo, message", [
    ("me.jpg", "'photo' must be null or an object"),
    ({"box": None}, "'photo' must be null or an object"),
    ({**PHOTO, "colour": 1}, "unknown 'photo' keys"),
    ({**PHOTO, "box": [10, 0, 5, 64]}, "'photo.box'"),
    ({**PHOTO, "box": [1, 2, 3]}, "'photo.box'"),
    ({**PHOTO, "tuned": "yes"}, "'photo.tuned'"),
    ({**PHOTO, "psnr": "high"}, "'photo.psnr'"),
    ({**PHOTO, "notes": "x"}, "'photo.notes'"),
    ({**PHOTO, "base_checkpoint": 3}, "'photo.base_checkpoint'"),
])
def test_broken_photo_fields_say_what_is_wrong(tmp_path, photo, message):
    save_session(tmp_path / "s.json", make_data(tmp_path))
    doc = json.loads((tmp_path / "s.json").read_text())
    doc["photo"] = photo
    (tmp_path / "s.json").write_text(json.dumps(doc))
    with pytest.raises(DragGANError, match=message.replace("(", r"\(")):
        load_session(tmp_path / "s.json")
