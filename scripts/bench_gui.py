"""Frame rate of the editor window with and without an edit running (CPU), under a virtual screen.

    OMP_NUM_THREADS=1 xvfb-run -a -s "-screen 0 1280x800x24" python scripts/bench_gui.py

Opens the real window on a checkpoint (default: the 64x64 test fixture), places a
handle and a far target, and measures for --seconds each, first idle, then while the
worker runs the edit (its step limit raised so that it keeps running): frames drawn
per second, frame times, and the edit's steps per second, in three modes (see `measure`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from draggan.engine import DragConfig  # noqa: E402
from draggan.gui.app import AppOptions, EditorApp  # noqa: E402
from draggan.gui.driver import Driver  # noqa: E402
from draggan.gui.window import Window  # noqa: E402
from draggan.commands import SetConfig  # noqa: E402
from draggan.limits import MAX_STEPS  # noqa: E402

FIXTURE = ROOT.parent / "shared" / "fixtures" / "sg2ada_64.pkl"


def measure(app: EditorApp, seconds: float, mode: str) -> dict:
    """Frames drawn per second, frame times and the edit's steps per second over `seconds`.

    'uncapped': frames back to back (what the GUI thread can draw); 'interacting': the app's
    own loop with fresh input every turn (it draws at its 60 fps cap); 'watching': the app's
    loop with no input (it draws when the worker publishes a result, at least 10 fps).
    """
    frames0, step0 = app.frames, app.worker.snapshot().step
    t_start = time.perf_counter()
    while time.perf_counter() < t_start + seconds:
        if mode == "uncapped":
            app.frame()
        else:
            if mode == "interacting":
                app.window.last_input_time = time.perf_counter()  # as if the mouse had just moved
            app.loop_once()
    elapsed = time.perf_counter() - t_start
    drawn = app.frames - frames0
    ms = sorted(1000 * t for t in list(app.frame_times)[-min(drawn, len(app.frame_times)):]) or [0.0]
    return {"fps": round(drawn / elapsed, 1), "frame_ms_median": round(statistics.median(ms), 1),
            "frame_ms_p95": round(ms[int(0.95 * (len(ms) - 1))], 1),
            "edit_steps_per_s": round((app.worker.snapshot().step - step0) / elapsed, 1)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(FIXTURE))
    p.add_argument("--seconds", type=float, default=5.0, help="per measurement")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args()

    window = Window("DragGAN editor (benchmark)", install_callbacks=False)
    app = EditorApp(window, AppOptions(checkpoint=args.checkpoint))
    drive = Driver(app)
    try:
        drive.wait_until(lambda: app.state.resolution > 0 and app.image_tex.ready, 120, "the model to load")
        res = app.state.resolution
        app.worker.send(SetConfig(DragConfig(max_steps=MAX_STEPS)))
        drive.click(app.canvas.to_screen(0.25 * res, 0.5 * res))
        drive.click(app.canvas.to_screen(0.75 * res, 0.5 * res))
        drive.frames(10)
        results = {"checkpoint": Path(args.checkpoint).name, "resolution": res}
        modes = ("uncapped", "interacting", "watching")
        for mode in modes:
            results[f"idle {mode}"] = measure(app, args.seconds, mode)
        app.do("start_stop")
        drive.wait_until(lambda: app.state.running and app.state.step >= 2, 60, "the edit to start")
        for mode in modes:
            results[f"editing {mode}"] = measure(app, args.seconds, mode)
        app.do("start_stop")
        drive.wait_until(lambda: not app.state.running, 30, "the edit to stop")
    finally:
        app.close()
    for k, v in results.items():
        print(f"{k:>18}: {v}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
