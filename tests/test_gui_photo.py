"""File > Open image in the real window (Xvfb): crop, invert with progress, cancel, invert again, then drag.

    OMP_NUM_THREADS=1 xvfb-run -a -s "-screen 0 1280x800x24" pytest -m gui tests/test_gui_photo.py

Screenshots of the crop dialog, the progress and the drag go to the test's temporary folder, or, to
refresh the README's, to the folder named by DRAGGAN_SCREENSHOTS (e.g. docs/screenshots).
"""

import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.gui

HANDLE, TARGET = (24.0, 32.0), (38.0, 32.0)


@pytest.fixture
def app_and_driver(sg2ada_path):
    from draggan.gui.app import AppOptions, EditorApp
    from draggan.gui.driver import Driver
    from draggan.gui.window import Window
    app = EditorApp(Window("DragGAN test", install_callbacks=False),
                    AppOptions(checkpoint=str(sg2ada_path), file_dialogs=False))
    drive = Driver(app)
    drive.wait_until(lambda: app.state.resolution == 64 and app.image_tex.ready, 60, "the model to open")
    drive.frames(2)
    yield app, drive
    if app.window.handle is not None:
        app.close()


@pytest.fixture
def photo(tmp_path, fixture_G):
    """A wide 'photo' (another seed's face between grey bars): the centre crop is the face."""
    from draggan.engine import DragSession
    face = DragSession.from_seed(fixture_G, 11, 0.7).render()  # [64, 64, 3]
    bar = np.full((64, 24, 3), 90, np.uint8)
    path = tmp_path / "portrait.jpg"
    Image.fromarray(np.concatenate([bar, face, bar], axis=1)).resize((224, 128), Image.Resampling.LANCZOS) \
        .save(path, quality=95)
    return path


def keys():
    from imgui_bundle import imgui
    return imgui.Key


def on_picture(app, px):
    """Screen position of picture pixel px in the crop view."""
    (x0, y0), _ = app.rects["photo_crop_view"]
    s = app.photo_dialog._scale
    return x0 + px[0] * s, y0 + px[1] * s


def settle(app, drive, what):
    drive.wait_until(lambda: app.photo_dialog.phase is None and not app.worker.busy
                     and app.worker.snapshot().inversion is None, 120, what)
    drive.frames(2)


def test_open_image_crop_invert_cancel_then_drag(app_and_driver, photo, tmp_path):
    shots = Path(os.environ.get("DRAGGAN_SCREENSHOTS", tmp_path))  # never the repository unless asked
    from draggan.gui.photo_dialog import PhotoParams
    app, drive = app_and_driver
    before = app.state
    assert app.action_enabled("open_image")

    # File > Open image with no dialog program: the dialog asks for the path itself.
    app.do("open_image")
    drive.frames(2)
    assert app.photo_dialog.phase == "choose"
    drive.type_text(str(tmp_path / "missing.png"))  # the path field has the keyboard
    drive.click_item("photo_load")
    assert app.photo_dialog.phase == "choose" and "no picture" in app.photo_dialog.error
    drive.click_item("photo_path_field")
    drive.key(keys().a, ctrl=True)
    drive.type_text(str(photo))
    drive.key(keys().enter)
    drive.frames(1)
    d = app.photo_dialog
    assert d.phase == "crop" and d.photo.size == (128, 224)
    assert d.box == (48, 0, 176, 128)  # the centre crop, square like the model

    # Draw another crop: anchored where the drag starts, the model's aspect kept.
    drive.drag(on_picture(app, (60, 10)), on_picture(app, (130, 70)), samples=4)
    assert d.box[:2] == (60, 10) and d.box[2] - d.box[0] == d.box[3] - d.box[1] == 70
    drive.drag(on_picture(app, (60, 10)), on_picture(app, (66, 16)), samples=2)  # 6 px: over 8x upscaling
    assert d.box == (60, 10, 66, 16)
    drive.click_item("photo_invert")
    assert d.phase == "crop" and "more than 8x smaller than the model" in d.error  # said in the dialog
    drive.click_item("photo_centre")
    assert d.box == (48, 0, 176, 128) and not d.error
    drive.drag(on_picture(app, (52, 4)), on_picture(app, (172, 124)), samples=3)
    assert d.box == (52, 4, 172, 124)
    shots.mkdir(parents=True, exist_ok=True)
    drive.screenshot(shots / "open_photo_crop.png")

    # A long inversion with progress, then Cancel: the editor is unchanged.
    d.params = PhotoParams(w_steps=1000, extra=dict(w_avg_samples=256, preview_every=1))
    drive.click_item("photo_invert")
    assert d.phase == "running"
    drive.wait_until(lambda: app.worker.snapshot().inversion is not None
                     and app.worker.snapshot().inversion.done_steps >= 3, 120, "inversion progress")
    drive.frames(2)
    inv = app.worker.snapshot().inversion
    assert inv.stage == "w" and inv.total_steps == 1000 + 300 + 350 and inv.preview is not None
    assert "photo_progress" in app.rects
    drive.screenshot(shots / "open_photo_progress.png")
    assert app.state.image_id == before.image_id  # nothing replaced while it runs, and the window drew frames
    drive.click_item("photo_cancel")
    settle(app, drive, "the cancel")
    s = app.state
    assert s.image_id == before.image_id and s.photo == "" and not s.can_undo and s.error is None
    np.testing.assert_array_equal(s.image, before.image)
    assert "cancelled" in s.message

    # Dropped onto the window, a short run to the end: the photo becomes the (undoable) image.
    app.window.inject_drop([str(photo)])
    drive.frames(2)
    assert d.phase == "crop"
    d.params = PhotoParams(w_steps=12, wplus_steps=4, pti_steps=4,
                           extra=dict(w_avg_samples=256, preview_every=2, pti_stop_psnr=0.0))
    drive.click_item("photo_invert")
    settle(app, drive, "the inversion to finish")
    s = app.state
    assert s.error is None and s.photo.startswith("photo portrait.jpg (tuned generator)") and s.can_undo
    assert s.image_id > before.image_id and not np.array_equal(s.image, before.image)
    assert app.worker.editor.photo.box == (48, 0, 176, 128)  # a new open starts from the centre crop
    drive.screenshot(tmp_path / "inverted.png")

    # Then drag as usual, on the tuned generator.
    drive.click(app.canvas.to_screen(*HANDLE))
    drive.click(app.canvas.to_screen(*TARGET))
    drive.wait_until(lambda: app.state.points_rev == app.points_rev, 10, "the worker to take the points")
    drive.click_item("start_stop")
    start = TARGET[0] - HANDLE[0]
    drive.wait_until(lambda: len(app.state.distances) and app.state.distances[0] <= start - 2, 120,
                     "the handle to move toward its target")
    drive.move((1100, 600))  # no tooltip in the picture
    drive.screenshot(shots / "open_photo_drag.png")
    if app.state.running:
        drive.click_item("start_stop")
    drive.wait_until(lambda: not app.state.running, 20, "the drag to stop")
    assert app.worker.editor.G is app.worker.editor.photo.generator
