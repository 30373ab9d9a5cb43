"""Loss terms of autoencoders and VAEs, each the negative log of a probability.

All functions return one value **per example**: they sum (or average) over pixels and
latent dimensions and leave the batch axis, so a chapter can average, plot or compare them.

They take NumPy arrays and tensors alike. Given NumPy arrays (or numbers, or lists) they
check them first and compute in NumPy: images must be finite, of the same shape, with
(n, H, W) accepted against (n, H, W, 1), and pixels and probabilities of a Bernoulli
must lie in [0, 1]; a wrong input raises a ``ValueError`` that says what was expected.
Given tensors, as inside a Keras training step, they compute with ``keras.ops`` and check
nothing, so training stays fast.

Thesis notation: x is an image, z a latent, q(z|x) = N(mean, diag(exp(log_var)))
the encoder's posterior, p(z) = N(0, I) the prior and p(x|z) the decoder.
"""

from __future__ import annotations

import math

import numpy as np
from keras import ops

LOG_2PI = math.log(2.0 * math.pi)
EPS = 1e-7  # probabilities are clipped to [EPS, 1 - EPS] so that log p stays finite
RECONSTRUCTIONS = ("bce", "mse")  # the names reconstruction_loss knows
CONCRETE = (
    np.ndarray,
    np.generic,
    int,
    float,
    list,
    tuple,
)  # values that can be checked now


# Inputs -------------------------------------------------------------------------------


def _backend(*values):
    """``np`` when every value is concrete (checked and computed in NumPy), else ``keras.ops``."""
    return np if all(isinstance(v, CONCRETE) for v in values) else ops


def _floats(a) -> np.ndarray:
    """A concrete value as a float array: floats keep their precision, integers become float32."""
    a = np.asarray(a)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float32)


def _array(name: str, a) -> np.ndarray:
    """A concrete value as a finite float array with a batch axis (float64 stays float64)."""
    a = np.asarray(a)
    if not (
        np.issubdtype(a.dtype, np.floating)
        or np.issubdtype(a.dtype, np.integer)
        or a.dtype == bool
    ):
        raise ValueError(f"{name} should hold numbers, got dtype {a.dtype}")
    a = _floats(a)
    if a.ndim == 0:
        raise ValueError(
            f"{name} should be a batch with one row per example, got a single number {a}"
        )
    if not np.all(np.isfinite(a)):
        raise ValueError(
            f"{name} contains NaN or infinite values ({np.count_nonzero(~np.isfinite(a))} "
            f"of {a.size}): expected finite numbers"
        )
    return a


def _in_unit_interval(name: str, a: np.ndarray, hint: str = "") -> None:
    if a.size and (a.min() < 0.0 or a.max() > 1.0):
        raise ValueError(
            f"{name} should lie in [0, 1], got values in [{a.min():.4g}, {a.max():.4g}]{hint}"
        )


def _pair(x, x_hat, names=("x", "x_hat")):
    """``(xp, x, x_hat)``: the backend to compute with and both inputs in one layout.

    An image batch (n, H, W) meets one of (n, H, W, 1) by gaining the channel axis. Concrete
    inputs are checked: finite, the same number of examples, the same shape.
    """
    xp = _backend(x, x_hat)
    if xp is np:
        x, x_hat = _array(names[0], x), _array(names[1], x_hat)
    if len(x.shape) == len(x_hat.shape) - 1 and x_hat.shape[-1] == 1:
        x = xp.expand_dims(x, -1)  # (n, H, W) -> (n, H, W, 1)
    elif len(x_hat.shape) == len(x.shape) - 1 and x.shape[-1] == 1:
        x_hat = xp.expand_dims(x_hat, -1)
    if xp is np and x.shape != x_hat.shape:
        if len(x) != len(x_hat):
            raise ValueError(
                f"{names[0]} holds {len(x)} examples and {names[1]} {len(x_hat)}: "
                f"expected one {names[1]} per {names[0]} (shapes {x.shape} and {x_hat.shape})"
            )
        raise ValueError(
            f"{names[0]} and {names[1]} should have the same shape (images (n, H, W) "
            f"and (n, H, W, 1) may be mixed), got {x.shape} and {x_hat.shape}"
        )
    if xp is ops:
        x = ops.convert_to_tensor(x, "float32")
        x_hat = ops.convert_to_tensor(x_hat, "float32")
    return xp, x, x_hat


