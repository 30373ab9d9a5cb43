"""Numerical checks of the theory chapters: each function computes one side of an equation.

Chapters 4-6 derive the VAE on paper; the functions here let a chapter (and a test)
check every step in numbers. They compute in NumPy and SciPy, in float64, and return NumPy.

Notation (thesis chapter 3): z is a latent of dimension d, x an observation of
dimension D, p(z) = N(0, I) the prior, p(x|z) the likelihood (decoder), p(z|x) the
true posterior and q(z|x) an approximate one. Diagonal Gaussians are given by
``mean`` and ``log_var`` of shape (..., d); full Gaussians by ``mean`` (d,) and
``cov`` (d, d).

Contents
--------
* discrete distributions: ``information``, ``entropy``, ``cross_entropy``, ``kl_discrete``;
* Gaussians: ``gaussian_kl`` (full covariances), ``kl_monte_carlo`` (the KL to N(0, I)
  by sampling, with its standard error); the diagonal Gaussian log-density and ``LOG_2PI``
  are ``vqlab.losses.log_normal`` and ``vqlab.losses.LOG_2PI``, shared with the models;
* a 1-D latent-variable toy model whose evidence p(x) is a one-dimensional integral:
  ``toy_evidence_quadrature``, ``toy_evidence_monte_carlo``, ``toy_posterior``, ``toy_elbo``;
* probabilistic PCA (Tipping & Bishop 1999), a latent model whose evidence, posterior and
  ELBO are all exact: ``ppca_log_evidence``, ``ppca_posterior``, ``ppca_elbo``,
  ``ppca_elbo_monte_carlo``, ``elbo_gap_check``;
* gradient estimators of d/dmean E_{N(mean, std^2)}[f(z)]: ``reparameterization_gradient``,
  ``score_function_gradient``, ``gradient_variance``.
"""

from __future__ import annotations

import math

import numpy as np

from .losses import LOG_2PI, log_normal

# Discrete distributions ----------------------------------------------------------------


def _probabilities(p, name="p") -> np.ndarray:
    p = np.asarray(p, np.float64)
    if p.ndim != 1 or np.any(p < 0) or not np.isclose(p.sum(), 1.0):
        raise ValueError(
            f"{name} should be a 1-D array of probabilities summing to 1, got {p}"
        )
    return p


def information(p) -> np.ndarray:
    """Self-information of each outcome in nats: I(x) = -log p(x) (inf where p(x) = 0)."""
    with np.errstate(divide="ignore"):
        return -np.log(np.asarray(p, np.float64))


def entropy(p) -> float:
    """H(p) = sum_x p(x) I(x) = -sum_x p(x) log p(x), in nats (0 log 0 = 0)."""
    p = _probabilities(p)
    nz = p > 0
    return float(-np.sum(p[nz] * np.log(p[nz])))


def cross_entropy(p, q) -> float:
    """H(p, q) = -sum_x p(x) log q(x): the mean information of outcomes of p measured by q."""
    p, q = _probabilities(p), _probabilities(q, "q")
    nz = p > 0
    if np.any(q[nz] == 0):
        return math.inf
    return float(-np.sum(p[nz] * np.log(q[nz])))


def kl_discrete(p, q) -> float:
    """KL(p || q) = sum_x p(x) log(p(x) / q(x)) = H(p, q) - H(p), in nats.

    Infinite when q puts no mass where p does.
    """
    p, q = _probabilities(p), _probabilities(q, "q")
    nz = p > 0
    if np.any(q[nz] == 0):
        return math.inf
    return float(np.sum(p[nz] * (np.log(p[nz]) - np.log(q[nz]))))


# Gaussians -----------------------------------------------------------------------------


