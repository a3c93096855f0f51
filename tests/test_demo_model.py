"""The shipped demo model: its samples are faces the detector reads, and dragging works on them.

Thresholds come from measurements on this model (checkpoints/README.md, README "The demo model and
the landmark benchmark"); the tests fail if a retrained or damaged model falls below them.
"""

from __future__ import annotations

import json

import pytest

import draggan.demo.benchmark as bm
from draggan.checkpoints import DEFAULT_CHECKPOINT
from draggan.engine import DragSession
from stylegan2 import load_generator

# Measured: every landmark found in 99.8 % of seeds 0-499 (scripts/sample_grid.py --count 500).
MIN_DETECTION_RATE = 0.95
# `draggan benchmark --quick` measured MD 0.57 / 0.43 / 0.47 px (1 / 5 / all points) against
# 5.75 / 4.86 / 5.00 with no edit (ratios 0.10 / 0.09 / 0.09; with the paper's 1 px stop for few
# handles: 1.16 / 0.56 / 0.49; before issue 11: 2.31 / 1.95 / 2.18). The limits leave room for other
# CPUs' rounding, which can change where an edit stops, but fail if dragging gets clearly worse.
MAX_QUICK_MD = {"1": 1.5, "5": 1.2, "all": 1.2}  # px at 64x64
MAX_QUICK_RATIO = 0.35  # MD after the edit / MD of no edit, for every point count


@pytest.fixture(scope="module")
def demo_G():
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.fail(f"the shipped demo model {DEFAULT_CHECKPOINT} is missing")
    return load_generator(DEFAULT_CHECKPOINT)


def test_detector_finds_every_landmark_in_the_demo_models_samples(demo_G):
    rate = bm.detection_rate(demo_G, 100, first_seed=1000)  # seeds the README grid does not show
    assert rate["all_found"] >= MIN_DETECTION_RATE, rate["missed_seeds"]


def test_quick_benchmark_keeps_md_below_its_threshold(tmp_path):
    from draggan.cli import main
    out = tmp_path / "quick.json"
    assert main(["benchmark", "--quick", "--workers", "2", "--no-progress", "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    assert set(r["variants"]) == set(bm.variants(64, 300)) - {"ours"}
    for k in bm.POINT_SETS:
        assert r["md"][k] <= MAX_QUICK_MD[k], (k, r["md"])
        assert r["md"][k] <= MAX_QUICK_RATIO * r["md_no_edit"][k], (k, r["md"], r["md_no_edit"])


# The chin drag of issue 11 (seed 3, chin 6 px down): 300 steps and 3.6 px short before. With our
# defaults (docs/METHOD-NOTES.md) the tracked handle moves from the first step, is within 1 px (the
# issue's goal) at step 53 and stops at our 0.5 px at step 59.
CHIN_STEP_BUDGET = 60  # steps to within 1 px (issue 11)
CHIN_CONVERGED_BUDGET = 70  # steps to our stop distance, 0.5 px


def test_the_chin_drag_converges_within_its_step_budget(demo_G):
    session = DragSession.from_seed(demo_G, 3)
    session.set_points([[32, 44]], [[32, 50]])
    distances = []
    for _ in range(CHIN_CONVERGED_BUDGET + 1):
        r = session.step()
        distances.append(float(r.distances[0]))
        if r.done:
            break
    within_1px = next((i for i, d in enumerate(distances) if d <= 1.0), None)
    assert within_1px is not None and within_1px <= CHIN_STEP_BUDGET, distances[-5:]
    assert r.converged and r.status == "converged" and r.step <= CHIN_CONVERGED_BUDGET, (r.step, distances[-1])
    assert distances[-1] <= 0.5
    assert distances[3] < 6.0  # tracked motion within the first steps (whole pixels saw none for ~30)
