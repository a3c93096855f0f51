"""The editor window's layout: control panel, canvas and progress / researchers' view, as functions of the app.

app -> here -> panels, canvas. These functions draw one frame from the app's state
and hand what the user did back to the app (`app.do`, `app.edit_points`,
`app.worker.send`); they keep no state of their own.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from imgui_bundle import imgui

from ..commands import NewImage, SetConfig
from . import theme
from .canvas import Overlays
from .help_window import draw_help_window
from .menus import draw_menu_bar
from .panels import (draw_files_section, draw_image_section, draw_mask_section, draw_model_section,
                     draw_points_section, draw_run_section, draw_settings_section)
from .progress import draw_progress_panel
from .researcher import draw_researcher_panel
from .status import draw_error_banner, draw_status_bar
from .texture import magnify, pixel_factor
from ..mask import overlay_rgba

LEFT_WIDTH = 330  # px, control panel
RIGHT_WIDTH = 340  # px, progress and researchers' view


def draw_editor(app) -> None:
    """The whole window: menus, the three columns, the status line, help and questions."""
    draw_menu_bar(app)
    vp = imgui.get_main_viewport()
    imgui.set_next_window_pos(vp.work_pos)
    imgui.set_next_window_size(vp.work_size)
    flags = (imgui.WindowFlags_.no_decoration | imgui.WindowFlags_.no_move | imgui.WindowFlags_.no_saved_settings
             | imgui.WindowFlags_.no_bring_to_front_on_focus | imgui.WindowFlags_.no_background)
    imgui.begin("##editor", None, flags)
    status_h = imgui.get_frame_height() + 4
    avail = imgui.get_content_region_avail()
    body_h = avail.y - status_h - imgui.get_style().item_spacing.y
    spacing = imgui.get_style().item_spacing.x
    centre_w = max(avail.x - LEFT_WIDTH - RIGHT_WIDTH - 2 * spacing, 100)

    imgui.begin_child("##left", imgui.ImVec2(LEFT_WIDTH, body_h), imgui.ChildFlags_.always_use_window_padding)
    pos = imgui.get_window_pos()
    app.rects["left_panel"] = ((pos.x, pos.y), (pos.x + LEFT_WIDTH, pos.y + body_h))
    _draw_left(app)
    imgui.end_child()
    imgui.same_line()
    imgui.begin_child("##centre", imgui.ImVec2(centre_w, body_h), 0,
                      imgui.WindowFlags_.no_scrollbar | imgui.WindowFlags_.no_scroll_with_mouse)
    _draw_centre(app)
    imgui.end_child()
    imgui.same_line()
    imgui.begin_child("##right", imgui.ImVec2(RIGHT_WIDTH, body_h), imgui.ChildFlags_.always_use_window_padding)
    app.show_progress = draw_progress_panel(app.state, app.show_progress)
    imgui.spacing()
    hovered = draw_researcher_panel(app.researcher, app.state, app.points, app.pca_tex, app.heat_tex,
                                    app.image_tex, app.rects)
    if hovered is not None:
        app.hover = hovered
    imgui.end_child()
    ms = 1000 * float(np.mean(app.frame_times)) if app.frame_times else 0.0
    draw_status_bar(app.state, (f"{app.hover[0]:.0f}, {app.hover[1]:.0f}   " if app.hover else "")
                    + f"zoom {100 * app.canvas.zoom:.0f} %   frame {ms:.1f} ms   F1: help", app.note)
    imgui.end()
    app.show_help = draw_help_window(app.show_help)
    app.guard.draw(app)
    app.photo_dialog.draw(app)

def _draw_left(app) -> None:
    s = app.state
    to_open = draw_model_section(app.files, s, app.recent.items, app.rects)
    if to_open:
        app.open_path(to_open)
    imgui.begin_disabled(not s.resolution)
    if draw_image_section(app.image_params, app.random_seed) and s.resolution:
        app.worker.send(NewImage(app.image_params.seed, app.image_params.psi))
    imgui.separator_text("Edit")
    action = draw_run_section(s, app.rects, app.action_enabled)
    if action:
        app.do(action)
    for a in draw_points_section(app.tools, app.points, s, app.canvas.selected):
        app.do(a) if isinstance(a, str) else app.edit_points(a)
    action = draw_mask_section(app.tools, app.paint is not None and bool(app.paint.any()))
    if action:
        app.do(action)
    if draw_settings_section(app.settings, s):
        app.worker.send(SetConfig(app.settings.config))
    imgui.end_disabled()
    action = draw_files_section(app.files, s, app.rects)
    if action:
        app.do(action)

def _draw_centre(app) -> None:
    s = app.state
    factor = pixel_factor(app.canvas.zoom, max(s.size))
    if factor != app.texel_factor:  # zoomed across a step: re-magnify the textures once
        app.texel_factor = factor
        app.paint_dirty = True
        if s.image is not None:
            app.image_tex.upload(magnify(s.image, factor))
    if app.paint_dirty and app.paint is not None:
        app.mask_tex.upload(magnify(overlay_rgba(app.paint), factor))
        app.paint_dirty = False
    r = app.researcher
    fv = s.features
    show_heat = r.open and r.heat_on_canvas and fv is not None and fv.heat is not None
    overlays = Overlays(
        trail=s.trail,
        mask=app.mask_tex if app.tools.show_mask and app.paint is not None and app.paint.any() else None,
        heat=app.heat_tex if show_heat else None, heat_alpha=r.heat_alpha,
        windows=(s.r1, s.r2) if r.open and r.show_windows else None,
        query=fv.query if r.open and fv is not None and fv.heat is not None else None,
        placeholder=placeholder(app))
    ev = app.canvas.draw(app.image_tex if s.image is not None else None, s.size, app.points,
                          app.tools.tool, app.tools.brush_mode, app.tools.brush_radius, app.paint, overlays)
    (x0, y0), (w, h) = app.canvas.origin, app.canvas.size
    app.rects["canvas"] = ((x0, y0), (x0 + w, y0 + h))
    app.window.clear_regions = [((x0, y0, x0 + w, y0 + h), theme.CANVAS_BG)]
    app.hover = ev.hover  # the researchers' pictures, drawn later, may set it too
    for cmd in ev.point_cmds:
        app.edit_points(cmd)
    if ev.paint_changed:
        app.paint_dirty = True
    if ev.stroke_done:
        app.send_mask()
    error = app.gui_error or (s.error if s.error and s.error_id != app.dismissed_error else None)
    if draw_error_banner(error, app.rects):
        app.dismissed_error, app.gui_error = s.error_id, None

def placeholder(app) -> str:
    s = app.state
    if s.loading:
        return f"Loading {Path(s.loading).name} ...\nthe first open of a large model takes a few seconds"
    if not s.resolution:
        note = app.startup_note or "no model open"
        return ("Open a checkpoint to start\n" + note + "\nType its path under Model and press Open, "
                "or drop the file onto this window (Ctrl+O).")
    return ""
