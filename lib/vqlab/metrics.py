"""Numbers the chapters put on what the thesis showed in pictures. NumPy in, NumPy out."""

from __future__ import annotations

import numpy as np

from . import checks, losses

MIN_MSE = 1e-12  # PSNR of identical images is capped at 10 log10(peak^2 / MIN_MSE), not infinite


def mse(a, b) -> np.ndarray:
    """Mean squared error per image, in float64: shape (n,).

    ``losses.mean_squared_error`` on NumPy arrays, with its checks: ``a`` and ``b`` hold the
    same number of images of the same shape ((n, H, W) and (n, H, W, 1) may be mixed), all finite.
    """
    return losses.mean_squared_error(
        np.asarray(a, np.float64), np.asarray(b, np.float64)
    )


def psnr_of_mse(mse_values, peak: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio in dB of given mean squared errors: 10 log10(peak^2 / mse)."""
    return 10.0 * np.log10(
        peak**2 / np.maximum(np.asarray(mse_values, np.float64), MIN_MSE)
    )


def psnr(a, b, peak: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio per image in dB: 10 log10(peak^2 / mse(a, b))."""
    return psnr_of_mse(mse(a, b), peak)


def knn_accuracy(z_train, y_train, z_test, y_test, k: int = 5) -> float:
    """Accuracy of a k-nearest-neighbour classifier on codes: how well a code separates digits.

    ``z_train`` and ``z_test`` are vectors (n, ...) (flattened per example); token ids are
    refused with a message naming the right call (``encode_latents``)."""
    from sklearn.neighbors import KNeighborsClassifier

    z_train, z_test = (
        checks.vectors("z_train", z_train),
        checks.vectors("z_test", z_test),
    )
    clf = KNeighborsClassifier(n_neighbors=k).fit(
        np.asarray(z_train).reshape(len(z_train), -1), y_train
    )
    return float(clf.score(np.asarray(z_test).reshape(len(z_test), -1), y_test))


def active_units(mean, threshold: float = 0.01) -> int:
    """Latent dimensions whose posterior mean varies across inputs (Burda et al. 2016):
    Cov_x(E_q[z_j]) > threshold. A collapsed dimension has variance ~0."""
    return int((np.var(checks.vectors("mean", mean), axis=0) > threshold).sum())