def _non_batch_axes(t) -> tuple[int, ...]:
    return tuple(range(1, len(t.shape)))


# Gaussians ----------------------------------------------------------------------------


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
        raise ValueError(
            f"mean should have shape (batch, latent_dim), got {tuple(np.shape(mean))}"
        )
    xp = _backend(mean, log_var)
    if xp is np:
        mean, log_var = _array("mean", mean), _array("log_var", log_var)
    return 0.5 * xp.sum(xp.exp(log_var) + xp.square(mean) - 1.0 - log_var, axis=1)


def kl_per_dimension(mean, log_var):
    """The KL term of each latent dimension, averaged over the batch: shape (latent_dim,)."""
    xp = _backend(mean, log_var)
    terms = 0.5 * (xp.exp(log_var) + xp.square(mean) - 1.0 - log_var)
    return xp.mean(terms, axis=0)


def log_normal(z, mean, log_var):
    """log N(z; mean, diag(exp(log_var))), summed over the last axis.

    ``mean`` and ``log_var`` broadcast against ``z`` (e.g. 0.0 for the prior N(0, I)).
    NumPy in gives NumPy out, in the input's precision (``vqlab.theory`` uses it in float64).
    """
    xp = _backend(z, mean, log_var)
    if xp is np:
        z, mean, log_var = (_floats(a) for a in (z, mean, log_var))
    return -0.5 * xp.sum(
        LOG_2PI + log_var + xp.square(z - mean) / xp.exp(log_var), axis=-1
    )


def gaussian_nll(x, mean, variance: float = 1.0):
    """-log N(x; mean, variance * I) per example, summed over every non-batch axis.

    With ``variance=1`` this is 0.5 * squared error + 0.5 * log(2 pi) per pixel, so
    minimising squared error maximises a unit-variance Gaussian likelihood.
    """
    if not (
        isinstance(variance, (int, float, np.integer, np.floating))
        and 0 < variance < math.inf
    ):
        raise ValueError(
            f"variance should be a positive finite number, got {variance!r}"
        )
    xp, x, mean = _pair(x, mean, ("x", "mean"))
    per_pixel = 0.5 * (LOG_2PI + math.log(variance) + xp.square(x - mean) / variance)
    return xp.sum(per_pixel, axis=_non_batch_axes(per_pixel))


def mean_squared_error(x, x_hat):
    """Squared error averaged over pixels, per example: Keras' ``mse``, the thesis' MSE loss.

    The one definition of MSE in vqlab: ``metrics.mse`` and the models call it.
    """
    xp, x, x_hat = _pair(x, x_hat)
    squared = xp.square(x - x_hat)
    return xp.mean(squared, axis=_non_batch_axes(squared))


# Bernoulli ----------------------------------------------------------------------------


def bernoulli_nll(x, probs):
    """-log Bernoulli(x; probs) per example (binary cross-entropy summed over pixels).

    ``x`` may be any value in [0, 1] (the 'continuous Bernoulli' use of BCE on grey pixels);
    ``probs``, the decoder's pixel probabilities, lie in [0, 1] too.
    """
    xp, x, probs = _pair(x, probs, ("x", "probs"))
    if xp is np:
        _in_unit_interval(
            "x", x, " (pixels of a Bernoulli likelihood; divide 0-255 images by 255)"
        )
        _in_unit_interval(
            "probs", probs, " (pixel probabilities, e.g. a sigmoid output)"
        )
    p = xp.clip(probs, EPS, 1.0 - EPS)
    per_pixel = -(x * xp.log(p) + (1.0 - x) * xp.log(1.0 - p))
    return xp.sum(per_pixel, axis=_non_batch_axes(per_pixel))


