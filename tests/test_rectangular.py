"""StyleGAN-Human's rectangular images (64 high, 32 wide) through the editor, the CLI and the window.

Points, masks, sessions, animations and the canvas all use the true (H, W); nothing pads
the image to a square.
"""

import json

import numpy as np
import pytest
from PIL import Image

from draggan.commands import SetPoints, Start
from draggan.editor import Editor
from draggan.engine import DragConfig
from draggan.errors import DragGANError
from draggan.mask import MOVABLE, empty_paint
from conftest import fixture_path


@pytest.fixture(scope="module")
def shg_path():
    return fixture_path("shg_64x32.pkl")


@pytest.fixture
def editor(shg_path):
    e = Editor("cpu", DragConfig(max_steps=8))
    e.open_checkpoint(shg_path)
    return e


def test_the_editor_works_at_height_by_width(editor, tmp_path):
    assert editor.size == (64, 32) and editor.image.shape == (64, 32, 3)
    with pytest.raises(DragGANError, match="outside the 32x64 image"):
        editor.edit_points(SetPoints(((40.0, 10.0),), ((20.0, 10.0),)))  # x = 40 is beyond the width
    editor.edit_points(SetPoints(((16.0, 40.0),), ((20.0, 40.0),)))
    paint = empty_paint(editor.size)
    paint[30:50, 8:28] = MOVABLE
    editor.set_mask(paint)
    with pytest.raises(DragGANError, match="32x64"):
        editor.set_mask(empty_paint(64))  # a square mask does not fit
    editor.start()
    while editor.running:
        r = editor.step()
    assert r.error is None and r.handles.shape == (1, 2)
    editor.save_session(tmp_path / "s.json")
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["size"] == [64, 32] and doc["resolution"] == 64
    again = Editor("cpu")
    again.load_session(tmp_path / "s.json")
    np.testing.assert_array_equal(again.image, editor.image)
    np.testing.assert_array_equal(again.paint, paint)
    editor.save_animation(tmp_path / "a.gif")
    assert Image.open(tmp_path / "a.gif").size == (256, 512)  # 2:1 kept, long side at least 512


def test_draggan_edit_on_a_rectangular_model(shg_path, tmp_path):
    from draggan.cli import main
    (tmp_path / "p.json").write_text(json.dumps({"handles": [[16, 40]], "targets": [[19, 40]]}))
    mask = np.zeros((64, 32), np.uint8)
    mask[30:52, 6:30] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    assert main(["edit", str(shg_path), "--points", str(tmp_path / "p.json"), "--mask", str(tmp_path / "m.png"),
                 "--out", str(tmp_path / "r.png"), "--steps", "4", "--compare", str(tmp_path / "c.png"),
                 "--no-progress"]) == 0
    assert Image.open(tmp_path / "r.png").size == (32, 64)
    assert Image.open(tmp_path / "c.png").size == (2 * 256 + 8, 512)
    (tmp_path / "q.json").write_text(json.dumps({"handles": [[16, 40]], "targets": [[40, 40]]}))
    assert main(["edit", str(shg_path), "--points", str(tmp_path / "q.json"), "--out", str(tmp_path / "x.png"),
                 "--no-progress"]) == 2  # a target beyond the 32 px width is refused


@pytest.mark.gui
def test_the_canvas_shows_a_2_to_1_image_and_clicks_land_on_the_right_pixel(shg_path, tmp_path):
    from draggan.gui.app import AppOptions, EditorApp
    from draggan.gui.driver import Driver
    from draggan.gui.window import Window
    app = EditorApp(Window("DragGAN rectangular", install_callbacks=False),
                    AppOptions(checkpoint=str(shg_path), file_dialogs=False))
    drive = Driver(app)
    try:
        drive.wait_until(lambda: app.state.resolution == 64 and app.image_tex.ready, 60, "the model to open")
        drive.frames(2)
        (x0, y0), (x1, y1) = app.canvas.to_screen(-0.5, -0.5), app.canvas.to_screen(31.5, 63.5)
        assert (y1 - y0) == pytest.approx(2 * (x1 - x0), rel=1e-6)  # drawn 2:1, not stretched to a square
        drive.click(app.canvas.to_screen(5, 50))
        drive.click(app.canvas.to_screen(25, 12))
        drive.wait_until(lambda: app.state.points_rev == app.points_rev, 10, "the points")
        assert app.state.handles == ((5.0, 50.0),) and app.state.targets == ((25.0, 12.0),)
        shot = tmp_path / "rect.png"
        drive.screenshot(shot)
        pixels = np.asarray(Image.open(shot).convert("RGB"))
        cx, cy = app.canvas.to_screen(16, 32)
        np.testing.assert_allclose(pixels[int(cy), int(cx)], app.state.image[32, 16], atol=40)
        app.worker.send(Start())
        drive.wait_until(lambda: app.state.step >= 2, 60, "a few steps")
        assert app.state.error is None
    finally:
        app.close()