def gaussian_kl(mean_q, cov_q, mean_p, cov_p) -> float:
    """KL(N(mean_q, cov_q) || N(mean_p, cov_p)) for full covariance matrices, in nats:

        0.5 * [ tr(cov_p^-1 cov_q) + (mean_p - mean_q)^T cov_p^-1 (mean_p - mean_q)
                - d + log det cov_p - log det cov_q ].

    With mean_p = 0, cov_p = I and a diagonal cov_q it is thesis eq. 3.23.
    """
    mean_q, mean_p = (
        np.atleast_1d(np.asarray(mean_q, np.float64)),
        np.atleast_1d(np.asarray(mean_p, np.float64)),
    )
    cov_q, cov_p = (
        np.atleast_2d(np.asarray(cov_q, np.float64)),
        np.atleast_2d(np.asarray(cov_p, np.float64)),
    )
    d = mean_q.shape[0]
    for name, c in (("cov_q", cov_q), ("cov_p", cov_p)):
        if c.shape != (d, d):
            raise ValueError(
                f"{name} should have shape ({d}, {d}) to match the mean, got {c.shape}"
            )
    chol_p = np.linalg.cholesky(cov_p)
    chol_q = np.linalg.cholesky(cov_q)
    diff = mean_p - mean_q
    trace = np.trace(np.linalg.solve(cov_p, cov_q))
    mahalanobis = diff @ np.linalg.solve(cov_p, diff)
    logdet_p = 2.0 * np.sum(np.log(np.diag(chol_p)))
    logdet_q = 2.0 * np.sum(np.log(np.diag(chol_q)))
    return float(0.5 * (trace + mahalanobis - d + logdet_p - logdet_q))


def kl_monte_carlo(mean, log_var, n: int = 10_000, seed: int = 0):
    """Monte Carlo estimate of KL(q || N(0, I)) with q = N(mean, diag(exp(log_var))).

    KL = E_q[log q(z) - log p(z)] ~ (1/n) sum_i [log q(z_i) - log p(z_i)], z_i ~ q.
    ``mean`` and ``log_var`` have shape (..., d); returns ``(estimate, standard_error)``,
    each of shape (...), where the standard error is std_i / sqrt(n).
    """
    mean, log_var = np.asarray(mean, np.float64), np.asarray(log_var, np.float64)
    if mean.shape != log_var.shape:
        raise ValueError(
            f"mean and log_var must have the same shape, got {mean.shape} and {log_var.shape}"
        )
    if n < 2:
        raise ValueError(
            f"n should be at least 2 samples to estimate a standard error, got {n}"
        )
    eps = np.random.default_rng(seed).standard_normal((n,) + mean.shape)
    z = mean + np.exp(0.5 * log_var) * eps
    terms = log_normal(z, mean, log_var) - log_normal(z, 0.0, 0.0)  # (n, ...), float64
    return terms.mean(axis=0), terms.std(axis=0, ddof=1) / math.sqrt(n)


# A 1-D toy latent-variable model -------------------------------------------------------
# z ~ N(0, 1), x | z ~ N(decoder(z), noise_std^2). With decoder(z) = z^2 the posterior
# p(z|x) has two modes, at +sqrt(x) and -sqrt(x): no Gaussian q can match it.

TOY_NOISE_STD = 0.1
TOY_GRID = np.linspace(-10.0, 10.0, 200_001)  # quadrature nodes for integrals over z


def toy_decoder(z):
    """The toy model's decoder mean: decoder(z) = z^2."""
    return np.square(z)


def toy_log_joint(
    x, z, noise_std: float = TOY_NOISE_STD, decoder=toy_decoder
) -> np.ndarray:
    """log p(x, z) = log N(x; decoder(z), noise_std^2) + log N(z; 0, 1)."""
    z = np.asarray(z, np.float64)
    log_lik = -0.5 * (
        LOG_2PI + 2.0 * math.log(noise_std) + ((x - decoder(z)) / noise_std) ** 2
    )
    return log_lik - 0.5 * (LOG_2PI + z**2)


def toy_evidence_quadrature(
    x, noise_std: float = TOY_NOISE_STD, decoder=toy_decoder
) -> float:
    """p(x) = integral p(x|z) p(z) dz by the trapezoidal rule on ``TOY_GRID``."""
    return float(
        np.trapezoid(np.exp(toy_log_joint(x, TOY_GRID, noise_std, decoder)), TOY_GRID)
    )


