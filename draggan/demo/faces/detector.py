"""Landmark detector for the cartoon-face family of :mod:`draggan.demo.faces.family`.

Pure numpy.  Works on clean renders and on images that only resemble them
(generator output: blurred, colours a little off, small artefacts), at any
resolution from 64 up.  Landmarks are returned in the family's coordinate
convention (continuous pixel coordinates, pixel centres at integer + 0.5) and in
the order of :data:`~draggan.demo.faces.family.LANDMARK_NAMES`.

Method
    1. Skin colour S: the most common tone near the family's band of skin tones,
       refined on the image.  The noise level sets the skin / non-skin
       threshold; noisy images are smoothed with a [1 2 1] kernel first.
    2. Head = biggest skin component; feature blobs = non-skin regions enclosed
       by it.  A blob whose cores (at higher thresholds) are stacked vertically
       and joined by a skin-and-dark bridge is cut in two (a blurred brow
       touching its eye, a nose touching the mouth).
    3. The mouth is the blob that is both redder and bluer than skin; the eyes
       are the lowest left/right pair of blobs above it at about the same
       height; the brows are the nearest blobs above the eyes; the nose is the
       lowest blob between eyes and mouth (or, if too faint to segment, the
       centroid of faint non-skin mass where it should be).  The eye line gives
       the face axes.
    4. Each landmark comes from an estimator that is unbiased under symmetric
       blur: eye and nose centres are centroids of point-symmetric shapes; brow
       ends are half-height crossings of the brow band's across-summed profile
       (flat-ended bands); the mouth is unmixed into skin / lip / inner-mouth
       fractions, whose integrals give the lip lens's height on the midline and
       its area (8/3 w h), hence its corners; the outline points (chin, cheeks,
       jaw, forehead) are 50 % crossings of a two-colour unmixing (skin against
       the colour just outside) along rays from the mouth, the nose and the head
       axis, which pass over the face's features.
    A landmark is "not found" (NaN, ``found`` False) when its blob or its edge
    crossing is missing or the geometry is implausible.

Accuracy
    Error in pixels against the renderer's landmarks, 200 faces from
    ``sample_params(np.random.default_rng(0))``; "worst" is the worst landmark
    (by its own mean or 95th percentile).  Blur is Pillow's GaussianBlur(sigma),
    noise is additive Gaussian (std in 0..255 units); "colour" scales each
    channel by 1 +- 6 % and shifts it by +- 8.

    ========================  =========  =====  =====  ==========  =========
    condition                 all found  mean   p95    worst mean  worst p95
    ========================  =========  =====  =====  ==========  =========
    128 px clean              100 %      0.10   0.23   0.15        0.29
    64 px clean               100 %      0.14   0.30   0.21        0.45
    128 px blur 1, noise 8    100 %      0.17   0.39   0.32        0.81
    64 px blur 0.5, noise 8   99 %       0.24   0.65   0.48        1.06
    64 px blur 1, noise 8     83 %       0.38   0.97   0.63        1.38
    128 px colour, blur 0.7,  100 %      0.11   0.24   0.17        0.43
    noise 4
    ========================  =========  =====  =====  ==========  =========

    The five benchmark points (eyes, nose tip, mouth corners) average 0.09 px at
    128 clean and 0.18 px at 128 blur 1 + noise 8.  The weakest landmarks are the
    mouth corners (pointed lens tips) and, at 64 px with strong blur, the nose
    and brows, which are only one or two pixels thick.  Speed: about 20 ms per
    128 px image and 10 ms per 64 px image on one (shared) CPU core.

    ``tests/test_faces.py`` re-measures this on 80 faces (40 for the degraded
    cases) and requires, for every landmark: mean < 0.5 px and p95 < 1.0 px on
    clean renders at 128 and 64 px; mean < 0.75 px and p95 < 1.5 px at 128 px
    with blur 1 + noise 8; mean < 0.75 px and p95 < 1.75 px at 64 px with
    blur 0.5 + noise 8 (the same blur relative to the face).
"""

from __future__ import annotations

import math

import numpy as np

from .family import _LIPS, _MOUTH_INNER, _SKIN_STOPS, LANDMARK_NAMES

__all__ = ["detect_landmarks", "detect_batch"]

K = len(LANDMARK_NAMES)
_LIPS = np.asarray(_LIPS, np.float64)
_MOUTH_INNER = np.asarray(_MOUTH_INNER, np.float64)

# ----------------------------------------------------------------------------- helpers


