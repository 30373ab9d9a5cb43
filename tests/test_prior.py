"""Stage two: the gated PixelCNN prior over token grids (vqlab.prior)."""

import keras
import numpy as np
import pytest

from vqlab import prior as P
from vqlab.models import VQVAE


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    m = P.GatedPixelCNN(num_codes=64, channels=16, num_layers=6)
    m(np.zeros((1, 7, 7, 1), np.float32))
    return m


@pytest.fixture(scope="module")
def tiny():
    """A 2x2 grid of 4 codes: small enough to enumerate every grid."""
    keras.utils.set_random_seed(1)
    m = P.GatedPixelCNN(num_codes=4, channels=8, num_layers=2, image_shape=(2, 2, 1))
    m(np.zeros((1, 2, 2, 1), np.float32))
    kernel, bias = m.head[1].get_weights()
    m.head[1].set_weights(
        [kernel * 100, bias]
    )  # sharper logits: a distribution far from uniform
    return m


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_causal_mask_and_no_blind_spot(model, seed):
    """Changing a token never changes the logits at its own or any earlier position, and
    changes those of every later one: the receptive field is the whole past (no blind spot)."""
    rng = np.random.default_rng(seed)
    grid = rng.integers(0, 64, (7, 7)).astype(np.int32)
    D = P.influence(model, grid, label=[None, 3, 7][seed])
    earlier_or_same = np.tril(np.ones((49, 49), bool))  # q <= p
    assert not D[earlier_or_same].any(), (
        "a token leaks into its own or an earlier position's logits"
    )
    assert D[~earlier_or_same].all(), (
        "some earlier position does not reach a later one (blind spot)"
    )


def test_log_prob_is_the_sum_of_per_position_cross_entropies(model):
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 64, (5, 7, 7))
    labels = np.array([0, 1, 2, 3, 4])
    logits = model.logits(tokens.astype(np.int32), labels.astype(np.int32))
    ce = keras.ops.convert_to_numpy(
        keras.losses.sparse_categorical_crossentropy(tokens, logits, from_logits=True)
    )
    np.testing.assert_allclose(
        P.log_prob(model, tokens, labels), -ce.sum(axis=(1, 2)), rtol=1e-5
    )
    np.testing.assert_allclose(
        P.bits(model, tokens, labels), ce.sum(axis=(1, 2)) / np.log(2), rtol=1e-5
    )
    # one grid (h, w) is a batch of one; no label is the "no label" index
    assert P.log_prob(model, tokens[0]).shape == (1,)
    np.testing.assert_allclose(
        P.log_prob(model, tokens[:1]), P.log_prob(model, tokens[:1], label=None)
    )


def test_the_probabilities_of_every_grid_sum_to_one(tiny):
    every = (
        np.array(np.meshgrid(*[range(4)] * 4, indexing="ij"))
        .reshape(4, -1)
        .T.reshape(-1, 2, 2)
    )  # 256 grids
    for label in (None, 5):
        assert np.exp(P.log_prob(tiny, every, label)).sum() == pytest.approx(
            1.0, abs=1e-5
        )


@pytest.mark.parametrize(
    "bad, fragment",
    [
        (np.full((1, 7, 7), 64), "must lie in [0, 64)"),
        (np.full((1, 7, 7), -1), "must lie in [0, 64)"),
        (np.zeros((1, 6, 7), int), "shape (n, 7, 7)"),
        (np.zeros((1, 7, 7), float), "must be integers"),
    ],
)
def test_bad_tokens_raise_the_same_errors_as_decode(model, bad, fragment):
    vq = VQVAE(64, 16)
    with pytest.raises(ValueError) as from_decode:
        vq.decode(bad)
    for fn in (
        lambda t: P.log_prob(model, t),
        lambda t: P.complete(model, t, np.ones((7, 7), bool)),
    ):
        with pytest.raises(ValueError) as from_prior:
            fn(bad)
        assert str(from_prior.value) == str(from_decode.value)
        assert fragment in str(from_prior.value)


def test_sample_shape_range_seed_and_arguments(model):
    a = P.sample(model, 5, seed=3)
    assert (
        a.shape == (5, 7, 7) and a.dtype == np.int64 and a.min() >= 0 and a.max() < 64
    )
    np.testing.assert_array_equal(a, P.sample(model, 5, seed=3))
    assert not np.array_equal(a, P.sample(model, 5, seed=4))
    assert P.sample(model, 3, label=[1, 2, 3], temperature=0.5).shape == (3, 7, 7)
    for kwargs in (
        {"temperature": 0},
        {"temperature": float("nan")},
        {"label": 10},
        {"label": [1, 2]},
        {"label": 1.5},
    ):
        with pytest.raises(ValueError):
            P.sample(model, 3, **kwargs)
    assert (
        P.sample(model, 0).shape == (0,) + model.grid_shape
    )  # no grids: an empty batch
    with pytest.raises(ValueError):
        P.sample(model, -1)


def test_sample_takes_one_temperature_per_grid(model):
    """A temperature per grid draws exactly what the one number draws where they agree, and
    a cold grid is more typical (fewer distinct codes) than a hot one."""
    same = P.sample(model, 4, temperature=0.7, seed=1)
    np.testing.assert_array_equal(
        same, P.sample(model, 4, temperature=[0.7] * 4, seed=1)
    )
    mixed = P.sample(model, 40, temperature=np.repeat([0.05, 5.0], 20), seed=2)
    distinct = [len(np.unique(g)) for g in mixed]
    assert np.mean(distinct[:20]) < np.mean(distinct[20:])
    for bad in ([1.0, 2.0], [1.0, 0.0, 1.0, 1.0], [1.0, float("inf"), 1.0, 1.0]):
        with pytest.raises(ValueError, match="one per grid"):
            P.sample(model, 4, temperature=bad)


