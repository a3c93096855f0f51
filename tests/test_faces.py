"""Tests of the procedural face family and its landmark detector (draggan.demo.faces)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from PIL import Image, ImageFilter

from draggan.demo.faces import (
    FIVE_POINT,
    LANDMARK_NAMES,
    PARAM_DIM,
    PARAM_NAMES,
    detect_batch,
    detect_landmarks,
    landmarks_of,
    params_from_unit,
    render,
    sample_params,
)
from draggan.demo.faces import family

K = len(LANDMARK_NAMES)
N = 80  # faces per accuracy test (the renders are shared between tests)
IDX = {n: i for i, n in enumerate(LANDMARK_NAMES)}
# Landmark index -> index of its mirror image (left <-> right).
MIRROR = [IDX[n.replace("left", "#").replace("right", "left").replace("#", "right")]
          for n in LANDMARK_NAMES]


@functools.lru_cache(maxsize=None)
def _faces(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return tuple(sample_params(rng) for _ in range(n))


@functools.lru_cache(maxsize=None)
def _renders(n: int, res: int):
    out = [render(p, res) for p in _faces(n)]
    return np.stack([o[0] for o in out]), np.stack([o[1] for o in out])


def _degrade(images: np.ndarray, blur: float, noise: float, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = []
    for im in images:
        if blur > 0:
            im = np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(blur)))
        if noise > 0:
            im = np.clip(im + rng.normal(0.0, noise, im.shape), 0, 255).astype(np.uint8)
        out.append(im)
    return np.stack(out)


def _errors(images, truth):
    pts, found = detect_batch(images)
    err = np.linalg.norm(pts - truth, axis=-1)
    return np.where(found, err, np.nan), found


def _check_accuracy(err, found, mean_tol, p95_tol, found_min):
    per_mean = np.nanmean(err, axis=0)
    per_p95 = np.nanpercentile(err, 95, axis=0)
    worst = int(np.argmax(per_p95))
    assert found.mean(axis=0).min() >= found_min, dict(zip(LANDMARK_NAMES, found.mean(axis=0)))
    assert per_mean.max() < mean_tol, dict(zip(LANDMARK_NAMES, per_mean.round(3)))
    assert per_p95.max() < p95_tol, (LANDMARK_NAMES[worst], per_p95[worst])


# ----------------------------------------------------------------------------- family


def test_api_constants():
    assert PARAM_DIM == len(PARAM_NAMES) == len(set(PARAM_NAMES))
    assert K >= 12 and len(set(LANDMARK_NAMES)) == K
    for name in ("left_eye_center", "right_eye_center", "nose_tip", "mouth_left_corner",
                 "mouth_right_corner", "upper_lip_center", "lower_lip_center", "chin"):
        assert name in LANDMARK_NAMES
    assert [LANDMARK_NAMES[i] for i in FIVE_POINT] == [
        "left_eye_center", "right_eye_center", "nose_tip", "mouth_left_corner", "mouth_right_corner"]
    assert sorted(MIRROR) == list(range(K))


def test_params_from_unit_is_fixed_and_clipped():
    u = np.random.default_rng(3).random(PARAM_DIM)
    assert params_from_unit(u) == params_from_unit(u.copy())
    assert params_from_unit(np.full(PARAM_DIM, 1.7)) == params_from_unit(np.ones(PARAM_DIM))
    assert params_from_unit(np.full(PARAM_DIM, -2.0)) == params_from_unit(np.zeros(PARAM_DIM))
    with pytest.raises(ValueError):
        params_from_unit(np.zeros(PARAM_DIM + 1))
    # sample_params is params_from_unit of the generator's next PARAM_DIM uniforms
    assert sample_params(np.random.default_rng(5)) == params_from_unit(
        np.random.default_rng(5).random(PARAM_DIM))
    # continuous coordinates move the face continuously
    a = params_from_unit(np.full(PARAM_DIM, 0.5))
    b = params_from_unit(np.where(np.arange(PARAM_DIM) == 0, 0.51, 0.5))
    assert 0 < abs(a.center_x - b.center_x) < 0.01


def test_render_is_deterministic_and_params_matter():
    p, q = _faces(2)
    im1, lm1 = render(p, 128)
    im2, lm2 = render(p, 128)
    assert im1.dtype == np.uint8 and im1.shape == (128, 128, 3)
    assert lm1.dtype == np.float32 and lm1.shape == (K, 2)
    assert np.array_equal(im1, im2) and np.array_equal(lm1, lm2)
    assert np.array_equal(landmarks_of(p, 128), lm1)
    im3, lm3 = render(q, 128)
    assert np.abs(im1.astype(int) - im3).mean() > 5
    assert np.abs(lm1 - lm3).max() > 1
    # landmarks scale with the resolution
    assert np.allclose(landmarks_of(p, 64) * 2, lm1, atol=1e-3)


def test_landmarks_inside_and_geometry_sane():
    _, lms = _renders(N, 128)
    assert np.all((lms > 0) & (lms < 128))
    for lm in lms:
        ex = lm[IDX["right_eye_center"]] - lm[IDX["left_eye_center"]]
        ex /= np.linalg.norm(ex)
        ey = np.array([-ex[1], ex[0]])                      # down the face
        assert ex[0] > np.cos(np.radians(16))               # |roll| <= 15 degrees
        v = lm @ ey
        assert v[IDX["nose_tip"]] > v[IDX["left_eye_center"]] + 2
        assert v[IDX["upper_lip_center"]] > v[IDX["nose_tip"]] + 2
        assert v[IDX["lower_lip_center"]] > v[IDX["upper_lip_center"]]
        assert np.argmax(v) == IDX["chin"]                  # chin is the lowest point
        assert np.argmin(v) == IDX["forehead"]
        u = lm @ ex
        for left, right in (("mouth_left_corner", "mouth_right_corner"), ("left_jaw", "right_jaw"),
                            ("left_cheek", "right_cheek"), ("left_brow_outer", "left_brow_inner"),
                            ("right_brow_inner", "right_brow_outer")):
            assert u[IDX[left]] < u[IDX[right]]


def test_landmarks_sit_on_the_drawn_features():
    """Checks the renderer's landmarks against its pixels, independently of the detector."""
    images, lms = _renders(N, 128)
    for p, im, lm in zip(_faces(N), images, lms):
        def px(name):
            x, y = lm[IDX[name]]
            return im[int(y), int(x)].astype(float)
        # eye centres are on the pupil (dark), the nose tip on the shaded nose
        assert px("left_eye_center").max() < 60 and px("right_eye_center").max() < 60
        nose = np.asarray(p.skin_color) * np.array([0.80, 0.60, 0.58])
        assert np.linalg.norm(px("nose_tip") - nose) < 12
        # lip centre points are on the mouth's edge: half a pixel inside is red / dark red
        c = 0.5 * (lm[IDX["upper_lip_center"]] + lm[IDX["lower_lip_center"]])
        x, y = c
        mouth = im[int(y), int(x)].astype(float)
        assert mouth[0] - mouth[1] > 40
        # the chin: skin 1.5 px above it, not skin 1.5 px below it (along the face axis)
        ex = lm[1] - lm[0]
        ex /= np.linalg.norm(ex)
        ey = np.array([-ex[1], ex[0]])
        skin = np.asarray(p.skin_color, float)
        a = lm[IDX["chin"]] - 1.5 * ey
        b = lm[IDX["chin"]] + 1.5 * ey
        assert np.linalg.norm(im[int(a[1]), int(a[0])] - skin) < 10
        assert np.linalg.norm(im[int(b[1]), int(b[0])] - skin) > 30


