"""The left control panel, one function per section: `draw_*(params, ...) -> what changed`.

Each section edits its params dataclass in place and returns whether it changed
(or which action a button asked for); `EditorApp` turns that into worker commands.
Sections read the worker's last `WorkerState` but never talk to the worker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from imgui_bundle import imgui

from ..engine import DragConfig
from ..commands import DeletePoint
from ..limits import DEFAULT_TRUNCATION, SEED_LIMIT
from ..points import Points
from ..worker import WorkerState, block_label
from . import theme
from .driver import record_item
from .actions import ACTIONS, label_of


# ---- params ----

@dataclass
class ImageParams:
    seed: int = 0  # NVIDIA convention
    psi: float = DEFAULT_TRUNCATION  # truncation (1 = none, 0 = the average image)


@dataclass
class ToolParams:
    tool: str = "points"  # 'points' or 'mask' (what a left click on the image does)
    brush_mode: str = "movable"  # 'movable', 'fixed' or 'erase'
    brush_radius: float = 6.0  # image px
    show_mask: bool = True


@dataclass
class SettingsParams:
    config: DragConfig = field(default_factory=DragConfig)


@dataclass
class FileParams:
    checkpoint_field: str = ""  # path typed into the Open field
    session_field: str = ""
    save_stem: str = "draggan-out/edit"  # files are saved as STEM.png, STEM.latent.npy, STEM.session.json, ...
    focus_checkpoint: bool = False  # put the keyboard into the checkpoint field next frame

    def save_path(self, kind: str) -> str:
        """STEM + the kind's suffix; '' when no name was typed."""
        stem = self.save_stem.strip()
        if not stem or not Path(stem).name.strip("."):
            return ""
        suffix = {"image": ".png", "latent": ".latent.npy", "session": ".session.json", "gif": ".gif",
                  "mp4": ".mp4"}[kind]
        return str(Path(stem).expanduser()) + suffix


# ---- helpers ----

def _tip(text: str) -> None:
    imgui.set_item_tooltip(text)


# ---- sections ----

def draw_model_section(p: FileParams, state: WorkerState, recent: list[str], rects: dict) -> str | None:
    """The open checkpoint, a path field and recent files; returns a path to open."""
    if not imgui.collapsing_header("Model", imgui.TreeNodeFlags_.default_open):
        return None
    to_open = None
    if state.loading:
        imgui.text_colored(imgui.ImVec4(*theme.WARN), f"Loading {Path(state.loading).name} ...")
    elif state.checkpoint:
        imgui.text(Path(state.checkpoint).name)
        _tip(state.checkpoint)
        first, last = (block_label(k, state.family) for k in (state.block_resolutions[0], state.block_resolutions[-1]))
        imgui.text_disabled(f"{state.family}, {state.size[1]}x{state.size[0]} px, {state.num_ws} W+ layers, "
                            f"{'layers' if state.family.startswith('StyleGAN3') else 'blocks'} {first}..{last}")
    else:
        imgui.text_colored(imgui.ImVec4(*theme.WARN), "No model open")
    if state.photo:
        imgui.text_colored(imgui.ImVec4(*theme.ACCENT), state.photo)
    if p.focus_checkpoint:
        imgui.set_keyboard_focus_here()
        p.focus_checkpoint = False
    imgui.set_next_item_width(-60)
    entered, p.checkpoint_field = imgui.input_text_with_hint("##checkpoint", "checkpoint path (.pkl .pt .safetensors)",
                                                             p.checkpoint_field,
                                                             imgui.InputTextFlags_.enter_returns_true)
    record_item(rects, "checkpoint_field")
    _tip("A StyleGAN2 checkpoint: NVIDIA .pkl (ADA / TF), rosinality .pt, or .safetensors. "
         "You can also drop the file onto the window.")
    imgui.same_line()
    if imgui.button("Open", imgui.ImVec2(-1, 0)) or entered:
        to_open = p.checkpoint_field.strip() or None
    record_item(rects, "open_checkpoint")
    if recent:
        imgui.set_next_item_width(-1)
        if imgui.begin_combo("##recent", "Recent files", imgui.ComboFlags_.height_large):
            for path in recent:
                if imgui.selectable(Path(path).name + f"##{path}", False)[0]:
                    to_open = path
                _tip(path)
            imgui.end_combo()
    return to_open


