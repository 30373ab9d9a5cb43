"""Vector quantization: the discrete bottleneck of a VQ-VAE (thesis section 3.4).

Given encoder outputs z_e of shape (..., D) and a codebook e of shape (K, D):

    k(z_e)    = argmin_j ||z_e - e_j||^2                       (nearest code, eq. 2.5)
    z_q       = e_k                                            (quantized vector)
    codebook  = mean ||sg[z_e] - z_q||^2                       (moves codes, eq. 3.31)
    commit    = beta * mean ||z_e - sg[z_q]||^2                (keeps z_e near its code, eq. 3.32)
    forward   = z_e + sg[z_q - z_e]                            (straight-through estimator)

The forward value equals z_q, but its gradient with respect to z_e is the identity, so
the decoder's gradient at z_q is copied to the encoder. ``sg`` is stop-gradient.

Options beyond the thesis (both from the VQ-VAE paper and its successors):
* ``ema_decay``: move codes by an exponential moving average of their assigned encoder
  outputs instead of by the codebook loss (van den Oord et al. 2017, appendix A.1);
* ``dead_code_threshold``: a code whose moving-average assignment count falls below the
  threshold is restarted at a random encoder output of the current batch.

``call`` returns a dict, so every part is visible: ``quantized`` (straight-through),
``indices``, ``codebook_loss``, ``commitment_loss``, ``perplexity`` and ``usage``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops


class VectorQuantizer(keras.layers.Layer):
    """Nearest-neighbour quantizer with a codebook of ``num_codes`` vectors of size ``code_dim``."""

    def __init__(self, num_codes: int, code_dim: int, beta: float = 0.25,
                 ema_decay: float | None = None, dead_code_threshold: float | None = None,
                 usage_decay: float = 0.99, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        if num_codes < 1 or code_dim < 1:
            raise ValueError(f"num_codes and code_dim must be positive, got {num_codes}, {code_dim}")
        if ema_decay is not None and not 0.0 < ema_decay < 1.0:
            raise ValueError(f"ema_decay should lie in (0, 1), got {ema_decay}")
        self.num_codes = num_codes
        self.code_dim = code_dim
        self.beta = beta
        self.ema_decay = ema_decay
        self.dead_code_threshold = dead_code_threshold
        self.usage_decay = usage_decay
        self.seed_generator = keras.random.SeedGenerator(seed)
        lim = 1.0 / num_codes
        self.codebook = self.add_weight(
            shape=(num_codes, code_dim), name="codebook",
            initializer=keras.initializers.RandomUniform(-lim, lim, seed=seed),
            trainable=ema_decay is None)
        # Moving average of how many vectors each code receives per batch (for dead codes).
        self.code_usage = self.add_weight(shape=(num_codes,), name="code_usage",
                                          initializer="ones", trainable=False)
        if ema_decay is not None:
            self.ema_count = self.add_weight(shape=(num_codes,), name="ema_count",
                                             initializer="ones", trainable=False)
            self.ema_sum = self.add_weight(shape=(num_codes, code_dim), name="ema_sum",
                                           initializer="zeros", trainable=False)
            self.ema_sum.assign(self.codebook)

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "code_dim": self.code_dim,
                "beta": self.beta, "ema_decay": self.ema_decay,
                "dead_code_threshold": self.dead_code_threshold, "usage_decay": self.usage_decay}

    def build(self, input_shape):
        if input_shape[-1] != self.code_dim:
            raise ValueError(f"VectorQuantizer expects inputs with last axis {self.code_dim}, "
                             f"got shape {tuple(input_shape)}")

    def distances(self, flat):
        """Squared Euclidean distance of each row of ``flat`` (N, D) to each code: (N, K)."""
        return (ops.sum(ops.square(flat), axis=1, keepdims=True)
                - 2.0 * ops.matmul(flat, ops.transpose(self.codebook))
                + ops.sum(ops.square(self.codebook), axis=1)[None, :])

    def nearest_codes(self, flat):
        """Index of the nearest code for each row of ``flat`` (shape (N, D)) -> (N,)."""
        return ops.argmin(self.distances(flat), axis=1)

    def lookup(self, indices):
        """Codebook vectors for integer ``indices`` of any shape -> indices.shape + (D,)."""
        return ops.take(self.codebook, ops.cast(indices, "int32"), axis=0)

    def call(self, z_e, training=False):
        if z_e.shape[-1] != self.code_dim:  # reshape below would silently mix vectors
            raise ValueError(f"VectorQuantizer expects inputs with last axis {self.code_dim}, "
                             f"got shape {tuple(z_e.shape)}")
        flat = ops.reshape(z_e, (-1, self.code_dim))
        distances = self.distances(flat)
        indices = ops.argmin(distances, axis=1)
        z_q = self.lookup(indices)

        codebook_loss = ops.mean(ops.square(ops.stop_gradient(flat) - z_q))
        commitment_loss = self.beta * ops.mean(ops.square(flat - ops.stop_gradient(z_q)))

        one_hot = ops.one_hot(indices, self.num_codes)
        counts = ops.sum(one_hot, axis=0)
        probs = counts / ops.cast(ops.shape(flat)[0], "float32")
        perplexity = ops.exp(-ops.sum(probs * ops.log(probs + 1e-10)))
        usage = ops.mean(ops.cast(counts > 0, "float32"))

        if training:
            self._update_codebook(flat, one_hot, counts, ops.min(distances, axis=1))

        quantized = flat + ops.stop_gradient(z_q - flat)  # straight-through estimator
        return {
            "quantized": ops.reshape(quantized, ops.shape(z_e)),
            "indices": ops.reshape(indices, ops.shape(z_e)[:-1]),
            "codebook_loss": codebook_loss,
            "commitment_loss": commitment_loss,
            "perplexity": perplexity,
            "usage": usage,
        }

    def _update_codebook(self, flat, one_hot, counts, error):
        flat = ops.stop_gradient(flat)
        d = self.usage_decay
        self.code_usage.assign(d * self.code_usage + (1.0 - d) * counts)
        if self.ema_decay is not None:
            g = self.ema_decay
            self.ema_count.assign(g * self.ema_count + (1.0 - g) * counts)
            self.ema_sum.assign(g * self.ema_sum + (1.0 - g) * ops.matmul(ops.transpose(one_hot), flat))
            # Laplace smoothing keeps a code that got no vectors from dividing by zero.
            n = ops.sum(self.ema_count)
            count = (self.ema_count + 1e-5) / (n + self.num_codes * 1e-5) * n
            self.codebook.assign(self.ema_sum / count[:, None])
        if self.dead_code_threshold is not None:
            self._restart_dead_codes(flat, error)

    def _restart_dead_codes(self, flat, error):
        """Move dead codes onto encoder outputs drawn with probability ~ their quantization error.

        Drawing uniformly would mostly pick the most common vector (MNIST's blank
        background), which already has a code: the restarted code would tie and stay dead.
        """
        dead = self.code_usage < self.dead_code_threshold
        logits = ops.log(ops.maximum(error, 0.0) + 1e-12)[None, :]
        pick = keras.random.categorical(logits, self.num_codes, seed=self.seed_generator)[0]
        fresh = ops.take(flat, pick, axis=0)
        self.codebook.assign(ops.where(dead[:, None], fresh, self.codebook))
        self.code_usage.assign(ops.where(dead, ops.ones_like(self.code_usage), self.code_usage))
        if self.ema_decay is not None:
            self.ema_count.assign(ops.where(dead, ops.ones_like(self.ema_count), self.ema_count))
            self.ema_sum.assign(ops.where(dead[:, None], fresh, self.ema_sum))

    def initialize_from(self, z_e, seed: int = 0):
        """Data-dependent start: k-means++ seeding of the codebook on encoder outputs.

        Random initial codes far from every encoder output are never chosen and never
        move (dead from the start). k-means++ draws each new code from the encoder
        outputs with probability proportional to the squared distance to the codes
        chosen so far, so codes start spread over the data and all in use.
        """
        flat = np.asarray(z_e, np.float32).reshape(-1, self.code_dim)
        if len(flat) < self.num_codes:
            raise ValueError(f"need at least {self.num_codes} encoder outputs, got {len(flat)}")
        chosen = kmeans_plus_plus(flat, self.num_codes, seed)
        self.codebook.assign(chosen)
        if self.ema_decay is not None:
            self.ema_count.assign(np.ones(self.num_codes, np.float32))
            self.ema_sum.assign(chosen)


def kmeans_plus_plus(points: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): ``k`` rows of ``points`` spread over them."""
    rng = np.random.default_rng(seed)
    centers = [points[rng.integers(len(points))]]
    d2 = np.sum((points - centers[0]) ** 2, axis=1)
    for _ in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else None
        centers.append(points[rng.choice(len(points), p=p)])
        d2 = np.minimum(d2, np.sum((points - centers[-1]) ** 2, axis=1))
    return np.stack(centers).astype(np.float32)


def codebook_perplexity(indices, num_codes: int) -> tuple[float, float]:
    """Perplexity exp(H) of the code histogram and the fraction of codes used at least once."""
    indices = np.asarray(indices).ravel()
    if indices.size == 0 or indices.min() < 0 or indices.max() >= num_codes:
        raise ValueError(f"indices must be a non-empty array of codes in [0, {num_codes})")
    counts = np.bincount(indices, minlength=num_codes).astype(np.float64)
    p = counts / counts.sum()
    nz = p[p > 0]
    return float(np.exp(-(nz * np.log(nz)).sum())), float((counts > 0).mean())
