"""The researchers' view: a block's feature map (PCA -> RGB), a similarity heat map, and the
r1 / r2 windows around each handle.

The worker computes the pictures (`FeatureView`, from draggan.features_view); this panel
shows them, picks what to compute, and turns a cursor over the pictures into a query.
"""

from __future__ import annotations

from dataclasses import dataclass

from imgui_bundle import imgui

from ..commands import SetFeatureView
from ..points import Points
from ..worker import WorkerState, block_label
from . import theme
from .driver import record_item
from .texture import Texture

CROP_MARGIN = 2.0  # px of context around the r2 window in the handle close-ups


@dataclass
class ResearcherParams:
    open: bool = False  # the panel is open (and the worker computes features)
    block: int | None = None  # None = the drag's feature block
    metric: str = "l1"  # 'l1' (the tracking's) or 'cosine'
    source: int = -1  # -1: the feature under the cursor; i >= 0: under handle i
    query: tuple[float, float] | None = None  # the last cursor query, image px
    heat_on_canvas: bool = True
    heat_alpha: float = 0.5
    show_windows: bool = True

    def request(self, points: Points) -> SetFeatureView:
        """The worker command for the current choices."""
        query = self.query
        if 0 <= self.source < len(points.handles):
            query = points.handles[self.source]
        if query is not None:
            query = (float(round(query[0])), float(round(query[1])))  # recompute per pixel, not per mouse move
        return SetFeatureView(self.open, self.block, query, self.metric)


def _picture(tex: Texture, size: float, image_size: tuple[int, int]) -> tuple[float, float] | None:
    """Show a texture `size` px high with the image's aspect; the image px under the cursor when hovered."""
    height, width = image_size
    if not height:
        return None
    w = size * width / height
    origin = imgui.get_cursor_screen_pos()
    imgui.image(tex.ref, imgui.ImVec2(w, size))
    if imgui.is_item_hovered():
        m = imgui.get_io().mouse_pos
        return ((m.x - origin.x) / w * width - 0.5, (m.y - origin.y) / size * height - 0.5)
    return None


def draw_researcher_panel(p: ResearcherParams, state: WorkerState, points: Points, pca: Texture, heat: Texture,
                          image: Texture, rects: dict) -> tuple[float, float] | None:
    """Returns the image px hovered on the feature pictures (a cursor query), if any."""
    imgui.set_next_item_open(p.open, imgui.Cond_.always)
    p.open = imgui.collapsing_header("Researchers' view (F2)")
    record_item(rects, "researcher_header")
    if not p.open or not state.resolution:
        return None
    blocks = list(state.block_resolutions)
    items = [f"drag's ({block_label(state.feature_block, state.family)})"] + \
        [block_label(b, state.family) for b in blocks]
    current = blocks.index(p.block) + 1 if p.block in blocks else 0
    imgui.set_next_item_width(imgui.get_content_region_avail().x - 70)
    changed, idx = imgui.combo("block", current, items)
    if changed:
        p.block = None if idx == 0 else blocks[idx - 1]
    imgui.set_item_tooltip("Which synthesis block's output to look at.")
    sources = ["cursor"] + [f"handle {i + 1}" for i in range(len(points.handles))]
    imgui.set_next_item_width(imgui.get_content_region_avail().x - 70)
    _, s = imgui.combo("query", min(p.source + 1, len(sources) - 1), sources)
    p.source = s - 1
    imgui.set_item_tooltip("The feature the heat map compares every pixel to: the one under the cursor "
                           "(on the image or these pictures) or under a handle.")
    if imgui.radio_button("L1", p.metric == "l1"):
        p.metric = "l1"
    imgui.set_item_tooltip("L1 distance, what the point tracking minimises (paper Sec. 3.3). The map shows 1 at the "
                           "best match, falling to 0 at the median distance.")
    imgui.same_line()
    if imgui.radio_button("cosine", p.metric == "cosine"):
        p.metric = "cosine"

    fv = state.features
    if fv is None or not pca.ready:
        imgui.text_disabled("computing ...")
        return None
    imgui.push_style_color(imgui.Col_.text, imgui.get_style_color_vec4(imgui.Col_.text_disabled))
    imgui.text_wrapped(f"{block_label(fv.block, state.family)}, {fv.channels} channels. Left: its first 3 principal components as RGB. "
                       f"Right: similarity ({fv.metric}) to the feature at "
                       + (f"{fv.query[0]:.0f}, {fv.query[1]:.0f}." if fv.query else "the cursor."))
    imgui.pop_style_color()
    side = (imgui.get_content_region_avail().x - imgui.get_style().item_spacing.x) / 2
    hovered = _picture(pca, side, state.size)
    record_item(rects, "pca_image")
    imgui.same_line()
    if fv.heat is not None and heat.ready:
        hovered = _picture(heat, side, state.size) or hovered
        record_item(rects, "heat_image")
    else:
        imgui.dummy(imgui.ImVec2(side, side))
    _, p.heat_on_canvas = imgui.checkbox("heat map on the image", p.heat_on_canvas)
    if p.heat_on_canvas:
        imgui.same_line()
        imgui.set_next_item_width(-1)
        _, p.heat_alpha = imgui.slider_float("##alpha", p.heat_alpha, 0.1, 1.0, "opacity %.2f")
    _, p.show_windows = imgui.checkbox("r1 / r2 windows on the image", p.show_windows)
    imgui.set_item_tooltip("Yellow circle: motion supervision patch (r1). Cyan square: tracking search window (r2).")
    _draw_handle_closeups(state, points, image)
    return hovered