def test_samples_follow_the_model(tiny):
    """The histogram of 20,000 sampled grids matches the model's probability of each grid
    (a chi-square test on the grids expected at least 5 times)."""
    every = (
        np.array(np.meshgrid(*[range(4)] * 4, indexing="ij"))
        .reshape(4, -1)
        .T.reshape(-1, 2, 2)
    )
    p = np.exp(P.log_prob(tiny, every, 2))
    assert 0.5 * np.abs(p - 1 / 256).sum() > 0.3, (
        "the test needs a model far from uniform"
    )
    n = 20000
    grids = P.sample(tiny, n, seed=0, label=2)
    counts = np.bincount(
        (grids.reshape(-1, 4) * [64, 16, 4, 1]).sum(axis=1), minlength=256
    )
    keep = n * p >= 5
    chi2 = ((counts[keep] - n * p[keep]) ** 2 / (n * p[keep])).sum()
    dof = keep.sum() - 1
    assert chi2 < dof + 6 * np.sqrt(2 * dof), (chi2, dof)
    assert counts[~keep].sum() < 5 * (~keep).sum() + 6 * np.sqrt(5 * (~keep).sum() + 1)


def test_complete_draws_from_the_full_conditional(tiny):
    """One masked position, every other fixed: complete must draw k from
    p(k | rest) ∝ p(grid with k there), which depends on the position *after* it too."""
    grid = np.array([[1, 2], [3, 0]])
    mask = np.array([[False, True], [False, False]])
    out = P.complete(tiny, np.repeat(grid[None], 3000, axis=0), mask, sweeps=1, seed=0)
    np.testing.assert_array_equal(
        out[:, ~mask], np.repeat(grid[None], 3000, axis=0)[:, ~mask]
    )
    candidates = np.repeat(grid[None], 4, axis=0)
    candidates[:, 0, 1] = np.arange(4)
    exact = np.exp(P.log_prob(tiny, candidates))
    exact /= exact.sum()
    freq = np.bincount(out[:, 0, 1], minlength=4) / 3000
    np.testing.assert_allclose(freq, exact, atol=0.03)


def test_complete_keeps_unmasked_tokens(model):
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, 64, (4, 7, 7))
    np.testing.assert_array_equal(
        P.complete(model, tokens, np.zeros((7, 7), bool)), tokens
    )
    mask = np.zeros((4, 7, 7), bool)
    mask[:, :, 3] = True
    out = P.complete(model, tokens, mask, sweeps=1, seed=1)
    np.testing.assert_array_equal(out[~mask], tokens[~mask])
    np.testing.assert_array_equal(
        P.complete(model, tokens, mask.astype(int), sweeps=1, seed=1), out
    )
    with pytest.raises(ValueError, match="boolean or 0/1"):
        P.complete(model, tokens, mask.astype(int) * 2)
    with pytest.raises(ValueError, match="does not fit"):
        P.complete(model, tokens, np.ones((3, 7), bool))


def test_unigram_bits_and_seam_jump():
    train = np.array([[[0, 0], [0, 1]]])
    # add-one smoothing over 2 codes: p(0) = 4/6, p(1) = 2/6
    assert P.unigram_bits(train, train, 2)[0] == pytest.approx(
        -3 * np.log2(4 / 6) - np.log2(2 / 6)
    )
    x = np.zeros((1, 4, 4))
    x[:, :, 2:] = 1.0
    np.testing.assert_allclose(P.seam_jump(x, 2), [1.0])
    np.testing.assert_allclose(P.seam_jump(x, 1), [0.0])


def test_shipped_prior_beats_the_unigram_by_a_third():
    """The goal of chapter 10: the PixelCNN needs <= 2/3 of the unigram's bits per test grid."""
    from vqlab import pretrained

    prior = pretrained.load("prior_vqvae_mnist")
    train, test = P.mnist_tokens("train", 5000), P.mnist_tokens("test", 1000)
    assert test["tokens"].shape == (1000, 7, 7) and test["tokens"].dtype == np.int32
    assert test["labels"].dtype == np.int32
    unigram = P.unigram_bits(train["tokens"], test["tokens"], prior.num_codes).mean()
    pixelcnn = P.bits(prior, test["tokens"]).mean()
    conditional = P.bits(prior, test["tokens"], test["labels"]).mean()
    assert pixelcnn <= 2 / 3 * unigram
    assert conditional < pixelcnn


def test_bernoulli_distortion_of_the_vq_bound():
    """A decoder that outputs the binary image exactly costs -log(1 - clip) nats per pixel."""
    x = (np.random.default_rng(0).uniform(size=(3, 28, 28, 1)) > 0.5).astype(np.float32)
    np.testing.assert_allclose(
        P.bernoulli_distortion(x, x, 0.01), -784 * np.log(0.99), rtol=1e-5
    )
    np.testing.assert_allclose(
        P.bernoulli_distortion(x, 1 - x, 0.01), -784 * np.log(0.01), rtol=1e-5
    )
    with pytest.raises(ValueError, match="binary"):
        P.bernoulli_distortion(x * 0.5, x, 0.01)
    with pytest.raises(ValueError, match="clip"):
        P.bernoulli_distortion(x, x, 0.0)
