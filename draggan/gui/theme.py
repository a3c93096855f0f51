"""Colours and the look of the editor (a dark theme with one accent), in one place."""

from __future__ import annotations

from imgui_bundle import imgui

HANDLE = (0.93, 0.22, 0.22, 1.0)  # red, as in the paper's figures
TARGET = (0.25, 0.50, 1.00, 1.0)  # blue
TRAIL = (1.00, 0.55, 0.45, 0.85)
ARROW = (1.00, 1.00, 1.00, 0.95)
OUTLINE = (0.0, 0.0, 0.0, 0.75)
SELECTED = (1.00, 0.85, 0.20, 1.0)
R1_WINDOW = (1.00, 0.85, 0.20, 0.9)  # motion supervision disk
R2_WINDOW = (0.30, 0.95, 0.85, 0.9)  # tracking square
BRUSH_MOVABLE = (0.35, 0.90, 0.55, 1.0)
BRUSH_FIXED = (0.55, 0.55, 0.70, 1.0)
BRUSH_ERASE = (1.0, 1.0, 1.0, 0.8)
WINDOW_BG = (0.11, 0.115, 0.125)  # cleared with glClear (see Window.background)
CANVAS_BG = (0.06, 0.065, 0.075)
OK = (0.40, 0.85, 0.45, 1.0)
WARN = (0.95, 0.75, 0.30, 1.0)
ERROR = (1.00, 0.40, 0.38, 1.0)
MUTED = (0.62, 0.64, 0.68, 1.0)
ACCENT = (0.26, 0.55, 0.95, 1.0)
START = (0.18, 0.55, 0.30, 1.0)
STOP = (0.70, 0.22, 0.22, 1.0)
STATUS_COLOURS = {"running": ACCENT, "converged": OK, "stopped": WARN, "step limit": WARN, "stuck": WARN, "error": ERROR,
                  "idle": MUTED}


def u32(rgba) -> int:
    return imgui.get_color_u32(imgui.ImVec4(*rgba))


def apply_theme(scale: float = 1.0) -> None:
    imgui.style_colors_dark()
    style = imgui.get_style()
    style.window_rounding = 0.0
    style.child_rounding = 4.0
    style.frame_rounding = 4.0
    style.grab_rounding = 4.0
    style.popup_rounding = 4.0
    style.tab_rounding = 4.0
    style.scrollbar_rounding = 6.0
    style.window_border_size = 0.0
    style.frame_padding = imgui.ImVec2(7, 4)
    style.item_spacing = imgui.ImVec2(8, 6)
    style.window_padding = imgui.ImVec2(10, 8)
    colours = {
        imgui.Col_.window_bg: (*WINDOW_BG, 1.0),  # popups and menus; the main window is cleared instead
        imgui.Col_.child_bg: (0.0, 0.0, 0.0, 0.0),
        imgui.Col_.menu_bar_bg: (0.09, 0.095, 0.105, 1.0),
        imgui.Col_.frame_bg: (0.18, 0.19, 0.21, 1.0),
        imgui.Col_.frame_bg_hovered: (0.23, 0.25, 0.28, 1.0),
        imgui.Col_.frame_bg_active: (0.26, 0.29, 0.33, 1.0),
        imgui.Col_.header: (0.17, 0.19, 0.22, 1.0),
        imgui.Col_.header_hovered: (0.22, 0.26, 0.32, 1.0),
        imgui.Col_.header_active: (0.24, 0.30, 0.38, 1.0),
        imgui.Col_.button: (0.20, 0.22, 0.25, 1.0),
        imgui.Col_.button_hovered: (0.26, 0.36, 0.50, 1.0),
        imgui.Col_.button_active: (0.26, 0.45, 0.70, 1.0),
        imgui.Col_.slider_grab: ACCENT,
        imgui.Col_.check_mark: ACCENT,
        imgui.Col_.separator: (0.22, 0.23, 0.26, 1.0),
    }
    for idx, rgba in colours.items():
        style.set_color_(idx, imgui.ImVec4(*rgba))
    if scale != 1.0:
        style.scale_all_sizes(scale)
