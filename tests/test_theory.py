"""The numerical checks of chapters 4-6 (``vqlab.theory``), each against an independent reference.

Where a check compares two estimates, a test also shows that a deliberately broken formula
(a factor 2, a flipped sign) lands far outside the tolerance, so the tolerance can fail.
"""

import math

import numpy as np
import pytest
from scipy import stats

from vqlab import theory
from vqlab.losses import kl_to_standard_normal

MEAN = np.array([[0.5, -1.0, 0.2, 1.5], [0.0, 0.0, 0.0, 0.0]])
LOG_VAR = np.array([[0.3, -0.5, -1.0, 0.8], [0.0, 0.0, 0.0, 0.0]])


def test_discrete_kl_matches_scipy_and_is_asymmetric():
    p, q = np.array([0.7, 0.2, 0.1]), np.array([0.1, 0.3, 0.6])
    assert theory.kl_discrete(p, q) == pytest.approx(stats.entropy(p, q), rel=1e-12)
    assert theory.kl_discrete(q, p) == pytest.approx(stats.entropy(q, p), rel=1e-12)
    assert abs(theory.kl_discrete(p, q) - theory.kl_discrete(q, p)) > 0.05
    assert theory.kl_discrete(p, p) == 0.0
    assert theory.kl_discrete(p, q) == pytest.approx(
        theory.cross_entropy(p, q) - theory.entropy(p)
    )
    assert theory.entropy(p) == pytest.approx(stats.entropy(p))
    assert theory.entropy([0.25] * 4) == pytest.approx(math.log(4))
    assert theory.kl_discrete([0.5, 0.5], [1.0, 0.0]) == math.inf


def test_discrete_distributions_are_validated():
    with pytest.raises(ValueError, match="summing to 1"):
        theory.kl_discrete([0.5, 0.6], [0.5, 0.5])
    with pytest.raises(ValueError, match="probabilities"):
        theory.entropy([[0.5, 0.5]])


def test_closed_form_kl_agrees_with_monte_carlo_within_its_standard_error():
    closed = np.asarray(kl_to_standard_normal(MEAN, LOG_VAR))
    estimate, se = theory.kl_monte_carlo(MEAN, LOG_VAR, n=200_000, seed=1)
    assert (
        closed[1] == 0.0 and estimate[1] == 0.0
    )  # q = p: every sample gives log q - log p = 0
    assert abs(estimate[0] - closed[0]) < 4 * se[0]
    assert se[0] < 0.01
    # A broken closed form (the log-variance term's sign flipped, or the factor 1/2 dropped) is caught.
    broken_sign = 0.5 * np.sum(np.exp(LOG_VAR) + MEAN**2 - 1.0 + LOG_VAR, axis=1)
    broken_factor = np.sum(np.exp(LOG_VAR) + MEAN**2 - 1.0 - LOG_VAR, axis=1)
    assert abs(estimate[0] - broken_sign[0]) > 20 * se[0]
    assert abs(estimate[0] - broken_factor[0]) > 20 * se[0]


def test_kl_monte_carlo_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        theory.kl_monte_carlo(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(ValueError, match="at least 2"):
        theory.kl_monte_carlo(np.zeros(2), np.zeros(2), n=1)


def test_full_gaussian_kl_reduces_to_eq_3_23_and_matches_sampling():
    for m, lv in zip(MEAN, LOG_VAR):
        full = theory.gaussian_kl(m, np.diag(np.exp(lv)), np.zeros(4), np.eye(4))
        assert full == pytest.approx(
            float(np.asarray(kl_to_standard_normal(m[None], lv[None]))[0]), abs=1e-9
        )
    # Full covariances on both sides, against E_q[log q - log p] by sampling.
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    cov_q, cov_p = A @ A.T + 0.5 * np.eye(3), B @ B.T + 0.5 * np.eye(3)
    mq, mp = rng.normal(size=3), rng.normal(size=3)
    q, p = stats.multivariate_normal(mq, cov_q), stats.multivariate_normal(mp, cov_p)
    z = q.rvs(200_000, random_state=1)
    terms = q.logpdf(z) - p.logpdf(z)
    se = terms.std() / math.sqrt(len(terms))
    kl = theory.gaussian_kl(mq, cov_q, mp, cov_p)
    assert abs(kl - terms.mean()) < 4 * se
    assert abs(2 * kl - terms.mean()) > 20 * se
    assert theory.gaussian_kl(mq, cov_q, mq, cov_q) == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError, match="shape"):
        theory.gaussian_kl(mq, np.eye(2), mp, cov_p)


def test_toy_evidence_quadrature_is_exact_for_a_linear_decoder():
    # decoder(z) = a z gives p(x) = N(x; 0, a^2 + s^2) in closed form.
    a, s = 1.7, 0.3
    for x in (-2.0, 0.0, 0.5, 3.0):
        exact = stats.norm.pdf(x, 0.0, math.sqrt(a**2 + s**2))
        assert theory.toy_evidence_quadrature(x, s, lambda z: a * z) == pytest.approx(
            exact, rel=1e-8
        )


def test_toy_posterior_integrates_to_one_and_naive_monte_carlo_is_unbiased():
    x = 1.0
    post = theory.toy_posterior(x, theory.TOY_GRID)
    assert np.trapezoid(post, theory.TOY_GRID) == pytest.approx(1.0, abs=1e-8)
    assert post[np.argmin(abs(theory.TOY_GRID - 1.0))] == pytest.approx(
        post[np.argmin(abs(theory.TOY_GRID + 1.0))]
    )  # two symmetric modes at +-sqrt(x)
    exact = theory.toy_evidence_quadrature(x)
    estimate, se = theory.toy_evidence_monte_carlo(x, 200_000, seed=3)
    assert abs(estimate - exact) < 4 * se
    # The standard error shrinks like 1/sqrt(n) with the per-sample variance toy_samples_needed uses.
    n_needed = theory.toy_samples_needed(x, 0.01)
    assert se / exact == pytest.approx(0.01 * math.sqrt(n_needed / 200_000), rel=0.05)


