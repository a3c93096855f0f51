"""The status line under the canvas and the error banner over it."""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui

from ..worker import WorkerState
from . import theme
from .driver import record_item


def draw_status_bar(s: WorkerState, right: str, note: str = "") -> None:
    """Run status, step, distance and loss, then `note` or else the last message; `right` is right-aligned."""
    imgui.separator()
    colour = theme.STATUS_COLOURS.get(s.status, theme.MUTED)
    pos, h = imgui.get_cursor_screen_pos(), imgui.get_text_line_height()
    imgui.get_window_draw_list().add_circle_filled(imgui.ImVec2(pos.x + h / 2, pos.y + h / 2), h / 3,
                                                   theme.u32(colour))
    imgui.dummy(imgui.ImVec2(h, h))
    imgui.same_line()
    parts = [s.status]
    if s.resolution:
        parts.append(f"step {s.step}/{s.config.max_steps}")
        if len(s.distances):
            parts.append(f"max distance {float(np.max(s.distances)):.1f} px")
        if len(s.losses) and np.isfinite(s.losses[-1]):
            parts.append(f"loss {s.losses[-1]:.3g}")
        if s.dirty:
            parts.append("unsaved")
    imgui.text("  |  ".join(parts))
    message = note or s.message
    if message:
        imgui.same_line()
        imgui.text_disabled("  " + message)
    imgui.same_line(max(imgui.get_window_width() - imgui.calc_text_size(right).x - 16, 0))
    imgui.text_disabled(right)


def draw_error_banner(error: str | None, rects: dict) -> bool:
    """The newest error over the top of the canvas; True when the user dismissed it."""
    if not error:
        return False
    pad = 8.0
    imgui.set_cursor_pos(imgui.ImVec2(pad, pad))
    imgui.push_style_color(imgui.Col_.child_bg, imgui.ImVec4(0.33, 0.08, 0.08, 0.96))
    imgui.begin_child("##error", imgui.ImVec2(imgui.get_window_width() - 2 * pad, 0),
                      imgui.ChildFlags_.auto_resize_y | imgui.ChildFlags_.always_use_window_padding)
    imgui.text_colored(imgui.ImVec4(*theme.ERROR), "Error")
    imgui.same_line(imgui.get_content_region_avail().x - 60)
    dismissed = imgui.small_button("Dismiss")
    record_item(rects, "dismiss_error")
    imgui.text_wrapped(error)
    imgui.end_child()
    imgui.pop_style_color()
    record_item(rects, "error_banner")
    return dismissed
