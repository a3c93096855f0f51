"""Editor: one history of (latent, points, mask), settings mid-drag, sessions that know their model, safe saves."""

import json
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from draggan.commands import AddPoint, SetPoints
from draggan.editor import Editor
from draggan.engine import DragConfig, DragSession
from draggan.errors import USER_ERRORS, DragGANError
from draggan.mask import MOVABLE, empty_paint, paint_segment
from draggan.session_file import is_session_file, load_session, weights_fingerprint

HANDLE, TARGET = (20.0, 32.0), (36.0, 32.0)


@pytest.fixture
def editor(sg2ada_path):
    e = Editor("cpu", DragConfig(max_steps=40), seed=0, psi=0.7)
    e.open_checkpoint(sg2ada_path)
    return e


def drag(e: Editor, steps: int, handle=HANDLE, target=TARGET):
    e.edit_points(SetPoints((handle,), (target,)))
    e.start()
    for _ in range(steps):
        if not e.running:
            break
        e.step()
    e.stop()


def test_one_history_restores_latent_points_and_mask(editor):
    original = editor.image.copy()
    paint1 = empty_paint(64)
    paint_segment(paint1, (10, 10), (40, 40), 6, MOVABLE)
    editor.set_mask(paint1)
    drag(editor, 5)
    after_first = (editor.image.copy(), list(editor.points.handles))
    editor.set_mask(None)  # the second drag runs without a mask
    drag(editor, 5, handle=(40, 20), target=(40, 28))
    assert editor.history.can_undo and not editor.history.can_redo
    editor.undo()  # back to before the second drag: its points, no mask
    np.testing.assert_array_equal(editor.image, after_first[0])
    assert editor.points.handles == [(40.0, 20.0)] and editor.points.targets == [(40.0, 28.0)]
    assert editor.paint is None and editor.session.mask is None
    editor.undo()  # back to before the first drag: its points and its mask
    np.testing.assert_array_equal(editor.image, original)
    assert editor.points.handles == [HANDLE]
    np.testing.assert_array_equal(editor.paint, paint1)
    assert editor.session.mask is not None  # the mask reached the engine again
    assert editor.undo() == "nothing to undo"
    editor.redo()
    editor.redo()
    assert editor.paint is None and editor.session.mask is None
    editor.reset()
    np.testing.assert_array_equal(editor.image, original)
    editor.undo()  # reset is undoable
    assert not np.array_equal(editor.image, original)


@pytest.mark.parametrize("change", [dict(latent_space="w"), dict(num_optimized_layers=3), dict(feature_block=16)])
def test_structural_settings_change_while_an_edit_runs(editor, change):
    """Was "internal error (AttributeError ...)": the README says these apply at once."""
    editor.edit_points(SetPoints((HANDLE,), (TARGET,)))
    editor.start()
    for _ in range(3):
        editor.step()
    editor.set_config(editor.config.with_(**change))
    assert editor.running
    r = editor.step()
    assert r.error is None and editor.session.cfg.num_optimized_layers == editor.config.num_optimized_layers


@pytest.mark.parametrize("seed", [2 ** 31, 3_000_000_000, 2 ** 32 - 1])
def test_seeds_up_to_2_32_work(editor, seed):
    editor.new_image(seed, 0.7)
    ref = DragSession.from_seed(editor.G, seed, 0.7).render()
    np.testing.assert_array_equal(editor.image, ref)
    assert editor.seed == seed


@pytest.mark.parametrize("seed", [-1, 2 ** 32, 10 ** 400, 1.5, "3", True])
def test_bad_seeds_are_refused_and_the_image_kept(editor, seed):
    image = editor.image.copy()
    with pytest.raises(DragGANError, match="seed"):
        editor.new_image(seed, 0.7)
    np.testing.assert_array_equal(editor.image, image)


@pytest.mark.parametrize("psi", [float("nan"), float("inf"), 1e9, "x"])
def test_bad_truncation_is_refused(editor, psi):
    with pytest.raises(DragGANError, match="truncation"):
        editor.new_image(1, psi)


def test_session_refuses_a_different_model_at_the_stored_path(editor, tmp_path, sg2ada_path):
    ckpt = tmp_path / "model.pkl"
    shutil.copy(sg2ada_path, ckpt)
    e = Editor("cpu")
    e.open_checkpoint(ckpt)
    drag(e, 2)
    e.save_session(tmp_path / "s.json")
    assert load_session(tmp_path / "s.json").checkpoint_fingerprint == weights_fingerprint(e.G)
    # Another model now sits at the stored path: same architecture, other weights.
    from stylegan2 import save_native
    G2 = e.G
    with torch.no_grad():
        G2.mapping.w_avg.add_(1.0)
    other = tmp_path / "other.safetensors"
    save_native(G2, other, {})
    ckpt.unlink()
    shutil.copy(other, ckpt)  # a .safetensors behind a .pkl name: the readers go by content
    fresh = Editor("cpu")
    with pytest.raises(DragGANError, match="other weights"):
        fresh.load_session(tmp_path / "s.json")
    assert fresh.G is None  # nothing half-opened


