"""The editor's real window, driven by injected mouse and keys; run under a virtual screen:

    OMP_NUM_THREADS=1 xvfb-run -a -s "-screen 0 1280x800x24" pytest -m gui

Each test checks the editor's and the worker's state after its actions and saves a
screenshot to its tmp_path. The fixture checkpoint has random weights, so an edit
is checked by the handle moving toward its target, not by convergence.
"""

import time
from pathlib import Path

import numpy as np

import pytest
from PIL import Image

pytestmark = pytest.mark.gui

ROOT = Path(__file__).resolve().parents[1]
HANDLE, TARGET = (20.0, 32.0), (36.0, 32.0)


@pytest.fixture
def editor(sg2ada_path):
    from draggan.gui.app import AppOptions, EditorApp
    from draggan.gui.driver import Driver
    from draggan.gui.window import Window
    apps = []

    def open_editor(**options):
        options.setdefault("checkpoint", str(sg2ada_path))
        options.setdefault("file_dialogs", False)  # never pop a real dialog on a developer's desktop
        app = EditorApp(Window("DragGAN test", install_callbacks=False), AppOptions(**options))
        apps.append(app)
        drive = Driver(app)
        if options.get("checkpoint") or options.get("session"):
            drive.wait_until(lambda: app.state.resolution == 64 and app.image_tex.ready, 60, "the model to open")
        drive.frames(2)
        return app, drive

    yield open_editor
    for app in apps:
        if app.window.handle is not None:
            app.close()


def keys():
    from imgui_bundle import imgui
    return imgui.Key


def place_pair(app, drive, handle=HANDLE, target=TARGET):
    drive.click(app.canvas.to_screen(*handle))
    drive.click(app.canvas.to_screen(*target))
    drive.wait_until(lambda: app.state.points_rev == app.points_rev, 10, "the worker to take the points")


def screen_pixel(shot: Path, xy) -> np.ndarray:
    img = np.asarray(Image.open(shot).convert("RGB"))
    return img[int(round(xy[1])), int(round(xy[0]))].astype(int)


def test_opens_the_model_and_uploads_only_new_frames(editor, tmp_path):
    app, drive = editor()
    s = app.state
    assert s.checkpoint.endswith("sg2ada_64.pkl") and s.image.shape == (64, 64, 3) and s.error is None
    uploads = app.image_tex.uploads
    assert uploads <= 2  # the first image, then once more magnified for the fitted zoom
    drive.frames(20)
    assert app.image_tex.uploads == uploads, "idle frames must not re-upload the texture"
    shot = tmp_path / "open.png"
    drive.screenshot(shot)
    for px in [(5, 5), (32, 32), (60, 17)]:  # the canvas shows the worker's image, pixel for pixel
        np.testing.assert_allclose(screen_pixel(shot, app.canvas.to_screen(*px)), s.image[px[1], px[0]], atol=2)
    assert not (ROOT / "imgui.ini").exists() and not Path("imgui.ini").exists()


def test_points_by_clicks_drags_and_deletes(editor, tmp_path):
    app, drive = editor()
    place_pair(app, drive)
    assert app.state.handles == (HANDLE,) and app.state.targets == (TARGET,)
    drive.drag(app.canvas.to_screen(*TARGET), app.canvas.to_screen(40, 27), samples=4)  # move the target
    drive.wait_until(lambda: app.state.points_rev == app.points_rev, 10, "the move")
    assert app.state.targets == ((40.0, 27.0),) and app.state.handles == (HANDLE,)
    drive.click(app.canvas.to_screen(10, 50))  # a second handle, waiting for its target
    assert app.points.pending and len(app.points.handles) == 2
    shot = tmp_path / "points.png"
    drive.screenshot(shot)
    red = screen_pixel(shot, app.canvas.to_screen(*HANDLE))
    blue = screen_pixel(shot, app.canvas.to_screen(40, 27))
    assert red[0] > 180 and red[2] < 100 and blue[2] > 180 and blue[0] < 120
    drive.click(app.canvas.to_screen(10, 50), button=1)  # right click deletes
    drive.wait_until(lambda: app.state.points_rev == app.points_rev, 10, "the delete")
    assert app.state.handles == (HANDLE,) and not app.points.pending
    drive.key(keys().c)
    drive.wait_until(lambda: app.state.points_rev == app.points_rev, 10, "clear")
    assert app.state.handles == () and app.state.targets == ()