def _draw_handle_closeups(state: WorkerState, points: Points, image: Texture) -> None:
    """Magnified crops around each paired handle with its r1 disk, r2 square and direction."""
    m = len(points.targets)
    if not m or not image.ready:
        return
    imgui.separator_text(f"around the handles (r1 = {state.r1:g} px, r2 = {state.r2:g} px)")
    height, width = state.size
    half = state.r2 + CROP_MARGIN
    size = min((imgui.get_content_region_avail().x - imgui.get_style().item_spacing.x) / 2, 150.0)
    dl = imgui.get_window_draw_list()
    for i in range(m):
        (hx, hy), (tx, ty) = points.handles[i], points.targets[i]
        x0, y0 = hx - half, hy - half  # crop in image px (pixel-centre coordinates)
        uv0 = imgui.ImVec2((x0 + 0.5) / width, (y0 + 0.5) / height)
        uv1 = imgui.ImVec2((x0 + 2 * half + 0.5) / width, (y0 + 2 * half + 0.5) / height)
        origin = imgui.get_cursor_screen_pos()
        imgui.image(image.ref, imgui.ImVec2(size, size), uv0, uv1)
        scale = size / (2 * half)
        c = imgui.ImVec2(origin.x + half * scale, origin.y + half * scale)
        dl.add_circle(c, state.r1 * scale, theme.u32(theme.R1_WINDOW), 0, 1.5)
        s = state.r2 * scale
        dl.add_rect(imgui.ImVec2(c.x - s, c.y - s), imgui.ImVec2(c.x + s, c.y + s), theme.u32(theme.R2_WINDOW),
                    0.0, 1.5)
        d = ((tx - hx) ** 2 + (ty - hy) ** 2) ** 0.5
        if d > 0:
            end = imgui.ImVec2(c.x + (tx - hx) / d * s, c.y + (ty - hy) / d * s)
            dl.add_line(c, end, theme.u32(theme.ARROW), 2.0)
        dl.add_circle_filled(c, 4.0, theme.u32(theme.HANDLE))
        dl.add_text(imgui.ImVec2(origin.x + 4, origin.y + 2), theme.u32((1, 1, 1, 0.9)), f"{i + 1}")
        if i % 2 == 0 and i + 1 < m:
            imgui.same_line()
