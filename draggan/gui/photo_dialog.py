"""File > Open image: the crop dialog, the inversion settings, then progress with a live preview and Cancel.

actions / dropped file -> here -> worker (`OpenPhoto`, `CancelInversion`). The picture is
read on the GUI thread only to show it (`draggan.photo`); the worker reads it again and
runs the inversion between its other commands, so this window keeps drawing. The crop is
a rectangle of the model's aspect, centred at first; dragging on the picture draws
another. While the worker inverts, the dialog shows its published `InversionStatus`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from imgui_bundle import imgui
from PIL import Image

from ..commands import CancelInversion, OpenPhoto
from ..engine.inversion import PTI_STEPS, WPLUS_STEPS, InversionConfig
from ..errors import DragGANError
from ..photo import Photo, centre_box, crop_box, load_photo
from . import theme
from .driver import record_item
from .texture import Texture, magnify

TITLE = "Open image"
CROP_VIEW = (560.0, 420.0)  # px, the largest the picture is shown in the crop view
PREVIEW_H = 200.0  # px, height of the picture and the reconstruction while inverting
MIN_DRAWN = 4.0  # picture px; a shorter drag is a click, and keeps the crop
STAGE_NAMES = {"w": "W projection", "w+": "W+ refinement", "pti": "pivotal tuning"}


@dataclass
class PhotoParams:
    w_steps: int = InversionConfig.w_steps  # W projection steps (NVIDIA's projector: 1000)
    w_plus: bool = True  # refine in W+ after W: closer to the picture, and the latent space DragGAN edits
    wplus_steps: int = WPLUS_STEPS  # the engine's default when W+ is on
    pti: bool = True  # pivotal tuning: a tuned copy of the generator reproduces the picture closely
    pti_steps: int = PTI_STEPS  # at most (Roich et al. 2021: 350); stops early once the reconstruction is good
    extra: dict = field(default_factory=dict)  # other InversionConfig fields (tests make it quick)

    def config(self) -> InversionConfig:
        return InversionConfig(w_steps=self.w_steps, wplus_steps=self.wplus_steps if self.w_plus else 0,
                               pti_steps=self.pti_steps if self.pti else 0, **self.extra)


def drag_box(p0, p1, photo_size: tuple[int, int], model_size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The crop drawn by dragging from p0 to p1 (picture px): the model's aspect H/W, anchored at p0, inside the
    picture of (h, w); None when it is too small to be meant."""
    h, w = photo_size
    height, width = model_size
    x0, y0 = min(max(p0[0], 0.0), w), min(max(p0[1], 0.0), h)
    dx, dy = p1[0] - x0, p1[1] - y0
    room_w = w - x0 if dx >= 0 else x0
    room_h = h - y0 if dy >= 0 else y0
    bw = min(max(abs(dx), abs(dy) * width / height), room_w, room_h * width / height)  # covers the pointer
    bh = bw * height / width
    if min(bw, bh) < MIN_DRAWN:
        return None
    xs = sorted((x0, x0 + math.copysign(bw, dx or 1)))
    ys = sorted((y0, y0 + math.copysign(bh, dy or 1)))
    return int(round(xs[0])), int(round(ys[0])), int(round(xs[1])), int(round(ys[1]))


