"""DragGAN on StyleGAN3: the feature layer, the margin, and drags headless, in the Editor and in the window.

A StyleGAN3 layer's map has a margin around the image; the engine reads only the part that
covers the image (`image_part`). Translating the synthesis input by a known amount moves the
content by exactly that much, so tracking accuracy can be measured where the truth is known.
"""

import json

import numpy as np
import pytest
import torch

from conftest import fixture_path
from draggan.commands import SetPoints, Start
from draggan.editor import Editor
from draggan.engine import DragConfig, default_feature_block
from draggan.engine.motion import track_points
from draggan.engine.sampling import sample_image_res
from draggan.engine.session import image_part


@pytest.fixture(scope="module")
def sg3():
    from stylegan2 import load_generator
    return load_generator(fixture_path("sg3_t_64.pkl"))


def translated(G, dx: float, dy: float):
    """A copy of G whose synthesis input is moved so the image content shifts by (dx, dy) px."""
    from stylegan2 import StyleGAN3Generator
    S = StyleGAN3Generator(G.cfg).eval()
    S.load_state_dict(G.state_dict())
    with torch.no_grad():
        S.synthesis.input.transform[0, 2] -= dx / G.img_resolution  # the transform maps image to input: inverse
        S.synthesis.input.transform[1, 2] -= dy / G.img_resolution
    return S


@torch.no_grad()
@pytest.mark.parametrize("layer", [2, 5, 8])
def test_features_read_through_the_margin_follow_the_content(sg3, layer):
    res, d = sg3.img_resolution, torch.tensor([3.0, -2.0])
    ws = sg3.mapping(torch.from_numpy(np.random.RandomState(1).randn(1, sg3.z_dim)).float(), None)
    base = sg3.synthesis.run(ws, feature_blocks=[layer], render_image=False).features[layer]
    moved = translated(sg3, *d.tolist()).synthesis.run(ws, feature_blocks=[layer], render_image=False).features[layer]
    p = torch.tensor([[24.0, 30.0], [40.0, 36.0], [30.0, 44.0]])
    for crop, limit in ((True, 0.25), (False, None)):
        fb, fm = (image_part(sg3, base, layer), image_part(sg3, moved, layer)) if crop else (base, moved)
        f0 = sample_image_res(fb, (res, res), p)
        err = (track_points(fm, (res, res), p, f0, 6.0, "l1", subpixel=8) - (p + d)).norm(dim=-1)
        if crop:
            assert err.max() < limit, err  # the handle follows the content to within a quarter pixel
        else:
            assert err.mean() > 0.5, err  # the authors' whole-map resize loses part of every motion


def test_the_default_layer_per_family(sg3, fixture_G):
    assert default_feature_block(64, "StyleGAN3-T") == 5 and default_feature_block(64, "StyleGAN3-R") == 5
    assert default_feature_block(64) == 32 and default_feature_block(512, "StyleGAN-Human") == 128
    e = Editor("cpu", DragConfig(max_steps=6))
    e.open_generator(sg3, sg3.mapping(torch.zeros(1, sg3.z_dim), None))
    assert e.session.cfg.feature_block == 5


def test_a_drag_on_stylegan3_in_the_editor_and_headless(sg3, tmp_path):
    from draggan.cli import main
    e = Editor("cpu", DragConfig(max_steps=6))
    e.open_checkpoint(fixture_path("sg3_t_64.pkl"))
    e.edit_points(SetPoints(((30.0, 30.0),), ((34.0, 30.0),)))
    e.start()
    while e.running:
        r = e.step()
    assert r.error is None and e.image.shape == (64, 64, 3)
    e.save_session(tmp_path / "s.json")
    again = Editor("cpu")
    again.load_session(tmp_path / "s.json")
    np.testing.assert_array_equal(again.image, e.image)
    (tmp_path / "p.json").write_text(json.dumps({"handles": [[30, 30]], "targets": [[34, 30]]}))
    assert main(["edit", str(fixture_path("sg3_t_64.pkl")), "--points", str(tmp_path / "p.json"),
                 "--out", str(tmp_path / "r.png"), "--steps", "4", "--no-progress"]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["settings"]["feature_block"] == 5


@pytest.mark.gui
def test_a_drag_on_stylegan3_in_the_window(tmp_path):
    from draggan.gui.app import AppOptions, EditorApp
    from draggan.gui.driver import Driver
    from draggan.gui.window import Window
    app = EditorApp(Window("DragGAN sg3", install_callbacks=False),
                    AppOptions(checkpoint=str(fixture_path("sg3_t_64.pkl")), file_dialogs=False))
    drive = Driver(app)
    try:
        drive.wait_until(lambda: app.state.resolution == 64 and app.image_tex.ready, 60, "the model to open")
        drive.click(app.canvas.to_screen(30, 30))
        drive.click(app.canvas.to_screen(36, 30))
        drive.wait_until(lambda: app.state.points_rev == app.points_rev, 10, "the points")
        app.worker.send(Start())
        drive.wait_until(lambda: app.state.step >= 2 or not app.state.running and app.state.step, 60, "steps")
        assert app.state.error is None and app.state.feature_block == 5
        drive.screenshot(tmp_path / "sg3.png")
    finally:
        app.close()


def test_bench_times_a_synthetic_stylegan3(capsys):
    from draggan.cli import main
    assert main(["bench", "--synthetic", "16", "--family", "stylegan3-r", "--steps", "1", "--warmup", "0",
                 "--repeats", "1", "--variants", "ours,full-forward,official", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "ours" in out and "full forward" in out and "official" in out and " L5" in out
    assert "1.00x" in out and "(process max RSS, cpu, 1 threads)" in out
    assert main(["bench", "--family", "stylegan3-t"]) == 2  # a family needs --synthetic
