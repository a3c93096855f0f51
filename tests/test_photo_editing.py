"""Opening a photo in the editor and the worker: inversion step by step, cancel, undo, reset, sessions."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from draggan.commands import CancelInversion, LoadCheckpoint, LoadSession, OpenPhoto, SaveSession, SetPoints, Start
from draggan.editor import Editor
from draggan.engine import DragConfig
from draggan.engine.inversion import InversionConfig
from draggan.errors import DragGANError
from draggan.session_file import generator_path, load_session, weights_fingerprint
from draggan.worker import EditWorker

QUICK = InversionConfig(w_steps=4, wplus_steps=2, pti_steps=0, w_avg_samples=64, preview_every=2)
TUNED = QUICK.with_(pti_steps=3, pti_stop_psnr=0.0)


@pytest.fixture
def photo(tmp_path, fixture_G):
    """A 'photo': another seed's rendering, wider than the model (so the centre crop matters), as a PNG."""
    from draggan.engine import DragSession
    face = DragSession.from_seed(fixture_G, 7, 0.7).render()  # [64, 64, 3]
    wide = np.concatenate([np.zeros((64, 16, 3), np.uint8), face, np.zeros((64, 16, 3), np.uint8)], axis=1)
    path = tmp_path / "photo.png"
    Image.fromarray(wide).save(path)
    return path, face


@pytest.fixture
def editor(sg2ada_path):
    e = Editor("cpu", DragConfig(max_steps=20), seed=0, psi=0.7)
    e.open_checkpoint(sg2ada_path)
    return e


def invert(e: Editor, path, config=QUICK, box=None) -> None:
    e.begin_inversion(path, box, config)
    for _ in range(100):
        if e.inversion_step():
            return
    raise AssertionError("the inversion did not finish")


def state_of(e: Editor):
    return (e.image.copy(), e.session.current_ws().clone(), e.ws0.clone(), e.G, list(e.points.handles),
            e.history.can_undo, e.changes, e.image_id, e.latent_version, e.photo)


def assert_same_state(a, b):
    np.testing.assert_array_equal(a[0], b[0])
    torch.testing.assert_close(a[1], b[1])
    torch.testing.assert_close(a[2], b[2])
    assert a[3] is b[3] and a[4:] == b[4:]


def test_the_inversion_runs_in_steps_and_cancel_leaves_the_editor_as_it_was(editor, photo):
    editor.edit_points(SetPoints(((20.0, 30.0),), ((30.0, 30.0),)))
    before = state_of(editor)
    editor.begin_inversion(photo[0], None, QUICK)
    assert editor.inverting and not editor.running
    editor.inversion_step()
    status = editor.inversion_status()
    assert status.stage == "w" and status.done_steps == 1 and status.total_steps == 6 and np.isfinite(status.loss)
    np.testing.assert_array_equal(status.target, photo[1])  # the centre crop of the wide picture is the face
    editor.inversion_step()
    assert editor.inversion_status().preview.shape == (64, 64, 3)  # preview_every=2
    assert_same_state(state_of(editor), before)  # nothing shown changes while it runs
    assert "cancelled" in editor.cancel_inversion()
    assert not editor.inverting and editor.inversion_status() is None
    assert_same_state(state_of(editor), before)


def test_a_finished_inversion_is_a_new_undoable_image_and_reset_returns_to_it(editor, photo):
    seed_image = editor.image.copy()
    invert(editor, photo[0])
    assert editor.photo is not None and not editor.photo.tuned and editor.G is editor.photo.base_G
    assert "photo.png" in editor.message and "PSNR" in editor.message
    assert editor.points.handles == [] and editor.latent_source is None
    assert not np.array_equal(editor.image, seed_image)
    torch.testing.assert_close(editor.session.current_ws(), editor.ws0)  # the inverted latent is the original
    inverted = editor.image.copy()
    editor.edit_points(SetPoints(((20.0, 30.0),), ((26.0, 30.0),)))
    editor.start()
    for _ in range(3):
        editor.step()
    editor.stop()
    assert not np.array_equal(editor.image, inverted)
    editor.reset()
    np.testing.assert_array_equal(editor.image, inverted)  # Reset returns to the inverted latent
    editor.undo()  # the reset
    editor.undo()  # the drag
    np.testing.assert_array_equal(editor.image, inverted)
    editor.undo()  # the photo
    np.testing.assert_array_equal(editor.image, seed_image)
    assert editor.photo is None
    editor.redo()
    np.testing.assert_array_equal(editor.image, inverted)
    assert editor.photo is not None


def test_pivotal_tuning_swaps_generators_with_the_images(editor, photo):
    base = editor.G
    base_fp = weights_fingerprint(base)
    invert(editor, photo[0], TUNED)
    assert editor.photo.tuned and editor.G is not base and editor.base_G is base
    assert weights_fingerprint(base) == base_fp  # the checkpoint's weights are untouched
    tuned = editor.G
    editor.new_image(3, 0.7)  # a new seed is drawn on the checkpoint's generator
    assert editor.G is base and editor.photo is None
    from draggan.engine import DragSession
    np.testing.assert_array_equal(editor.image, DragSession.from_seed(base, 3, 0.7).render())
    editor.undo()
    assert editor.G is tuned and editor.photo.tuned
    editor.undo()
    assert editor.G is base