def test_palettes_keep_away_from_skin():
    for p in _faces(N):
        for col in (p.hair_color, p.bg_color_a, p.bg_color_b, p.shirt_color):
            assert family.skin_palette_distance(col) > family.MIN_SKIN_DISTANCE - 1.0
        assert p.hair_style in family.HAIR_STYLES


# ----------------------------------------------------------------------------- detector
# Tolerances in pixels; measured values (seed 0) are in draggan/demo/faces/detector.py.


def test_detector_clean_128():
    images, lms = _renders(N, 128)
    err, found = _errors(images, lms)
    assert found.all(axis=1).mean() >= 0.99
    _check_accuracy(err, found, mean_tol=0.5, p95_tol=1.0, found_min=0.99)


def test_detector_clean_64():
    images, lms = _renders(N, 64)
    err, found = _errors(images, lms)
    assert found.all(axis=1).mean() >= 0.99
    _check_accuracy(err, found, mean_tol=0.5, p95_tol=1.0, found_min=0.99)


def test_detector_blur_and_noise_128():
    images, lms = _renders(N, 128)
    images, lms = _degrade(images[:40], blur=1.0, noise=8.0), lms[:40]
    err, found = _errors(images, lms)
    _check_accuracy(err, found, mean_tol=0.75, p95_tol=1.5, found_min=0.98)