def reconstruction_loss(kind: str, x, x_hat):
    """Reconstruction criterion by name: 'bce' (summed over pixels) or 'mse' (mean over pixels)."""
    if kind == "bce":
        return bernoulli_nll(x, x_hat)
    if kind == "mse":
        return mean_squared_error(x, x_hat)
    raise ValueError(f"reconstruction should be 'bce' or 'mse', got {kind!r}")


# Bounds on log p(x) ---------------------------------------------------------------------


def elbo(x, probs, mean, log_var):
    """Evidence lower bound per example, Bernoulli decoder: E_q[log p(x|z)] - KL(q || p).

    ``probs`` is the decoder output for one sample z ~ q(z|x), so the first term is a
    one-sample Monte Carlo estimate (thesis eq. 3.13). Each of ``x``, ``probs``, ``mean``
    and ``log_var`` has one row per image.
    """
    if _backend(x, mean) is np and np.ndim(x) and np.ndim(mean) and len(x) != len(mean):
        raise ValueError(
            f"x holds {len(x)} images and mean {len(mean)} rows: "
            "expected the posterior (mean, log_var) of each image"
        )
    return -bernoulli_nll(x, probs) - kl_to_standard_normal(mean, log_var)


def importance_log_weights(
    model, x, k: int = 100, seed: int = 0, batch_size: int = 500
) -> np.ndarray:
    """log w_i = log p(x|z_i) + log p(z_i) - log q(z_i|x) for k draws z_i ~ q(z|x): shape (k, n).

    Their mean is a k-sample estimate of the ELBO; the log of their mean exponential is the
    importance-weighted bound (``iwae_bound``). ``model`` needs ``posterior(x) -> (mean,
    log_var)`` and ``decode(z) -> pixel probabilities``; ``x`` holds images (n, H, W) or
    (n, H, W, C) with pixels in [0, 1].
    """
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k should be a positive number of samples, got {k!r}")
    x = _array("x", x)
    rng = np.random.default_rng(seed)
    out = []
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        n = len(xb)
        mean, log_var = (np.asarray(t) for t in model.posterior(xb))
        eps = rng.standard_normal((k, n, mean.shape[1])).astype(np.float32)
        z = mean + np.exp(0.5 * log_var) * eps  # (k, n, d)
        probs = np.asarray(model.decode(z.reshape(k * n, -1)))  # (k * n, H, W, C)
        x_rep = np.broadcast_to(xb, (k,) + xb.shape).reshape((k * n,) + xb.shape[1:])
        log_px_z = -bernoulli_nll(x_rep, probs).reshape(k, n)
        out.append(
            log_px_z + log_normal(z, 0.0, 0.0) - log_normal(z, mean, log_var)
        )  # (k, n)
    return np.concatenate(out, axis=1) if out else np.zeros((k, 0))


def iwae_bound(
    model, x, k: int = 100, seed: int = 0, batch_size: int = 500
) -> np.ndarray:
    """Importance-weighted lower bound on log p(x) per example (Burda et al. 2016), in nats.

    log p(x) >= E[log (1/k) sum_i p(x|z_i) p(z_i) / q(z_i|x)], z_i ~ q(z|x).
    k = 1 gives the ELBO; the bound tightens as k grows (see ``importance_log_weights``).
    """
    return log_mean_exp(importance_log_weights(model, x, k, seed, batch_size), axis=0)


def log_mean_exp(a, axis: int = 0) -> np.ndarray:
    """log(mean(exp(a))) along ``axis``, without overflow."""
    a = np.asarray(a, np.float64)
    peak = (
        a.max(axis=axis, keepdims=True)
        if a.shape[axis]
        else np.zeros_like(a.sum(axis=axis, keepdims=True))
    )
    return np.squeeze(peak, axis) + np.log(np.mean(np.exp(a - peak), axis=axis))