def toy_evidence_monte_carlo(
    x, n: int, noise_std: float = TOY_NOISE_STD, decoder=toy_decoder, seed: int = 0
):
    """Naive Monte Carlo over the prior: p(x) ~ (1/n) sum_i p(x|z_i), z_i ~ p(z).

    Returns ``(estimate, standard_error)``. Unbiased, but when few prior samples land
    where p(x|z) is large the estimate needs very many samples.
    """
    z = np.random.default_rng(seed).standard_normal(n)
    lik = np.exp(
        toy_log_joint(x, z, noise_std, decoder) + 0.5 * (LOG_2PI + z**2)
    )  # p(x|z_i)
    return float(lik.mean()), float(lik.std(ddof=1) / math.sqrt(n))


def toy_samples_needed(
    x, relative_error: float, noise_std: float = TOY_NOISE_STD, decoder=toy_decoder
) -> float:
    """Prior samples n the naive estimator needs for a relative standard error ``relative_error``.

    One sample's variance is Var = E_p(z)[p(x|z)^2] - p(x)^2, so n = Var / (relative_error * p(x))^2;
    both expectations are computed by quadrature.
    """
    log_lik = toy_log_joint(x, TOY_GRID, noise_std, decoder) + 0.5 * (
        LOG_2PI + TOY_GRID**2
    )
    prior = np.exp(-0.5 * (LOG_2PI + TOY_GRID**2))
    second_moment = np.trapezoid(np.exp(2.0 * log_lik) * prior, TOY_GRID)
    evidence = toy_evidence_quadrature(x, noise_std, decoder)
    return float((second_moment - evidence**2) / (relative_error * evidence) ** 2)


def toy_posterior(
    x, z, noise_std: float = TOY_NOISE_STD, decoder=toy_decoder
) -> np.ndarray:
    """Bayes' rule: p(z|x) = p(x|z) p(z) / p(x), evaluated at the points ``z``."""
    return np.exp(toy_log_joint(x, z, noise_std, decoder)) / toy_evidence_quadrature(
        x, noise_std, decoder
    )


def toy_elbo(
    x,
    q_mean: float,
    q_log_std: float,
    noise_std: float = TOY_NOISE_STD,
    decoder=toy_decoder,
    nodes: int = 64,
) -> float:
    """ELBO(q) = E_q[log p(x, z) - log q(z)] for q = N(q_mean, exp(q_log_std)^2).

    The expectation is computed exactly for polynomial integrands by Gauss-Hermite
    quadrature with ``nodes`` points; the entropy of q is 0.5 log(2 pi e) + q_log_std.
    """
    t, w = np.polynomial.hermite_e.hermegauss(nodes)  # for the weight exp(-t^2 / 2)
    z = q_mean + math.exp(q_log_std) * t
    expected_log_joint = np.sum(
        w * toy_log_joint(x, z, noise_std, decoder)
    ) / math.sqrt(2 * math.pi)
    return float(expected_log_joint + 0.5 * (LOG_2PI + 1.0) + q_log_std)


# Probabilistic PCA: a latent model with an exact evidence --------------------------------
# z ~ N(0, I_d), x | z ~ N(W z + mu, noise_var I_D), so p(x) = N(mu, W W^T + noise_var I).


def _ppca_args(x, W, mu):
    x, W, mu = (
        np.asarray(x, np.float64),
        np.asarray(W, np.float64),
        np.asarray(mu, np.float64),
    )
    if W.ndim != 2 or mu.shape != (W.shape[0],) or x.shape[-1] != W.shape[0]:
        raise ValueError(
            f"expected W of shape (D, d), mu of shape (D,) and x of shape (..., D); "
            f"got W {W.shape}, mu {mu.shape}, x {x.shape}"
        )
    return x, W, mu