def test_mask_stroke_is_interpolated_and_reaches_the_session(editor, tmp_path):
    app, drive = editor()
    drive.key(keys().m)
    assert app.tools.tool == "mask" and app.tools.brush_mode == "movable"
    app.tools.brush_radius = 3.0
    drive.drag(app.canvas.to_screen(8, 40), app.canvas.to_screen(56, 40), samples=3)  # 16 px jumps
    assert (app.paint[40, 8:57] == 1).all(), "the brush left gaps between mouse samples"
    assert app.paint[40 - 5, 30] == 0 and app.paint.sum() > 48 * 5
    drive.wait_until(lambda: app.worker.editor.session.mask is not None, 10, "the mask to reach the session")
    mask = app.worker.editor.session.mask.numpy()
    np.testing.assert_array_equal(mask, (app.paint == 1).astype(np.float32))
    drive.drag(app.canvas.to_screen(30, 40), app.canvas.to_screen(34, 40), samples=2, button=1)  # right drag erases
    assert app.paint[40, 32] == 0 and app.paint[40, 10] == 1
    shot = tmp_path / "mask.png"
    drive.screenshot(shot)
    painted, plain = screen_pixel(shot, app.canvas.to_screen(12, 40)), app.state.image[40, 12].astype(int)
    fixed, plain_fixed = screen_pixel(shot, app.canvas.to_screen(12, 10)), app.state.image[10, 12].astype(int)
    assert painted[1] > plain[1] and fixed.sum() < 0.7 * plain_fixed.sum()  # stroke tinted, the rest darkened
    drive.key(keys().h)
    assert not app.tools.show_mask
    app.do("reset_mask")
    drive.wait_until(lambda: app.worker.editor.session.mask is None, 10, "the mask reset")


def test_edit_moves_the_handle_then_stop_and_undo(editor, tmp_path):
    app, drive = editor()
    original = app.state.image.copy()
    place_pair(app, drive)
    drive.click_item("start_stop")
    start = float(np.hypot(TARGET[0] - HANDLE[0], TARGET[1] - HANDLE[1]))
    drive.wait_until(lambda: app.state.running and len(app.state.distances)
                     and app.state.distances[0] <= start - 2, 60, "the handle to move toward its target")
    assert app.points.handles[0] != HANDLE  # the GUI shows the tracked handle
    drive.screenshot(tmp_path / "mid_drag.png")
    assert len(app.state.trail) >= 2 and app.rects["start_stop"]
    # The step count when the Stop command is sent, not before the click: the click itself takes frames,
    # during which a fast model keeps stepping.
    from draggan.commands import Stop
    sent = []
    send = app.worker.send
    app.worker.send = lambda cmd: (isinstance(cmd, Stop) and sent.append(app.worker.snapshot().step), send(cmd))[1]
    drive.click_item("start_stop")  # Stop
    app.worker.send = send
    sent_at = sent[0]
    drive.wait_until(lambda: not app.state.running, 10, "the edit to stop")
    stopped = app.state
    assert stopped.status == "stopped" and stopped.step <= sent_at + 2
    drive.frames(10)
    assert app.state.step == stopped.step and not np.array_equal(app.state.image, original)
    drive.key(keys().z, ctrl=True)  # undo the whole drag
    drive.wait_until(lambda: app.state.message == "undone", 10, "undo")
    np.testing.assert_array_equal(app.state.image, original)
    assert app.points.handles == [HANDLE] and app.points.targets == [TARGET]
    drive.screenshot(tmp_path / "undone.png")
    drive.key(keys().y, ctrl=True)
    drive.wait_until(lambda: app.state.message == "redone", 10, "redo")
    np.testing.assert_array_equal(app.state.image, stopped.image)