def test_detector_blur_and_noise_64():
    # sigma 0.5 px at 64 is the same blur, relative to the face, as sigma 1 px at 128
    images, lms = _renders(N, 64)
    images, lms = _degrade(images[:40], blur=0.5, noise=8.0), lms[:40]
    err, found = _errors(images, lms)
    _check_accuracy(err, found, mean_tol=0.75, p95_tol=1.75, found_min=0.94)


def test_detector_colour_shift_128():
    """Generator-like output: colours a little off, slightly soft, a little noise."""
    images, lms = _renders(N, 128)
    rng = np.random.default_rng(7)
    shifted = []
    for im in images[:30]:
        x = im * (1 + rng.uniform(-0.06, 0.06, 3)) + rng.uniform(-8, 8, 3)
        shifted.append(np.clip(x, 0, 255).astype(np.uint8))
    images = _degrade(np.stack(shifted), blur=0.7, noise=4.0, seed=8)
    err, found = _errors(images, lms[:30])
    _check_accuracy(err, found, mean_tol=0.75, p95_tol=1.5, found_min=0.96)


def test_detector_follows_a_shift():
    images, _ = _renders(N, 128)
    for im in images[:4]:
        pts, found = detect_landmarks(im)
        dx, dy = 3, -2
        pad = np.pad(im, ((4, 4), (4, 4), (0, 0)), mode="edge")
        shifted = pad[4 - dy:4 - dy + 128, 4 - dx:4 - dx + 128]
        pts2, found2 = detect_landmarks(shifted)
        assert found.all() and found2.all()
        np.testing.assert_allclose(pts2, pts + np.array([dx, dy], np.float32), atol=0.02)


def test_detector_mirror_swaps_left_and_right():
    for res in (64, 128):
        images, _ = _renders(N, res)
        for im in images[:4]:
            pts, found = detect_landmarks(im)
            mp, mfound = detect_landmarks(np.ascontiguousarray(im[:, ::-1]))
            assert found.all() and mfound.all()
            back = mp[MIRROR].copy()
            back[:, 0] = res - back[:, 0]
            np.testing.assert_allclose(back, pts, atol=0.02)


def test_detector_reports_missing_features():
    images, lms = _renders(N, 128)
    p, im, lm = _faces(N)[0], images[0].copy(), lms[0]
    # paint the mouth over with skin: mouth landmarks are gone, the eyes are still there
    c = 0.5 * (lm[IDX["mouth_left_corner"]] + lm[IDX["mouth_right_corner"]])
    half = 0.5 * np.linalg.norm(lm[IDX["mouth_right_corner"]] - lm[IDX["mouth_left_corner"]]) + 3
    y0, y1 = int(c[1] - half / 2), int(c[1] + half / 2)
    x0, x1 = int(c[0] - half), int(c[0] + half)
    im[y0:y1, x0:x1] = p.skin_color
    pts, found = detect_landmarks(im)
    for name in ("mouth_left_corner", "mouth_right_corner", "upper_lip_center", "lower_lip_center"):
        assert not found[IDX[name]] and np.isnan(pts[IDX[name]]).all()
    assert found[IDX["left_eye_center"]] and found[IDX["right_eye_center"]]
    np.testing.assert_allclose(pts[:2], lm[:2], atol=0.5)
    # nothing face-like at all
    for blank in (np.zeros((64, 64, 3), np.uint8), np.full((96, 96, 3), 128, np.uint8),
                  (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)):
        pts, found = detect_landmarks(blank)
        assert not found[:2].any()


def test_detect_batch_matches_single():
    images, _ = _renders(N, 64)
    pts, found = detect_batch(images[:3])
    assert pts.shape == (3, K, 2) and found.shape == (3, K) and pts.dtype == np.float32
    for i in range(3):
        p1, f1 = detect_landmarks(images[i])
        assert np.array_equal(f1, found[i]) and np.allclose(p1, pts[i], equal_nan=True)
    with pytest.raises(ValueError):
        detect_batch(images[0])
