"""The progress panel: run state, step counter, distances per handle and the loss curves (ImPlot)."""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui, implot

from ..worker import WorkerState
from . import theme

PLOT_HEIGHT = 120  # px per plot


def draw_progress_panel(state: WorkerState, open_: bool = True) -> bool:
    """Returns whether the panel stays open."""
    imgui.set_next_item_open(open_, imgui.Cond_.always)
    if not imgui.collapsing_header("Progress"):
        return False
    _draw_progress(state)
    return True


def _draw_progress(state: WorkerState) -> None:
    colour = theme.STATUS_COLOURS.get(state.status, theme.MUTED)
    imgui.text_colored(imgui.ImVec4(*colour), state.status.upper())
    imgui.same_line()
    limit = state.config.max_steps
    imgui.text(f"step {state.step} / {limit}")
    if state.running and state.steps_per_s:
        imgui.same_line()
        imgui.text_disabled(f"{state.steps_per_s:.1f} steps/s")
    imgui.progress_bar(min(state.step / max(limit, 1), 1.0), imgui.ImVec2(-1, 4), "")

    d = state.distances
    if len(d):
        imgui.text(f"distance to target (stop at {state.stop_distance:g} px)")
        for i, v in enumerate(d):
            imgui.text_colored(imgui.ImVec4(*theme.HANDLE), f"{i + 1}")
            imgui.same_line()
            frac = float(min(v / max(float(state.max_distances[0]) if len(state.max_distances) else v, 1e-6), 1.0))
            imgui.progress_bar(1.0 - frac, imgui.ImVec2(-1, 0), f"{v:.1f} px")
    else:
        imgui.push_style_color(imgui.Col_.text, imgui.get_style_color_vec4(imgui.Col_.text_disabled))
        imgui.text_wrapped("Place points and press Start: distances and losses appear here.")
        imgui.pop_style_color()

    losses = np.asarray(state.losses, dtype=np.float64)
    if len(losses) < 2:
        return
    steps = np.arange(len(losses), dtype=np.float64)
    flags = implot.Flags_.no_menus | implot.Flags_.no_box_select | implot.Flags_.no_legend
    fit = implot.AxisFlags_.auto_fit
    if implot.begin_plot("loss", imgui.ImVec2(-1, PLOT_HEIGHT), flags):
        implot.setup_axes("step", "", fit, fit)
        ok = np.isfinite(losses)
        if ok.any() and losses[ok].min() > 0 and losses[ok].max() / losses[ok].min() > 20:  # log for a wide range
            implot.setup_axis_scale(implot.ImAxis_.y1, implot.Scale_.log10)
        implot.plot_line("loss", steps[ok], losses[ok])
        implot.end_plot()
    if implot.begin_plot("max distance (px)", imgui.ImVec2(-1, PLOT_HEIGHT), flags):
        dist = np.asarray(state.max_distances, dtype=np.float64)
        implot.setup_axes("step", "", fit)
        implot.setup_axis_limits(implot.ImAxis_.y1, 0.0, max(float(dist.max()) * 1.1, state.stop_distance * 2),
                                 imgui.Cond_.always)
        implot.plot_line("max distance", steps[:len(dist)], dist)
        spec = implot.Spec()
        spec.flags = implot.InfLinesFlags_.horizontal
        implot.plot_inf_lines("stop", np.array([state.stop_distance], dtype=np.float64), spec)
        implot.end_plot()