def draw_image_section(p: ImageParams, random_seed) -> bool:
    """Seed and truncation; True when the image must be regenerated."""
    if not imgui.collapsing_header("Image", imgui.TreeNodeFlags_.default_open):
        return False
    changed = False
    imgui.set_next_item_width(imgui.get_content_region_avail().x - 80)
    # A double holds every seed of [0, 2^32) exactly; imgui's int fields are 32-bit signed.
    c, seed = imgui.input_double("##seed", float(p.seed), 1.0, 100.0, "%.0f")
    _tip("Image seed, 0 to 4294967295 (NVIDIA convention: z = RandomState(seed).randn(1, z_dim)).")
    if c:
        p.seed, changed = clamp_seed(seed), True
    imgui.same_line()
    if imgui.button("Random", imgui.ImVec2(-1, 0)):
        p.seed, changed = random_seed(), True
    _tip(f"A new random seed ({label_of('random_seed')})")
    imgui.set_next_item_width(imgui.get_content_region_avail().x - 80)
    c, p.psi = imgui.slider_float("truncation", p.psi, 0.0, 1.5, "%.2f")
    _tip("Truncation psi: 1 = the model's full variety, lower = closer to the average image (0.7 is common).")
    return changed or c


def clamp_seed(value: float) -> int:
    """A typed seed -> the nearest valid one in [0, 2^32)."""
    if value != value:  # NaN
        return 0
    return int(min(max(round(value), 0), SEED_LIMIT - 1))


def draw_run_section(state: WorkerState, rects: dict, enabled) -> str | None:
    """Start/Stop, Undo, Redo, Reset image; returns the action asked for."""
    action = None
    running = state.running
    colour = theme.STOP if running else theme.START
    imgui.push_style_color(imgui.Col_.button, imgui.ImVec4(*colour))
    imgui.push_style_color(imgui.Col_.button_hovered, imgui.ImVec4(*[min(c * 1.2, 1.0) for c in colour[:3]], 1.0))
    imgui.begin_disabled(state.resolution == 0)
    if imgui.button(("Stop" if running else "Start") + "  (Space)##startstop",
                    imgui.ImVec2(-1, imgui.get_frame_height() * 1.6)):
        action = "start_stop"
    imgui.end_disabled()
    imgui.pop_style_color(2)
    record_item(rects, "start_stop")
    _tip("Run the drag: handles move toward their targets until they arrive, the step limit, or Stop. "
         "Start again to continue from here.")
    w = (imgui.get_content_region_avail().x - 2 * imgui.get_style().item_spacing.x) / 3
    for name, label in (("undo", "Undo"), ("redo", "Redo"), ("reset_image", "Reset")):
        imgui.begin_disabled(not enabled(name))
        if imgui.button(label, imgui.ImVec2(w, 0)):
            action = name
        imgui.end_disabled()
        record_item(rects, name)
        imgui.set_item_tooltip(f"{ACTIONS[name].help} ({label_of(name)})")
        if name != "reset_image":
            imgui.same_line()
    return action


def draw_points_section(tools: ToolParams, points: Points, state: WorkerState, selected: int | None) -> list:
    """Tool choice and the list of point pairs; returns actions (names or DeletePoint commands)."""
    if not imgui.collapsing_header("Points", imgui.TreeNodeFlags_.default_open):
        return []
    actions = []
    if imgui.radio_button("Points (P)", tools.tool == "points"):
        tools.tool = "points"
    _tip("Click the image to add a handle (red), click again for its target (blue). Drag points to move them; "
         "right-click one to delete its pair.")
    imgui.same_line()
    if imgui.radio_button("Mask brush (M)", tools.tool == "mask"):
        tools.tool = "mask"
    _tip("Paint on the image: see the Mask section.")
    if not points.handles:
        imgui.text_disabled("No points: click the image to add a handle.")
    elif imgui.begin_table("##points", 4, imgui.TableFlags_.sizing_fixed_fit | imgui.TableFlags_.row_bg):
        imgui.table_setup_column("#")
        imgui.table_setup_column("handle")
        imgui.table_setup_column("target", imgui.TableColumnFlags_.width_stretch)
        imgui.table_setup_column("")
        for i, h in enumerate(points.handles):
            imgui.table_next_row()
            imgui.table_next_column()
            imgui.text_colored(imgui.ImVec4(*(theme.SELECTED if selected == i else theme.MUTED)), str(i + 1))
            imgui.table_next_column()
            imgui.text_colored(imgui.ImVec4(*theme.HANDLE), f"{h[0]:.0f}, {h[1]:.0f}")
            imgui.table_next_column()
            if i < len(points.targets):
                t = points.targets[i]
                d = ((t[0] - h[0]) ** 2 + (t[1] - h[1]) ** 2) ** 0.5
                imgui.text_colored(imgui.ImVec4(*theme.TARGET), f"{t[0]:.0f}, {t[1]:.0f}")
                imgui.same_line()
                imgui.text_disabled(f"{d:.1f} px")
            else:
                imgui.text_disabled("click for target")
            imgui.table_next_column()
            if imgui.small_button(f"x##del{i}"):
                actions.append(DeletePoint(i))
            imgui.set_item_tooltip("delete this pair")
        imgui.end_table()
    imgui.begin_disabled(not points.handles)
    if imgui.button("Clear points (C)"):
        actions.append("clear_points")
    imgui.end_disabled()
    return actions


