"""Feature pictures: PCA colours follow the map's structure; similarity peaks at the query."""

import numpy as np
import pytest
import torch

from draggan.features_view import HEAT_STOPS, colormap, pca_rgb, similarity_map


def test_pca_colours_separate_regions():
    g = torch.Generator().manual_seed(0)
    codes = torch.randn(3, 16, generator=g) * 5  # three regions, each one feature vector
    labels = torch.zeros(24, 24, dtype=torch.long)
    labels[:, 8:16], labels[:, 16:] = 1, 2
    feat = codes[labels].permute(2, 0, 1).unsqueeze(0) + 0.01 * torch.randn(1, 16, 24, 24, generator=g)
    rgb = pca_rgb(feat).astype(int)
    assert rgb.shape == (24, 24, 3) and rgb.dtype == np.int64
    means = [rgb[labels.numpy() == k].mean(0) for k in range(3)]
    for k in range(3):
        assert np.abs(rgb[labels.numpy() == k] - means[k]).max() <= 8  # uniform inside a region
    for a in range(3):
        for b in range(a + 1, 3):
            assert np.abs(means[a] - means[b]).max() > 60  # distinct between regions


def test_first_component_is_red_and_follows_the_dominant_direction():
    x = torch.linspace(-1, 1, 32)
    u = torch.tensor([0.2, 1.0, -0.3, 0.1])  # largest loading positive -> red grows with x
    v = torch.tensor([1.0, 0.0, 0.5, 0.0])
    y = torch.linspace(-1, 1, 32)
    feat = (10 * x[None, None, :] * u[:, None, None] + 1 * y[None, :, None] * v[:, None, None]).unsqueeze(0)
    rgb = pca_rgb(feat)
    red = rgb[..., 0].astype(float)
    assert np.corrcoef(red.mean(0), x.numpy())[0, 1] > 0.99
    assert red.std(0).max() < 3  # constant down each column
    flipped = pca_rgb(-feat)  # the map negated: the eigenvectors may flip, the sign rule must undo that
    np.testing.assert_allclose(flipped[..., 0].astype(int), rgb[..., 0][:, ::-1].astype(int), atol=2)


@pytest.mark.parametrize("metric", ["l1", "cosine"])
def test_similarity_is_maximal_at_the_query(metric):
    feat = torch.randn(1, 8, 20, 20, generator=torch.Generator().manual_seed(1)) + 0.5
    for qx, qy in [(3, 4), (19, 0), (10, 17)]:
        sim = similarity_map(feat, (20, 20), (qx, qy), metric)
        assert sim.shape == (20, 20) and sim.min() >= 0 and sim.max() <= 1 + 1e-6
        assert np.unravel_index(sim.argmax(), sim.shape) == (qy, qx)
        assert sim[qy, qx] == pytest.approx(1.0, abs=1e-5)


def test_similarity_at_image_resolution_reads_the_right_cell():
    feat = torch.randn(1, 8, 16, 16, generator=torch.Generator().manual_seed(2))
    sim = similarity_map(feat, (64, 64), (4 * 5 + 1.5, 4 * 9 + 1.5), "l1")  # the centre of cell (5, 9)
    assert np.unravel_index(sim.argmax(), sim.shape) == (9, 5)


def test_similarity_rejects_unknown_metric():
    with pytest.raises(ValueError, match="metric"):
        similarity_map(torch.zeros(1, 2, 4, 4), (4, 4), (0, 0), "l7")


def test_colormap_ends_and_monotone_brightness():
    c = colormap(np.linspace(0, 1, 50))
    np.testing.assert_array_equal(c[0], HEAT_STOPS[0])
    np.testing.assert_array_equal(c[-1], HEAT_STOPS[-1])
    assert (np.diff(c.astype(int).sum(1)) >= 0).all()
    assert colormap(np.array([np.nan, -1, 2])).shape == (3, 3)