class PhotoDialog:
    def __init__(self):
        self.phase: str | None = None  # None (closed), 'choose' (a path field), 'crop', 'running'
        self.path_field = ""  # the fallback when there is no native file dialog
        self.photo: Photo | None = None
        self.box: tuple[int, int, int, int] | None = None  # crop (x0, y0, x1, y1) in picture px
        self.model_size = (0, 0)  # (H, W) the crop is for
        self.params = PhotoParams()
        self.error = ""  # a problem shown inside the dialog (the banner is behind it)
        self.photo_tex, self.target_tex, self.preview_tex = Texture(), Texture(), Texture()
        self._scale = 1.0  # screen px per picture px in the crop view
        self._drag_from: tuple[float, float] | None = None
        self._sent_error = 0  # the worker's error id when OpenPhoto was sent
        self._shown: tuple = (None, None)  # (target, preview) arrays on the textures
        self._name = ""  # of the picture being inverted
        self._centre_frames = 0  # frames left to centre the dialog (after it changed content)

    # ---- opening ----
    def choose(self) -> None:
        """No native dialog: ask for the path in the dialog itself."""
        self._enter("choose")

    def _enter(self, phase: str) -> None:
        self.phase, self.error = phase, ""
        self._centre_frames = 2  # the auto-sized dialog knows its new size one frame later

    def load(self, path: str, app) -> bool:
        """Read the picture and show the crop view; a bad file is reported and nothing opens."""
        if not app.state.resolution:
            app.show_error("open a checkpoint first: a photo is inverted into a generator's latent space")
            return False
        if self.phase == "running":
            app.show_error("a photo is being inverted: cancel it before opening another picture")
            return False
        try:
            photo = load_photo(path)
        except DragGANError as e:
            if self.phase == "choose":
                self.error = str(e)
            else:
                app.show_error(str(e))
            return False
        self.photo, self.model_size = photo, tuple(app.state.size)
        self.box = centre_box(photo.size, self.model_size)
        h, w = photo.size
        self._scale = min(CROP_VIEW[0] / w, CROP_VIEW[1] / h)
        shown = (max(1, round(w * self._scale)), max(1, round(h * self._scale)))
        resample = Image.Resampling.LANCZOS if self._scale < 1 else Image.Resampling.NEAREST
        self.photo_tex.upload(np.asarray(Image.fromarray(photo.rgb).resize(shown, resample)))
        self._enter("crop")
        return True

    def release(self) -> None:
        for tex in (self.photo_tex, self.target_tex, self.preview_tex):
            tex.release()

    # ---- drawing ----
    def draw(self, app) -> None:
        if self.phase is None:
            return
        if not imgui.is_popup_open(TITLE):
            imgui.open_popup(TITLE)
        if self._centre_frames > 0:  # centred when a step begins; a message appearing then grows it downwards
            imgui.set_next_window_pos(imgui.get_main_viewport().get_center(), imgui.Cond_.always,
                                      imgui.ImVec2(0.5, 0.5))
            self._centre_frames -= 1
        if not imgui.begin_popup_modal(TITLE, None, imgui.WindowFlags_.always_auto_resize)[0]:
            return
        {"choose": self._draw_choose, "crop": self._draw_crop, "running": self._draw_running}[self.phase](app)
        if self.phase is None:  # closed: the picture is not kept (a camera's photo is tens of MB)
            imgui.close_current_popup()
            self.photo = None
            self.photo_tex.release()
        imgui.end_popup()

    def _draw_choose(self, app) -> None:
        imgui.text("Type the path of a picture (PNG, JPEG, WebP, ...):")
        imgui.set_next_item_width(460)
        if imgui.is_window_appearing():
            imgui.set_keyboard_focus_here()
        entered, self.path_field = imgui.input_text_with_hint("##photo_path", "photo.jpg", self.path_field,
                                                              imgui.InputTextFlags_.enter_returns_true)
        record_item(app.rects, "photo_path_field")
        if self.error:
            imgui.text_colored(imgui.ImVec4(*theme.ERROR), self.error)
        if imgui.button("Open") or entered:
            if self.path_field.strip():
                self.load(self.path_field.strip(), app)
        record_item(app.rects, "photo_load")
        imgui.same_line()
        if imgui.button("Cancel##choose") or imgui.is_key_pressed(imgui.Key.escape):
            self.phase = None
        record_item(app.rects, "photo_cancel")

    def _draw_crop(self, app) -> None:
        p, box = self.photo, self.box
        h, w = p.size
        height, width = self.model_size
        imgui.text(f"{Path(p.path).name}   {w}x{h} px")
        for note in p.notes:
            imgui.text_colored(imgui.ImVec4(*theme.WARN), note)
        self._crop_view(app)
        cw, ch = box[2] - box[0], box[3] - box[1]
        imgui.text(f"crop {cw}x{ch} px at ({box[0]}, {box[1]})  ->  model {width}x{height} px"
                   + ("  (upscaled)" if cw < width else ""))
        imgui.text_disabled("Drag on the picture to draw another crop (the model's aspect is kept).")
        if imgui.button("Centre crop"):
            self.box, self.error = centre_box(p.size, self.model_size), ""
        record_item(app.rects, "photo_centre")
        imgui.separator_text("Inversion")
        self._settings()
        if self.error:
            imgui.push_text_wrap_pos(imgui.get_cursor_pos_x() + 540)
            imgui.text_colored(imgui.ImVec4(*theme.ERROR), self.error)
            imgui.pop_text_wrap_pos()
        imgui.separator()
        if imgui.button("Invert", imgui.ImVec2(120, 0)):
            self._send(app)
        record_item(app.rects, "photo_invert")
        imgui.same_line()
        if imgui.button("Cancel##crop", imgui.ImVec2(120, 0)) or imgui.is_key_pressed(imgui.Key.escape):
            self.phase = None
        record_item(app.rects, "photo_cancel")

    def _crop_view(self, app) -> None:
        """The picture with the crop; a drag on it draws a new crop of the model's aspect."""
        size = imgui.ImVec2(*self.photo_tex.shape[1::-1])
        origin = imgui.get_cursor_screen_pos()
        imgui.image(self.photo_tex.ref, size)
        imgui.set_cursor_screen_pos(origin)
        imgui.invisible_button("##crop_view", size)
        record_item(app.rects, "photo_crop_view")
        m = imgui.get_io().mouse_pos
        at = ((m.x - origin.x) / self._scale, (m.y - origin.y) / self._scale)  # picture px
        if imgui.is_item_activated():
            self._drag_from = at
        if imgui.is_item_active() and self._drag_from is not None:
            drawn = drag_box(self._drag_from, at, self.photo.size, self.model_size)
            if drawn is not None:
                self.box, self.error = drawn, ""
        if imgui.is_item_deactivated():
            self._drag_from = None
        s = self._scale
        x0, y0, x1, y1 = (origin.x + self.box[0] * s, origin.y + self.box[1] * s,
                          origin.x + self.box[2] * s, origin.y + self.box[3] * s)
        ex, ey = origin.x + size.x, origin.y + size.y
        dl = imgui.get_window_draw_list()
        shade = theme.u32((0.0, 0.0, 0.0, 0.6))
        for a, b in (((origin.x, origin.y), (ex, y0)), ((origin.x, y1), (ex, ey)),
                     ((origin.x, y0), (x0, y1)), ((x1, y0), (ex, y1))):  # dim what the crop leaves out
            if b[0] > a[0] and b[1] > a[1]:
                dl.add_rect_filled(imgui.ImVec2(*a), imgui.ImVec2(*b), shade)
        dl.add_rect(imgui.ImVec2(x0, y0), imgui.ImVec2(x1, y1), theme.u32(theme.OUTLINE), 0.0, 4.0)
        dl.add_rect(imgui.ImVec2(x0, y0), imgui.ImVec2(x1, y1), theme.u32(theme.SELECTED), 0.0, 2.0)

    def _settings(self) -> None:
        q = self.params
        imgui.set_next_item_width(120)
        _, q.w_steps = imgui.input_int("W steps", q.w_steps, 50, 200)
        imgui.set_item_tooltip("W projection (NVIDIA's projector: 1000 steps).")
        _, q.w_plus = imgui.checkbox("W+ refinement", q.w_plus)
        imgui.set_item_tooltip("Free every layer's w after the W projection: closer to the picture.")
        imgui.same_line(240)
        imgui.begin_disabled(not q.w_plus)
        imgui.set_next_item_width(120)
        _, q.wplus_steps = imgui.input_int("steps##wplus", q.wplus_steps, 50, 200)
        imgui.end_disabled()
        _, q.pti = imgui.checkbox("Pivotal tuning", q.pti)
        imgui.set_item_tooltip("Tune a copy of the generator's weights around the latent (PTI, Roich et al. 2021):\n"
                               "the closest reconstruction; saved sessions keep the tuned weights beside them.")
        imgui.same_line(240)
        imgui.begin_disabled(not q.pti)
        imgui.set_next_item_width(120)
        _, q.pti_steps = imgui.input_int("steps##pti", q.pti_steps, 50, 100)
        imgui.end_disabled()
        q.w_steps, q.wplus_steps, q.pti_steps = (min(max(v, 0), 100_000) for v in
                                                  (q.w_steps, q.wplus_steps, q.pti_steps))

    def _send(self, app) -> None:
        try:
            config = self.params.config()
            crop_box(self.photo.size, self.model_size, self.box)  # a crop the worker would refuse is said here
        except DragGANError as e:
            self.error = str(e)
            return
        self._sent_error = app.state.error_id
        self._shown = (None, None)
        self._name = Path(self.photo.path).name
        app.worker.send(OpenPhoto(self.photo.path, self.box, config))
        self._enter("running")

    def _draw_running(self, app) -> None:
        busy = app.worker.busy  # read first: a state read after it shows every command sent before it
        s = app.worker.snapshot()
        inv = s.inversion
        if inv is None and not busy:  # finished, failed (the banner says why) or cancelled
            self.phase = None
            if s.error_id == self._sent_error:
                app.canvas.fit()
            return
        imgui.text(f"Inverting {self._name} into the model ...")
        if inv is None:
            imgui.progress_bar(0.0, imgui.ImVec2(460, 0), "starting")
        else:
            imgui.progress_bar(inv.done_steps / max(inv.total_steps, 1), imgui.ImVec2(460, 0),
                               f"{inv.done_steps} / {inv.total_steps}")
            record_item(app.rects, "photo_progress")
            imgui.text(f"{STAGE_NAMES.get(inv.stage, inv.stage)}: step {inv.step} / {inv.stage_steps}   "
                       f"loss {inv.loss:.4f}   {inv.seconds:.0f} s")
            self._pictures(inv)
        if imgui.button("Cancel", imgui.ImVec2(120, 0)) or imgui.is_key_pressed(imgui.Key.escape):
            app.worker.send(CancelInversion())
            self.phase = None
        record_item(app.rects, "photo_cancel")

    def _pictures(self, inv) -> None:
        """The cropped picture and the latest reconstruction, side by side."""
        height, width = inv.target.shape[:2]
        factor = max(1, int(PREVIEW_H // height))  # texels per pixel: sharp pixels, not blur (texture.magnify)
        if inv.target is not self._shown[0]:
            self.target_tex.upload(magnify(inv.target, factor))
        if inv.preview is not None and inv.preview is not self._shown[1]:
            self.preview_tex.upload(magnify(inv.preview, factor))
        self._shown = (inv.target, inv.preview)
        size = imgui.ImVec2(PREVIEW_H * width / height, PREVIEW_H)
        imgui.begin_group()
        imgui.text_disabled("picture (cropped)")
        imgui.image(self.target_tex.ref, size)
        imgui.end_group()
        imgui.same_line()
        imgui.begin_group()
        imgui.text_disabled("reconstruction")
        if self.preview_tex.ready and inv.preview is not None:
            imgui.image(self.preview_tex.ref, size)
        else:
            imgui.dummy(size)
        imgui.end_group()
