"""Loss terms of autoencoders and VAEs, each the negative log of a probability.

All functions work on NumPy arrays and on tensors (they use ``keras.ops``) and
return one value **per example**: they sum over pixels and latent dimensions and
leave the batch axis, so a chapter can average, plot or compare them.

Thesis notation: x is an image, z a latent, q(z|x) = N(mean, diag(exp(log_var)))
the encoder's posterior, p(z) = N(0, I) the prior and p(x|z) the decoder.
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops

LOG_2PI = math.log(2.0 * math.pi)
EPS = 1e-7


def _sum_except_batch(t):
    t = ops.convert_to_tensor(t)
    return ops.sum(ops.reshape(t, (ops.shape(t)[0], -1)), axis=1)


def kl_to_standard_normal(mean, log_var):
    """KL(N(mean, diag(exp(log_var))) || N(0, I)) per example (thesis eq. 3.23).

    ``mean`` and ``log_var`` have shape (batch, latent_dim); the result has shape (batch,):
    0.5 * sum_j (exp(log_var_j) + mean_j^2 - 1 - log_var_j).
    """
    if tuple(np.shape(mean)) != tuple(np.shape(log_var)):
        raise ValueError(
            f"mean and log_var must have the same shape (batch, latent_dim); got "
            f"{tuple(np.shape(mean))} and {tuple(np.shape(log_var))}"
        )
    if len(np.shape(mean)) != 2:
        raise ValueError(f"mean should have shape (batch, latent_dim), got {tuple(np.shape(mean))}")
    return 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=1)


def kl_per_dimension(mean, log_var):
    """The KL term of each latent dimension, averaged over the batch: shape (latent_dim,)."""
    terms = 0.5 * (ops.exp(log_var) + ops.square(mean) - 1.0 - log_var)
    return ops.mean(terms, axis=0)


def gaussian_nll(x, mean, variance=1.0):
    """-log N(x; mean, variance * I) per example, summed over every non-batch axis.

    With ``variance=1`` this is 0.5 * squared error + 0.5 * log(2 pi) per pixel, so
    minimising squared error maximises a unit-variance Gaussian likelihood.
    """
    x = ops.convert_to_tensor(x, "float32")
    mean = ops.convert_to_tensor(mean, "float32")
    per_pixel = 0.5 * (LOG_2PI + math.log(variance) + ops.square(x - mean) / variance)
    return _sum_except_batch(per_pixel)


def bernoulli_nll(x, probs):
    """-log Bernoulli(x; probs) per example (binary cross-entropy summed over pixels).

    ``x`` may be any value in [0, 1] (the 'continuous Bernoulli' use of BCE on grey pixels).
    """
    x = ops.convert_to_tensor(x, "float32")
    p = ops.clip(ops.convert_to_tensor(probs, "float32"), EPS, 1.0 - EPS)
    return _sum_except_batch(-(x * ops.log(p) + (1.0 - x) * ops.log(1.0 - p)))


def mean_squared_error(x, x_hat):
    """Squared error averaged over pixels, per example: Keras' ``mse``, the thesis' MSE loss."""
    x = ops.convert_to_tensor(x, "float32")
    return ops.mean(ops.reshape(ops.square(x - x_hat), (ops.shape(x)[0], -1)), axis=1)


def reconstruction_loss(kind: str, x, x_hat):
    """Reconstruction criterion by name: 'bce' (summed over pixels) or 'mse' (mean over pixels)."""
    if kind == "bce":
        return bernoulli_nll(x, x_hat)
    if kind == "mse":
        return mean_squared_error(x, x_hat)
    raise ValueError(f"reconstruction should be 'bce' or 'mse', got {kind!r}")


def elbo(x, probs, mean, log_var):
    """Evidence lower bound per example, Bernoulli decoder: E_q[log p(x|z)] - KL(q || p).

    ``probs`` is the decoder output for one sample z ~ q(z|x), so the first term is a
    one-sample Monte Carlo estimate (thesis eq. 3.13).
    """
    return -bernoulli_nll(x, probs) - kl_to_standard_normal(mean, log_var)


def log_normal(z, mean, log_var):
    """log N(z; mean, diag(exp(log_var))), summed over the last axis."""
    return -0.5 * ops.sum(LOG_2PI + log_var + ops.square(z - mean) / ops.exp(log_var), axis=-1)


def iwae_bound(model, x, k: int = 100, seed: int = 0, batch_size: int = 500) -> np.ndarray:
    """Importance-weighted lower bound on log p(x) per example (Burda et al. 2016), in nats.

    log p(x) >= E[log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)], z_i ~ q(z|x).
    k = 1 gives the ELBO; the bound tightens as k grows. ``model`` needs
    ``encode(x) -> (mean, log_var)`` and ``decode(z) -> pixel probabilities``.
    """
    if k < 1:
        raise ValueError(f"k should be a positive number of samples, got {k}")
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, len(x), batch_size):
        xb = np.asarray(x[start:start + batch_size], np.float32)
        n = len(xb)
        mean, log_var = (np.asarray(t) for t in model.encode(xb))
        eps = rng.standard_normal((k, n, mean.shape[1])).astype(np.float32)
        z = mean + np.exp(0.5 * log_var) * eps  # (k, n, d)
        probs = np.asarray(model.decode(z.reshape(k * n, -1)))
        x_rep = np.broadcast_to(xb, (k,) + xb.shape).reshape((k * n,) + xb.shape[1:])
        log_px_z = np.asarray(-bernoulli_nll(x_rep, probs)).reshape(k, n)
        log_pz = np.asarray(log_normal(z, np.zeros_like(z), np.zeros_like(z)))
        log_qz = np.asarray(log_normal(z, mean, log_var))
        log_w = log_px_z + log_pz - log_qz
        m = log_w.max(axis=0)
        out.append(m + np.log(np.mean(np.exp(log_w - m), axis=0)))
    return np.concatenate(out)
