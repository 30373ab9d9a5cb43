"""``vqlab.losses``: each loss is a negative log-probability; checked against SciPy's densities."""

import math

import numpy as np
import pytest
from scipy import stats

from vqlab import losses


def as_np(t):
    return np.asarray(t, np.float64)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(4, 28, 28, 1)).astype(np.float32)
    x_hat = rng.uniform(0.01, 0.99, size=(4, 28, 28, 1)).astype(np.float32)
    return x, x_hat


def test_gaussian_nll_is_the_unit_variance_gaussian_log_density(images):
    x, x_hat = images
    reference = -stats.norm.logpdf(x, loc=x_hat, scale=1.0).reshape(4, -1).sum(axis=1)
    np.testing.assert_allclose(
        as_np(losses.gaussian_nll(x, x_hat)), reference, rtol=1e-5
    )
    # Another variance: scale is the standard deviation, sqrt(variance).
    reference = (
        -stats.norm.logpdf(x, loc=x_hat, scale=math.sqrt(0.3))
        .reshape(4, -1)
        .sum(axis=1)
    )
    np.testing.assert_allclose(
        as_np(losses.gaussian_nll(x, x_hat, variance=0.3)), reference, rtol=1e-5
    )


def test_mse_is_the_gaussian_nll_up_to_a_constant_and_a_scale(images):
    x, x_hat = images
    D = 28 * 28
    nll = as_np(losses.gaussian_nll(x, x_hat))
    mse = as_np(losses.mean_squared_error(x, x_hat))
    np.testing.assert_allclose(
        nll, 0.5 * D * mse + 0.5 * D * math.log(2 * math.pi), rtol=1e-5
    )
    with pytest.raises(AssertionError):  # a missing factor 1/2 is detected
        np.testing.assert_allclose(
            nll, D * mse + 0.5 * D * math.log(2 * math.pi), rtol=1e-3
        )


def test_bernoulli_nll_is_the_bernoulli_log_pmf_for_binary_pixels(images):
    x, x_hat = images
    x_bin = (x > 0.5).astype(np.float32)
    reference = -stats.bernoulli.logpmf(x_bin, x_hat).reshape(4, -1).sum(axis=1)
    np.testing.assert_allclose(
        as_np(losses.bernoulli_nll(x_bin, x_hat)), reference, rtol=1e-5
    )
    # For grey pixels it is the binary cross-entropy -[x log p + (1-x) log(1-p)].
    bce = -(
        x * np.log(x_hat.astype(np.float64))
        + (1 - x) * np.log(1 - x_hat.astype(np.float64))
    )
    np.testing.assert_allclose(
        as_np(losses.bernoulli_nll(x, x_hat)), bce.reshape(4, -1).sum(1), rtol=1e-5
    )


def test_bernoulli_nll_stays_finite_at_saturated_probabilities():
    x = np.ones((1, 3), np.float32)
    value = as_np(losses.bernoulli_nll(x, np.array([[0.0, 1.0, 0.5]], np.float32)))
    assert np.all(np.isfinite(value)) and value[0] > 10


def test_kl_to_standard_normal_known_values_and_per_dimension_terms():
    zero = as_np(losses.kl_to_standard_normal(np.zeros((3, 2)), np.zeros((3, 2))))
    np.testing.assert_array_equal(zero, 0.0)
    # N(1, 1) vs N(0, 1): 0.5 * mean^2 = 0.5. N(0, e) vs N(0, 1): 0.5 * (e - 1 - 1).
    mean, log_var = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])
    expected = 0.5 + 0.5 * (math.e - 2.0)
    assert as_np(losses.kl_to_standard_normal(mean, log_var))[0] == pytest.approx(
        expected, rel=1e-12
    )
    rng = np.random.default_rng(0)
    m, lv = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    per_dim = as_np(losses.kl_per_dimension(m, lv))
    assert per_dim.shape == (3,)
    assert per_dim.sum() == pytest.approx(
        as_np(losses.kl_to_standard_normal(m, lv)).mean(), rel=1e-12
    )
    assert np.all(as_np(losses.kl_to_standard_normal(m, lv)) > 0)


def test_kl_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        losses.kl_to_standard_normal(np.zeros((2, 3)), np.zeros((2, 4)))
    with pytest.raises(ValueError, match=r"\(batch, latent_dim\)"):
        losses.kl_to_standard_normal(np.zeros(3), np.zeros(3))


def test_reconstruction_loss_by_name(images):
    x, x_hat = images
    np.testing.assert_allclose(
        as_np(losses.reconstruction_loss("bce", x, x_hat)),
        as_np(losses.bernoulli_nll(x, x_hat)),
    )
    np.testing.assert_allclose(
        as_np(losses.reconstruction_loss("mse", x, x_hat)),
        ((x - x_hat) ** 2).reshape(4, -1).mean(1),
        rtol=1e-5,
    )
    with pytest.raises(ValueError, match="'bce' or 'mse'"):
        losses.reconstruction_loss("l1", x, x_hat)