def ppca_log_evidence(x, W, mu, noise_var: float) -> np.ndarray:
    """log p(x) = log N(x; mu, C) with C = W W^T + noise_var I: exact, shape (...)."""
    x, W, mu = _ppca_args(x, W, mu)
    C = W @ W.T + noise_var * np.eye(W.shape[0])
    chol = np.linalg.cholesky(C)
    r = np.linalg.solve(chol, (x - mu).T).T  # whitened residuals
    logdet = 2.0 * np.sum(np.log(np.diag(chol)))
    return -0.5 * (W.shape[0] * LOG_2PI + logdet + np.sum(r**2, axis=-1))


def ppca_posterior(x, W, mu, noise_var: float):
    """The exact posterior p(z|x) = N(M^-1 W^T (x - mu), noise_var M^-1), M = W^T W + noise_var I.

    Returns ``(mean, cov)``: mean has shape (..., d), cov (d, d) (the same for every x).
    """
    x, W, mu = _ppca_args(x, W, mu)
    M = W.T @ W + noise_var * np.eye(W.shape[1])
    mean = np.linalg.solve(M, W.T @ (x - mu).T).T
    return mean, noise_var * np.linalg.inv(M)


def ppca_log_likelihood(x, z, W, mu, noise_var: float) -> np.ndarray:
    """log p(x|z) = log N(x; W z + mu, noise_var I)."""
    x, W, mu = _ppca_args(x, W, mu)
    resid = x - (np.asarray(z, np.float64) @ W.T + mu)
    return -0.5 * (
        W.shape[0] * (LOG_2PI + math.log(noise_var))
        + np.sum(resid**2, axis=-1) / noise_var
    )


def ppca_elbo(x, W, mu, noise_var: float, q_mean, q_cov) -> float:
    """ELBO for one x and q(z) = N(q_mean, q_cov), in closed form (thesis eq. 3.13):

    E_q[log p(x|z)] - KL(q || N(0, I)),
    E_q[log p(x|z)] = -D/2 log(2 pi noise_var)
                      - (||x - W q_mean - mu||^2 + tr(W q_cov W^T)) / (2 noise_var).
    """
    x, W, mu = _ppca_args(x, W, mu)
    q_mean, q_cov = np.asarray(q_mean, np.float64), np.asarray(q_cov, np.float64)
    D, d = W.shape
    resid = x - W @ q_mean - mu
    expected_log_lik = -0.5 * (
        D * (LOG_2PI + math.log(noise_var))
        + (resid @ resid + np.trace(W @ q_cov @ W.T)) / noise_var
    )
    return float(expected_log_lik - gaussian_kl(q_mean, q_cov, np.zeros(d), np.eye(d)))


def ppca_elbo_monte_carlo(
    x, W, mu, noise_var: float, q_mean, q_cov, n: int = 10_000, seed: int = 0
):
    """The same ELBO by sampling z_i ~ q: mean of log p(x|z_i) + log p(z_i) - log q(z_i).

    Returns ``(estimate, standard_error)``.
    """
    from scipy.stats import multivariate_normal

    q = multivariate_normal(
        np.asarray(q_mean, np.float64), np.asarray(q_cov, np.float64)
    )
    z = np.atleast_2d(q.rvs(n, random_state=np.random.default_rng(seed))).reshape(n, -1)
    d = z.shape[1]
    terms = (
        ppca_log_likelihood(x, z, W, mu, noise_var)
        + multivariate_normal(np.zeros(d), np.eye(d)).logpdf(z).reshape(n)
        - q.logpdf(z).reshape(n)
    )
    return float(terms.mean()), float(terms.std(ddof=1) / math.sqrt(n))


