"""Without a display, `draggan gui` explains what to do instead of printing a traceback."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_display_gives_a_clear_message(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["DRAGGAN_CONFIG_DIR"] = str(tmp_path)
    for argv in (["gui"], []):  # `draggan` with no command opens the GUI too
        r = subprocess.run([sys.executable, "-m", "draggan.cli", *argv], env=env, capture_output=True, text=True,
                           timeout=120, cwd=ROOT)
        assert r.returncode == 2, r.stderr
        assert "no display" in r.stderr and "xvfb-run -a draggan" in r.stderr and "draggan edit" in r.stderr
        assert "Traceback" not in r.stderr


def test_a_display_that_refuses_for_a_moment_is_retried(monkeypatch):
    """An X server resetting after its last client left refuses connections briefly (the old GUI-test flake)."""
    import glfw
    from draggan.gui import window
    calls = []

    def flaky_init():
        calls.append(1)
        if len(calls) < 3:
            raise glfw.GLFWError("(65550) b'X11: Failed to open display :99'")

    monkeypatch.setattr(glfw, "init", flaky_init)
    window._init_glfw()
    assert len(calls) == 3


def test_a_display_that_stays_away_is_reported(monkeypatch):
    import glfw
    import pytest
    from draggan.errors import DragGANError
    from draggan.gui import window

    def missing():
        raise glfw.GLFWError("(65550) b'X11: Failed to open display :99'")

    monkeypatch.setattr(glfw, "init", missing)
    monkeypatch.setattr(window, "DISPLAY_RETRY_S", 0.2)
    with pytest.raises(DragGANError, match="no display"):
        window._init_glfw()