def test_fingerprint_is_of_the_weights_not_the_file(fixture_G, tmp_path):
    from stylegan2 import load_generator, save_native
    save_native(fixture_G, tmp_path / "m.safetensors", {})
    assert weights_fingerprint(load_generator(tmp_path / "m.safetensors")) == weights_fingerprint(fixture_G)


def test_sessions_are_detected_by_content(editor, tmp_path):
    editor.save_session(tmp_path / "s.json")
    renamed = tmp_path / "my.sess"
    os.replace(tmp_path / "s.json", renamed)
    assert is_session_file(renamed)
    assert not is_session_file(tmp_path)  # a folder
    (tmp_path / "x.json").write_text('{"handles": []}')
    assert not is_session_file(tmp_path / "x.json")


def test_dirty_tracks_unsaved_work_and_autosave(editor, tmp_path):
    assert not editor.dirty
    assert not editor.autosave(tmp_path / "auto.json")  # nothing to keep
    drag(editor, 2)
    assert editor.dirty
    assert editor.autosave(tmp_path / "auto.json")
    at_autosave = editor.session.current_ws()
    assert editor.dirty  # an autosave is not the user's save
    editor.save_session(tmp_path / "s.json")
    assert not editor.dirty
    editor.edit_points(AddPoint(5, 5))
    assert editor.dirty
    restored = Editor("cpu")
    restored.load_session(tmp_path / "auto.json")
    torch.testing.assert_close(restored.session.current_ws(), at_autosave)
    assert not restored.dirty


@pytest.mark.parametrize("name, match", [("", "file name"), (".npy", "extension"), ("x/..npy", "no name"),
                                          ("latent.txt", "npy")])
def test_save_names_are_checked(editor, tmp_path, name, match):
    with pytest.raises(DragGANError, match=match):
        editor.save_latent(str(tmp_path / name) if name else "")
    assert not any(tmp_path.iterdir())


def test_unwritable_locations_say_what_is_wrong(editor, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(DragGANError, match="is a file, not a folder"):
        editor.save_image(blocker / "out.png")
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        with pytest.raises(DragGANError, match="not writable"):
            editor.save_image(ro / "out.png")


def test_a_failed_save_keeps_the_earlier_file(editor, tmp_path, monkeypatch):
    path = tmp_path / "img.png"
    editor.save_image(path)
    before = path.read_bytes()
    import draggan.exports as ed

    def broken(p, pixels, info):
        with open(p, "wb") as f:
            f.write(b"\x89PNG half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ed, "save_png", broken)
    with pytest.raises(DragGANError, match="disk is full"):
        editor.save_image(path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img.png"]  # no temporary left behind


def test_image_from_a_latent_records_the_latent_not_the_seed(sg2ada_path, tmp_path):
    from stylegan2 import load_generator
    G = load_generator(sg2ada_path)
    e = Editor("cpu", seed=5)
    ws = torch.zeros(1, G.num_ws, G.w_dim)
    e.open_generator(G, ws, latent_source="r.latent.npy")
    e.save_image(tmp_path / "x.png")
    info = Image.open(tmp_path / "x.png").info
    assert info["latent"] == "r.latent.npy" and "seed" not in info
    assert json.loads(info["points"]) == {"handles": [], "targets": []}


def test_errors_leave_the_state_untouched(editor, tmp_path):
    image, points = editor.image.copy(), editor.points.copy()
    for bad in (lambda: editor.load_session(tmp_path / "missing.json"),
                lambda: editor.open_checkpoint(tmp_path / "missing.pkl"),
                lambda: editor.set_mask(np.zeros((3, 3), np.int8)),
                lambda: editor.save_animation(tmp_path / "a.gif")):
        with pytest.raises(USER_ERRORS):
            bad()
        np.testing.assert_array_equal(editor.image, image)
        assert editor.points == points


def test_a_new_image_is_undoable_with_its_seed_and_drags(editor):
    drag(editor, 3)
    edited, points = editor.image.copy(), editor.points.copy()
    editor.new_image(7, 0.5)
    assert (editor.seed, editor.psi) == (7, 0.5)
    editor.undo()  # the previous image comes back as it was edited, with its seed and points
    np.testing.assert_array_equal(editor.image, edited)
    assert (editor.seed, editor.psi) == (0, 0.7) and editor.points == points
    editor.redo()  # forward again to seed 7
    assert (editor.seed, editor.psi) == (7, 0.5)
    np.testing.assert_array_equal(editor.image, DragSession.from_seed(editor.G, 7, 0.5).render())
    editor.undo()
    editor.reset()  # Reset goes to this image's original (seed 0), not seed 7's
    np.testing.assert_array_equal(editor.image, DragSession.from_seed(editor.G, 0, 0.7).render())
    editor.undo()
    np.testing.assert_array_equal(editor.image, edited)
    editor.undo()  # the drag before the new image is still undoable
    np.testing.assert_array_equal(editor.image, DragSession.from_seed(editor.G, 0, 0.7).render())
    assert editor.points.handles == [HANDLE]
