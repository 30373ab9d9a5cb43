"""VQVAE: token grids, decoding, the loss terms, a training step, the weight layout the
shipped weights rely on, and the errors a reader can act on."""

import keras
import numpy as np
import pytest

from vqlab.models import VQVAE


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(0)
    m = VQVAE(num_codes=64, code_dim=16)
    m(np.zeros((1, 28, 28, 1), np.float32))
    return m


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).uniform(size=(5, 28, 28, 1)).astype(np.float32)


def test_thesis_model_shapes(model, images):
    assert model.grid_shape == (7, 7)
    assert model.codebook.shape == (64, 16)
    assert model.encode_latents(images).shape == (5, 7, 7, 16)
    tokens = model.encode(images)
    assert tokens.shape == (5, 7, 7) and tokens.dtype == np.int64
    assert tokens.min() >= 0 and tokens.max() < 64
    out = model.decode(tokens)
    assert out.shape == (5, 28, 28, 1) and out.min() >= 0.0 and out.max() <= 1.0
    assert model.encode(images[..., 0]).shape == (5, 7, 7)  # (n, 28, 28) accepted


def test_weight_layout_is_fixed(model):
    """Shipped weights are stored as ``get_weights()`` in this order: it must not change."""
    shapes = [w.shape for w in model.get_weights()]
    assert shapes == [
        (3, 3, 1, 32),
        (32,),
        (3, 3, 32, 64),
        (64,),
        (1, 1, 64, 16),
        (16,),
        (64, 16),
        (64,),
        (3, 3, 64, 16),
        (64,),
        (3, 3, 32, 64),
        (32,),
        (3, 3, 32, 1),
        (1,),
    ]
    ema = VQVAE(64, 16, ema_decay=0.99)
    assert (
        len(ema.get_weights()) == len(shapes) + 1
    )  # ema_sum (64, 16) after code_count
    assert all(w.name != "codebook" for w in ema.trainable_weights)


def test_tokens_decode_to_what_the_model_computes(model, images):
    tokens = model.encode(images)
    np.testing.assert_array_equal(
        model.quantize_latents(model.encode_latents(images)), tokens
    )
    z_q = model.codebook[tokens]
    np.testing.assert_allclose(model.decode(tokens), model.decode_latents(z_q))
    direct = np.asarray(model(images))  # call clips to [0, 1] as decode does
    np.testing.assert_allclose(model.reconstruct(images), direct, atol=1e-5)
    q = model.quantizer(model.encoder(images))
    np.testing.assert_array_equal(np.asarray(q["indices"]), tokens)


def test_other_sizes():
    m = VQVAE(num_codes=10, code_dim=3, filters=(8,), image_shape=(12, 16, 3))
    assert m.grid_shape == (6, 8)
    x = np.random.default_rng(1).uniform(size=(2, 12, 16, 3)).astype(np.float32)
    tokens = m.encode(x)
    assert tokens.shape == (2, 6, 8) and tokens.max() < 10
    assert m.decode(tokens).shape == (2, 12, 16, 3)
    with pytest.raises(ValueError, match="divisible by 4"):
        VQVAE(image_shape=(30, 30, 1))


@pytest.mark.parametrize("ema", [False, True])
def test_loss_terms_and_training_step(ema, images):
    keras.utils.set_random_seed(0)
    m = VQVAE(
        num_codes=8,
        code_dim=4,
        filters=(8, 8),
        beta=0.5,
        ema_decay=0.9 if ema else None,
    )
    m.start_codebook(images)
    terms = {k: float(v) for k, v in m.loss_terms(images).items()}
    x_hat = np.asarray(
        m.decoder(m.quantizer(m.encoder(images))["quantized"])
    )  # unclipped
    assert terms["reconstruction"] == pytest.approx(
        np.mean((images - x_hat) ** 2), rel=1e-5
    )
    expected = (
        terms["reconstruction"]
        + terms["commitment_loss"]
        + (0 if ema else terms["codebook_loss"])
    )
    assert terms["loss"] == pytest.approx(expected, rel=1e-5)
    assert terms["commitment_loss"] == pytest.approx(
        0.5 * terms["codebook_loss"], rel=1e-5
    )
    m.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = m.codebook.copy()
    for _ in range(
        15
    ):  # eager steps: the same train_step fit compiles, without tracing it
        logs = m.train_step(images)
    assert set(logs) == {
        "loss",
        "reconstruction",
        "codebook_loss",
        "commitment_loss",
        "perplexity",
        "usage",
    }
    assert float(m.loss_terms(images)["loss"]) < terms["loss"]
    assert not np.allclose(
        m.codebook, before
    )  # the codebook was trained (by gradient or EMA)


def test_bad_tokens_raise(model):
    good = np.zeros((2, 7, 7), np.int64)
    with pytest.raises(ValueError, match=r"\[0, 64\)"):
        model.decode(good + 64)
    with pytest.raises(ValueError, match=r"\[0, 64\)"):
        model.decode(good - 1)
    with pytest.raises(ValueError, match=r"shape \(n, 7, 7\)"):
        model.decode(np.zeros((2, 8, 7), np.int64))
    with pytest.raises(ValueError, match=r"shape \(n, 7, 7\)"):
        model.decode(np.zeros((2, 7, 7, 1), np.int64))
    with pytest.raises(ValueError, match="integers"):
        model.decode(good.astype(np.float32))
    assert model.decode(good[0]).shape == (1, 28, 28, 1)  # one (7, 7) grid is fine


def test_bad_images_and_latents_raise(model):
    with pytest.raises(ValueError, match=r"shape \(n, 28, 28, 1\)"):
        model.encode(np.zeros((2, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        model.encode(np.zeros((2, 28, 28, 1), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        model.encode(np.full((2, 28, 28, 1), 255.0, np.float32))
    with pytest.raises(ValueError, match="16"):
        model.quantize_latents(np.zeros((2, 7, 7, 8), np.float32))
    with pytest.raises(ValueError, match=r"\(n, 7, 7, 16\)"):
        model.decode_latents(np.zeros((2, 7, 7, 8), np.float32))


def test_measure_matches_a_direct_computation(model, images):
    m = model.measure(images)
    tokens = model.encode(images)
    assert m["mse"] == pytest.approx(
        float(np.mean((images - model.reconstruct(images)) ** 2)), rel=1e-6
    )
    counts = np.bincount(tokens.ravel(), minlength=64)
    np.testing.assert_array_equal(m["counts"], counts)
    assert m["usage"] == pytest.approx(np.count_nonzero(counts) / 64)
    p = counts[counts > 0] / counts.sum()
    assert m["perplexity"] == pytest.approx(float(np.exp(-(p * np.log(p)).sum())))