def test_elbo_is_minus_reconstruction_minus_kl(images):
    x, x_hat = images
    mean, log_var = np.full((4, 2), 0.5, np.float32), np.full((4, 2), -0.5, np.float32)
    expected = -as_np(losses.bernoulli_nll(x, x_hat)) - as_np(
        losses.kl_to_standard_normal(mean, log_var)
    )
    np.testing.assert_allclose(
        as_np(losses.elbo(x, x_hat, mean, log_var)), expected, rtol=1e-6
    )


def test_log_normal_matches_scipy():
    rng = np.random.default_rng(0)
    z, mean, log_var = rng.normal(size=(3, 4, 2))
    reference = stats.norm.logpdf(z, mean, np.exp(0.5 * log_var)).sum(axis=-1)
    np.testing.assert_allclose(
        as_np(losses.log_normal(z, mean, log_var)), reference, rtol=1e-10
    )


class PriorEncoderModel:
    """q(z|x) = p(z) = N(0, I) and a decoder that ignores z: every importance weight is p(x)."""

    latent_dim = 2

    def __init__(self, probs):
        self.probs = probs

    def posterior(self, x):
        return np.zeros((len(x), self.latent_dim), np.float32), np.zeros(
            (len(x), self.latent_dim), np.float32
        )

    def decode(self, z):
        return np.broadcast_to(self.probs, (len(z),) + self.probs.shape)


def test_iwae_bound_is_exact_when_q_is_the_posterior():
    rng = np.random.default_rng(0)
    probs = rng.uniform(0.05, 0.95, size=(28, 28, 1)).astype(np.float32)
    x = (rng.uniform(size=(3, 28, 28, 1)) < 0.5).astype(np.float32)
    log_px = -as_np(losses.bernoulli_nll(x, np.broadcast_to(probs, x.shape)))
    for k in (1, 5):
        np.testing.assert_allclose(
            losses.iwae_bound(PriorEncoderModel(probs), x, k=k), log_px, rtol=1e-5
        )
    with pytest.raises(ValueError, match="positive number of samples"):
        losses.iwae_bound(PriorEncoderModel(probs), x, k=0)
    # Images without the channel axis, as the models accept them, give the same bound.
    np.testing.assert_allclose(
        losses.iwae_bound(PriorEncoderModel(probs), x[..., 0], k=5), log_px, rtol=1e-5
    )


def test_images_with_and_without_a_channel_axis_give_the_same_losses(images):
    x, x_hat = images
    mean, log_var = np.zeros((4, 2), np.float32), np.zeros((4, 2), np.float32)
    for loss in (losses.mean_squared_error, losses.bernoulli_nll, losses.gaussian_nll):
        np.testing.assert_allclose(
            as_np(loss(x[..., 0], x_hat)), as_np(loss(x, x_hat)), rtol=1e-6
        )
        np.testing.assert_allclose(
            as_np(loss(x, x_hat[..., 0])), as_np(loss(x, x_hat)), rtol=1e-6
        )
    np.testing.assert_allclose(
        as_np(losses.elbo(x[..., 0], x_hat, mean, log_var)),
        as_np(losses.elbo(x, x_hat, mean, log_var)),
        rtol=1e-6,
    )
    assert as_np(losses.mean_squared_error(x[..., 0], x)).tolist() == [0.0] * 4


def test_losses_on_tensors_compute_with_keras_and_match_numpy(images):
    """Inside a training step the inputs are tensors: no NumPy checks, the same numbers."""
    from keras import ops

    x, x_hat = images
    for loss in (losses.mean_squared_error, losses.bernoulli_nll, losses.gaussian_nll):
        on_tensors = loss(ops.convert_to_tensor(x), ops.convert_to_tensor(x_hat))
        assert ops.is_tensor(on_tensors)
        np.testing.assert_allclose(as_np(on_tensors), as_np(loss(x, x_hat)), rtol=1e-5)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda x, p: losses.mean_squared_error(x, x[:1]), "4 examples and x_hat 1"),
        (lambda x, p: losses.mean_squared_error(x, x[:, :14]), "same shape"),
        (
            lambda x, p: losses.bernoulli_nll(x * 255, p),
            r"x should lie in \[0, 1\].*divide",
        ),
        (lambda x, p: losses.bernoulli_nll(x, p * 2), r"probs should lie in \[0, 1\]"),
        (
            lambda x, p: losses.bernoulli_nll(np.where(x > 0.5, np.nan, x), p),
            "NaN or infinite",
        ),
        (
            lambda x, p: losses.gaussian_nll(x, np.full_like(p, np.inf)),
            "NaN or infinite",
        ),
        (
            lambda x, p: losses.gaussian_nll(x, p, variance=0.0),
            "positive finite number",
        ),
        (
            lambda x, p: losses.elbo(
                x[:1], p.repeat(2, 0), np.zeros((8, 2)), np.zeros((8, 2))
            ),
            "1 images and mean 8",
        ),
        (
            lambda x, p: losses.elbo(x, p[:1], np.zeros((4, 2)), np.zeros((4, 2))),
            "4 examples and probs 1",
        ),
        (
            lambda x, p: losses.kl_to_standard_normal(
                np.full((2, 3), np.nan), np.zeros((2, 3))
            ),
            "NaN",
        ),
        (
            lambda x, p: losses.mean_squared_error(np.float32(1.0), np.float32(1.0)),
            "a batch",
        ),
    ],
)
def test_wrong_numpy_inputs_raise_clear_errors(images, call, message):
    x, x_hat = images
    with pytest.raises(ValueError, match=message):
        call(x, x_hat)