def test_save_session_and_reopen_it(editor, tmp_path):
    app, drive = editor()
    place_pair(app, drive)
    drive.key(keys().m)
    drive.drag(app.canvas.to_screen(10, 20), app.canvas.to_screen(50, 44), samples=3)
    drive.key(keys().space)
    drive.wait_until(lambda: app.state.step >= 3, 60, "a few steps")
    drive.key(keys().space)
    drive.wait_until(lambda: not app.state.running, 10, "stop")
    app.files.save_stem = str(tmp_path / "edit")
    drive.wheel(drive.center_of("left_panel"), -30)  # scroll the control panel down to the Files section
    drive.frames(2)
    assert app.rects["save_session"][1][1] < app.rects["left_panel"][1][1], "the Save button is still hidden"
    drive.click_item("save_session")
    path = tmp_path / "edit.session.json"
    drive.wait_until(path.exists, 10, "the session file")
    saved_ws = app.worker.editor.session.current_ws().clone()
    saved = app.state
    saved_paint = app.paint.copy()
    drive.screenshot(tmp_path / "saved.png")

    other, drive2 = editor(checkpoint=None, session=str(path))  # a fresh editor reopens it
    s = other.state
    assert s.error is None and s.handles == saved.handles and s.targets == saved.targets
    np.testing.assert_array_equal(other.paint, saved_paint)
    np.testing.assert_array_equal(s.image, saved.image)
    assert (other.worker.editor.session.current_ws() - saved_ws).abs().max() == 0
    assert other.points.handles == list(saved.handles)
    drive2.screenshot(tmp_path / "reopened.png")

    app.do("reset_image")  # and the first one reopens it by drag and drop
    drive.wait_until(lambda: app.state.message.startswith("back to"), 10, "reset")
    app.window.inject_drop([str(path)])  # the reset is unsaved work: the editor asks before replacing it
    drive.wait_until(lambda: "unsaved_discard" in app.rects, 10, "the unsaved-work question")
    drive.frames(3)
    assert app.state.loaded_id == 1 and app.state.dirty
    drive.screenshot(tmp_path / "unsaved.png")
    drive.click_item("unsaved_discard")
    drive.wait_until(lambda: app.state.loaded_id == 2, 30, "the dropped session")
    np.testing.assert_array_equal(app.state.image, saved.image)


def test_researchers_view(editor, tmp_path):
    app, drive = editor()
    place_pair(app, drive)
    drive.key(keys().f2)
    assert app.researcher.open
    drive.move(app.canvas.to_screen(10, 12))
    drive.wait_until(lambda: app.state.features is not None and app.state.features.query == (10.0, 12.0), 20,
                     "the similarity map")
    fv = app.state.features
    assert fv.block == 32 and fv.pca.shape == (32, 32, 3) and fv.heat is not None
    drive.frames(2)
    assert app.pca_tex.ready and app.heat_tex.ready and "heat_image" in app.rects
    drive.screenshot(tmp_path / "researcher.png")
    app.researcher.source = 0  # the handle's feature instead of the cursor's
    drive.wait_until(lambda: app.state.features.query == HANDLE, 20, "the handle query")
    drive.key(keys().f2)
    drive.wait_until(lambda: app.state.features is None, 10, "the view to switch off")


def test_errors_are_shown_and_the_session_survives(editor, tmp_path):
    app, drive = editor()
    bad = tmp_path / "broken.pkl"
    bad.write_bytes(b"\x80\x04 not a checkpoint")
    app.window.inject_drop([str(bad)])
    drive.wait_until(lambda: app.state.error is not None, 20, "the error")
    drive.frames(2)
    assert "broken.pkl" in app.state.error and "error_banner" in app.rects and app.state.resolution == 64
    drive.screenshot(tmp_path / "error.png")
    before = app.state.image_id
    drive.key(keys().n)  # the old model still works
    drive.wait_until(lambda: app.state.image_id > before, 20, "a new image")
    assert app.state.seed == app.image_params.seed
    drive.click_item("dismiss_error")
    drive.frames(1)
    assert "error_banner" not in app.rects


