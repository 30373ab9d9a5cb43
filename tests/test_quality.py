"""Sample quality: the MNIST classifier and the statistics of its predictions (vqlab.quality)."""

import numpy as np
import pytest

from vqlab import quality


def test_frechet_distance_of_known_gaussians():
    """Equal sets are at distance 0; for Gaussians with diagonal covariances the distance is
    ||mu_a - mu_b||^2 + sum (sqrt(var_a) - sqrt(var_b))^2, checked on large samples."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(2000, 3))
    assert quality.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    mu, sd_a, sd_b = (
        np.array([1.0, 0.0, -2.0]),
        np.array([1.0, 2.0, 0.5]),
        np.array([3.0, 1.0, 0.5]),
    )
    x = rng.normal(size=(200_000, 3)) * sd_a
    y = mu + rng.normal(size=(200_000, 3)) * sd_b
    exact = np.sum(mu**2) + np.sum((sd_a - sd_b) ** 2)
    assert quality.frechet_distance(x, y) == pytest.approx(exact, rel=0.02)


def test_frechet_distance_matches_the_matrix_square_root_formula():
    """Against tr(S_a + S_b - 2 sqrtm(S_a S_b)) for full covariances (eigen-decomposition of S_a S_b)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(500, 4)) @ rng.normal(size=(4, 4))
    y = rng.normal(size=(400, 4)) @ rng.normal(size=(4, 4)) + 0.5
    s_a, s_b = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
    eig = np.linalg.eigvals(s_a @ s_b)  # real and >= 0 up to rounding
    reference = (
        np.sum((x.mean(0) - y.mean(0)) ** 2)
        + np.trace(s_a)
        + np.trace(s_b)
        - 2 * np.sqrt(np.clip(eig.real, 0, None)).sum()
    )
    assert quality.frechet_distance(x, y) == pytest.approx(reference, rel=1e-8)
    with pytest.raises(ValueError, match="differ in dimension"):
        quality.frechet_distance(x, y[:, :3])
    with pytest.raises(ValueError, match="n >= 2"):
        quality.frechet_distance(x[:1], y)


def test_label_entropy():
    assert quality.label_entropy(np.arange(10).repeat(7)) == pytest.approx(np.log2(10))
    assert quality.label_entropy(np.full(50, 3)) == 0.0
    assert quality.label_entropy([0, 1]) == pytest.approx(1.0)


def test_nearest_neighbours_finds_copies():
    rng = np.random.default_rng(0)
    reference = rng.uniform(size=(100, 28, 28, 1))
    index, dist = quality.nearest_neighbours(reference[[5, 17, 99]], reference)
    np.testing.assert_array_equal(index, [5, 17, 99])
    np.testing.assert_allclose(dist, 0.0, atol=1e-3)
    _, dist = quality.nearest_neighbours(reference[:1] + 0.1, reference)
    assert dist[0] == pytest.approx(0.1 * 28, rel=1e-3)


def test_shipped_classifier_is_accurate_and_its_quality_numbers_make_sense():
    from vqlab import pretrained
    from vqlab.data import mnist_images, mnist_labels

    clf = pretrained.load("digit_classifier")
    x, y = mnist_images("test"), mnist_labels("test")
    assert np.mean(clf.predict_labels(x) == y) >= 0.99
    assert clf.features(x[:7]).shape == (7, clf.feature_dim)
    reference = clf.features(x[5000:])
    real = quality.sample_quality(clf, x[:1000], reference)
    assert real["confident"] > 0.95 and real["label_entropy"] > 3.2
    noise = quality.sample_quality(
        clf, np.random.default_rng(0).uniform(size=(1000, 28, 28, 1)), reference
    )
    assert noise["frechet"] > 10 * real["frechet"]