def test_bad_pictures_and_crops_change_nothing(editor, photo, tmp_path):
    before = state_of(editor)
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(DragGANError, match="not a picture"):
        editor.begin_inversion(tmp_path / "notes.png", None, QUICK)
    with pytest.raises(DragGANError, match="outside"):
        editor.begin_inversion(photo[0], (0, 0, 200, 64), QUICK)
    assert not editor.inverting
    assert_same_state(state_of(editor), before)
    with pytest.raises(DragGANError, match="open a checkpoint first"):
        Editor("cpu").begin_inversion(photo[0], None, QUICK)


def test_tuned_photo_sessions_save_the_generator_beside_them_and_reopen(editor, photo, tmp_path):
    invert(editor, photo[0], TUNED, box=(16, 0, 80, 64))
    editor.edit_points(SetPoints(((20.0, 30.0),), ((26.0, 30.0),)))
    shown = editor.image.copy()
    path = tmp_path / "s" / "edit.session.json"
    editor.save_session(path)
    gen = generator_path(path)
    assert gen.name == "edit.session.generator.safetensors" and gen.is_file()
    doc = json.loads(path.read_text())
    assert doc["checkpoint"] == str(gen.resolve())
    assert doc["photo"]["tuned"] and doc["photo"]["box"] == [16, 0, 80, 64]
    assert doc["photo"]["base_checkpoint"].endswith("sg2ada_64.pkl")
    assert doc["checkpoint_fingerprint"] == weights_fingerprint(editor.G) != weights_fingerprint(editor.base_G)
    mtime = gen.stat().st_mtime_ns
    editor.save_session(path)  # the same weights again: not rewritten
    assert gen.stat().st_mtime_ns == mtime

    other = Editor("cpu")
    other.load_session(path)
    np.testing.assert_array_equal(other.image, shown)
    assert other.photo is not None and other.photo.tuned and other.checkpoint == str(gen.resolve())
    assert other.points.handles == [(20.0, 30.0)]
    other.reset()
    np.testing.assert_array_equal(other.image, editor.session.G.synthesis(editor.ws0, noise_mode="const")
                                  .add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)[0].permute(1, 2, 0).numpy())

    moved = tmp_path / "moved"  # the session and its generator moved together still open
    moved.mkdir()
    path.rename(moved / path.name)
    gen.rename(moved / gen.name)
    Editor("cpu").load_session(moved / path.name)

    from stylegan2.readers.native import save_native
    save_native(editor.base_G, moved / gen.name)  # the generator file replaced by other weights
    with pytest.raises(DragGANError, match="other weights"):
        Editor("cpu").load_session(moved / path.name)


def test_untuned_photo_sessions_point_at_the_checkpoint(editor, photo, tmp_path, sg2ada_path):
    invert(editor, photo[0])
    editor.save_session(tmp_path / "p.json")
    assert not generator_path(tmp_path / "p.json").exists()
    data = load_session(tmp_path / "p.json")
    assert data.checkpoint == str(sg2ada_path.resolve()) and data.photo["tuned"] is False
    other = Editor("cpu")
    other.load_session(tmp_path / "p.json")
    np.testing.assert_array_equal(other.image, editor.image)
    assert other.photo is not None and "photo.png" in other.photo_note()
    other.save_image(tmp_path / "edited.png")
    text = Image.open(tmp_path / "edited.png").text
    assert text["photo"] == "photo.png" and "seed" not in text  # the PNG says where the picture came from


def test_the_worker_inverts_between_commands_and_cancels(sg2ada_path, photo):
    w = EditWorker("cpu", DragConfig(max_steps=20), seed=0, psi=0.7, threaded=False)
    w.send(LoadCheckpoint(str(sg2ada_path)))
    before = w.run_until_idle()
    w.send(OpenPhoto(str(photo[0]), None, QUICK))
    w.tick()
    s = w.snapshot()
    assert s.inversion is not None and s.inversion.done_steps == 1 and s.inversion.target.shape == (64, 64, 3)
    w.send(SetPoints(((10.0, 10.0),), ((12.0, 10.0),), rev=1))
    w.send(Start())  # refused with a hint while inverting
    w.tick()
    s = w.snapshot()
    assert not s.running and "inverted" in s.message and s.inversion.done_steps == 2
    w.send(CancelInversion())
    s = w.run_until_idle()
    assert s.inversion is None and s.image_id == before.image_id and "cancelled" in s.message and s.error is None
    np.testing.assert_array_equal(s.image, before.image)
    w.send(OpenPhoto(str(photo[0]), None, QUICK))
    s = w.run_until_idle()
    assert s.inversion is None and s.image_id > before.image_id and s.photo.startswith("photo photo.png")
    assert s.can_undo and s.error is None
    w.send(OpenPhoto("/nonexistent/x.png", None, QUICK))
    s = w.run_until_idle()
    assert "no picture" in s.error and s.inversion is None
    w.close()


def test_loading_a_session_cancels_an_inversion(editor, sg2ada_path, photo, tmp_path):
    editor.save_session(tmp_path / "s.json")
    w = EditWorker("cpu", DragConfig(max_steps=20), threaded=False)
    w.send(LoadCheckpoint(str(sg2ada_path)))
    w.run_until_idle()
    w.send(OpenPhoto(str(photo[0]), None, QUICK))
    w.tick()
    w.send(LoadSession(str(tmp_path / "s.json")))
    w.send(SaveSession(str(tmp_path / "t.json")))
    s = w.run_until_idle()
    assert s.inversion is None and s.photo == "" and s.error is None
    w.close()


def test_the_discriminator_loss_reads_the_checkpoints_d(editor, photo):
    invert(editor, photo[0], QUICK.with_(loss="l1+0.1*d", w_steps=2, wplus_steps=0))
    assert editor.photo is not None and np.isfinite(editor.photo.psnr)