def test_grid_quadrature_matches_the_closed_form_evidence_of_a_linear_gaussian_decoder():
    """p(z) = N(0, I_2), p(x|z) = N(W z + mu, s^2 I_5): log p(x) = log N(x; mu, W W^T + s^2 I)."""
    from vqlab import theory

    rng = np.random.default_rng(0)
    W, mu, s2 = rng.normal(size=(5, 2)), rng.normal(size=5), 0.3
    x = rng.normal(size=(20, 5)) * 2
    exact = theory.ppca_log_evidence(x, W, mu, s2)

    def log_likelihood(z):  # (G, 2) -> (20, G)
        mean = z.astype(np.float64) @ W.T + mu
        return -0.5 * (
            5 * (losses.LOG_2PI + np.log(s2))
            + ((x[:, None, :] - mean[None]) ** 2).sum(-1) / s2
        )

    errors = [
        np.abs(
            losses.log_evidence_grid(log_likelihood, radius=7.0, n=n, chunk=1000)
            - exact
        ).max()
        for n in (12, 16, 24, 32)
    ]
    assert errors[-1] < 1e-4
    assert errors[0] > errors[1] > errors[2] > errors[3]  # refining the grid converges


def test_bernoulli_log_likelihood_agrees_with_bernoulli_nll_and_wants_binary_pixels():
    rng = np.random.default_rng(1)
    x = (rng.uniform(size=(4, 6)) > 0.5).astype(np.float32)

    def decode(z):
        return 1 / (
            1 + np.exp(-(z @ np.ones((2, 6)) * np.arange(6)))
        )  # (G, 6) probabilities

    z = rng.normal(size=(3, 2)).astype(np.float32)
    ll = losses.bernoulli_log_likelihood(decode, x)(z)
    expected = np.stack(
        [
            -losses.bernoulli_nll(x, np.broadcast_to(decode(z[j : j + 1]), x.shape))
            for j in range(3)
        ],
        1,
    )
    np.testing.assert_allclose(ll, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="binary"):
        losses.bernoulli_log_likelihood(decode, x * 0.5)


class ToyBernoulliVAE:
    """A 2-D latent, a logistic decoder of 12 pixels and a Gaussian q that is deliberately
    not the posterior (shifted and too narrow): its ELBO and IWAE bounds are strict."""

    latent_dim = 2

    def __init__(self, seed=0):
        rng = np.random.default_rng(seed)
        self.W, self.b = rng.normal(0, 1.5, size=(2, 12)), rng.normal(0, 0.5, size=12)

    def decode(self, z):
        logits = np.asarray(z, np.float64).reshape(len(z), 2) @ self.W + self.b
        return (1 / (1 + np.exp(-logits))).reshape(len(z), 3, 4, 1).astype(np.float32)

    def posterior(self, x):
        flat = np.asarray(x, np.float32).reshape(len(x), -1)
        mean = 0.3 * (flat - 0.5) @ self.W.T.astype(np.float32) / 4 + 0.2
        return mean.astype(np.float32), np.full_like(
            mean, np.log(0.15), dtype=np.float32
        )


def test_iwae_lies_between_the_elbo_and_the_exact_log_evidence():
    """ELBO <= IWAE-k <= log p(x), with log p(x) exact by quadrature over the 2-D latent; the
    bound rises with k and approaches log p(x)."""
    model = ToyBernoulliVAE()
    rng = np.random.default_rng(1)
    x = (rng.uniform(size=(6, 3, 4, 1)) < model.decode(rng.normal(size=(6, 2)))).astype(
        np.float32
    )
    exact = losses.log_evidence_grid(
        losses.bernoulli_log_likelihood(model.decode, x), radius=7.0, n=400
    )
    elbo = losses.importance_log_weights(model, x, k=4000, seed=0).mean(
        axis=0
    )  # E_q[log w]
    repeats = {1: 4000, 10: 400, 1000: 40}  # k * repeats draws per digit
    runs = {
        k: losses.iwae_bound(model, np.repeat(x, r, axis=0), k=k, seed=2).reshape(6, r)
        for k, r in repeats.items()
    }
    iwae = {k: v.mean(axis=1) for k, v in runs.items()}
    standard_error = runs[1000].std(axis=1) / np.sqrt(repeats[1000])
    np.testing.assert_allclose(iwae[1], elbo, atol=0.1)  # k = 1 is the ELBO
    assert np.all(elbo < exact - 0.05)  # q is not the posterior: a real gap
    assert np.all(iwae[1] < iwae[10]) and np.all(iwae[10] < iwae[1000])
    assert np.all(
        iwae[1000] <= exact + 3 * standard_error + 1e-3
    )  # a bound, up to sampling error
    assert np.all(
        exact - iwae[1000] < 0.25 * (exact - elbo)
    )  # and much tighter than the ELBO