def draw_mask_section(tools: ToolParams, has_paint: bool) -> str | None:
    """Brush settings; returns 'reset_mask' when asked."""
    if not imgui.collapsing_header("Mask", imgui.TreeNodeFlags_.default_open):
        return None
    action = None
    for mode, label, tip in (("movable", "Movable", "Paint the region that may move; everything else is kept "
                                                    "(the paper's mask, Sec. 3.2)."),
                             ("fixed", "Fixed", "Pin pixels: with only fixed strokes, everything else may move."),
                             ("erase", "Erase", "Remove paint (E; a right drag erases too).")):
        if imgui.radio_button(label, tools.brush_mode == mode):
            tools.brush_mode, tools.tool = mode, "mask"
        _tip(tip)
        if mode != "erase":
            imgui.same_line()
    imgui.set_next_item_width(imgui.get_content_region_avail().x - 80)
    _, tools.brush_radius = imgui.slider_float("radius", tools.brush_radius, 1.0, 64.0, "%.0f px",
                                               imgui.SliderFlags_.logarithmic)
    _tip("Brush radius in image pixels ([ and ] change it).")
    _, tools.show_mask = imgui.checkbox("Show mask (H)", tools.show_mask)
    imgui.same_line()
    imgui.begin_disabled(not has_paint)
    if imgui.button("Reset mask", imgui.ImVec2(-1, 0)):
        action = "reset_mask"
    imgui.end_disabled()
    _tip("Remove all paint: no mask term in the loss.")
    return action