def test_toy_elbo_is_below_the_evidence_and_a_gaussian_misses_one_of_two_modes():
    from scipy.optimize import minimize

    x = 4.0
    log_px = math.log(theory.toy_evidence_quadrature(x))
    for m, ls in [(0.0, 0.0), (2.0, -2.0), (-1.0, 1.0)]:
        assert theory.toy_elbo(x, m, ls) < log_px
    best = minimize(lambda p: -theory.toy_elbo(x, *p), [1.0, -1.0])
    # The best Gaussian sits on one of two equal modes: it misses half the mass, gap ~ log 2.
    assert abs(best.x[0]) == pytest.approx(2.0, abs=0.05)
    assert log_px + best.fun == pytest.approx(math.log(2.0), abs=0.01)


def test_ppca_evidence_and_posterior_satisfy_bayes_rule():
    x, W, mu, s2 = theory.random_ppca(D=6, d=3, seed=2)
    assert theory.ppca_log_evidence(x, W, mu, s2) == pytest.approx(
        stats.multivariate_normal(mu, W @ W.T + s2 * np.eye(6)).logpdf(x), rel=1e-12
    )
    post_mean, post_cov = theory.ppca_posterior(x, W, mu, s2)
    # log p(x) = log p(x|z) + log p(z) - log p(z|x) for every z.
    for z in np.random.default_rng(0).normal(size=(5, 3)):
        rhs = (
            theory.ppca_log_likelihood(x, z, W, mu, s2)
            + stats.multivariate_normal(np.zeros(3), np.eye(3)).logpdf(z)
            - stats.multivariate_normal(post_mean, post_cov).logpdf(z)
        )
        assert rhs == pytest.approx(theory.ppca_log_evidence(x, W, mu, s2), abs=1e-9)
    with pytest.raises(ValueError, match="expected W"):
        theory.ppca_log_evidence(x[:3], W, mu, s2)


def test_elbo_gap_equals_kl_to_the_exact_posterior():
    x, W, mu, s2 = theory.random_ppca(seed=0)
    post_mean, post_cov = theory.ppca_posterior(x, W, mu, s2)
    rng = np.random.default_rng(1)
    for _ in range(20):
        A = rng.normal(size=(2, 2))
        q_mean, q_cov = post_mean + rng.normal(size=2), A @ A.T + 0.1 * np.eye(2)
        r = theory.elbo_gap_check(x, W, mu, s2, q_mean, q_cov)
        assert r["elbo"] < r["log_evidence"]
        assert r["gap"] == pytest.approx(r["kl_to_posterior"], abs=1e-9)
        assert r["gap"] > 1e-3
    exact = theory.elbo_gap_check(x, W, mu, s2, post_mean, post_cov)
    assert exact["gap"] == pytest.approx(0.0, abs=1e-9)
    assert exact["kl_to_posterior"] == pytest.approx(0.0, abs=1e-9)


def test_closed_form_elbo_agrees_with_monte_carlo():
    x, W, mu, s2 = theory.random_ppca(seed=0)
    post_mean, post_cov = theory.ppca_posterior(x, W, mu, s2)
    q_mean, q_cov = post_mean + 0.3, 2.0 * post_cov
    closed = theory.ppca_elbo(x, W, mu, s2, q_mean, q_cov)
    estimate, se = theory.ppca_elbo_monte_carlo(x, W, mu, s2, q_mean, q_cov, n=100_000)
    assert abs(estimate - closed) < 4 * se
    # Forgetting the trace term tr(W q_cov W^T) would be caught.
    resid = x - W @ q_mean - mu
    broken = -0.5 * (
        len(x) * math.log(2 * math.pi * s2) + resid @ resid / s2
    ) - theory.gaussian_kl(q_mean, q_cov, np.zeros(2), np.eye(2))
    assert abs(estimate - broken) > 20 * se


def test_both_gradient_estimators_are_unbiased_and_reparameterization_has_lower_variance():
    f, df = theory.sum_of_squares, theory.sum_of_squares_gradient
    mean, std = np.array([1.0, -0.5, 2.0]), np.array([1.0, 0.5, 2.0])
    true_gradient = 2 * mean[0]
    n_repeats = 20_000
    g_rep, v_rep = theory.gradient_variance(
        "reparameterization", f, df, mean, std, 1, n_repeats
    )
    g_sf, v_sf = theory.gradient_variance(
        "score_function", f, df, mean, std, 1, n_repeats
    )
    assert abs(g_rep - true_gradient) < 4 * math.sqrt(v_rep / n_repeats)
    assert abs(g_sf - true_gradient) < 4 * math.sqrt(v_sf / n_repeats)
    # One reparameterized sample is 2 (mean_0 + std_0 eps): its variance is exactly 4 std_0^2.
    assert v_rep == pytest.approx(4 * std[0] ** 2, rel=0.05)
    assert v_sf > 5 * v_rep
    # With n samples per estimate the variance falls by n.
    _, v_rep10 = theory.gradient_variance(
        "reparameterization", f, df, mean, std, 10, 5_000
    )
    assert v_rep10 == pytest.approx(v_rep / 10, rel=0.1)
    with pytest.raises(ValueError, match="estimator"):
        theory.gradient_variance("finite_difference", f, df, mean, std)
