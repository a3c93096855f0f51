"""Animations and before/after pictures: the requested size, the points at the right pixels, a held last frame."""

import json

import numpy as np
import pytest
from PIL import Image

from draggan.animation import (HANDLE_RGB, TARGET_RGB, TRAIL_RGB, DragFrame, before_after, compose, pick_frames,
                               scale_factor, to_canvas, upscale)
from draggan.video import save_animation


def frames_of_a_drag(n=30, size=64):
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        h = np.array([[10.0 + i * 0.5, 20.0], [40.0, 50.0 - i * 0.3]])
        out.append(DragFrame(img, h, np.array([[30.0, 20.0], [40.0, 35.0]])))
    return out


@pytest.mark.parametrize("size, factor", [(512, 8), (256, 4), (500, 8), (64, 1), (10, 1)])
def test_frames_are_scaled_by_a_whole_factor_to_at_least_the_size(size, factor):
    frames = compose(frames_of_a_drag(3), size=size, points=False)
    assert scale_factor((64, 64, 3), size) == factor
    assert all(f.shape == (64 * factor, 64 * factor, 3) for f in frames)
    np.testing.assert_array_equal(frames[0], upscale(frames_of_a_drag(3)[0].image, factor))


def test_points_and_trail_are_drawn_at_their_pixels():
    frames = frames_of_a_drag(10)
    last = compose(frames, size=512)[-1]
    for centre, colour in ((frames[-1].handles, HANDLE_RGB), (frames[-1].targets, TARGET_RGB)):
        for x, y in to_canvas(centre, 8).round().astype(int):
            assert tuple(last[y, x]) == colour
    # The trail of handle 2 runs straight up from where it started (40, 50) to where it is now.
    x, y = to_canvas(np.array([40.0, 49.5]), 8).round().astype(int)
    assert tuple(last[y, x]) == TRAIL_RGB
    plain = compose(frames, size=512, points=False)[-1]
    assert not np.array_equal(plain, last)


def test_long_edits_keep_an_even_selection_with_first_and_last():
    keep = pick_frames(301, 120)
    assert len(keep) <= 120 and keep[0] == 0 and keep[-1] == 300
    steps = np.diff(keep)
    assert steps.max() - steps.min() <= 1
    assert len(compose(frames_of_a_drag(200), size=64, max_frames=50)) == 50


def test_gif_holds_the_last_frame(tmp_path):
    pictures = compose(frames_of_a_drag(5), size=128)
    save_animation(pictures, tmp_path / "a.gif", fps=10, hold_s=1.5)
    im = Image.open(tmp_path / "a.gif")
    durations = []
    for i in range(im.n_frames):
        im.seek(i)
        durations.append(im.info["duration"])
    assert im.size == (128, 128) and im.n_frames == 5
    assert durations[:-1] == [100] * 4 and durations[-1] == 1600


def test_before_after_is_two_pictures_side_by_side():
    f = frames_of_a_drag(2)
    pair = before_after(f[0], f[1], size=256, gap=8)
    assert pair.shape == (256, 2 * 256 + 8, 3)
    x, y = to_canvas(f[0].handles[0], 4).round().astype(int)
    assert tuple(pair[y, x]) == HANDLE_RGB  # where the handle was placed, on the left
    x, y = to_canvas(f[1].handles[0], 4).round().astype(int)
    assert tuple(pair[y, 256 + 8 + x]) == HANDLE_RGB  # where it ended, on the right


def test_same_seed_same_image_from_generate_edit_and_the_editor(sg2ada_path, tmp_path):
    """One truncation default everywhere: the face picked on `generate`'s PNG is the one edited."""
    from draggan.cli import main
    from draggan.worker import EditWorker
    from draggan.commands import LoadCheckpoint
    assert main(["generate", str(sg2ada_path), "--seed", "3", "--out", str(tmp_path / "g.png")]) == 0
    generated = np.asarray(Image.open(tmp_path / "g.png").convert("RGB"))
    (tmp_path / "p.json").write_text(json.dumps({"handles": [[20, 20]], "targets": [[20, 20]]}))  # arrived at once
    assert main(["edit", str(sg2ada_path), "--seed", "3", "--points", str(tmp_path / "p.json"), "--out",
                 str(tmp_path / "e.png"), "--no-progress"]) == 0
    edited = np.asarray(Image.open(tmp_path / "e.png").convert("RGB"))
    worker = EditWorker(threaded=False, seed=3)
    worker.send(LoadCheckpoint(str(sg2ada_path)))
    first = worker.run_until_idle().image
    np.testing.assert_array_equal(generated, edited)
    np.testing.assert_array_equal(generated, first)


def test_edit_writes_a_scaled_animation_and_a_comparison(sg2ada_path, tmp_path, capsys):
    from draggan.cli import main
    (tmp_path / "p.json").write_text(json.dumps({"handles": [[20, 30]], "targets": [[26, 30]]}))
    rc = main(["edit", str(sg2ada_path), "--points", str(tmp_path / "p.json"), "--out", str(tmp_path / "r.png"),
               "--steps", "6", "--video", str(tmp_path / "d.gif"), "--video-size", "256", "--compare",
               str(tmp_path / "ba.png"), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0
    assert Image.open(tmp_path / "d.gif").size == (256, 256)
    assert Image.open(tmp_path / "ba.png").size == (2 * 256 + 8, 256)
    assert "handle" in out and "target" in out and "(20.0, 30.0)" in out and "(26.0, 30.0)" in out
    assert "step limit: 6 of 6 steps" in out or "converged" in out


def test_an_animation_of_several_drags_draws_each_drag_its_own_trail():
    """The soak test found it: a second drag with another number of handles broke the trail (shapes differ)."""
    first = frames_of_a_drag(4)
    second = [DragFrame(f.image, f.handles[:1] + 5, np.array([[50.0, 50.0]])) for f in frames_of_a_drag(4)]
    pictures = compose(first + second, size=128)
    assert len(pictures) == 8 and all(p.shape == (128, 128, 3) for p in pictures)
    only_second = compose(second, size=128)
    np.testing.assert_array_equal(pictures[-1], only_second[-1])  # the first drag's trail is not carried over