def draw_settings_section(p: SettingsParams, state: WorkerState) -> bool:
    """The drag settings (DragConfig); True when they changed."""
    if not imgui.collapsing_header("Optimisation", imgui.TreeNodeFlags_.default_open):
        return False
    cfg = p.config
    changes = {}
    label_w = imgui.get_content_region_avail().x - 110

    if imgui.radio_button("W+", cfg.latent_space == "w+"):
        changes["latent_space"] = "w+"
    _tip("Optimise one w per layer (paper default): more freedom.")
    imgui.same_line()
    if imgui.radio_button("W", cfg.latent_space == "w"):
        changes["latent_space"] = "w"
    _tip("Optimise one w shared by the optimised layers: more constrained.")
    imgui.same_line()
    imgui.set_next_item_width(-1)
    layers_max = max(state.num_ws, 1)
    c, v = imgui.slider_int("##layers", min(cfg.num_optimized_layers, layers_max), 1, layers_max, "%d layers")
    if c:
        changes["num_optimized_layers"] = v
    _tip("The first k layers of W+ are optimised (paper Sec. 3.4: 6); the rest keep the image's appearance.")

    imgui.set_next_item_width(label_w)
    c, v = imgui.slider_float("step size", cfg.lr, 1e-4, 1e-1, "%.1e", imgui.SliderFlags_.logarithmic)
    if c:
        changes["lr"] = max(v, 1e-6)
    unit = "in units of the model's W spread (ours)" if cfg.lr_relative else "in W (the paper's)"
    _tip(f"Adam step size, {unit}; default 2e-2 W spreads (docs/METHOD-NOTES.md); the paper's absolute 2e-3 "
         "for faces, cats, cars. Takes effect at once, also during an edit.")

    for name, resolved, tip in (("r1", state.r1, "Motion supervision radius, px (paper: 3/512 of the image size)."),
                                ("r2", state.r2, "Tracking search half-window, px (paper: 12/512 of the image size).")):
        auto = getattr(cfg, name) is None
        c, auto_new = imgui.checkbox(f"auto##{name}", auto)
        _tip("Use the paper's size-relative default.")
        if c:
            changes[name] = None if auto_new else float(resolved or 3.0)
        imgui.same_line()
        imgui.set_next_item_width(label_w - imgui.get_item_rect_size().x - imgui.get_style().item_spacing.x)
        imgui.begin_disabled(auto)
        c, v = imgui.slider_float(name, float(getattr(cfg, name) or resolved), 1.0, 32.0, "%.1f px")
        imgui.end_disabled()
        if c and not auto:
            changes[name] = v
        _tip(tip)

    imgui.set_next_item_width(label_w)
    c, v = imgui.slider_float("lambda", cfg.lambda_mask, 0.0, 100.0, "%.1f")
    if c:
        changes["lambda_mask"] = max(v, 0.0)
    _tip("Weight of the fixed-region term (paper: 20); used only with a mask.")

    blocks = list(state.block_resolutions)
    items = [f"auto ({block_label(state.feature_block, state.family)})" if state.resolution else "auto"] + \
        [block_label(b, state.family) for b in blocks]
    current = blocks.index(cfg.feature_block) + 1 if cfg.feature_block in blocks else 0
    imgui.set_next_item_width(label_w)
    c, idx = imgui.combo("feature block", current, items)
    if c:
        changes["feature_block"] = None if idx == 0 else blocks[idx - 1]
    _tip("Block whose features drive supervision and tracking (paper: the 6th block, b128).")

    imgui.set_next_item_width(label_w)
    c, idx = imgui.combo("tracking", 0 if cfg.tracking_distance == "l1" else 1, ["L1 (paper)", "L2 (official code)"])
    if c:
        changes["tracking_distance"] = "l1" if idx == 0 else "l2"
    _tip("Distance of the nearest-neighbour point tracking (paper Sec. 3.3: L1).")

    imgui.set_next_item_width(label_w)
    c, v = imgui.input_int("step limit", cfg.max_steps, 10, 100)
    if c:
        changes["max_steps"] = min(max(v, 1), 100_000)
    _tip("Steps per drag before it stops by itself (paper's Table 1: 300).")

    if changes:
        p.config = cfg.with_(**changes)
    return bool(changes)


def draw_files_section(p: FileParams, state: WorkerState, rects: dict) -> str | None:
    """Save image / latent / session / animation, open a session; returns the action asked for."""
    if not imgui.collapsing_header("Files", imgui.TreeNodeFlags_.default_open):
        return None
    action = None
    imgui.set_next_item_width(-1)
    _, p.save_stem = imgui.input_text_with_hint("##stem", "save as (path without suffix)", p.save_stem)
    record_item(rects, "save_stem")
    _tip("Files are written as this path plus .png, .latent.npy, .session.json, .gif or .mp4.")
    imgui.begin_disabled(state.resolution == 0)
    w = (imgui.get_content_region_avail().x - 2 * imgui.get_style().item_spacing.x) / 3
    for i, (kind, label) in enumerate((("image", "Image"), ("latent", "Latent"), ("session", "Session"),
                                       ("gif", "GIF"), ("mp4", "MP4"))):
        if imgui.button(f"{label}##save_{kind}", imgui.ImVec2(w, 0)):
            action = f"save_{kind}"
        record_item(rects, f"save_{kind}")
        _tip(f"Save {p.save_path(kind)}")
        if i % 3 != 2:
            imgui.same_line()
    imgui.end_disabled()
    imgui.new_line()
    imgui.set_next_item_width(-60)
    entered, p.session_field = imgui.input_text_with_hint("##session", "session file (.json)", p.session_field,
                                                          imgui.InputTextFlags_.enter_returns_true)
    record_item(rects, "session_field")
    imgui.same_line()
    if imgui.button("Open##session", imgui.ImVec2(-1, 0)) or entered:
        action = "open_session"
    record_item(rects, "open_session")
    _tip("Reopen a saved session: model, image, points, mask and settings.")
    return action
