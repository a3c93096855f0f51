"""`draggan benchmark --real`: Table 1's protocol with A a family render inverted by the engine.

One pair on the shipped demo model with tiny inversion budgets (W 30 + PTI 30 steps): the schema,
the no-edit distance recomputed by an independent path, and what must hold if inversion and drag
work at all: the reconstruction resembles A and the drag brings A's landmarks closer to B's.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import draggan.demo.benchmark as bm
from draggan.checkpoints import DEFAULT_CHECKPOINT
from draggan.demo.faces import FIVE_POINT, render, sample_params
from draggan.demo.real_benchmark import format_real_table, real_inversion
from draggan.errors import DragGANError
from stylegan2 import load_generator

SEED = 2023


@pytest.fixture(scope="module")
def demo_G():
    if not DEFAULT_CHECKPOINT.is_file():
        pytest.fail(f"the shipped demo model {DEFAULT_CHECKPOINT} is missing")
    return load_generator(DEFAULT_CHECKPOINT)


@pytest.fixture(scope="module")
def one_pair(demo_G):
    return bm.benchmark(demo_G, 1, seed=SEED, max_steps=100, progress=False, inversion=real_inversion(30, 0, 30))


def test_real_benchmark_schema(one_pair):
    r = one_pair
    assert r["real"] and r["pairs"] == 1 and len(r["per_pair"]) == 1
    for key in ("md", "md_no_edit", "md_no_edit_reconstruction", "seconds_per_edit", "steps_per_edit",
                "steps_median", "converged", "lost_landmarks"):
        assert set(r[key]) == set(bm.POINT_SETS), key
    assert r["per_pair"][0]["stage_steps"]["w"] == 30 and 1 <= r["per_pair"][0]["stage_steps"]["pti"] <= 30
    assert all(s <= 100 for s in r["steps_per_edit"].values())
    json.dumps(r)
    assert "ours, on the inverted A" in format_real_table(r)


def test_no_edit_is_the_family_render_against_the_standard_b(demo_G, one_pair):
    """A: the first family face of default_rng(seed) (all landmarks found); B: the standard benchmark's first B."""
    picture, _ = render(sample_params(np.random.default_rng(SEED)), 64)
    a, found = bm.detect(picture)
    assert found.all()
    (pair,), _ = bm.make_pairs(demo_G, 1, SEED, 1.0)
    idx = list(FIVE_POINT)
    assert one_pair["md_no_edit"]["5"] == pytest.approx(bm.mean_distance(a[idx], pair.points_b[idx]))
    assert one_pair["per_pair"][0]["seed_b"] == pair.seed_b


def test_inverted_a_resembles_a_and_the_drag_moves_it_towards_b(one_pair):
    inv = one_pair["inversion"]
    assert inv["psnr"] > 22.0  # measured 25.1 dB after W 30 + PTI 30
    assert inv["landmark_px"] < 1.0  # measured 0.24 px against the family's exact landmarks
    for k in ("5", "all"):  # measured 0.36 vs 2.63 and 0.95 vs 3.04 px (re-anchoring every 20 steps)
        assert one_pair["md"][k] < 0.6 * one_pair["md_no_edit"][k], (k, one_pair["md"], one_pair["md_no_edit"])


def test_real_steps_need_real():
    from draggan.cli import main
    assert main(["benchmark", "--real-steps", "1", "0", "1", "--pairs", "1"]) != 0
    with pytest.raises(DragGANError, match="variant-pairs"):
        bm.run_benchmark(None, pairs=1, variant_pairs=1, real_steps=(1, 0, 1))