def elbo_gap_check(x, W, mu, noise_var: float, q_mean, q_cov) -> dict:
    """Both sides of log p(x) = ELBO(q) + KL(q(z) || p(z|x)) (thesis eq. 3.11) for one x.

    Returns a dict with ``log_evidence``, ``elbo``, ``gap`` (= log_evidence - elbo) and
    ``kl_to_posterior``; the identity says gap == kl_to_posterior >= 0.
    """
    post_mean, post_cov = ppca_posterior(x, W, mu, noise_var)
    log_evidence = float(ppca_log_evidence(x, W, mu, noise_var))
    elbo = ppca_elbo(x, W, mu, noise_var, q_mean, q_cov)
    return {
        "log_evidence": log_evidence,
        "elbo": elbo,
        "gap": log_evidence - elbo,
        "kl_to_posterior": gaussian_kl(q_mean, q_cov, post_mean, post_cov),
    }


def random_ppca(D: int = 5, d: int = 2, noise_var: float = 0.5, seed: int = 0):
    """A random probabilistic-PCA model and one observation drawn from it: (x, W, mu, noise_var)."""
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(D, d))
    mu = rng.normal(size=D)
    x = W @ rng.normal(size=d) + mu + math.sqrt(noise_var) * rng.normal(size=D)
    return x, W, mu, noise_var


# Gradient estimators -------------------------------------------------------------------
# Both estimate g = d/dmean_0 E_{z ~ N(mean, diag(std^2))}[f(z)] from n samples.


def reparameterization_gradient(df, mean, std, n: int, rng) -> float:
    """Pathwise estimator: z = mean + std * eps, so g = E_eps[df/dz_0 (mean + std * eps)].

    ``df(z)`` returns the gradient of f at each row of z, shape (n, d).
    """
    mean, std = (
        np.atleast_1d(np.asarray(mean, np.float64)),
        np.atleast_1d(np.asarray(std, np.float64)),
    )
    z = mean + std * rng.standard_normal((n, mean.size))
    return float(np.mean(np.asarray(df(z))[:, 0]))


def score_function_gradient(f, mean, std, n: int, rng) -> float:
    """Score-function (REINFORCE) estimator: g = E_q[f(z) d/dmean_0 log q(z)]
    = E_q[f(z) (z_0 - mean_0) / std_0^2]. Needs only values of f, not its gradient.

    ``f(z)`` returns one value per row of z, shape (n,).
    """
    mean, std = (
        np.atleast_1d(np.asarray(mean, np.float64)),
        np.atleast_1d(np.asarray(std, np.float64)),
    )
    z = mean + std * rng.standard_normal((n, mean.size))
    return float(np.mean(np.asarray(f(z)) * (z[:, 0] - mean[0]) / std[0] ** 2))


def gradient_variance(
    estimator: str,
    f,
    df,
    mean,
    std,
    n_samples: int = 1,
    n_repeats: int = 10_000,
    seed: int = 0,
):
    """Run an estimator ``n_repeats`` times with ``n_samples`` samples each.

    ``estimator`` is 'reparameterization' or 'score_function'. Returns
    ``(mean_of_estimates, variance_of_estimates)``: an unbiased estimator's mean is
    the true gradient, and its variance is what slows stochastic gradient descent.
    """
    rng = np.random.default_rng(seed)
    if estimator == "reparameterization":
        draws = [
            reparameterization_gradient(df, mean, std, n_samples, rng)
            for _ in range(n_repeats)
        ]
    elif estimator == "score_function":
        draws = [
            score_function_gradient(f, mean, std, n_samples, rng)
            for _ in range(n_repeats)
        ]
    else:
        raise ValueError(
            f"estimator should be 'reparameterization' or 'score_function', got {estimator!r}"
        )
    draws = np.asarray(draws)
    return float(draws.mean()), float(draws.var(ddof=1))


def sum_of_squares(z):
    """f(z) = ||z||^2 per row; E_{N(mean, std^2)}[f] = ||mean||^2 + ||std||^2, so df/dmean_0 = 2 mean_0."""
    return np.sum(np.square(z), axis=-1)


def sum_of_squares_gradient(z):
    """The gradient of ``sum_of_squares``: 2 z per row."""
    return 2.0 * np.asarray(z)