def _smooth(img: np.ndarray) -> np.ndarray:
    """Separable [1 2 1]/4 smoothing with edge replication (variance 0.5 px^2 per axis)."""
    p = np.pad(img, ((1, 1), (0, 0), (0, 0)), mode="edge")
    img = 0.25 * p[:-2] + 0.5 * p[1:-1] + 0.25 * p[2:]
    p = np.pad(img, ((0, 0), (1, 1), (0, 0)), mode="edge")
    return 0.25 * p[:, :-2] + 0.5 * p[:, 1:-1] + 0.25 * p[:, 2:]


def _label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected component labels (0 = background, 1..n) of a boolean mask."""
    h, w = mask.shape
    n = h * w
    big = n
    idx = np.arange(n, dtype=np.int64).reshape(h, w)
    lab = np.where(mask, idx, big)
    flat_mask = mask.ravel()
    while True:
        new = lab.copy()
        np.minimum(new[1:], lab[:-1], out=new[1:])
        np.minimum(new[:-1], lab[1:], out=new[:-1])
        np.minimum(new[:, 1:], lab[:, :-1], out=new[:, 1:])
        np.minimum(new[:, :-1], lab[:, 1:], out=new[:, :-1])
        new[~mask] = big
        # Pointer jumping: a label is the index of a pixel of the same component.
        f = new.ravel()
        for _ in range(3):
            f[flat_mask] = f[f[flat_mask]]
        if np.array_equal(new, lab):
            break
        lab = new
    roots = np.unique(lab[mask])
    out = np.zeros(n, dtype=np.int32)
    remap = np.zeros(n + 1, dtype=np.int32)
    remap[roots] = np.arange(1, len(roots) + 1, dtype=np.int32)
    out[flat_mask] = remap[lab.ravel()[flat_mask]]
    return out.reshape(h, w), len(roots)


def _dilate(mask: np.ndarray, r: int) -> np.ndarray:
    """Binary dilation by an r-pixel square."""
    m = mask.copy()
    for _ in range(r):
        n = m.copy()
        n[1:] |= m[:-1]
        n[:-1] |= m[1:]
        m = n
        n = m.copy()
        n[:, 1:] |= m[:, :-1]
        n[:, :-1] |= m[:, 1:]
        m = n
    return m


def _sample(img: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear sampling at continuous coordinates (pixel centres at +0.5), edge clamped."""
    h, w = img.shape[:2]
    if h < 2 or w < 2:
        img = np.pad(img, [(0, max(0, 2 - h)), (0, max(0, 2 - w))] + [(0, 0)] * (img.ndim - 2), mode="edge")
    fx = np.clip(np.asarray(x, np.float64) - 0.5, 0, w - 1)
    fy = np.clip(np.asarray(y, np.float64) - 0.5, 0, h - 1)
    x0 = np.minimum(fx.astype(np.int64), w - 2)
    y0 = np.minimum(fy.astype(np.int64), h - 2)
    ax, ay = fx - x0, fy - y0
    if img.ndim == 3:
        ax, ay = ax[..., None], ay[..., None]
    return ((img[y0, x0] * (1 - ax) + img[y0, x0 + 1] * ax) * (1 - ay)
            + (img[y0 + 1, x0] * (1 - ax) + img[y0 + 1, x0 + 1] * ax) * ay)


# The family's skin tones, and the same band extended past both ends: candidates must
# be near the real band (hair and background are kept away from it), while positions
# are measured along the extended band so that shades darker than the darkest skin
# (e.g. the neck of a light face) do not pile up at its end.
_BAND = np.concatenate([
    [_SKIN_STOPS[0] + 0.5 * (_SKIN_STOPS[0] - _SKIN_STOPS[1])],
    _SKIN_STOPS,
    [_SKIN_STOPS[-1] + 1.0 * (_SKIN_STOPS[-1] - _SKIN_STOPS[-2])],
])


