"""The worker's preview pacing: previews at the GUI's rate on a fast model, a bounded share of the time on a slow one."""

from __future__ import annotations

import pytest

from draggan.preview_pacing import PreviewPacer


def _simulate(plain: float, rendering: float, min_interval: float, share: float, seconds: float = 20.0):
    """Steps on a fake clock: each costs `plain` s, or `rendering` s when it renders. -> (steps/s, previews/s, share)."""
    pacer, now, steps, previews, render_time = PreviewPacer(), 0.0, 0, 0, 0.0
    while now < seconds:
        render = pacer.due(now, min_interval, share)
        dt = rendering if render else plain
        pacer.record(dt, render)
        now += dt
        steps += 1
        previews += render
        render_time += (rendering - plain) if render else 0.0
    return steps / now, previews / now, render_time / now


def test_before_any_measurement_the_gui_rate_rules():
    pacer = PreviewPacer()
    assert pacer.interval(1 / 30, 0.5) == 1 / 30
    assert pacer.due(0.0, 1 / 30, 0.5) and not pacer.due(0.01, 1 / 30, 0.5) and pacer.due(0.04, 1 / 30, 0.5)
    pacer.record(0.5, True)
    assert not pacer.due(1.0, 1 / 30, 0.5)  # a step without the image is measured before the next preview


def test_a_slow_render_is_spaced_to_its_share():
    pacer = PreviewPacer()
    pacer.record(0.47, True)
    pacer.record(0.13, False)
    assert pacer.interval(1 / 30, 0.5) == pytest.approx(0.68)
    steps, previews, share = _simulate(0.13, 0.47, 1 / 30, 0.5)
    every_step, _, _ = _simulate(0.13, 0.47, 1 / 30, float("inf"))
    assert share <= 0.5 + 0.02 and previews >= 1.2  # about 1.5 previews a second
    assert steps >= 1.6 * every_step  # against an image every step (2.1 steps/s)


def test_a_fast_model_is_previewed_at_the_gui_rate():
    steps, previews, _ = _simulate(0.0125, 0.019, 1 / 30, 0.5)
    assert 20 <= previews <= 30  # every third step: 33 ms have passed (the next step starts after the interval)
    assert steps > 60
