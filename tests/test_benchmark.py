"""The landmark benchmark's plumbing: pair sampling, point sets, the edit loop, the JSON schema.

These run the protocol on the random-weight fixture with the detector replaced by a stand-in
and check what the protocol itself must guarantee; tests/test_demo_model.py runs it for real
on the shipped demo model.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import draggan.demo.benchmark as bm
from draggan.errors import DragGANError
from draggan.demo.faces import FIVE_POINT, LANDMARK_NAMES

K = len(LANDMARK_NAMES)


def fake_detect(img):
    """Deterministic 'landmarks' from the image content, always all found."""
    rng = np.random.RandomState(int(img.sum()) % (2 ** 31))
    return rng.uniform(8, img.shape[0] - 8, size=(K, 2)), np.ones(K, bool)


def test_point_sets():
    pair = bm.Pair(1, 2, np.zeros((K, 2)), np.ones((K, 2)), single=7)
    assert bm.point_indices(pair, "1") == [7]
    assert bm.point_indices(pair, "5") == list(FIVE_POINT)
    assert bm.point_indices(pair, "all") == list(range(K))
    assert bm.mean_distance(np.zeros((3, 2)), np.full((3, 2), [3.0, 4.0])) == 5.0


def test_pairs_are_rejected_when_the_detector_fails(fixture_G, monkeypatch):
    monkeypatch.setattr(bm, "detect", lambda img: (np.zeros((K, 2)), np.zeros(K, bool)))
    with pytest.raises(DragGANError, match="detector fails"):
        bm.make_pairs(fixture_G, 1, seed=0, psi=1.0)


def test_protocol_runs_every_variant_and_writes_the_schema(fixture_G, monkeypatch, tmp_path):
    monkeypatch.setattr(bm, "detect", fake_detect)
    r = bm.benchmark(fixture_G, n_pairs=2, max_steps=3, variant_pairs=1, progress=False)
    for key in ("md", "md_no_edit", "seconds_per_edit"):
        assert set(r[key]) == {"1", "5", "all"}
    assert set(r["variants"]) == {bm.MASKED, "no tracking", "W instead of W+", "whole-pixel tracking",
                                  "supervision not anchored", "no re-anchoring", bm.STOP_1PX,
                                  "before issue 11 (2e-3, whole pixels, not anchored)",
                                  "official settings", "paper"}
    for v in (r, *r["variants"].values()):
        assert 0 <= v["converged_all_edits"] <= 1 and set(v["outside_change"]) == {"1", "5", "all"}
    assert all(v["pairs"] == 1 for v in r["variants"].values())
    assert all(s <= 3 for s in r["steps_per_edit"].values())
    # "no edit" is the distance between A's and B's detected landmarks, independent of the edit
    pairs, _ = bm.make_pairs(fixture_G, 2, seed=2023, psi=1.0)
    expected = np.mean([bm.mean_distance(p.points_a[list(FIVE_POINT)], p.points_b[list(FIVE_POINT)])
                        for p in pairs])
    assert r["md_no_edit"]["5"] == pytest.approx(expected)
    json.dumps(r)  # serialisable as the --json file
    table = bm.format_table(r)
    assert "no edit" in table and "paper 0.19" in table


def test_sample_images_match_one_seed_at_a_time(fixture_G):
    from draggan.engine import seed_to_ws
    from draggan.images import to_uint8
    batched = bm.sample_images(fixture_G, [3, 11, 5], batch=2)
    for img, seed in zip(batched, (3, 11, 5)):
        with torch.no_grad():
            single = to_uint8(fixture_G.synthesis(seed_to_ws(fixture_G, seed)))
        assert np.abs(img.astype(int) - single.astype(int)).max() <= 1  # batch vs single rounding


def test_detection_rate_counts_misses_per_landmark_and_seed(fixture_G, monkeypatch):
    calls = []

    def detect_every_third_misses_landmark_4(img):
        found = np.ones(K, bool)
        found[4] = len(calls) % 3 != 0
        calls.append(img)
        return np.zeros((K, 2)), found

    monkeypatch.setattr(bm, "detect", detect_every_third_misses_landmark_4)
    r = bm.detection_rate(fixture_G, 6, first_seed=10)
    assert len(calls) == 6 and r["samples"] == 6
    assert r["all_found"] == pytest.approx(4 / 6)
    assert r["per_landmark"][LANDMARK_NAMES[4]] == pytest.approx(4 / 6)
    assert all(v == 1.0 for k, v in r["per_landmark"].items() if k != LANDMARK_NAMES[4])
    assert r["missed_seeds"] == [10, 13]


def test_parallel_workers_give_the_serial_results(fixture_G, sg2ada_path, monkeypatch):
    monkeypatch.setattr(bm, "detect", fake_detect)  # pair sampling only; workers detect for real
    pairs, _ = bm.make_pairs(fixture_G, 2, seed=7, psi=1.0)
    config = bm.variants(64, max_steps=4)["ours"]
    jobs = [(p, bm.point_indices(p, which), config, 1.0) for p in pairs for which in ("1", "5")]
    monkeypatch.undo()  # both sides detect the edited image with the real detector
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the workers' setting, so both sides add up in the same order
    try:
        serial = list(bm._run_edits(fixture_G, jobs, 1, None))
    finally:
        torch.set_num_threads(threads)
    parallel = list(bm._run_edits(None, jobs, 2, str(sg2ada_path)))
    assert len(parallel) == len(jobs)
    for (md_s, _, steps_s, ok_s, conv_s, out_s), (md_p, _, steps_p, ok_p, conv_p, out_p) in zip(serial, parallel):
        assert md_p == pytest.approx(md_s, abs=1e-4) and steps_p == steps_s and ok_p == ok_s
        assert conv_p == conv_s and out_p == pytest.approx(out_s, abs=1e-4)
    with pytest.raises(DragGANError, match="path"):
        list(bm._run_edits(fixture_G, jobs, 2, None))


def test_official_and_paper_rows_are_the_faithful_configs_made_runnable(fixture_G):
    """Only what cannot run at the size changes: b128 below 128 px, r1 = 0 below 86 px."""
    from draggan.engine import DragSession, official_config, paper_config
    from draggan.engine.config import R1_MIN
    for name, make in (("official settings", official_config), ("paper", paper_config)):
        assert bm.variants(512, 300)[name] == make(512, max_steps=300)
        assert bm.variants(128, 300)[name] == make(128, max_steps=300)
        small = bm.variants(64, 300)[name]
        assert small == make(64, max_steps=300, feature_block=32, r1=R1_MIN)
        DragSession(fixture_G, torch.zeros(1, fixture_G.w_dim), small)  # runs at 64 px
