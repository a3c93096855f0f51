"""Keyboard shortcuts: one table read both by the key handler and by the help window."""

from __future__ import annotations

from dataclasses import dataclass

from imgui_bundle import imgui


@dataclass(frozen=True)
class Shortcut:
    key: imgui.Key
    action: str  # an EditorApp action name
    label: str  # as shown in menus and help
    description: str
    ctrl: bool = False
    shift: bool = False


SHORTCUTS = (
    Shortcut(imgui.Key.space, "start_stop", "Space", "start / stop the edit"),
    Shortcut(imgui.Key.z, "undo", "Ctrl+Z", "undo the last drag (or reset)", ctrl=True),
    Shortcut(imgui.Key.y, "redo", "Ctrl+Y", "redo", ctrl=True),
    Shortcut(imgui.Key.z, "redo", "Ctrl+Shift+Z", "redo", ctrl=True, shift=True),
    Shortcut(imgui.Key.r, "reset_image", "Ctrl+R", "back to the original image (undoable)", ctrl=True),
    Shortcut(imgui.Key.p, "tool_points", "P", "points tool: click a handle, then its target"),
    Shortcut(imgui.Key.m, "tool_mask", "M", "mask brush: paint the region that may move (or pin pixels)"),
    Shortcut(imgui.Key.e, "tool_erase", "E", "mask eraser"),
    Shortcut(imgui.Key.left_bracket, "brush_smaller", "[", "smaller brush"),
    Shortcut(imgui.Key.right_bracket, "brush_bigger", "]", "bigger brush"),
    Shortcut(imgui.Key.h, "toggle_mask", "H", "show / hide the mask"),
    Shortcut(imgui.Key.delete, "delete_point", "Delete", "delete the selected point pair"),
    Shortcut(imgui.Key.backspace, "delete_point", "Backspace", "delete the selected point pair"),
    Shortcut(imgui.Key.c, "clear_points", "C", "delete all points"),
    Shortcut(imgui.Key.n, "random_seed", "N", "new random image (seed)"),
    Shortcut(imgui.Key.f, "fit_view", "F", "fit the image to the view"),
    Shortcut(imgui.Key._1, "zoom_100", "1", "zoom to 100 %"),
    Shortcut(imgui.Key.f2, "toggle_researcher", "F2", "researchers' view on / off"),
    Shortcut(imgui.Key.s, "save_session", "Ctrl+S", "save the session (reopen it with File > Open session)", ctrl=True),
    Shortcut(imgui.Key.e, "save_image", "Ctrl+E", "save the image as PNG", ctrl=True),
    Shortcut(imgui.Key.o, "open_checkpoint", "Ctrl+O", "open a checkpoint (type a path, or drop a file)", ctrl=True),
    Shortcut(imgui.Key.f1, "help", "F1", "this help"),
    Shortcut(imgui.Key.q, "quit", "Ctrl+Q", "quit", ctrl=True),
)

MOUSE_HELP = (
    ("Left click", "points tool: add a handle, then its target; drag a point to move it"),
    ("Right click", "on a point: delete its pair"),
    ("Left drag", "mask brush: paint (right drag erases)"),
    ("Wheel", "zoom at the cursor"),
    ("Middle / right drag", "pan"),
    ("Drop a file", "open a checkpoint (.pkl, .pt, .safetensors) or a session (.json)"),
)


def label_of(action: str) -> str:
    """The first shortcut label of an action ('' if none), for menus."""
    return next((s.label for s in SHORTCUTS if s.action == action), "")


def pressed_actions(io) -> list[str]:
    """Actions whose shortcut was pressed this frame (nothing while a text field has the keyboard)."""
    if io.want_text_input:
        return []
    out = []
    for s in SHORTCUTS:
        if io.key_ctrl == s.ctrl and io.key_shift == s.shift and imgui.is_key_pressed(s.key, repeat=False):
            out.append(s.action)
    return out


def draw_help_window(open_: bool) -> bool:
    """The shortcut table; returns whether it stays open."""
    if not open_:
        return False
    imgui.set_next_window_size(imgui.ImVec2(520, 0), imgui.Cond_.appearing)
    imgui.set_next_window_pos(imgui.get_main_viewport().get_center(), imgui.Cond_.appearing, imgui.ImVec2(0.5, 0.5))
    expanded, open_ = imgui.begin("Keyboard shortcuts and mouse", open_, imgui.WindowFlags_.no_collapse)
    if expanded:
        for title, rows in (("Keys", [(s.label, s.description) for s in SHORTCUTS]), ("Mouse", MOUSE_HELP)):
            imgui.separator_text(title)
            if imgui.begin_table(f"##{title}", 2, imgui.TableFlags_.row_bg | imgui.TableFlags_.borders_inner_h):
                imgui.table_setup_column("key", imgui.TableColumnFlags_.width_fixed, 150)
                imgui.table_setup_column("does", imgui.TableColumnFlags_.width_stretch)
                for key, what in rows:
                    imgui.table_next_row()
                    imgui.table_next_column()
                    imgui.text(key)
                    imgui.table_next_column()
                    imgui.text_wrapped(what)
                imgui.end_table()
        imgui.text_disabled("Shortcuts do nothing while a text field has the keyboard (press Esc to leave it).")
    imgui.end()
    return open_
