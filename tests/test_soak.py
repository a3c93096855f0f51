"""Soak: the editor window under random but valid use for a while: no error, no exception, flat memory.

Runs DRAGGAN_SOAK_S seconds (default 60; set e.g. 600 for a long run) of random
clicks, point drags, mask strokes, start/stop, undo/redo, settings changed while
an edit runs, new seeds, the researchers' view and saves, all through the real
window with injected input and the app's action table.
"""

import os
import random
import time

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]

SOAK_S = float(os.environ.get("DRAGGAN_SOAK_S", "60"))
RSS_GROWTH_MB = 120  # allowed growth after warm-up (the animation alone may keep up to 64x64x3 x 300 frames)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="reads the memory use from /proc (Linux)")
def test_random_use_for_a_while(sg2ada_path, tmp_path):
    from imgui_bundle import imgui

    from draggan.commands import SetConfig
    from draggan.gui.app import AppOptions, EditorApp
    from draggan.gui.driver import Driver
    from draggan.gui.window import Window

    app = EditorApp(Window("DragGAN soak", install_callbacks=False),
                    AppOptions(checkpoint=str(sg2ada_path), config_dir=tmp_path / "config"))
    drive = Driver(app)
    rng = random.Random(1234)
    errors, counts = [], {}
    try:
        drive.wait_until(lambda: app.state.resolution == 64 and app.image_tex.ready, 60, "the model to open")
        app.files.save_stem = str(tmp_path / "out" / "soak")

        def pixel():
            return rng.uniform(2, 61), rng.uniform(2, 61)

        def add_pair():
            app.do("tool_points")
            if app.points.pending:
                drive.click(app.canvas.to_screen(*pixel()))
            drive.click(app.canvas.to_screen(*pixel()))
            drive.click(app.canvas.to_screen(*pixel()))

        def move_point():
            if app.points.handles:
                i = rng.randrange(len(app.points.handles))
                drive.drag(app.canvas.to_screen(*app.points.handles[i]), app.canvas.to_screen(*pixel()), samples=2)

        def stroke():
            app.do(rng.choice(["tool_mask", "tool_erase"]))
            app.tools.brush_mode = rng.choice(["movable", "fixed", "erase"])
            drive.drag(app.canvas.to_screen(*pixel()), app.canvas.to_screen(*pixel()), samples=3)
            app.do("tool_points")

        def start_stop():
            if app.state.running or len(app.points.targets):
                drive.key(imgui.Key.space)

        def settings():
            cfg = app.state.config
            change = rng.choice([dict(latent_space=rng.choice(["w", "w+"])),
                                 dict(num_optimized_layers=rng.randint(1, 10)),
                                 dict(feature_block=rng.choice([None, 16, 32, 64])),
                                 dict(lr=rng.choice([1e-3, 2e-3, 5e-3])), dict(r2=rng.choice([None, 4.0])),
                                 dict(tracking_distance=rng.choice(["l1", "l2"]))])
            app.worker.send(SetConfig(cfg.with_(**change)))  # what the settings panel sends

        def undo_redo():
            drive.key(imgui.Key.z, ctrl=True) if rng.random() < 0.6 else drive.key(imgui.Key.y, ctrl=True)

        def save():
            # As a person does: look at the current state first (a Save GIF enabled by a state the queued
            # Reset has already replaced would rightly say "nothing to animate").
            drive.wait_until(lambda: not app.worker.busy and app.worker.snapshot().stamp == app.state.stamp,
                             30, "the editor to settle")
            app.do(rng.choice(["save_image", "save_latent", "save_session", "save_gif"]))

        def misc():
            app.do(rng.choice(["reset_image", "random_seed", "toggle_researcher", "clear_points", "reset_mask",
                               "fit_view", "delete_point"]))

        actions = [add_pair, add_pair, move_point, stroke, start_stop, start_stop, settings, undo_redo, save,
                   misc]
        t_end = time.perf_counter() + SOAK_S
        warm_rss = None
        warm_at = time.perf_counter() + min(15.0, SOAK_S / 4)
        while time.perf_counter() < t_end:
            act = rng.choice(actions)
            act()
            counts[act.__name__] = counts.get(act.__name__, 0) + 1
            for _ in range(rng.randint(1, 6)):  # let a running edit take a few steps
                drive.frames(1)
            s = app.state
            if s.error is not None or app.gui_error is not None:
                errors.append((act.__name__, s.error or app.gui_error))
                break
            if warm_rss is None and time.perf_counter() > warm_at:
                warm_rss = rss_mb()
        drive.wait_until(lambda: app.worker.snapshot().stamp == app.state.stamp, 30, "the worker to settle")
        drive.screenshot(tmp_path / "soak_end.png")
        end_rss = rss_mb()
    finally:
        app.guard.discarded = True
        app.close()
    assert not errors, f"error after {counts}: {errors}"
    assert sum(counts.values()) > 20 and counts.get("start_stop", 0) > 2, counts
    assert app.worker.editor.log.frames is not None
    assert end_rss - warm_rss < RSS_GROWTH_MB, f"memory grew {end_rss - warm_rss:.0f} MB ({warm_rss:.0f} -> {end_rss:.0f})"