def test_no_default_model_asks_for_a_checkpoint(editor, tmp_path, monkeypatch, sg2ada_path):
    from draggan.gui.layout import placeholder
    import draggan.checkpoints
    monkeypatch.setattr(draggan.checkpoints, "DEFAULT_CHECKPOINT", tmp_path / "missing.safetensors")
    monkeypatch.delenv("DRAGGAN_CHECKPOINT", raising=False)
    app, drive = editor(checkpoint=None)
    assert app.state.resolution == 0 and "missing.safetensors" in app.startup_note
    assert "Open a checkpoint" in placeholder(app)
    drive.screenshot(tmp_path / "no_model.png")
    assert not app.action_enabled("start_stop") and not app.action_enabled("save_image")
    drive.key(keys().space)  # nothing to edit: the key is disabled like the menu item, no crash
    drive.frames(3)
    assert app.state.error is None and not app.state.running
    app.files.checkpoint_field = str(sg2ada_path)
    drive.click_item("open_checkpoint")
    drive.wait_until(lambda: app.state.resolution == 64, 30, "the model")


def test_zoom_pan_help_and_brush_keys(editor, tmp_path):
    app, drive = editor()
    anchor = app.canvas.to_screen(16, 16)
    zoom = app.canvas.zoom
    drive.wheel(anchor, 2)
    assert app.canvas.zoom == pytest.approx(zoom * 1.44)
    np.testing.assert_allclose(app.canvas.to_image(*anchor), (16, 16), atol=0.1)  # the pixel under the cursor stays
    offset = app.canvas.offset
    drive.drag(anchor, (anchor[0] + 40, anchor[1] + 10), samples=2, button=2)  # middle drag pans
    assert app.canvas.offset[0] > offset[0] + 20
    drive.key(keys().f)
    assert app.canvas.zoom == pytest.approx(zoom)
    radius = app.tools.brush_radius
    drive.key(keys().left_bracket)
    assert app.tools.brush_radius < radius
    drive.key(keys().f1)
    assert app.show_help
    drive.screenshot(tmp_path / "help.png")


def test_a_failing_frame_is_abandoned_cleanly(editor, monkeypatch):
    import draggan.gui.layout as app_module
    app, drive = editor()

    def broken(*a, **k):  # fails inside the right panel's child window, which stays open
        raise RuntimeError("panel bug")
    monkeypatch.setattr(app_module, "draw_progress_panel", broken)
    with pytest.raises(RuntimeError, match="panel bug"):
        app.frame()
    monkeypatch.undo()
    drive.frames(3)  # imgui recovered: the next frames draw normally
    assert "start_stop" in app.rects and app.state.resolution == 64


def test_event_loop_draws_only_what_changed(editor):
    app, drive = editor()
    app.window.last_input_time = 0.0  # nobody touched anything for a long time
    app.loop_once()
    app._last_frame_time = time.perf_counter()  # the idle frame is not due yet, however fast frames are
    assert not app.loop_once()  # nothing new: no frame (idle frames come at idle_fps only)
    app.window.inject_mouse_pos(*app.canvas.to_screen(5, 5))
    assert app.loop_once()  # input: a frame at once
    place_pair(app, drive)
    app.do("start_stop")
    app.window.last_input_time = 0.0
    drive.wait_until(lambda: app.state.running, 20, "the edit")
    steps_seen = set()
    for _ in range(200):
        if app.loop_once():
            steps_seen.add(app.state.step)
        if len(steps_seen) >= 3:
            break
    assert len(steps_seen) >= 3  # a running edit's results are drawn as they arrive
    app.do("start_stop")


def test_file_dialogs_fall_back_to_the_path_fields(editor, tmp_path):
    """No dialog program (a server, Xvfb): Open focuses the path field and says why; saves use the Files name."""
    app, drive = editor(file_dialogs=False)
    app.do("open_checkpoint")
    drive.frames(2)
    assert "no file dialog" in app.note and not app.dialogs.busy
    app.files.save_stem = str(tmp_path / "fallback")
    app.do("save_image")
    drive.wait_until(lambda: (tmp_path / "fallback.png").exists(), 10, "the image saved at the typed name")


