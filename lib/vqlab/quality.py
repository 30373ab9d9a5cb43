"""Sample quality as numbers: a small MNIST classifier and statistics of what it sees.

A generator of digits is judged here by a classifier trained on real MNIST
(``DigitClassifier``, shipped as ``digit_classifier``):

* ``confident_share``: the share of samples it labels with probability > 0.9 (a sample
  that looks like no digit in particular gets a flat prediction);
* ``label_entropy``: the entropy, in bits, of the histogram of predicted labels
  (log2 10 = 3.32 when all ten digits appear equally often; low when a generator
  makes only some digits);
* ``frechet_distance`` between the classifier's penultimate features of the samples and
  of real test digits: the distance between two Gaussians fitted to the two feature
  clouds, ||mu_1 - mu_2||^2 + tr(S_1 + S_2 - 2 (S_1 S_2)^(1/2)) (Heusel et al. 2017's
  FID, with an MNIST classifier in place of the Inception network).
"""

from __future__ import annotations

import numpy as np

from . import checks
from .models.classifier import NUM_CLASSES, DigitClassifier  # noqa: F401  (importable from here)

CONFIDENCE = 0.9


def labelled_mnist(split: str = "train", limit: int | None = None) -> dict:
    """MNIST as the classifier trains on it: ``{"images": (n, 28, 28, 1), "labels": int32 (n,)}``."""
    from .data import mnist_images, mnist_labels

    return {
        "images": mnist_images(split, limit),
        "labels": mnist_labels(split, limit).astype(np.int32),
    }


# Statistics of a set of images -------------------------------------------------------------


def gaussian_stats(features) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d) of features (n, d), in float64."""
    f = checks.vectors("features", features)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"expected features (n, d) with n >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(features_a, features_b) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (n_a, d) and (n_b, d):
    ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)).

    The trace of the matrix square root uses the symmetric form, whose eigenvalues are
    those of S_a S_b, so it needs only ``eigh`` (no complex parts to discard)."""
    mu_a, s_a = gaussian_stats(features_a)
    mu_b, s_b = gaussian_stats(features_b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(
            f"feature sets differ in dimension: {mu_a.shape[0]} and {mu_b.shape[0]}"
        )
    w, v = np.linalg.eigh(s_a)
    root_a = (v * np.sqrt(np.clip(w, 0, None))) @ v.T  # S_a^(1/2)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ s_b @ root_a), 0, None)).sum()
    return float(
        np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2.0 * cross
    )


def label_entropy(labels, num_classes: int = NUM_CLASSES) -> float:
    """Entropy in bits of the histogram of ``labels`` (log2(num_classes) when uniform)."""
    p = np.bincount(np.asarray(labels).ravel(), minlength=num_classes) / max(
        len(labels), 1
    )
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def sample_quality(classifier: DigitClassifier, images, reference_features) -> dict:
    """The quality numbers of ``images`` (n, 28, 28[, 1]): ``confident`` (share with top
    probability > 0.9), ``label_entropy`` (bits), ``frechet`` (to the reference features,
    e.g. ``classifier.features(test images)``), ``labels`` (predicted, (n,))."""
    features = classifier.features(images)
    probs = classifier.probabilities(features=features)
    return {
        "confident": float(np.mean(probs.max(axis=1) > CONFIDENCE)),
        "label_entropy": label_entropy(probs.argmax(axis=1), classifier.num_classes),
        "frechet": frechet_distance(features, reference_features),
        "labels": probs.argmax(axis=1),
    }


def nearest_neighbours(
    images, reference, batch_size: int = 256
) -> tuple[np.ndarray, np.ndarray]:
    """For each image (n, H, W[, C]), the index of its nearest neighbour in ``reference``
    (m, H, W[, C]) by Euclidean distance in pixel space, and that distance: ((n,), (n,))."""
    a = np.asarray(images, np.float32).reshape(len(images), -1)
    r = np.asarray(reference, np.float32).reshape(len(reference), -1)
    if a.shape[1] != r.shape[1]:
        raise ValueError(
            f"images and reference differ in size: {a.shape[1]} and {r.shape[1]} pixels"
        )
    r_sq = (r**2).sum(axis=1)
    index = np.empty(len(a), np.int64)
    for s in range(0, len(a), batch_size):
        d2 = (
            (a[s : s + batch_size] ** 2).sum(1, keepdims=True)
            - 2 * a[s : s + batch_size] @ r.T
            + r_sq
        )  # (b, m)
        index[s : s + batch_size] = d2.argmin(axis=1)
    dist = np.linalg.norm(
        a.astype(np.float64) - r[index], axis=1
    )  # exact, not the expanded square
    return index, dist