def _polyline_coordinate(colors: np.ndarray, stops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(squared distance to a colour polyline, position along it in [0, 1]) for N x 3 colours."""
    seg_a, seg_ab = stops[:-1], stops[1:] - stops[:-1]
    nseg = len(seg_ab)
    rel = colors[:, None, :] - seg_a[None]                         # N x nseg x 3
    t = np.clip(np.einsum("nsc,sc->ns", rel, seg_ab) / np.einsum("sc,sc->s", seg_ab, seg_ab), 0, 1)
    diff = rel - t[..., None] * seg_ab[None]
    d2 = np.einsum("nsc,nsc->ns", diff, diff)
    k = np.argmin(d2, axis=1)
    rows = np.arange(len(colors))
    return d2[rows, k], (k + t[rows, k]) / nseg


def _estimate_skin(sm: np.ndarray) -> np.ndarray | None:
    """The face's skin colour: the most common tone among pixels near the skin band."""
    cols = sm[::2, ::2].reshape(-1, 3)
    d2, _ = _polyline_coordinate(cols, _SKIN_STOPS)
    cols = cols[d2 < 45.0 ** 2]
    if len(cols) < 0.01 * sm.shape[0] * sm.shape[1] / 4:
        return None
    _, t = _polyline_coordinate(cols, _BAND)
    nb = 60
    hist, edges = np.histogram(t, bins=nb, range=(0, 1))
    # Smooth the histogram a little; the face is the biggest patch of one tone.
    k = int(np.argmax(np.convolve(hist, [1, 2, 1], mode="same")))
    sel = (t >= edges[max(k - 1, 0)]) & (t <= edges[min(k + 2, nb)])
    s = np.median(cols[sel], axis=0)
    for _ in range(2):
        diff = cols - s
        near = np.einsum("nc,nc->n", diff, diff) < 28.0 ** 2
        if near.sum() < 10:
            break
        s = np.median(cols[near], axis=0)
    return s


def _ray_crossing(sm, S, T, p0, d, t_max, feat=None, step=0.25):
    """Distance along the ray p0 + t d to where the skin ends (50 % skin/outside mix).

    Skips non-skin at the start of the ray, follows the first run of skin (crossing
    the face's features, ``feat``), and locates its end by unmixing the skin colour
    S against the colour found just beyond it.  Returns None when no such edge
    exists inside the image.
    """
    h, w = sm.shape[:2]
    ts = np.arange(0.0, t_max, step)
    px = p0[0] + ts * d[0]
    py = p0[1] + ts * d[1]
    inside = (px >= 0.5) & (px <= w - 0.5) & (py >= 0.5) & (py <= h - 0.5)
    if not inside.any():
        return None
    n_in = int(np.argmin(inside)) if not inside.all() else len(ts)
    ts, px, py = ts[:n_in], px[:n_in], py[:n_in]
    cols = _sample(sm, px, py)
    dist = np.linalg.norm(cols - S, axis=1)
    skin = dist < T
    if feat is not None:
        skin |= feat[np.clip(py.astype(np.int64), 0, h - 1), np.clip(px.astype(np.int64), 0, w - 1)]
    run = max(2, int(round(1.0 / step)))
    # first index starting a run of skin samples at least 1 px long
    ok = np.convolve(skin.astype(np.int32), np.ones(run, np.int32), mode="full")[run - 1:]
    starts = np.nonzero(ok >= run)[0]
    if len(starts) == 0:
        return None
    i0 = int(starts[0])
    out = ~skin & (dist > 1.3 * T)
    ok = np.convolve(out.astype(np.int32), np.ones(run, np.int32), mode="full")[run - 1:]
    exits = np.nonzero((ok >= run) & (np.arange(len(ts)) > i0))[0]
    if len(exits) == 0:
        return None
    i1 = int(exits[0])
    # Outside colour: follow the profile away from skin (projection on the direction
    # it leaves skin in) to where it has gone 98 % of the way; this is the plateau
    # after a plain edge, and the middle of a thin band (e.g. hair between skin and
    # background at 64 px).
    n = len(ts)
    if i1 + 2 * run >= n:
        return None
    end = min(n, i1 + int(5.0 / step))
    u0 = cols[min(i1 + run, n - 1)] - S
    u0 /= max(np.linalg.norm(u0), 1e-9)
    proj = (cols[i1:end] - S) @ u0
    j0 = i1 + int(np.nonzero(proj >= 0.98 * proj.max())[0][0])
    O = cols[j0:j0 + run + 1].mean(axis=0)
    # Skin colour just inside the edge (2..5 px before it), for slowly varying shading.
    lo, hi = max(i0, i1 - int(4.0 / step)), max(i0, i1 - int(2.0 / step))
    inner = cols[lo:hi][dist[lo:hi] < 0.5 * T]
    if len(inner) >= 4:
        loc = np.median(inner, axis=0)
        if np.linalg.norm(loc - S) < 25.0:
            S = loc
    so = S - O
    nn = float(so @ so)
    if nn < 100.0:
        return None
    alpha = ((cols - O) @ so) / nn
    j = i1
    if alpha[j] >= 0.5:
        while j < len(ts) - 1 and alpha[j + 1] >= 0.5:
            j += 1
    else:
        while j > i0 and alpha[j] < 0.5:
            j -= 1
    if j >= len(ts) - 1 or alpha[j] < 0.5:
        return None
    a0, a1 = alpha[j], alpha[j + 1]
    frac = (a0 - 0.5) / (a0 - a1) if a0 != a1 else 0.0
    return float(ts[j] + step * np.clip(frac, 0.0, 1.0))


def _split(ys, xs, dist, T, amin, sm, S):
    """Split a non-skin component made of two features joined by a faint bridge.

    Blur can join a brow to its eye, or the nose to the mouth.  At a higher
    threshold the two cores separate; the split is kept only when the cores are
    stacked vertically and the straight path between them dips to a colour that
    is a mix of skin and a feature colour (a gap of skin, not e.g. the white of
    an eye between its rim and iris).  Every pixel then goes to the nearest core.
    """
    y0, x0 = ys.min(), xs.min()
    h, w = ys.max() - y0 + 1, xs.max() - x0 + 1
    if h <= 0.45 * w or len(ys) < 6:
        return [(ys, xs)]  # brows and mouths alone are much wider than tall
    d = np.zeros((h, w))
    d[ys - y0, xs - x0] = dist[ys, xs]
    for f in (1.3, 1.6, 2.2, 3.0):
        lab, n = _label(d > f * T)
        if n < 2:
            continue
        cnt = np.bincount(lab.ravel())[1:]
        big = np.nonzero(cnt >= max(amin * 0.5, 0.07 * len(ys)))[0] + 1
        if len(big) < 2:
            continue
        big = big[np.argsort(-cnt[big - 1])][:2]
        cores = [np.nonzero(lab == b) for b in big]
        cent = [np.array([c[1].mean(), c[0].mean()]) for c in cores]
        sep = cent[1] - cent[0]
        if abs(sep[1]) < abs(sep[0]):
            continue  # only brow-over-eye (roughly vertical) bridges are cut
        peak = min(float(d[c].max()) for c in cores)
        tt = np.linspace(0, 1, 25)[:, None]
        line = cent[0][None] * (1 - tt) + cent[1][None] * tt
        prof = _sample(d[..., None], line[:, 0] + 0.5, line[:, 1] + 0.5)[:, 0]
        iv = int(np.argmin(prof))
        if prof[iv] > 0.8 * peak:
            continue
        # A bridge of blurred dark features over skin is darker than skin; a brighter
        # valley is the white of an eye between its rim and iris.
        cv = _sample(sm, line[iv, 0] + x0 + 0.5, line[iv, 1] + y0 + 0.5)
        if float(np.sum(cv - S)) > 0:
            continue
        # ... and lies on the way from skin to one of the two features' colours (a
        # grey mix of eye white and rim does not).
        off = []
        for cy, cx in cores:
            C = sm[cy + y0, cx + x0].mean(axis=0)
            sc = C - S
            t = float(np.clip((cv - S) @ sc / max(sc @ sc, 1e-9), 0, 1))
            off.append(np.linalg.norm(cv - S - t * sc) - 0.15 * np.linalg.norm(sc))
        if min(off) > 1.5 * (T - 15.0):  # T grows with the image noise
            continue
        py, px = ys - y0, xs - x0
        best = np.full(len(ys), np.inf)
        owner = np.zeros(len(ys), np.int64)
        for k, (cy, cx) in enumerate(cores):
            dd = ((py[:, None] - cy[None]) ** 2 + (px[:, None] - cx[None]) ** 2).min(1)
            better = dd < best
            best[better] = dd[better]
            owner[better] = k
        return [(ys[owner == k], xs[owner == k]) for k in range(2)]
    return [(ys, xs)]


def _faint_blob(dist, T, labels, guess, radius):
    """Mean-shift centroid of faint non-skin mass (distance from skin above 0.4 T,
    outside the labelled features) in a disc around ``guess``, or None."""
    h, w = dist.shape
    r = max(radius, 1.5)
    c = np.asarray(guess, np.float64)
    for _ in range(4):
        y0, y1 = int(max(c[1] - r - 1, 0)), int(min(c[1] + r + 2, h))
        x0, x1 = int(max(c[0] - r - 1, 0)), int(min(c[0] + r + 2, w))
        if y1 - y0 < 2 or x1 - x0 < 2:
            return None
        yy, xx = np.mgrid[y0:y1, x0:x1]
        disc = (xx + 0.5 - c[0]) ** 2 + (yy + 0.5 - c[1]) ** 2 <= r * r
        wgt = np.clip((dist[y0:y1, x0:x1] - 0.4 * T) / (0.6 * T), 0.0, 1.0) * disc
        wgt[labels[y0:y1, x0:x1] != 0] = 0.0
        mass = float(wgt.sum())
        if mass < 1.0:
            return None
        c = np.array([(wgt * (xx + 0.5)).sum() / mass, (wgt * (yy + 0.5)).sum() / mass])
    return c if np.linalg.norm(c - guess) < 0.7 * r else None


class _Blob:
    __slots__ = ("label", "ys", "xs", "area", "c", "red", "bbox")

    def __init__(self, label, ys, xs):
        self.label = label
        self.ys, self.xs = ys, xs
        self.area = len(ys)
        self.c = np.array([xs.mean() + 0.5, ys.mean() + 0.5])
        self.bbox = (ys.min(), ys.max(), xs.min(), xs.max())
        self.red = 0.0


def _centroid(blob: _Blob, weight: np.ndarray) -> np.ndarray:
    w = weight[blob.ys, blob.xs]
    s = w.sum()
    if s <= 0:
        return blob.c
    return np.array([(w * (blob.xs + 0.5)).sum() / s, (w * (blob.ys + 0.5)).sum() / s])


def _window(blob: _Blob, pad: int, shape):
    y0, y1, x0, x1 = blob.bbox
    h, w = shape[:2]
    return slice(max(y0 - pad, 0), min(y1 + pad + 1, h)), slice(max(x0 - pad, 0), min(x1 + pad + 1, w))


def _local_skin(win, labels_win, near, S):
    """Median skin colour of the window pixels away from the feature (falls back to S)."""
    ring = (labels_win == 0) & ~near
    if ring.sum() < 8:
        return S
    loc = np.median(win[ring], axis=0)
    return loc if np.linalg.norm(loc - S) < 25.0 else S


def _brow_ends(sm, S, labels, blob: _Blob, step=0.25):
    """Two end points of a brow band (flat-ended straight band), or None."""
    sl = _window(blob, 4, sm.shape)
    win = sm[sl]
    inb = labels[sl] == blob.label
    near = _dilate(inb, 3)
    S = _local_skin(win, labels[sl], near, S)
    d = np.linalg.norm(win - S, axis=2)
    core = inb & (d >= 0.7 * d[inb].max())
    B = win[core].mean(axis=0)
    bs = B - S
    nn = float(bs @ bs)
    if nn < 100.0:
        return None
    wl = ((win - S) @ bs) / nn
    wl[((labels[sl] != 0) & ~inb) | ~near] = 0.0   # other features, far pixels
    wl = np.clip(wl, -0.5, 1.5)
    # Axis from the weighted second moments of the blob.
    yy, xx = np.nonzero(inb)
    ww = np.clip(wl[yy, xx], 0, 1)
    if ww.sum() <= 0:
        return None
    oy, ox = sl[0].start, sl[1].start
    X = np.stack([xx + ox + 0.5, yy + oy + 0.5], 1)
    c = (ww[:, None] * X).sum(0) / ww.sum()
    Z = X - c
    C = (ww[:, None, None] * Z[:, :, None] * Z[:, None, :]).sum(0) / ww.sum()
    evals, evecs = np.linalg.eigh(C)
    ax = evecs[:, 1]
    nrm = np.array([-ax[1], ax[0]])
    tproj = Z @ ax
    sproj = Z @ nrm
    tlo, thi = tproj.min() - 3.0, tproj.max() + 3.0
    hs = np.abs(sproj).max() + 1.5
    ts = np.arange(tlo, thi, step)
    ss = np.arange(-hs, hs + 1e-9, step)
    gx = c[0] + ts[:, None] * ax[0] + ss[None, :] * nrm[0] - ox
    gy = c[1] + ts[:, None] * ax[1] + ss[None, :] * nrm[1] - oy
    P = _sample(wl, gx, gy).sum(1) * step
    mid = (ts > tproj.min() * 0.6) & (ts < tproj.max() * 0.6)
    if mid.sum() < 2:
        return None
    half = 0.5 * np.median(P[mid])
    if half <= 0:
        return None
    ic = int(np.argmin(np.abs(ts)))
    ends = []
    for sgn in (-1, 1):
        j = ic
        while 0 < j < len(ts) - 1 and P[j + sgn] >= half:
            j += sgn
        if not (0 < j < len(ts) - 1):
            return None
        a0, a1 = P[j], P[j + sgn]
        frac = (a0 - half) / (a0 - a1) if a0 != a1 else 0.0
        ends.append(c + (ts[j] + sgn * step * np.clip(frac, 0, 1)) * ax)
    return ends[0], ends[1]


def _mouth(sm, S, labels, blob: _Blob, ex, ey):
    """(centre, half width, upper-lip point, lower-lip point) of the lip lens, or None.

    The mouth weight is the non-skin fraction from a least-squares unmixing of
    each pixel into skin, lip and inner-mouth colours.  Integrals of it do not
    depend on blur: the height integral on the midline is the lens height 2h,
    and the total mass is the lens area (8/3) w h, which gives the half width w.
    """
    sl = _window(blob, 4, sm.shape)
    win = sm[sl]
    inb = labels[sl] == blob.label
    near = _dilate(inb, 3)
    S = _local_skin(win, labels[sl], near, S)
    A = np.stack([_LIPS - S, _MOUTH_INNER - S], 1)  # 3 x 2
    X = (win - S).reshape(-1, 3)
    coef = np.linalg.solve(A.T @ A, A.T @ X.T)
    wgt = coef.sum(0).reshape(win.shape[:2])
    wgt[((labels[sl] != 0) & ~inb) | ~near] = 0.0
    wgt = np.clip(wgt, -0.5, 1.5)
    oy, ox = sl[0].start, sl[1].start
    yy, xx = np.mgrid[0:win.shape[0], 0:win.shape[1]]
    area = float(wgt.sum())
    if area <= 0:
        return None
    c = np.array([(wgt * (xx + ox + 0.5)).sum() / area, (wgt * (yy + oy + 0.5)).sum() / area])
    step = 0.25
    tmax = 0.5 * max(blob.bbox[1] - blob.bbox[0], blob.bbox[3] - blob.bbox[2]) + 4
    ts = np.arange(-tmax, tmax + 1e-9, step)
    off = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    gx = c[0] + ts[:, None] * ey[0] + off[None, :] * ex[0] - ox
    gy = c[1] + ts[:, None] * ey[1] + off[None, :] * ex[1] - oy
    height = float(_sample(wgt, gx, gy).mean(1).sum() * step)
    if height <= 0:
        return None
    hh = 0.5 * height
    hw = 3.0 * area / (8.0 * hh)
    hh /= max(1.0 - 0.5 / (hw * hw), 0.5)  # the profile averages |u| <= 1 px of the lens
    return c, hw, c - hh * ey, c + hh * ey


# ----------------------------------------------------------------------------- main


def detect_landmarks(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Find the family's landmarks in one image of any size (64 px and up works best).

    Args:
        image: uint8 (or float in 0..255) array [H, W, 3] (an alpha channel is ignored).
    Returns:
        ``(points float32 [K, 2], found bool [K])`` in the order of ``LANDMARK_NAMES``,
        as (x, y) with pixel centres at integer + 0.5; points not found are NaN.
    """
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] < 3:
        raise ValueError("expected an [H, W, 3] image")
    img = img[..., :3].astype(np.float64)
    H, W = img.shape[:2]
    res = math.sqrt(H * W)
    pts = np.full((K, 2), np.nan, np.float64)
    found = np.zeros(K, bool)

    sm = _smooth(img)
    S = _estimate_skin(sm)
    if S is None:
        return pts.astype(np.float32), found
    flat = img.reshape(-1, 3)
    for _ in range(2):  # refine on every pixel of the image itself (shift invariant)
        dd = flat - S
        close = np.einsum("nc,nc->n", dd, dd) < 25.0 ** 2
        if close.sum() < 10:
            break
        S = np.median(flat[close], axis=0)

    diff = sm - S
    dist = np.sqrt(np.einsum("hwc,hwc->hw", diff, diff))
    near = dist < 30.0
    resid = (img - sm)[near]
    noise = 1.4826 * float(np.median(np.abs(resid))) / 0.8 if len(resid) else 0.0
    if noise < 3.0:
        # Clean enough: work on the image itself (smoothing would join small features).
        sm = img
        diff = sm - S
        dist = np.sqrt(np.einsum("hwc,hwc->hw", diff, diff))
    T = max(22.0, 15.0 + 1.2 * noise)
    skin = dist < T

    # Head: biggest skin component.  Features: non-skin components not touching the border.
    slab, ns = _label(skin)
    if ns == 0:
        return pts.astype(np.float32), found
    sizes = np.bincount(slab.ravel())[1:]
    head = slab == (1 + int(np.argmax(sizes)))
    if head.sum() < 0.02 * H * W:
        return pts.astype(np.float32), found
    hy, hx = np.nonzero(head)
    head_box = (hy.min(), hy.max(), hx.min(), hx.max())

    # Holes of the head: label non-skin inside the head's bounding box (plus a margin);
    # components touching the box border are not enclosed by the face.
    y0, x0 = max(head_box[0] - 1, 0), max(head_box[2] - 1, 0)
    y1, x1 = min(head_box[1] + 2, H), min(head_box[3] + 2, W)
    sub, nl = _label(~skin[y0:y1, x0:x1])
    labels = np.zeros((H, W), np.int32)
    labels[y0:y1, x0:x1] = sub
    border = set(np.unique(np.concatenate([sub[0], sub[-1], sub[:, 0], sub[:, -1]])).tolist())
    amin = max(2.0, 2.5e-4 * H * W)
    order = np.argsort(labels.ravel(), kind="stable")
    counts = np.bincount(labels.ravel(), minlength=nl + 1)
    starts = np.concatenate([[0], np.cumsum(counts)])
    blobs: list[_Blob] = []
    rg_S, bg_S = S[0] - S[1], S[2] - S[1]
    next_label = nl
    for lab in range(1, nl + 1):
        if lab in border or counts[lab] < amin or counts[lab] > 0.05 * H * W:
            continue
        flat = order[starts[lab]:starts[lab + 1]]
        ys, xs = np.divmod(flat, W)
        if (ys.min() < head_box[0] or ys.max() > head_box[1]
                or xs.min() < head_box[2] or xs.max() > head_box[3]):
            continue
        parts = _split(ys, xs, dist, T, amin, sm, S)
        for k, (py, px_) in enumerate(parts):
            if k > 0:
                next_label += 1
                labels[py, px_] = next_label
            bl = _Blob(lab if k == 0 else next_label, py, px_)
            px = sm[py, px_]
            # Lips are red-magenta: redder than skin (R - G) and bluer than skin (B - G).
            red = np.minimum(px[:, 0] - px[:, 1] - rg_S, px[:, 2] - px[:, 1] - bg_S)
            bl.red = float(np.clip(red - 12.0, 0, None).sum())
            blobs.append(bl)
    if not blobs:
        return pts.astype(np.float32), found

    # ---- assign blobs to features
    mouth = max(blobs, key=lambda b: b.red)
    if mouth.red < 2.0 * amin:
        mouth = None
    else:
        # A thin closed mouth can fall apart into red pieces; join those next to it.
        y0, y1, x0, x1 = mouth.bbox
        m = max(2.0, 0.25 * (x1 - x0))
        for b in [b for b in blobs if b is not mouth and b.red > 0]:
            if y0 - m <= b.c[1] - 0.5 <= y1 + m and x0 - m <= b.c[0] - 0.5 <= x1 + m:
                labels[b.ys, b.xs] = mouth.label
                merged = _Blob(mouth.label, np.concatenate([mouth.ys, b.ys]),
                               np.concatenate([mouth.xs, b.xs]))
                merged.red = mouth.red + b.red
                blobs = [x for x in blobs if x is not b and x is not mouth] + [merged]
                mouth = merged
    rest = [b for b in blobs if b is not mouth]
    ref = mouth.c if mouth is not None else np.array([hx.mean() + 0.5, hy.mean() + 0.5])
    tilt = 0.0
    eyes = brows = nose = None
    for _ in range(3):
        ex = np.array([math.cos(tilt), math.sin(tilt)])
        ey = np.array([-ex[1], ex[0]])
        # (blob, lateral offset from the mouth, height above the mouth) in the current frame
        up = [(b, float((b.c - ref) @ ex), float(-(b.c - ref) @ ey)) for b in rest]
        up = [t for t in up if t[2] > 0]
        big = max((t[0].area for t in up), default=0)
        cand = [t for t in up if t[0].area >= 0.1 * big]
        # Eyes: the lowest left/right pair at about the same height (roll up to ~24 degrees).
        best = None
        for tl in cand:
            for tr in cand:
                sep = tr[1] - tl[1]
                if tl[1] >= 0 or tr[1] <= 0 or sep <= 0:
                    continue
                if abs(tl[2] - tr[2]) > 0.45 * sep:
                    continue
                if max(tl[0].area, tr[0].area) > 3.0 * min(tl[0].area, tr[0].area):
                    continue
                h = 0.5 * (tl[2] + tr[2])
                if mouth is not None and h < 0.5 * sep:
                    continue  # too close to the mouth: nose / noise, not eyes
                if best is None or h < best[0]:
                    best = (h, tl, tr)
        if best is None:
            eyes = None
            break
        h_eye, tl, tr = best
        eyes = (tl[0], tr[0])
        sep = tr[1] - tl[1]
        # Nose: between the mouth and the eyes, near the axis.
        nose_c = [t for t in up if t[0] not in eyes and abs(t[1] - 0.5 * (tl[1] + tr[1])) < 0.3 * sep
                  and t[2] < 0.8 * h_eye]
        nose = min(nose_c, key=lambda t: t[2])[0] if (nose_c and mouth is not None) else None
        # Brows: the nearest blob above each eye.
        brows = []
        for te in (tl, tr):
            above = [t for t in cand if t[0] not in eyes and t[2] > te[2] and t[2] < te[2] + 0.9 * sep
                     and abs(t[1] - te[1]) < 0.45 * sep]
            brows.append(min(above, key=lambda t: t[2])[0] if above else None)
        v = eyes[1].c - eyes[0].c
        new_tilt = math.atan2(v[1], v[0])
        if abs(new_tilt - tilt) < 1e-3:
            break
        tilt = new_tilt
    if eyes is None:
        return pts.astype(np.float32), found

    w_feat = np.clip((dist - T) / T, 0.0, 1.0)
    le, re_ = _centroid(eyes[0], w_feat), _centroid(eyes[1], w_feat)
    iod = float(np.linalg.norm(re_ - le))
    if not (0.08 * res < iod < 0.6 * res):
        return pts.astype(np.float32), found
    pts[0], pts[1] = le, re_
    found[0] = found[1] = True
    ex = (re_ - le) / iod
    ey = np.array([-ex[1], ex[0]])
    eye_mid = 0.5 * (le + re_)

    mouth_c = None
    if mouth is not None:
        m = _mouth(sm, S, labels, mouth, ex, ey)
        if m is not None:
            mc, hw, top, bot = m
            drop = float((mc - eye_mid) @ ey)
            if 0.3 * iod < drop < 2.5 * iod and 0.15 * iod < hw < 1.2 * iod:
                pts[3], pts[4] = mc - hw * ex, mc + hw * ex
                pts[5], pts[6] = top, bot
                found[3:7] = True
                mouth_c = mc

    if nose is not None:
        pts[2] = _centroid(nose, w_feat)
        found[2] = True
    elif mouth_c is not None:
        # Faint nose (small, dark skin, blurred) below the segmentation threshold:
        # centroid of the weak non-skin mass half way between the eye line and the mouth.
        nt = _faint_blob(dist, T, labels, eye_mid + 0.48 * ((mouth_c - eye_mid) @ ey) * ey
                         + ((mouth_c - eye_mid) @ ex) * ex, 0.2 * float((mouth_c - eye_mid) @ ey))
        if nt is not None:
            pts[2] = nt
            found[2] = True

    # Brows: left brow (outer, inner), right brow (inner, outer).
    brow_tops = []
    for side, blob in enumerate(brows):
        if blob is None:
            continue
        ends = _brow_ends(sm, S, labels, blob)
        if ends is None:
            continue
        e0, e1 = ends
        # outer end = farther from the eye midpoint along the eye line
        if abs((e0 - eye_mid) @ ex) < abs((e1 - eye_mid) @ ex):
            e0, e1 = e1, e0
        if side == 0:
            pts[8], pts[9] = e0, e1
            found[8:10] = True
        else:
            pts[10], pts[11] = e1, e0
            found[10:12] = True
        bx = (blob.xs + 0.5 - eye_mid[0]) * ey[0] + (blob.ys + 0.5 - eye_mid[1]) * ey[1]
        brow_tops.append(float(bx.min()))

    # Outline points from rays, which cross the face's features.
    feat = np.zeros((H, W), bool)
    for b in blobs:
        feat[b.ys, b.xs] = True
    feat = _dilate(feat, 1)
    tmax = 0.75 * res
    jaw_mid = None
    if mouth_c is not None:
        tl = _ray_crossing(sm, S, T, mouth_c, -ex, tmax, feat)
        tr = _ray_crossing(sm, S, T, mouth_c, ex, tmax, feat)
        if tl is not None and tr is not None and 0.4 * iod < tl + tr < 4 * iod:
            pts[14], pts[15] = mouth_c - tl * ex, mouth_c + tr * ex
            found[14:16] = True
            jaw_mid = 0.5 * (pts[14] + pts[15])
            tc = _ray_crossing(sm, S, T, jaw_mid, ey, tmax, feat)
            if tc is not None and tc < 2 * iod:
                pts[7] = jaw_mid + tc * ey
                found[7] = True
    if found[2]:
        nt = pts[2]
        tl = _ray_crossing(sm, S, T, nt, -ex, tmax, feat)
        tr = _ray_crossing(sm, S, T, nt, ex, tmax, feat)
        if tl is not None and tr is not None and 0.4 * iod < tl + tr < 4 * iod:
            pts[12], pts[13] = nt - tl * ex, nt + tr * ex
            found[12:14] = True
    if jaw_mid is not None:
        top = min(brow_tops) if brow_tops else -0.5 * iod
        start = float((eye_mid - jaw_mid) @ -ey) - top + 1.0
        tf = _ray_crossing(sm, S, T, jaw_mid - start * ey, -ey, tmax, feat)
        if tf is not None and tf < 1.5 * iod:
            pts[16] = jaw_mid - (start + tf) * ey
            found[16] = True

    return pts.astype(np.float32), found


def detect_batch(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`detect_landmarks` over ``images [N, H, W, 3]``: ``(points [N, K, 2], found [N, K])``."""
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError("expected [N, H, W, 3] images")
    pts = np.full((len(images), K, 2), np.nan, np.float32)
    found = np.zeros((len(images), K), bool)
    for i, im in enumerate(images):
        pts[i], found[i] = detect_landmarks(im)
    return pts, found
