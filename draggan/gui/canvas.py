"""The image view: zoom and pan, points, arrows, trails, mask overlay and brush.

It draws what it is given (textures, points, a paint layer) and turns mouse input
into point edit commands and brush strokes; it never talks to the worker.
Image coordinates: x right, y down, pixel centres at integers, so the image
covers [-0.5, R - 0.5] in both axes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from imgui_bundle import imgui

from ..mask import FIXED, MOVABLE, UNPAINTED, paint_segment
from ..commands import AddPoint, DeletePoint, MovePoint
from ..points import Points
from . import theme
from .texture import Texture

HIT_RADIUS = 9.0  # screen px around a point that grabs it
POINT_RADIUS = 6.0  # screen px
ZOOM_RANGE = (0.1, 64.0)  # screen px per image px
WHEEL_STEP = 1.2  # zoom factor per wheel notch
BRUSH_VALUES = {"movable": MOVABLE, "fixed": FIXED, "erase": UNPAINTED}


@dataclass
class CanvasEvents:
    point_cmds: list = field(default_factory=list)  # AddPoint / MovePoint / DeletePoint (the app stamps the rev)
    paint_changed: bool = False  # the paint layer changed (re-upload the overlay)
    stroke_done: bool = False  # a brush stroke ended (send the mask)
    hover: tuple[float, float] | None = None  # image px under the cursor, if over the image


@dataclass
class Overlays:
    trail: tuple = ()  # [m, 2] tracked handles per step
    mask: Texture | None = None  # RGBA paint overlay (None = hidden)
    heat: Texture | None = None  # similarity heat map (None = hidden)
    heat_alpha: float = 0.55
    windows: tuple[float, float] | None = None  # (r1, r2) px drawn around each paired handle
    query: tuple[float, float] | None = None  # image px of the researchers' view query (a crosshair)
    placeholder: str = ""  # text shown when there is no image


class Canvas:
    def __init__(self):
        self.zoom = 1.0  # screen px per image px
        self.offset = (0.0, 0.0)  # screen position of the image's top-left edge, relative to the canvas origin
        self.origin = (0.0, 0.0)  # canvas top-left on screen
        self.size = (1.0, 1.0)
        self.res = 0  # image height, px (0 = no image)
        self.res_w = 0  # image width, px (StyleGAN-Human images are half as wide as high)
        self.fit_pending = True
        self.dragging: tuple[int, bool] | None = None  # (pair index, is_target) being moved
        self.selected: int | None = None  # pair index (Delete removes it)
        self._brush_last: tuple[float, float] | None = None  # previous sample of the current stroke
        self._brush_value = UNPAINTED

    # ---- coordinates ----
    def to_screen(self, x: float, y: float) -> tuple[float, float]:
        return (self.origin[0] + self.offset[0] + (x + 0.5) * self.zoom,
                self.origin[1] + self.offset[1] + (y + 0.5) * self.zoom)

    def to_image(self, sx: float, sy: float) -> tuple[float, float]:
        return ((sx - self.origin[0] - self.offset[0]) / self.zoom - 0.5,
                (sy - self.origin[1] - self.offset[1]) / self.zoom - 0.5)

    def fit(self) -> None:
        self.fit_pending = True

    def set_zoom(self, zoom: float, anchor: tuple[float, float] | None = None) -> None:
        """Zoom keeping the image point under `anchor` (screen px; default the canvas centre) in place."""
        zoom = min(max(zoom, ZOOM_RANGE[0]), ZOOM_RANGE[1])
        if anchor is None:
            anchor = (self.origin[0] + self.size[0] / 2, self.origin[1] + self.size[1] / 2)
        ix, iy = self.to_image(*anchor)
        self.zoom = zoom
        sx, sy = self.to_screen(ix, iy)
        self.offset = (self.offset[0] + anchor[0] - sx, self.offset[1] + anchor[1] - sy)

    def _do_fit(self) -> None:
        fit = min(self.size[0] / self.res_w, self.size[1] / self.res) * 0.96
        self.zoom = min(max(fit, ZOOM_RANGE[0]), ZOOM_RANGE[1])
        self.offset = ((self.size[0] - self.res_w * self.zoom) / 2, (self.size[1] - self.res * self.zoom) / 2)
        self.fit_pending = False

    def _clamp(self, x: float, y: float) -> tuple[float, float]:
        """Round to a pixel centre inside the image."""
        return (float(min(max(round(x), 0), self.res_w - 1)), float(min(max(round(y), 0), self.res - 1)))

    def _inside(self, x: float, y: float) -> bool:
        return -0.5 <= x <= self.res_w - 0.5 and -0.5 <= y <= self.res - 0.5

    def hit(self, points: Points, sx: float, sy: float) -> tuple[int, bool] | None:
        """The point under screen position (sx, sy): (pair index, is_target), targets first."""
        best, best_d = None, HIT_RADIUS
        for is_target, pts in ((True, points.targets), (False, points.handles)):
            for i, p in enumerate(pts):
                px, py = self.to_screen(*p)
                d = math.hypot(px - sx, py - sy)
                if d <= best_d:
                    best, best_d = (i, is_target), d
        return best

    # ---- one frame ----
    def draw(self, image: Texture | None, size: tuple[int, int] | int, points: Points, tool: str, brush_mode: str,
             brush_radius: float, paint: np.ndarray | None, overlays: Overlays) -> CanvasEvents:
        """size: (H, W) of the image in px (an int for a square one; 0 = no image)."""
        ev = CanvasEvents()
        res, res_w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
        pos = imgui.get_cursor_screen_pos()
        avail = imgui.get_content_region_avail()
        self.origin, self.size = (pos.x, pos.y), (max(avail.x, 32.0), max(avail.y, 32.0))
        if (res, res_w) != (self.res, self.res_w):
            self.res, self.res_w, self.fit_pending, self.dragging, self.selected = res, res_w, True, None, None
        if self.fit_pending and res:
            self._do_fit()
        imgui.invisible_button("##canvas", imgui.ImVec2(*self.size), imgui.ButtonFlags_.mouse_button_left
                               | imgui.ButtonFlags_.mouse_button_right | imgui.ButtonFlags_.mouse_button_middle)
        hovered, active = imgui.is_item_hovered(), imgui.is_item_active()
        io = imgui.get_io()
        mouse = (io.mouse_pos.x, io.mouse_pos.y)
        mx, my = self.to_image(*mouse)
        if hovered and res and self._inside(mx, my):
            ev.hover = (mx, my)

        dl = imgui.get_window_draw_list()
        p0 = imgui.ImVec2(*self.origin)
        p1 = imgui.ImVec2(self.origin[0] + self.size[0], self.origin[1] + self.size[1])
        dl.push_clip_rect(p0, p1, True)
        if res and image is not None and image.ready:
            self._draw_image(dl, image, overlays)
            self._input(ev, hovered, active, mouse, points, tool, brush_mode, brush_radius, paint)
            self._draw_points(dl, points, overlays, tool, hovered, mouse)
            if tool == "mask" and hovered:
                colour = {"movable": theme.BRUSH_MOVABLE, "fixed": theme.BRUSH_FIXED}.get(brush_mode, theme.BRUSH_ERASE)
                dl.add_circle(imgui.ImVec2(*mouse), brush_radius * self.zoom, theme.u32(colour), 0, 1.5)
        elif overlays.placeholder:
            self._draw_placeholder(dl, overlays.placeholder)
        # Zoom and pan work whatever the tool.
        if hovered and io.mouse_wheel != 0 and res:
            self.set_zoom(self.zoom * WHEEL_STEP ** io.mouse_wheel, mouse)
        pan = imgui.is_mouse_dragging(imgui.MouseButton_.middle, 0) or \
            (tool == "points" and self.dragging is None and imgui.is_mouse_dragging(imgui.MouseButton_.right, 2))
        if active and pan:
            self.offset = (self.offset[0] + io.mouse_delta.x, self.offset[1] + io.mouse_delta.y)
        dl.pop_clip_rect()
        return ev

    # ---- input ----
    def _input(self, ev, hovered, active, mouse, points, tool, brush_mode, brush_radius, paint) -> None:
        x, y = self.to_image(*mouse)
        left, right = imgui.MouseButton_.left, imgui.MouseButton_.right
        if tool == "points":
            if hovered and imgui.is_mouse_clicked(left):
                grabbed = self.hit(points, *mouse)
                if grabbed is not None:
                    self.dragging, self.selected = grabbed, grabbed[0]
                elif self._inside(x, y):
                    ev.point_cmds.append(AddPoint(*self._clamp(x, y)))
                    self.selected = len(points.targets) if points.pending else len(points.handles)
            elif self.dragging is not None:
                if imgui.is_mouse_down(left):
                    i, is_target = self.dragging
                    pts = points.targets if is_target else points.handles
                    new = self._clamp(x, y)
                    if i < len(pts) and pts[i] != new:
                        ev.point_cmds.append(MovePoint(i, is_target, *new))
                else:
                    self.dragging = None
            if hovered and imgui.is_mouse_released(right) and not imgui.is_mouse_dragging(right, 2):
                grabbed = self.hit(points, *mouse)
                if grabbed is not None:
                    ev.point_cmds.append(DeletePoint(grabbed[0]))
                    self.selected = None
        elif paint is not None:
            down = active and (imgui.is_mouse_down(left) or imgui.is_mouse_down(right))
            if down:
                if self._brush_last is None:
                    self._brush_value = UNPAINTED if imgui.is_mouse_down(right) else BRUSH_VALUES[brush_mode]
                    self._brush_last = (x, y)
                # The segment since the last sample: a fast stroke arrives as a few far-apart samples.
                ev.paint_changed = paint_segment(paint, self._brush_last, (x, y), brush_radius, self._brush_value)
                self._brush_last = (x, y)
            elif self._brush_last is not None:
                self._brush_last = None
                ev.stroke_done = True

    @property
    def painting(self) -> bool:
        """A brush stroke is in progress (its paint has not been sent yet)."""
        return self._brush_last is not None

    # ---- drawing ----
    def _draw_image(self, dl, image: Texture, overlays: Overlays) -> None:
        a = imgui.ImVec2(*self.to_screen(-0.5, -0.5))
        b = imgui.ImVec2(*self.to_screen(self.res_w - 0.5, self.res - 0.5))
        dl.add_image(image.ref, a, b)
        if overlays.heat is not None and overlays.heat.ready:
            dl.add_image(overlays.heat.ref, a, b, None, None, theme.u32((1, 1, 1, overlays.heat_alpha)))
        if overlays.mask is not None and overlays.mask.ready:
            dl.add_image(overlays.mask.ref, a, b)
        dl.add_rect(a, b, theme.u32((1, 1, 1, 0.12)))

    def _draw_points(self, dl, points: Points, overlays: Overlays, tool: str, hovered: bool, mouse) -> None:
        m = len(points.targets)
        if overlays.windows is not None:
            r1, r2 = overlays.windows
            for h in points.handles[:m]:
                c = imgui.ImVec2(*self.to_screen(*h))
                dl.add_circle(c, r1 * self.zoom, theme.u32(theme.R1_WINDOW), 0, 1.5)
                s = r2 * self.zoom
                dl.add_rect(imgui.ImVec2(c.x - s, c.y - s), imgui.ImVec2(c.x + s, c.y + s),
                            theme.u32(theme.R2_WINDOW), 0.0, 1.5)
        if overlays.query is not None:
            qx, qy = self.to_screen(*overlays.query)
            for colour, width in ((theme.OUTLINE, 3.5), ((1, 1, 1, 0.95), 1.5)):
                dl.add_line(imgui.ImVec2(qx - 8, qy), imgui.ImVec2(qx + 8, qy), theme.u32(colour), width)
                dl.add_line(imgui.ImVec2(qx, qy - 8), imgui.ImVec2(qx, qy + 8), theme.u32(colour), width)
        trail = overlays.trail
        if len(trail) > 1:
            n = min(len(trail[0]), m)
            track = np.stack(trail)[:, :n]  # [steps, n, 2]
            for i in range(n):
                pts = [imgui.ImVec2(*self.to_screen(*p)) for p in track[:, i]]
                dl.add_polyline(pts, theme.u32(theme.TRAIL), 2.0, 0)
                dl.add_circle_filled(pts[0], 3.0, theme.u32(theme.TRAIL))
        for i in range(m):
            self._arrow(dl, self.to_screen(*points.handles[i]), self.to_screen(*points.targets[i]))
        if points.pending and tool == "points" and hovered:
            self._dashed(dl, self.to_screen(*points.handles[-1]), mouse)
        for i, h in enumerate(points.handles):
            self._point(dl, self.to_screen(*h), theme.HANDLE, i)
        for i, t in enumerate(points.targets):
            self._point(dl, self.to_screen(*t), theme.TARGET, i)

    def _point(self, dl, p, colour, i: int) -> None:
        c = imgui.ImVec2(*p)
        if self.selected == i:
            dl.add_circle(c, POINT_RADIUS + 4, theme.u32(theme.SELECTED), 0, 2.0)
        dl.add_circle_filled(c, POINT_RADIUS + 1.5, theme.u32((1, 1, 1, 0.95)))
        dl.add_circle_filled(c, POINT_RADIUS, theme.u32(colour))
        dl.add_text(imgui.ImVec2(c.x + POINT_RADIUS + 2, c.y - POINT_RADIUS - 12), theme.u32((1, 1, 1, 0.9)), str(i + 1))

    def _arrow(self, dl, a, b) -> None:
        dx, dy = b[0] - a[0], b[1] - a[1]
        length = math.hypot(dx, dy)
        if length < 2 * POINT_RADIUS + 4:
            return
        ux, uy = dx / length, dy / length
        start = (a[0] + ux * (POINT_RADIUS + 2), a[1] + uy * (POINT_RADIUS + 2))
        tip = (b[0] - ux * (POINT_RADIUS + 3), b[1] - uy * (POINT_RADIUS + 3))
        base = (tip[0] - ux * 11, tip[1] - uy * 11)
        left = imgui.ImVec2(base[0] - uy * 6, base[1] + ux * 6)
        right = imgui.ImVec2(base[0] + uy * 6, base[1] - ux * 6)
        for colour, width in ((theme.OUTLINE, 4.5), (theme.ARROW, 2.0)):
            dl.add_line(imgui.ImVec2(*start), imgui.ImVec2(*base), theme.u32(colour), width)
        dl.add_triangle_filled(imgui.ImVec2(*tip), left, right, theme.u32(theme.ARROW))

    def _dashed(self, dl, a, b, dash: float = 6.0) -> None:
        length = math.hypot(b[0] - a[0], b[1] - a[1])
        n = int(length // (2 * dash))
        for k in range(n):
            t0, t1 = 2 * k * dash / length, (2 * k + 1) * dash / length
            dl.add_line(imgui.ImVec2(a[0] + t0 * (b[0] - a[0]), a[1] + t0 * (b[1] - a[1])),
                        imgui.ImVec2(a[0] + t1 * (b[0] - a[0]), a[1] + t1 * (b[1] - a[1])),
                        theme.u32((1, 1, 1, 0.6)), 1.5)

    def _draw_placeholder(self, dl, text: str) -> None:
        lines = []
        for paragraph in text.split("\n"):  # word-wrap to the canvas width
            line = ""
            for word in paragraph.split(" "):
                if line and imgui.calc_text_size(line + " " + word).x > self.size[0] - 40:
                    lines.append(line)
                    line = word
                else:
                    line = f"{line} {word}" if line else word
            lines.append(line)
        h = imgui.get_text_line_height_with_spacing()
        y = self.origin[1] + self.size[1] / 2 - h * len(lines) / 2
        for i, line in enumerate(lines):
            w = imgui.calc_text_size(line).x
            colour = (0.95, 0.95, 0.97, 1.0) if i == 0 else theme.MUTED
            dl.add_text(imgui.ImVec2(self.origin[0] + (self.size[0] - w) / 2, y + i * h), theme.u32(colour), line)
