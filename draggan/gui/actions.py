"""Every user action of the editor in one table: name, label, shortcuts, when it is enabled, what it does.

GUI input -> here -> app (worker commands, tools, views). The menus, the keyboard
handler, the F1 help and the panel buttons all read `ACTIONS`, so a shortcut shown
in a menu is the one that works, and a disabled menu item is a disabled key.
`run` and `enabled` take the `EditorApp`; they only send commands or change GUI
state, never touch the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from imgui_bundle import imgui

from .. import commands as c
from .file_dialogs import CHECKPOINT_FILTERS, NO_DIALOG, PHOTO_FILTERS, SAVE_FILTERS, SESSION_FILTERS


@dataclass(frozen=True)
class Key:
    key: imgui.Key
    label: str  # as shown in menus and help, e.g. "Ctrl+Z"
    ctrl: bool = False
    shift: bool = False


@dataclass(frozen=True)
class Action:
    name: str
    label: str  # menu / button text
    help: str  # one line for the F1 window
    run: Callable  # run(app)
    keys: tuple[Key, ...] = ()
    enabled: Callable = field(default=lambda app: True)  # enabled(app) -> bool
    checked: Callable | None = None  # checked(app) -> bool, for toggles shown with a tick

    @property
    def shortcut(self) -> str:
        return self.keys[0].label if self.keys else ""


def _has_model(app) -> bool:
    return app.state.resolution > 0


def _save(kind: str, cmd_type):
    def run(app):
        path = app.files.save_path(kind)
        send = lambda p: app.worker.send(cmd_type(p))  # noqa: E731
        if app.dialogs.save_file(f"Save {kind}", path, SAVE_FILTERS[kind], send):
            return
        if not path:
            app.show_error("type a file name under Files (save as) first")
            return
        send(path)
    return run


def _open_checkpoint(app) -> None:
    if not app.dialogs.open_file("Open checkpoint", CHECKPOINT_FILTERS, app.open_path):
        app.files.focus_checkpoint = True  # the fallback: the path field under Model
        app.state_note(NO_DIALOG)


def _open_image(app) -> None:
    if not app.dialogs.open_file("Open image", PHOTO_FILTERS, lambda path: app.photo_dialog.load(path, app)):
        app.photo_dialog.choose()  # the fallback: a path field in the dialog


def _set_tool(app, tool: str, mode: str | None = None) -> None:
    app.tools.tool = tool
    if mode is not None:
        app.tools.brush_mode = mode
    elif tool == "mask" and app.tools.brush_mode == "erase":
        app.tools.brush_mode = "movable"


def _brush(app, factor: float) -> None:
    app.tools.brush_radius = min(max(app.tools.brush_radius * factor, 1.0), 64.0)


def _delete_selected(app) -> None:
    app.edit_points(c.DeletePoint(app.canvas.selected))
    app.canvas.selected = None


def _clear_points(app) -> None:
    app.edit_points(c.ClearPoints())
    app.canvas.selected = None


def _reset_mask(app) -> None:
    if app.paint is not None:
        app.paint[:] = 0
        app.mark_paint_changed()
    app.send_mask()


def _random_image(app) -> None:
    app.image_params.seed = app.random_seed()
    app.worker.send(c.NewImage(app.image_params.seed, app.image_params.psi))


def _open_session(app) -> None:
    if app.dialogs.open_file("Open session", SESSION_FILTERS, app.open_path):
        return
    path = app.files.session_field.strip()  # the fallback: the session field under Files
    if path:
        app.open_path(path)
    else:
        app.show_error("type the path of a session file (.json) under Files first (" + NO_DIALOG + ")")


def _toggle(attr_owner: str, attr: str):
    def run(app):
        owner = getattr(app, attr_owner) if attr_owner else app
        setattr(owner, attr, not getattr(owner, attr))
    return run


def _flag(attr_owner: str, attr: str):
    return lambda app: bool(getattr(getattr(app, attr_owner) if attr_owner else app, attr))


K = imgui.Key
ACTIONS: dict[str, Action] = {a.name: a for a in (
    # File
    Action("open_checkpoint", "Open checkpoint...", "open a checkpoint (a file dialog, the path field, or drop a file)",
           _open_checkpoint, (Key(K.o, "Ctrl+O", ctrl=True),)),
    Action("open_session", "Open session...", "reopen a saved session", _open_session),
    Action("open_image", "Open image...", "edit your own picture: crop it, invert it into the model, then drag "
           "(or drop a PNG / JPEG onto the window)", _open_image, (Key(K.i, "Ctrl+I", ctrl=True),),
           lambda app: _has_model(app) and app.state.inversion is None),
    Action("save_image", "Save image (.png)", "save the image as PNG", _save("image", c.SaveImage),
           (Key(K.e, "Ctrl+E", ctrl=True),), _has_model),
    Action("save_latent", "Save latent (.npy)", "save the W+ latent", _save("latent", c.SaveLatent),
           enabled=_has_model),
    Action("save_session", "Save session (.json)", "save the session (reopen it with File > Open session)",
           _save("session", c.SaveSession), (Key(K.s, "Ctrl+S", ctrl=True),), _has_model),
    Action("save_gif", "Save animation (.gif)", "save the drag as a GIF", _save("gif", c.SaveAnimation),
           enabled=lambda app: app.state.frames > 1),
    Action("save_mp4", "Save animation (.mp4)", "save the drag as MP4 (needs imageio-ffmpeg)",
           _save("mp4", c.SaveAnimation), enabled=lambda app: app.state.frames > 1),
    Action("quit", "Quit", "quit (asks first when there is unsaved work)", lambda app: app.window.request_close(),
           (Key(K.q, "Ctrl+Q", ctrl=True),)),
    # Edit
    Action("start_stop", "Start / Stop", "start / stop the edit",
           lambda app: app.worker.send(c.Stop() if app.state.running else c.Start()), (Key(K.space, "Space"),),
           _has_model),
    Action("undo", "Undo drag", "undo the last drag or reset, with its points and mask",
           lambda app: app.worker.send(c.Undo()), (Key(K.z, "Ctrl+Z", ctrl=True),),
           lambda app: app.state.can_undo),
    Action("redo", "Redo drag", "redo", lambda app: app.worker.send(c.Redo()),
           (Key(K.y, "Ctrl+Y", ctrl=True), Key(K.z, "Ctrl+Shift+Z", ctrl=True, shift=True)),
           lambda app: app.state.can_redo),
    Action("reset_image", "Reset image", "back to the original image (undoable)",
           lambda app: app.worker.send(c.Reset()), (Key(K.r, "Ctrl+R", ctrl=True),), _has_model),
    Action("delete_point", "Delete selected pair", "delete the selected point pair", _delete_selected,
           (Key(K.delete, "Delete"), Key(K.backspace, "Backspace")),
           lambda app: app.canvas.selected is not None and app.canvas.selected < len(app.points.handles)),
    Action("clear_points", "Clear points", "delete all points", _clear_points, (Key(K.c, "C"),),
           lambda app: bool(app.points.handles)),
    Action("reset_mask", "Reset mask", "remove all paint: no mask term in the loss", _reset_mask,
           enabled=lambda app: app.paint is not None and bool(app.paint.any())),
    Action("random_seed", "New random image", "new random image (seed)", _random_image, (Key(K.n, "N"),),
           _has_model),
    # Tools
    Action("tool_points", "Points tool", "points tool: click a handle, then its target",
           lambda app: _set_tool(app, "points"), (Key(K.p, "P"),)),
    Action("tool_mask", "Mask brush", "mask brush: paint the region that may move (or pin pixels)",
           lambda app: _set_tool(app, "mask"), (Key(K.m, "M"),)),
    Action("tool_erase", "Mask eraser", "mask eraser", lambda app: _set_tool(app, "mask", "erase"), (Key(K.e, "E"),)),
    Action("brush_smaller", "Smaller brush", "smaller brush", lambda app: _brush(app, 1 / 1.25),
           (Key(K.left_bracket, "["),)),
    Action("brush_bigger", "Bigger brush", "bigger brush", lambda app: _brush(app, 1.25),
           (Key(K.right_bracket, "]"),)),
    # View
    Action("fit_view", "Fit image", "fit the image to the view", lambda app: app.canvas.fit(), (Key(K.f, "F"),)),
    Action("zoom_100", "Zoom 100 %", "zoom to 100 %", lambda app: app.canvas.set_zoom(1.0), (Key(K._1, "1"),)),
    Action("toggle_mask", "Show mask", "show / hide the mask", _toggle("tools", "show_mask"), (Key(K.h, "H"),),
           checked=_flag("tools", "show_mask")),
    Action("toggle_researcher", "Researchers' view", "researchers' view on / off",
           _toggle("researcher", "open"), (Key(K.f2, "F2"),), checked=_flag("researcher", "open")),
    Action("help", "Keyboard shortcuts", "this help", _toggle("", "show_help"), (Key(K.f1, "F1"),),
           checked=_flag("", "show_help")),
)}

# The menu bar: action names in order, "-" a separator, "@recent" the recent-files submenu.
MENUS = {
    "File": ["open_checkpoint", "@recent", "open_session", "open_image", "-", "save_image", "save_latent",
             "save_session", "save_gif", "save_mp4", "-", "quit"],
    "Edit": ["start_stop", "undo", "redo", "reset_image", "-", "delete_point", "clear_points", "reset_mask",
             "random_seed"],
    "View": ["fit_view", "zoom_100", "toggle_mask", "toggle_researcher"],
    "Help": ["help"],
}


def label_of(name: str) -> str:
    """The first shortcut of an action ('' if none), for menus and tooltips."""
    return ACTIONS[name].shortcut


def pressed_actions(io) -> list[str]:
    """Actions whose shortcut was pressed this frame (nothing while a text field has the keyboard)."""
    if io.want_text_input:
        return []
    return [a.name for a in ACTIONS.values() for k in a.keys
            if io.key_ctrl == k.ctrl and io.key_shift == k.shift and imgui.is_key_pressed(k.key, repeat=False)]
