"""The F1 help window: every action's shortcuts (from `actions.ACTIONS`) and what the mouse does."""

from __future__ import annotations

from imgui_bundle import imgui

from .actions import ACTIONS


MOUSE_HELP = (
    ("Left click", "points tool: add a handle, then its target; drag a point to move it"),
    ("Right click", "on a point: delete its pair"),
    ("Left drag", "mask brush: paint (right drag erases)"),
    ("Wheel", "zoom at the cursor"),
    ("Middle / right drag", "pan"),
    ("Drop a file", "open a checkpoint (.pkl, .pt, .safetensors), a session (.json) or a picture to invert "
                    "(.png, .jpg, ...)"),
)


KEY_HELP = tuple((" / ".join(k.label for k in a.keys), a.help) for a in ACTIONS.values() if a.keys)


def draw_help_window(open_: bool) -> bool:
    """The shortcut table; returns whether it stays open."""
    if not open_:
        return False
    imgui.set_next_window_size(imgui.ImVec2(520, 0), imgui.Cond_.appearing)
    imgui.set_next_window_pos(imgui.get_main_viewport().get_center(), imgui.Cond_.appearing, imgui.ImVec2(0.5, 0.5))
    expanded, open_ = imgui.begin("Keyboard shortcuts and mouse", open_, imgui.WindowFlags_.no_collapse)
    if expanded:
        for title, rows in (("Keys", KEY_HELP), ("Mouse", MOUSE_HELP)):
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
