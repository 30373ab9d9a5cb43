"""Bad or borderline input at the library's edges (issue 20)."""

import numpy as np
import pytest

from vqlab import metrics, pretrained, prior, quality, tokens
from vqlab.models import VQVAE, DalleDVAE, PhotoVQVAE, TokenModel


@pytest.fixture(scope="module")
def pcnn():
    return pretrained.load("prior_vqvae_mnist")


def test_sample_zero_grids_is_an_empty_batch(pcnn):
    out = prior.sample(pcnn, 0)
    assert out.shape == (0, 7, 7) and out.dtype == np.int64
    with pytest.raises(ValueError, match="integer >= 0"):
        prior.sample(pcnn, -1)


def test_integer_masks_are_accepted_like_booleans(pcnn):
    grid = prior.sample(pcnn, 1, seed=3)
    mask = np.zeros((7, 7), int)
    mask[3, 3] = 1
    a = prior.complete(pcnn, grid, mask, sweeps=0, seed=1)
    b = prior.complete(pcnn, grid, mask.astype(bool), sweeps=0, seed=1)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="boolean or 0/1 integers"):
        prior.complete(pcnn, grid, mask * 2)


@pytest.mark.parametrize("by", [7, 14, -7, 9, -9])
def test_a_wrapped_shift_by_the_grid_size_or_more_is_taken_modulo(by):
    g = np.arange(49).reshape(7, 7)
    np.testing.assert_array_equal(tokens.shift(g, dx=by), np.roll(g, by % 7, axis=1))
    np.testing.assert_array_equal(tokens.shift(g, dy=by), np.roll(g, by % 7, axis=0))
    if abs(by) >= 7:  # other fills: a shift must stay inside the grid
        with pytest.raises(ValueError, match="not smaller than the grid's size"):
            tokens.shift(g, dx=by, fill=0)


def test_metrics_that_need_vectors_refuse_token_ids():
    vq = pretrained.load("vqvae_mnist")
    x = np.random.default_rng(0).uniform(size=(20, 28, 28, 1)).astype(np.float32)
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="encode_latents"):
        metrics.knn_accuracy(vq.encode(x), y, vq.encode(x), y, k=3)
    assert (
        0
        <= metrics.knn_accuracy(vq.encode_latents(x), y, vq.encode_latents(x), y, k=3)
        <= 1
    )
    with pytest.raises(ValueError, match="token ids"):
        quality.gaussian_stats(vq.encode(x).reshape(20, -1))
    with pytest.raises(ValueError, match="vectors"):
        metrics.active_units(np.zeros((5, 2), int))


def test_token_models_share_the_protocol():
    for model in (
        VQVAE(8, 4, filters=(4,)),
        PhotoVQVAE(16, 4, channels=16, res_blocks=0, image_shape=(16, 16, 3)),
        DalleDVAE(
            n_hid=8, n_blk_per_group=1, vocab_size=16, n_init=8, image_shape=(16, 16, 3)
        ),
    ):
        assert isinstance(model, TokenModel), type(model).__name__
    from vqlab.models import VAE

    assert not isinstance(VAE(), TokenModel)
