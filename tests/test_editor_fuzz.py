"""Fuzz: generated bad points, masks, numbers and session files fed to the `Editor`.

Each must give one clear `DragGANError` (or `CheckpointError`) and leave the editor
as it was: same image, points, mask and settings, and still able to edit.
"""

import copy
import json
import random

import numpy as np
import pytest

from draggan.commands import AddPoint, DeletePoint, MovePoint, SetPoints
from draggan.editor import Editor
from draggan.engine import DragConfig
from draggan.errors import USER_ERRORS

N_CASES = 150  # per kind; seeded, so a failure reproduces


def junk(rng: random.Random, depth: int = 0):
    """A random JSON-ish value: numbers at the edges, strings, nestings, huge integers."""
    choices = [lambda: float("nan"), lambda: float("inf"), lambda: -float("inf"), lambda: 10 ** 400,
               lambda: -(10 ** 30), lambda: rng.uniform(-1e9, 1e9), lambda: rng.randint(-5, 100), lambda: "12",
               lambda: "", lambda: None, lambda: True, lambda: {"x": 1}, lambda: []]
    if depth < 3:
        choices += [lambda: [junk(rng, depth + 1) for _ in range(rng.randint(0, 3))]]
    return rng.choice(choices)()


@pytest.fixture(scope="module")
def editor(sg2ada_path):
    e = Editor("cpu", DragConfig(max_steps=5))
    e.open_checkpoint(sg2ada_path)
    e.edit_points(SetPoints(((20.0, 30.0),), ((30.0, 30.0),)))
    return e


def state_of(e: Editor):
    return (e.image.copy(), e.points.copy(), None if e.paint is None else e.paint.copy(), e.config, e.seed, e.psi)


def assert_unchanged(e: Editor, before) -> None:
    image, points, paint, config, seed, psi = before
    np.testing.assert_array_equal(e.image, image)
    assert e.points == points and e.config == config and (e.seed, e.psi) == (seed, psi)
    assert (paint is None and e.paint is None) or np.array_equal(paint, e.paint)


def bad_point_edit(rng: random.Random):
    kind = rng.randrange(4)
    if kind == 0:
        return SetPoints(junk(rng), junk(rng))
    bad = rng.choice([float("nan"), float("inf"), -1.0, 64.5, 1e12, -1e-3])
    x, y = (bad, rng.uniform(0, 63)) if rng.random() < 0.5 else (rng.uniform(0, 63), bad)
    if kind == 1:
        return AddPoint(x, y)
    return MovePoint(0, rng.random() < 0.5, x, y)


def test_bad_point_edits(editor):
    rng = random.Random(1)
    before = state_of(editor)
    refused = 0
    for _ in range(N_CASES):
        cmd = bad_point_edit(rng)
        try:
            editor.edit_points(cmd)
        except USER_ERRORS:
            refused += 1
            assert_unchanged(editor, before)
            continue
        # The few junk values that are valid points (e.g. [] and []) must leave a valid state.
        editor.edit_points(SetPoints(((20.0, 30.0),), ((30.0, 30.0),)))
    assert refused > 0.8 * N_CASES
    editor.edit_points(DeletePoint(10 ** 6))  # deleting what is not there is a no-op, not an error
    assert editor.points == before[1]


def test_bad_masks(editor):
    rng = random.Random(2)
    before = state_of(editor)
    makers = [lambda: np.zeros((rng.randint(1, 100), rng.randint(1, 100)), np.int8),
              lambda: np.full((64, 64), rng.choice([2, 5, -3, 127]), np.int8),
              lambda: np.full((64, 64), rng.choice([0.5, float("nan")])),
              lambda: np.zeros((64, 64, 3), np.int8), lambda: np.zeros((0,), np.int8),
              lambda: np.array("mask"), lambda: np.zeros((64, 64), dtype=object)]
    for _ in range(N_CASES // 3):
        with pytest.raises(USER_ERRORS):
            editor.set_mask(rng.choice(makers)())
        assert_unchanged(editor, before)


def test_bad_numbers(editor):
    rng = random.Random(3)
    before = state_of(editor)
    for _ in range(N_CASES):
        what = rng.randrange(3)
        try:
            if what == 0:
                editor.new_image(junk(rng), 0.7)
            elif what == 1:
                editor.new_image(1, junk(rng))
            else:
                field = rng.choice(["lr", "r1", "r2", "lambda_mask", "num_optimized_layers", "max_steps",
                                    "feature_block", "stop_distance", "latent_space", "tracking_distance"])
                editor.set_config(editor.config.with_(**{field: junk(rng)}))
        except USER_ERRORS:
            assert_unchanged(editor, before)
            continue
        # Some junk is valid (e.g. seed 12 or lr 5): put the state back and go on.
        editor.new_image(*before[4:]) if what < 2 else editor.set_config(before[3])
        before = state_of(editor)
    editor.start()  # still edits
    assert editor.step().error is None


def test_bad_sessions(editor, tmp_path):
    rng = random.Random(4)
    good = tmp_path / "good.json"
    editor.save_session(good)
    doc = json.loads(good.read_text())
    before = state_of(editor)
    keys = list(doc)
    path = tmp_path / "bad.json"
    for i in range(N_CASES):
        bad = copy.deepcopy(doc)
        kind = rng.randrange(5)
        if kind == 0:
            del bad[rng.choice(keys)]
        elif kind == 1:
            bad[rng.choice(keys)] = junk(rng)
        elif kind == 2:
            sub = rng.choice(["latent", "points", "settings"])
            if isinstance(bad[sub], dict) and bad[sub]:
                bad[sub][rng.choice(list(bad[sub]))] = junk(rng)
        elif kind == 3:
            bad["latent"]["shape"] = [1, 10 ** rng.randint(3, 400), 64]
        else:
            bad = junk(rng)
        text = json.dumps(bad, allow_nan=True)
        if rng.random() < 0.1:
            text = "[" * 100_000 + "]" * 100_000  # nested past any parser's recursion limit
        path.write_text(text)
        try:
            editor.load_session(path)
        except USER_ERRORS as e:
            assert str(e), "an error without a message"
            assert_unchanged(editor, before)
            continue
        before = state_of(editor)  # a mutation that is still a valid session opened it; go on from there