# Exact log p(x) for a 2-D latent ------------------------------------------------------


def latent_grid(
    half_width: float, n: int, disc: bool = False
) -> tuple[np.ndarray, float]:
    """The midpoints z (G, 2) of an n x n grid of cells over [-half_width, half_width]^2
    (G = n * n), or with ``disc`` only those within the disc |z| <= half_width; and the
    log of one cell's area."""
    if not (isinstance(n, (int, np.integer)) and n >= 1) or not half_width > 0:
        raise ValueError(
            f"expected a positive half_width and a positive integer n, got {half_width!r}, {n!r}"
        )
    h = 2.0 * half_width / n
    u = -half_width + h * (np.arange(n) + 0.5)
    z = np.stack(np.meshgrid(u, u, indexing="ij"), axis=-1).reshape(
        -1, 2
    )  # (n*n, 2): z1 major
    if disc:
        z = z[np.sum(z**2, axis=1) <= half_width**2]
    return z.astype(np.float32), 2.0 * math.log(h)


def log_evidence_grid(
    log_likelihood, radius: float = 5.0, n: int = 200, chunk: int = 8192
) -> np.ndarray:
    """log p(x) = log of the integral of p(x|z) N(z; 0, I) over a 2-D latent z, by quadrature.

    The midpoint rule on the cells of an n x n grid over [-radius, radius]^2 whose centres
    lie in the disc |z| <= radius: for smooth integrands its error falls like h^2 with the
    cell side h = 2 radius / n, so refining the grid shows convergence; the prior's mass
    outside the disc is exp(-radius^2 / 2). ``log_likelihood(z)`` maps grid points z (G, 2)
    to log p(x|z) for every example x: an array (N, G). Returns log p(x), shape (N,), in nats.
    """
    z, log_cell = latent_grid(radius, n, disc=True)
    total = None
    for start in range(0, len(z), chunk):
        zc = z[start : start + chunk]
        # float32 within a chunk (log-likelihoods of a few hundred nats keep ~1e-5 nats), float64
        # across; in place: the (N, chunk) array is the largest in the chapter, made once per chunk
        terms = np.array(log_likelihood(zc), np.float32)
        terms += (log_normal(zc, 0.0, 0.0) + log_cell).astype(np.float32)
        peak = terms.max(axis=1)
        terms -= peak[:, None]
        np.exp(terms, out=terms)
        part = peak.astype(np.float64) + np.log(terms.sum(axis=1, dtype=np.float64))
        total = part if total is None else np.logaddexp(total, part)
    return total


def bernoulli_log_likelihood(decode, x):
    """For binary images ``x`` (n, ...), the function z (G, d) -> log p(x|z) (n, G) under a
    decoder ``decode(z)`` of pixel probabilities: sum_i x_i log p_i + (1 - x_i) log(1 - p_i),
    computed as one matrix product x @ logit(p)^T plus sum_i log(1 - p_i)."""
    x = _array("x", x).reshape(len(x), -1)
    if x.size and not np.all((x == 0) | (x == 1)):
        raise ValueError(
            "x should be binary (0 or 1 in every pixel) for a Bernoulli likelihood to be a "
            "probability; binarize it first, e.g. vqlab.data.mnist_binarized"
        )
    x1 = np.concatenate([x, np.ones((len(x), 1))], axis=1).astype(
        np.float32
    )  # (n, D + 1): a ones column

    def log_likelihood(z):
        p = np.clip(
            np.asarray(decode(z), np.float32).reshape(len(z), -1), EPS, 1.0 - EPS
        )  # (G, D)
        log_1mp = np.log1p(-p)
        # [logit(p), sum log(1 - p)]: the product with [x, 1] adds the per-point sum in the same pass
        rhs = np.concatenate(
            [np.log(p) - log_1mp, log_1mp.sum(axis=1, keepdims=True, dtype=np.float64)],
            axis=1,
        )
        return x1 @ rhs.astype(np.float32).T  # (n, G)

    return log_likelihood
