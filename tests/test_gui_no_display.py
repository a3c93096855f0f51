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
