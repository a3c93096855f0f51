"""A procedural family of cartoon face portraits with exact landmarks.

Every face is a deterministic function of a :class:`FaceParams`, and every
:class:`FaceParams` is a fixed, deterministic function of a point of the unit
cube ``[0, 1]^PARAM_DIM`` (:func:`params_from_unit`): geometry is linear in the
coordinates, colours follow piecewise-linear palettes (continuous), and only the
hair style uses thresholds.  That makes the family a good target for a small demo
StyleGAN2 (``z -> u -> image``) and a benchmark with ground truth: the renderer
returns the landmark positions it drew, and :mod:`draggan.demo.faces.detector` finds
them again in an image.

Coordinates
    Landmarks are ``float32 [K, 2]`` arrays of ``(x, y)`` in *continuous pixel
    coordinates*: x to the right, y down, the image spans ``[0, res]`` on both
    axes and the centre of pixel ``(row i, column j)`` is ``(j + 0.5, i + 0.5)``.
    The detector uses the same convention.

Layout
    Portraits are roughly FFHQ-aligned: the head sits near the centre (position
    varies by +-7 % of the image, size by +-15 %, roll by +-15 degrees), with a
    neck and shoulders below.  Yaw and pitch shift the inner features
    (eyes, brows, nose, mouth) sideways / up-down relative to the head outline,
    as a 3/4 view would.

Drawing
    Shapes are polygons drawn with Pillow at 4x the output resolution (inset by
    Pillow's ~0.4 px overfill) and box filtered down, so edges are anti-aliased
    and sit where the geometry says.  Colours are chosen so that the features
    can be told apart by a simple detector: skin tones lie on a narrow band;
    hair, background and clothes stay at least ``MIN_SKIN_DISTANCE`` (RGB) away
    from every skin tone; lips are a saturated red-magenta; eyes are white with
    a dark rim and a cool (blue / green / grey / violet) iris; brows are a dark
    shade of the hair; the nose tip is a darker, redder shade of the skin.  Every
    feature is point symmetric about its landmark (eyes, nose), a straight band
    with flat ends (brows) or a symmetric lens (lips), so that centroids and
    edge crossings stay unbiased under blur.  "Left" and "right" mean image
    left / right (the viewer's).

Speed
    Measured with ``time.process_time`` over 200 faces, one thread, on the shared
    2-core development machine while other jobs were running: about 4 ms per face
    at ``res=128`` (2.5-3.5 ms at 64, 9-10 ms at 256), plus 0.5 ms for
    :func:`sample_params`.  Most of it is Pillow filling ~20 polygons at 4x size
    and the 4x box reduction.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "FaceParams",
    "PARAM_DIM",
    "PARAM_NAMES",
    "LANDMARK_NAMES",
    "FIVE_POINT",
    "HAIR_STYLES",
    "SUPERSAMPLE",
    "MIN_SKIN_DISTANCE",
    "params_from_unit",
    "sample_params",
    "render",
    "landmarks_of",
    "skin_palette_distance",
]

SUPERSAMPLE = 4
MIN_SKIN_DISTANCE = 55.0

HAIR_STYLES = ("short", "long", "bun", "bald")

LANDMARK_NAMES: tuple[str, ...] = (
    "left_eye_center",      # 0  centre of the left eye (white + iris + rim)
    "right_eye_center",     # 1
    "nose_tip",             # 2  centre of the round nose tip
    "mouth_left_corner",    # 3
    "mouth_right_corner",   # 4
    "upper_lip_center",     # 5  top edge of the upper lip, on the mouth's midline
    "lower_lip_center",     # 6  bottom edge of the lower lip, on the mouth's midline
    "chin",                 # 7  lowest point of the head outline along the head axis
    "left_brow_outer",      # 8  centre of the brow band's outer (far from nose) end
    "left_brow_inner",      # 9
    "right_brow_inner",     # 10
    "right_brow_outer",     # 11
    "left_cheek",           # 12 head outline at the height of the nose tip
    "right_cheek",          # 13
    "left_jaw",             # 14 head outline at the height of the mouth centre
    "right_jaw",            # 15
    "forehead",             # 16 hairline on the head axis (top of the head if bald)
)
K = len(LANDMARK_NAMES)

# The 5-point subset used in the DragGAN face-landmark benchmark.
FIVE_POINT: tuple[int, ...] = (0, 1, 2, 3, 4)

# Names of the unit-cube coordinates, in order (PARAM_DIM = len(PARAM_NAMES)).
PARAM_NAMES: tuple[str, ...] = (
    "center_x", "center_y", "scale", "aspect", "jaw_taper", "tilt", "yaw", "pitch",
    "eye_open", "eye_size", "eye_spacing", "brow_gap", "brow_slant", "brow_thickness",
    "mouth_width", "mouth_open", "lip_thickness", "nose_size", "nose_drop", "mouth_drop",
    "hair_style", "hair_color", "hair_volume", "hairline", "skin_tone", "skin_hue",
    "bg_color_a", "bg_color_b", "bg_angle", "iris_color", "shirt_color", "neck_width",
)
PARAM_DIM: int = len(PARAM_NAMES)


@dataclass(frozen=True)
class FaceParams:
    """Parameters of one face.  Lengths are fractions of the image size unless noted."""

    center_x: float          # head centre x (fraction of image width), ~0.43..0.57
    center_y: float          # head centre y (fraction of image height), ~0.41..0.51
    head_width: float        # half-width of the head outline (fraction of image), ~0.17..0.25
    head_height: float       # half-height of the head outline, centre to chin (fraction), ~0.22..0.31
    jaw_taper: float         # how much the lower face narrows towards the chin, 0.12..0.30
    tilt: float              # roll of the whole head in degrees, clockwise on screen, -15..15
    yaw: float               # sideways shift of the inner features, -1..1 (3/4 view)
    pitch: float             # up/down shift of the inner features, -1..1
    eye_open: float          # eye height / eye width, 0.42..0.80
    eye_size: float          # eye half-width as a fraction of head_width, 0.17..0.22
    eye_spacing: float       # eye-centre offset from the face axis, fraction of head_width, 0.37..0.43
    brow_gap: float          # gap between eye top and brow bottom, fraction of head_height, 0.15..0.19
    brow_slant: float        # brow angle in degrees (+: outer ends higher), -10..10
    brow_thickness: float    # brow band thickness, fraction of head_height, 0.07..0.095
    mouth_width: float       # mouth half-width, fraction of head_width, 0.28..0.38
    mouth_open: float        # inner mouth height, fraction of head_height, 0..0.10 (0 = closed)
    lip_thickness: float     # lip thickness, fraction of head_height, 0.035..0.05
    nose_size: float         # nose-tip radius, fraction of head_width, 0.09..0.12
    nose_drop: float         # eye line to nose tip, fraction of head_height, 0.27..0.32
    mouth_drop: float        # nose tip to mouth centre, fraction of head_height, 0.30..0.34
    hair_style: str          # one of HAIR_STYLES: "short", "long", "bun", "bald"
    hair_color: tuple[int, int, int]   # RGB of the hair; brows are a darker shade of it
    hair_volume: float       # hair thickness around the skull, fraction of head size, 0.05..0.10
    hairline: float          # hairline height on the head axis, fraction of head_height above centre, 0.82..0.92
    skin_color: tuple[int, int, int]   # RGB skin tone (face, ears); neck and nose are shades of it
    bg_color_a: tuple[int, int, int]   # background gradient start colour
    bg_color_b: tuple[int, int, int]   # background gradient end colour
    bg_angle: float          # direction of the background gradient in degrees
    iris_color: tuple[int, int, int]   # RGB of the iris
    shirt_color: tuple[int, int, int]  # RGB of the clothes
    neck_width: float        # neck half-width as a fraction of head_width, 0.36..0.46


# ----------------------------------------------------------------------------- colours

# Skin tones: a polyline from light to dark; ``skin_hue`` moves along a small red/yellow axis.
_SKIN_STOPS = np.array([(247, 219, 197), (224, 178, 146), (190, 132, 98), (141, 96, 70)], float)
_SKIN_HUE = np.array([6.0, -2.0, -8.0])  # added with weight in [-1, 1]

# Hair: silver, black, dark brown, chestnut, auburn, copper, golden blonde -- ordered
# so that the path between them stays well away from the skin tones.
_HAIR_STOPS = np.array(
    [(140, 150, 175), (34, 27, 25), (70, 44, 32), (98, 54, 34), (132, 36, 30), (204, 106, 10),
     (244, 208, 56)],
    float,
)
# Cool iris colours only: a mix of sclera white with a cool or neutral colour never looks
# like skin, so a blurred eye cannot fall apart into skin-coloured pieces.
_IRIS = np.array([(58, 108, 186), (52, 128, 120), (64, 132, 88), (104, 126, 150), (96, 86, 150)], float)
_SCLERA = (250, 250, 247)
_EYE_RIM = (40, 28, 30)
_PUPIL = (16, 12, 16)
_LIPS = (188, 44, 70)
_MOUTH_INNER = (78, 18, 32)


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    """HSV (all in [0, 1]) to RGB in [0, 255]."""
    h = (h % 1.0) * 6.0
    i = int(h) % 6
    f = h - int(h)
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    rgb = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)][i]
    return np.array(rgb) * 255.0


def _polyline_lerp(stops: np.ndarray, u: float) -> np.ndarray:
    x = float(np.clip(u, 0.0, 1.0)) * (len(stops) - 1)
    i = min(int(x), len(stops) - 2)
    f = x - i
    return stops[i] * (1 - f) + stops[i + 1] * f


_SKIN_SEG_A = np.concatenate([_SKIN_STOPS[:-1] + k * _SKIN_HUE for k in (-1.0, 0.0, 1.0)])
_SKIN_SEG_AB = np.concatenate([np.diff(_SKIN_STOPS, axis=0)] * 3)


def _skin_distances(colors: np.ndarray) -> np.ndarray:
    """Distance of each of N x 3 colours to the band of family skin tones."""
    rel = colors[:, None, :] - _SKIN_SEG_A[None]
    t = np.clip((rel * _SKIN_SEG_AB).sum(-1) / (_SKIN_SEG_AB * _SKIN_SEG_AB).sum(-1), 0.0, 1.0)
    diff = rel - t[..., None] * _SKIN_SEG_AB
    return np.sqrt((diff * diff).sum(-1).min(1))


def skin_palette_distance(color) -> float:
    """RGB distance from ``color`` to the band of skin tones the family can produce."""
    return float(_skin_distances(np.asarray(color, float).reshape(1, 3))[0])


def _nearest_skin(color: np.ndarray) -> np.ndarray:
    """The closest point of the band of skin tones to ``color`` (3,)."""
    rel = color[None, :] - _SKIN_SEG_A
    t = np.clip((rel * _SKIN_SEG_AB).sum(-1) / (_SKIN_SEG_AB * _SKIN_SEG_AB).sum(-1), 0.0, 1.0)
    pts = _SKIN_SEG_A + t[:, None] * _SKIN_SEG_AB
    return pts[int(np.argmin(((color[None, :] - pts) ** 2).sum(-1)))]


def _push_from_skin(c: np.ndarray, toward, dmin: float = MIN_SKIN_DISTANCE) -> np.ndarray:
    """Move ``c`` straight away from the nearest skin tone until it is ``dmin`` from all.

    Colours already far enough are unchanged, so the map is continuous for them;
    a colour on the band itself is pushed towards ``toward``.
    """
    c = np.asarray(c, float).copy()
    for _ in range(4):
        near = _nearest_skin(c)
        d = float(np.linalg.norm(c - near))
        if d >= dmin - 1e-6:
            break
        away = (c - near) / d if d > 1e-6 else np.asarray(toward, float) - near
        away /= max(float(np.linalg.norm(away)), 1e-9)
        c = near + away * (dmin + 0.5)
    return np.clip(c, 0.0, 255.0)


def _rgb(c) -> tuple[int, int, int]:
    c = np.clip(np.round(np.asarray(c, float)), 0, 255).astype(int)
    return (int(c[0]), int(c[1]), int(c[2]))


# ----------------------------------------------------------------------------- params

def _lin(u: float, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(np.clip(u, 0.0, 1.0))


def params_from_unit(u) -> FaceParams:
    """Map a point of the unit cube ``[0, 1]^PARAM_DIM`` to :class:`FaceParams`.

    Fixed and deterministic; continuous coordinates are mapped linearly, colours
    piecewise linearly along palettes, and only ``hair_style`` uses thresholds.
    Values outside ``[0, 1]`` are clipped.
    """
    u = np.asarray(u, dtype=np.float64).reshape(-1)
    if u.shape[0] != PARAM_DIM:
        raise ValueError(f"expected {PARAM_DIM} unit coordinates, got {u.shape[0]}")
    g = dict(zip(PARAM_NAMES, np.clip(u, 0.0, 1.0).tolist()))

    scale = _lin(g["scale"], 0.87, 1.15)
    aspect = _lin(g["aspect"], -1.0, 1.0)
    head_width = 0.205 * scale * (1.0 + 0.07 * aspect)
    head_height = 0.262 * scale * (1.0 - 0.04 * aspect)

    hs = g["hair_style"]
    hair_style = "short" if hs < 0.38 else "long" if hs < 0.72 else "bun" if hs < 0.92 else "bald"

    skin = _polyline_lerp(_SKIN_STOPS, g["skin_tone"]) + _lin(g["skin_hue"], -1, 1) * _SKIN_HUE
    hair = _push_from_skin(_polyline_lerp(_HAIR_STOPS, g["hair_color"]), (30, 24, 24))

    # Background: muted cool colours (teal .. blue .. violet), pushed away from skin.
    def bg(v: float, light: float) -> np.ndarray:
        c = _hsv(0.45 + 0.35 * v, 0.18 + 0.22 * light, 0.50 + 0.35 * light)
        return _push_from_skin(c, (70, 90, 130))

    bg_a = bg(g["bg_color_a"], g["bg_color_b"])
    bg_b = bg(1.0 - 0.5 * g["bg_color_a"], 1.0 - g["bg_color_b"])
    shirt = _push_from_skin(
        _hsv(0.3 + 0.6 * g["shirt_color"], 0.55, 0.35 + 0.35 * abs(2 * g["shirt_color"] - 1)),
        (40, 50, 90),
    )

    return FaceParams(
        center_x=_lin(g["center_x"], 0.43, 0.57),
        center_y=_lin(g["center_y"], 0.41, 0.51),
        head_width=head_width,
        head_height=head_height,
        jaw_taper=_lin(g["jaw_taper"], 0.12, 0.30),
        tilt=_lin(g["tilt"], -15.0, 15.0),
        yaw=_lin(g["yaw"], -1.0, 1.0),
        pitch=_lin(g["pitch"], -1.0, 1.0),
        eye_open=_lin(g["eye_open"], 0.42, 0.80),
        eye_size=_lin(g["eye_size"], 0.17, 0.22),
        eye_spacing=_lin(g["eye_spacing"], 0.37, 0.43),
        brow_gap=_lin(g["brow_gap"], 0.15, 0.19),
        brow_slant=_lin(g["brow_slant"], -10.0, 10.0),
        brow_thickness=_lin(g["brow_thickness"], 0.07, 0.095),
        mouth_width=_lin(g["mouth_width"], 0.28, 0.38),
        mouth_open=max(0.0, _lin(g["mouth_open"], -0.025, 0.10)),  # closed for u < 0.2
        lip_thickness=_lin(g["lip_thickness"], 0.035, 0.05),
        nose_size=_lin(g["nose_size"], 0.09, 0.12),
        nose_drop=_lin(g["nose_drop"], 0.27, 0.32),
        mouth_drop=_lin(g["mouth_drop"], 0.30, 0.34),
        hair_style=hair_style,
        hair_color=_rgb(hair),
        hair_volume=_lin(g["hair_volume"], 0.05, 0.10),
        hairline=_lin(g["hairline"], 0.82, 0.92),
        skin_color=_rgb(skin),
        bg_color_a=_rgb(bg_a),
        bg_color_b=_rgb(bg_b),
        bg_angle=_lin(g["bg_angle"], 0.0, 360.0),
        iris_color=_rgb(_polyline_lerp(_IRIS, g["iris_color"])),
        shirt_color=_rgb(shirt),
        neck_width=_lin(g["neck_width"], 0.36, 0.46),
    )


def sample_params(rng: np.random.Generator) -> FaceParams:
    """A random face: ``params_from_unit(rng.random(PARAM_DIM))``."""
    return params_from_unit(rng.random(PARAM_DIM))


# ----------------------------------------------------------------------------- geometry

class _Frame:
    """Head frame: u across the face (image-right when untilted), v down, in pixels."""

    def __init__(self, cx: float, cy: float, tilt_deg: float):
        t = math.radians(tilt_deg)
        self.c = np.array([cx, cy])
        self.R = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])

    def __call__(self, uv) -> np.ndarray:
        uv = np.asarray(uv, float)
        return uv @ self.R.T + self.c


@functools.lru_cache(maxsize=None)
def _circle(n: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.cos(t), np.sin(t)


def _ellipse(cu, cv, ru, rv, n=48, ang=0.0) -> np.ndarray:
    c, s = _circle(n)
    x, y = ru * c, rv * s
    if ang:
        ca, sa = math.cos(ang), math.sin(ang)
        x, y = x * ca - y * sa, x * sa + y * ca
    return np.stack([cu + x, cv + y], 1)


def _outline_halfwidth(v: float, a: float, b: float, k: float) -> float:
    """Half-width of the head outline at height v (head frame)."""
    s = float(np.clip(v / b, -1.0, 1.0))
    w = a * math.sqrt(max(0.0, 1 - s * s))
    return w * (1 - k * s * s) if s > 0 else w


def _outline(a: float, b: float, k: float, n=120, scale=1.0) -> np.ndarray:
    c, s = _circle(n)
    u = a * c * np.where(s > 0, 1 - k * s * s, 1.0)
    return np.stack([u, b * s], 1) * scale


def _lens(cu, cv, hw, hh, n=20) -> np.ndarray:
    """Parabolic lens: |v - cv| <= hh * (1 - ((u - cu) / hw)^2).  Pointed corners at cu +- hw."""
    x = np.linspace(-1, 1, n)
    top = np.stack([cu + hw * x, cv - hh * (1 - x * x)], 1)
    bot = np.stack([cu + hw * x[::-1][1:-1], cv + hh * (1 - x[::-1][1:-1] ** 2)], 1)
    return np.concatenate([top, bot], 0)


def _rect(cu, cv, half_len, half_th, ang) -> np.ndarray:
    ca, sa = math.cos(ang), math.sin(ang)
    d, n = np.array([ca, sa]), np.array([-sa, ca])
    c = np.array([cu, cv])
    return np.stack([c - half_len * d - half_th * n, c + half_len * d - half_th * n,
                     c + half_len * d + half_th * n, c - half_len * d + half_th * n])


def _clipped_disc(cu, cv, r, ru, rv, n=40) -> np.ndarray:
    """Disc of radius r intersected with the centred ellipse (ru, rv): star-shaped about (cu, cv)."""
    c, s = _circle(n)
    re = 1.0 / np.sqrt((c / ru) ** 2 + (s / rv) ** 2)
    rr = np.minimum(r, re)
    return np.stack([cu + rr * c, cv + rr * s], 1)


def _layout(p: FaceParams, res: int):
    """Shapes (list of (rgb, polygon in image pixels)) and landmarks [K, 2] for params p."""
    a = p.head_width * res
    b = p.head_height * res
    k = p.jaw_taper
    F = _Frame(p.center_x * res, p.center_y * res, p.tilt)
    skin = np.asarray(p.skin_color, float)
    hair = np.asarray(p.hair_color, float)
    du = 0.07 * a * p.yaw
    dv = 0.05 * b * p.pitch
    shapes: list[tuple[tuple[int, int, int], np.ndarray]] = []

    def add(col, poly_uv, frame=F):
        shapes.append((_rgb(col), frame(poly_uv)))

    # Body: the neck leans with the head (so it always leaves the head outline below
    # the jaw points); the shoulders are upright.
    up = _Frame(p.center_x * res, p.center_y * res, 0.0)
    chest_top = b * 1.1 + 0.07 * res
    nw = p.neck_width * a
    neck = skin * 0.66
    cos_t = math.cos(math.radians(p.tilt))
    neck_len = (chest_top + 0.1 * res) / cos_t
    add(neck, np.array([(-nw, 0), (nw, 0), (nw * 1.06, neck_len), (-nw * 1.06, neck_len)]))
    add(p.shirt_color, _ellipse(0, chest_top + 0.62 * res, 2.3 * a, 0.62 * res, n=64), up)
    # U-shaped neckline where the neck enters the shirt.
    neck_x = -chest_top * math.tan(math.radians(p.tilt))
    add(neck, _ellipse(neck_x, chest_top, nw * 1.05, 0.05 * res, n=32), up)

    vol = 1.0 + p.hair_volume
    style = p.hair_style
    # Hair behind the head.
    if style == "short":
        back = _outline(a, b, 0.0, n=80, scale=vol)
        back = back[back[:, 1] < -0.05 * b]
        add(hair, back)
    elif style == "bun":
        rb = 0.36 * a
        add(hair * 0.92, _ellipse(0, -b * vol - 0.45 * rb, rb, rb * 0.9, n=40))
    # Ears (skin), hidden by long hair.
    ear_w, ear_h = 0.16 * a, 0.15 * b
    for sgn in (-1, 1):
        ear = _ellipse(sgn * (a * 0.97), -0.14 * b, ear_w, ear_h, n=32)
        add(skin, ear)
    if style == "long":
        t = np.linspace(np.pi, 2 * np.pi, 40)
        top = np.stack([a * (vol + 0.14) * np.cos(t), b * vol * np.sin(t)], 1)
        bottom = np.array([(a * (vol + 0.2), 1.25 * b), (-a * (vol + 0.2), 1.25 * b)])
        add(hair, np.concatenate([top, bottom]))

    # Head.
    add(skin, _outline(a, b, k, n=160))

    # Fringe / hair on top of the head: region above the hairline curve.
    vh0 = -p.hairline * b
    if style == "bald":
        forehead = np.array([0.0, -b])
    else:
        vt = vh0 + 0.05 * b                      # hairline height where it meets the outline
        at = _outline_halfwidth(vt, a, b, k) * 1.04
        x = np.linspace(-1, 1, 25)
        inner = np.stack([at * x, vh0 + (vt - vh0) * x * x], 1)
        st = float(np.clip(vt / (b * vol), -1, 1))
        t0 = math.asin(st)                       # angle of the outer boundary at height vt
        t = np.linspace(t0, -np.pi - t0, 40)     # right temple, over the top, left temple
        outer = np.stack([a * vol * np.cos(t), b * vol * np.sin(t)], 1)
        add(hair, np.concatenate([inner, outer]))  # left->right along the hairline, back over the top
        forehead = np.array([0.0, vh0])

    # Eyes and brows.
    brow_col = hair * 0.45 + np.array([6.0, 4.0, 4.0])
    ve = -0.04 * b + dv
    eyes, brows = [], []
    for sgn in (-1, 1):
        ks = 1.0 - 0.08 * p.yaw * sgn            # far-side features a little smaller
        rx = p.eye_size * a * ks
        ry = rx * p.eye_open
        cu = sgn * p.eye_spacing * a + du
        rim = 0.10 * ry + 0.006 * res
        add(_EYE_RIM, _ellipse(cu, ve, rx + rim, ry + rim, n=40))
        add(_SCLERA, _ellipse(cu, ve, rx, ry, n=40))
        ri = 0.55 * rx
        add(p.iris_color, _clipped_disc(cu, ve, ri, rx, ry))
        add(_PUPIL, _clipped_disc(cu, ve, 0.45 * ri, rx, ry, n=24))
        eyes.append((cu, ve))
        # Brow: straight band with flat ends, above the eye.
        th = p.brow_thickness * b
        half_len = 0.95 * rx
        ang = math.radians(p.brow_slant) * -sgn  # +slant: outer end higher
        bu = cu
        bv = ve - ry - rim - p.brow_gap * b - th / 2
        add(brow_col, _rect(bu, bv, half_len, th / 2, ang))
        d = np.array([math.cos(ang), math.sin(ang)]) * half_len
        ends = (np.array([bu, bv]) - d, np.array([bu, bv]) + d)  # smaller u first
        brows.append(ends)  # smaller u first: left (outer, inner), right (inner, outer)

    # Nose: round tip, a shade of the skin.
    vn = ve + p.nose_drop * b
    rn = p.nose_size * a
    nu = 1.3 * du
    add(skin * np.array([0.80, 0.60, 0.58]), _ellipse(nu, vn, rn * 1.15, rn, n=32))

    # Mouth: lips (parabolic lens) with a dark inner lens / parting line.
    vm = vn + p.mouth_drop * b
    mw = p.mouth_width * a
    inner_h = max(p.mouth_open * b, 0.012 * res) / 2
    mh = p.lip_thickness * b + p.mouth_open * b / 2
    add(_LIPS, _lens(du, vm, mw, mh, n=24))
    add(_MOUTH_INNER, _lens(du, vm, mw * 0.86, inner_h, n=20))

    jaw = _outline_halfwidth(vm, a, b, k)
    cheek = _outline_halfwidth(vn, a, b, k)
    lm_uv = np.array([
        eyes[0], eyes[1], (nu, vn),
        (du - mw, vm), (du + mw, vm), (du, vm - mh), (du, vm + mh),
        (0.0, b),
        brows[0][0], brows[0][1], brows[1][0], brows[1][1],
        (-cheek, vn), (cheek, vn), (-jaw, vm), (jaw, vm),
        forehead,
    ])
    return shapes, F(lm_uv).astype(np.float32)


@functools.lru_cache(maxsize=8)
def _centred_axis(res: int) -> np.ndarray:
    return (np.arange(res, dtype=np.float32) + 0.5) / res - 0.5


def _background(p: FaceParams, res: int) -> np.ndarray:
    ang = math.radians(p.bg_angle)
    x = _centred_axis(res)
    t = 0.5 + 0.9 * (x[None, :] * math.cos(ang) + x[:, None] * math.sin(ang))
    np.clip(t, 0, 1, out=t)
    a = np.asarray(p.bg_color_a, np.float32) + 0.5
    b = np.asarray(p.bg_color_b, np.float32) + 0.5
    return (a + t[..., None] * (b - a)).astype(np.uint8)


# Pillow fills polygons about 0.35-0.45 px (of the drawing resolution) beyond their
# edges; polygons are inset by this much so that edges land where the landmarks say.
_PIL_GROW = 0.4


def _inset_all(polys: list[np.ndarray], d: float) -> list[np.ndarray]:
    """Move the edges of each (mostly convex) polygon inwards by d; vectorised over polygons."""
    sizes = np.array([len(q) for q in polys])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    pts = np.concatenate(polys, 0)
    pid = np.repeat(np.arange(len(polys)), sizes)
    local = np.arange(len(pts)) - starts[pid]
    nxt = starts[pid] + (local + 1) % sizes[pid]
    prv = starts[pid] + (local - 1) % sizes[pid]
    e = pts[nxt] - pts                                    # edge i: vertex i -> i+1
    cross = pts[:, 0] * pts[nxt, 1] - pts[nxt, 0] * pts[:, 1]
    area2 = np.add.reduceat(cross, starts)
    sgn = np.where(area2 > 0, 1.0, -1.0)[pid]
    e /= np.maximum(np.sqrt((e * e).sum(1, keepdims=True)), 1e-9)
    n = sgn[:, None] * np.stack([-e[:, 1], e[:, 0]], 1)   # inward normal of edge i
    n_prev = n[prv]
    off = (n + n_prev) / np.maximum(1.0 + (n * n_prev).sum(1, keepdims=True), 0.2)
    # do not pull sharp tips back by more than ~d (Pillow does not grow tips much either)
    off *= np.minimum(1.0, 1.2 / np.maximum(np.sqrt((off * off).sum(1, keepdims=True)), 1e-9))
    out = pts + d * off
    return np.split(out, np.cumsum(sizes)[:-1])


def landmarks_of(params: FaceParams, res: int = 128) -> np.ndarray:
    """The landmarks ``render(params, res)`` would return, without drawing."""
    return _layout(params, res)[1]


def render(params: FaceParams, res: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Draw a face.

    Returns ``(image uint8 [res, res, 3], landmarks float32 [K, 2])`` with landmarks in
    continuous pixel coordinates (pixel centres at integer + 0.5, see the module
    docstring), ordered as :data:`LANDMARK_NAMES`.  Deterministic in ``params``.
    """
    res = int(res)
    if res < 16:
        raise ValueError("res must be at least 16")
    ss = SUPERSAMPLE
    shapes, lms = _layout(params, res)
    # The background is a linear gradient: build it at the output resolution and
    # upsample by pixel replication, so that box filtering gives it back exactly.
    canvas = Image.fromarray(_background(params, res)).resize((res * ss, res * ss), Image.NEAREST)
    draw = ImageDraw.Draw(canvas)
    polys = _inset_all([poly * ss for _, poly in shapes], _PIL_GROW)
    for (col, _), poly in zip(shapes, polys):
        draw.polygon(poly.ravel().tolist(), fill=col)
    out = np.asarray(canvas.reduce(ss))
    return out, lms