def test_native_dialogs_open_and_save_through_the_dialog_program(editor, tmp_path, monkeypatch, sg2ada_path):
    """A stand-in `zenity` on PATH answers the dialogs the way the real one does (the chosen path on stdout)."""
    import os
    fake = tmp_path / "bin" / "zenity"
    fake.parent.mkdir()
    answer = tmp_path / "answer.txt"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path / 'calls.log'}\ncat {answer}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    app, drive = editor(file_dialogs=None)  # None: use a dialog where a dialog program exists
    assert app.dialogs.available
    answer.write_text(str(tmp_path / "chosen.png") + "\n")
    app.do("save_image")
    drive.wait_until(lambda: (tmp_path / "chosen.png").exists(), 20, "the image saved where the dialog said")
    calls = (tmp_path / "calls.log").read_text()
    assert "--save" in calls and "*.png" in calls
    answer.write_text("")  # the user cancels: nothing happens
    app.do("open_checkpoint")
    drive.wait_until(lambda: not app.dialogs.busy, 20, "the cancelled dialog")
    drive.frames(3)
    assert app.state.loaded_id == 1 and app.state.error is None
    answer.write_text(str(sg2ada_path) + "\n")
    app.do("open_checkpoint")
    drive.wait_until(lambda: app.state.loaded_id == 2, 30, "the checkpoint chosen in the dialog")
    assert app.state.checkpoint == str(sg2ada_path.resolve())


def test_unsaved_work_is_autosaved_and_offered_back_after_a_crash(editor, tmp_path):
    config = tmp_path / "config"
    app, drive = editor(config_dir=config)
    place_pair(app, drive)
    drive.key(keys().space)
    drive.wait_until(lambda: app.state.step >= 2, 60, "a few steps")
    drive.key(keys().space)
    drive.wait_until(lambda: not app.state.running and app.state.dirty, 10, "stop")
    app._last_autosave = -1e9  # as if 30 s had passed
    drive.frames(1)
    autosave = config / "autosave.session.json"
    drive.wait_until(autosave.exists, 10, "the autosave")
    edited = app.worker.editor.session.current_ws().clone()
    app.close()  # closed with unsaved work that was not discarded: like a crash, the copy stays
    assert autosave.exists()

    again, drive2 = editor(config_dir=config)
    drive2.wait_until(lambda: "restore_yes" in again.rects, 10, "the offer to restore")
    drive2.screenshot(tmp_path / "restore.png")
    drive2.click_item("restore_yes")
    drive2.wait_until(lambda: again.state.loaded_id == 2, 30, "the restored session")
    assert again.state.dirty and again.state.handles  # restored work still needs a save of the user's
    assert (again.worker.editor.session.current_ws() - edited).abs().max() == 0
    again.guard.discarded = True
    again.close()
    assert not autosave.exists()  # a clean end removes the copy


def test_seeds_beyond_2_31_and_sessions_under_any_name(editor, tmp_path, sg2ada_path):
    """`draggan gui CKPT --seed 3000000000` once gave 101 tracebacks (a 32-bit seed field); `--session my.sess`
    was opened as a checkpoint."""
    from draggan.engine import DragSession
    from stylegan2 import load_generator
    app, drive = editor(seed=3_000_000_000)
    drive.frames(3)
    s = app.state
    assert s.error is None and s.seed == 3_000_000_000 and app.image_params.seed == 3_000_000_000
    np.testing.assert_array_equal(s.image, DragSession.from_seed(load_generator(sg2ada_path), 3_000_000_000,
                                                                 0.7).render())
    drive.screenshot(tmp_path / "big_seed.png")
    app.files.save_stem = str(tmp_path / "big")
    app.do("save_session")
    drive.wait_until(lambda: (tmp_path / "big.session.json").exists(), 10, "the session")
    renamed = tmp_path / "my.sess"
    (tmp_path / "big.session.json").rename(renamed)
    other, drive2 = editor(checkpoint=None, session=str(renamed))
    assert other.state.error is None and other.state.seed == 3_000_000_000
    app.window.inject_drop([str(renamed)])  # a drop is told apart by content too
    drive.wait_until(lambda: app.state.loaded_id == 2, 30, "the dropped session")
    assert app.state.error is None and app.state.session_path == str(renamed.resolve())
