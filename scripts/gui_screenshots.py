"""The README's screenshots of the editor, taken from the real window under a virtual screen.

    OMP_NUM_THREADS=1 xvfb-run -a -s "-screen 0 1280x800x24" python scripts/gui_screenshots.py

Writes docs/screenshots/editor.png (an edit under way: points, trails, mask, loss
curves) and docs/screenshots/researcher.png (the researchers' view: PCA of a
block's features, a similarity heat map, the r1 / r2 windows). Default model: the
shipped demo model (the test fixture if it is missing); pass --checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from draggan.checkpoints import DEFAULT_CHECKPOINT  # noqa: E402
from draggan.gui.app import AppOptions, EditorApp  # noqa: E402
from draggan.gui.driver import Driver  # noqa: E402
from draggan.gui.window import Window  # noqa: E402
from draggan.commands import SetConfig  # noqa: E402

FIXTURE = ROOT.parent / "shared" / "fixtures" / "sg2ada_64.pkl"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(DEFAULT_CHECKPOINT if DEFAULT_CHECKPOINT.is_file() else FIXTURE))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=None, help="step size of the edit (default: the editor's)")
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--steps", type=int, default=25, help="steps of the edit before the editor screenshot")
    args = p.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    app = EditorApp(Window("DragGAN editor", install_callbacks=False),
                    AppOptions(checkpoint=args.checkpoint, seed=args.seed))
    drive = Driver(app)
    try:
        drive.wait_until(lambda: app.state.resolution > 0 and app.image_tex.ready, 120, "the model to open")
        drive.frames(3)
        res = app.state.resolution
        at = lambda fx, fy: app.canvas.to_screen(fx * res, fy * res)  # noqa: E731  (fractions of the image)
        if args.lr is not None:
            app.settings.config = app.settings.config.with_(lr=args.lr)
            app.worker.send(SetConfig(app.settings.config))
        for handle, target in drag_points(app.state.image, res):
            drive.click(at(*handle))
            drive.click(at(*target))
        drive.click_item("start_stop")
        drive.wait_until(lambda: app.state.step >= args.steps, 120, "the edit to run")
        # Then a movable region around the edit, painted as one stroke while it runs (after the
        # handles have moved, so the picture shows both).
        drive.key(drive_key("m"))
        app.tools.brush_radius = 0.2 * res
        drive.drag(at(0.36, 0.62), at(0.62, 0.36), samples=4)
        drive.key(drive_key("p"))
        drive.move(at(0.85, 0.85))  # the cursor on the image, away from the buttons (no tooltip)
        drive.frames(3)
        drive.screenshot(out / "editor.png")
        drive.click_item("start_stop")
        drive.wait_until(lambda: not app.state.running, 30, "the edit to stop")

        drive.key(drive_key("f2"))
        app.tools.show_mask = False
        app.show_progress = False  # room for the whole researchers' view
        query = at(0.40, 0.47)
        drive.move(query)
        q = app.canvas.to_image(*query)
        drive.wait_until(lambda: app.state.features is not None and app.state.features.heat is not None
                         and app.state.features.query == (float(round(q[0])), float(round(q[1]))), 30,
                         "the researchers' view")
        drive.frames(3)
        drive.screenshot(out / "researcher.png")
    finally:
        app.close()
    print(f"wrote {out / 'editor.png'} and {out / 'researcher.png'}")
    return 0


def drag_points(image, res: int):
    """Handle and target pairs, as fractions of the image: on the demo faces a smile and a raised
    brow (from the detected landmarks), elsewhere two fixed drags."""
    from draggan.demo.faces import LANDMARK_NAMES, detect_landmarks
    pts, found = detect_landmarks(image)
    if not found.all():
        return (((0.30, 0.50), (0.52, 0.42)), ((0.62, 0.38), (0.66, 0.22)))
    p = {name: pts[i] / res for i, name in enumerate(LANDMARK_NAMES)}
    lift = 0.05
    return ((tuple(p["mouth_left_corner"]), tuple(p["mouth_left_corner"] + (-lift, -lift))),
            (tuple(p["mouth_right_corner"]), tuple(p["mouth_right_corner"] + (lift, -lift))),
            (tuple(p["left_brow_inner"]), tuple(p["left_brow_inner"] + (0, -lift))))


def drive_key(name: str):
    from imgui_bundle import imgui
    return getattr(imgui.Key, name)


if __name__ == "__main__":
    sys.exit(main())
