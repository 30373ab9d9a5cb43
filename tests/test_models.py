"""The continuous-latent models: ``Autoencoder`` and ``VAE``, dense and convolutional.

Shapes, a few training steps on a small batch, and the errors a reader can act on.
Random images stand in for MNIST so the file runs in seconds.
"""

import keras
import numpy as np
import pytest

from vqlab.models import VAE, Autoencoder

KINDS = ("dense", "conv", "conv_dense")


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(0)
    # Blobs on a dark background: learnable structure, pixels in [0, 1].
    yy, xx = np.mgrid[:28, :28]
    centres = rng.uniform(8, 20, size=(64, 2))
    x = np.exp(
        -((yy - centres[:, :1, None]) ** 2 + (xx - centres[:, 1:, None]) ** 2) / 20.0
    )
    return x[..., None].astype(np.float32)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("model_class", [Autoencoder, VAE])
def test_shapes(model_class, kind, batch):
    keras.utils.set_random_seed(0)
    model = model_class(latent_dim=3, kind=kind)
    x = batch[:5]
    assert model(x).shape == (5, 28, 28, 1)
    codes = model.encode(x)
    assert codes.shape == (5, 3)
    if model_class is VAE:
        mean, log_var = model.posterior(x)
        assert mean.shape == log_var.shape == (5, 3)
        np.testing.assert_array_equal(codes, mean)
        samples = model.sample(4)
        assert samples.shape == (4, 28, 28, 1)
        assert samples.min() >= 0.0 and samples.max() <= 1.0
    out = model.decode(np.zeros((2, 3), np.float32))
    assert out.shape == (2, 28, 28, 1) and out.min() >= 0.0 and out.max() <= 1.0
    assert model.reconstruct(x).shape == (5, 28, 28, 1)
    # (n, 28, 28) without the channel axis is accepted too.
    assert model.reconstruct(x[..., 0]).shape == (5, 28, 28, 1)


def test_vae_reconstruct_is_deterministic_and_training_samples(batch):
    keras.utils.set_random_seed(0)
    model = VAE(2, "dense")
    x = batch[:4]
    np.testing.assert_array_equal(model.reconstruct(x), model.reconstruct(x))
    # training draws z ~ q(z|x) anew each step ...
    assert not np.allclose(
        np.asarray(model(x, training=True)), np.asarray(model(x, training=True))
    )
    # ... evaluation draws it from the model's seed: re-running a cell prints the same number
    assert float(model.loss_terms(x)["loss"]) == float(model.loss_terms(x)["loss"])
    keras.utils.set_random_seed(123)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(model(x)))
    assert np.allclose(model.reconstruct(x), model.decode(model.encode(x)))


@pytest.mark.parametrize(
    "model_class,kind,reconstruction",
    [
        (Autoencoder, "dense", "bce"),
        (Autoencoder, "conv", "mse"),
        (VAE, "dense", "bce"),
        (VAE, "conv", "bce"),
    ],
)
def test_a_few_training_steps_reduce_the_loss(model_class, kind, reconstruction, batch):
    keras.utils.set_random_seed(0)
    model = model_class(latent_dim=2, kind=kind, reconstruction=reconstruction)
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    before = float(model.loss_terms(batch)["loss"])
    model.fit(batch, batch_size=16, epochs=5, verbose=0, shuffle=False)
    after = float(model.loss_terms(batch)["loss"])
    assert after < 0.9 * before


def test_vae_loss_terms_add_up(batch):
    keras.utils.set_random_seed(0)
    model = VAE(2, "dense", kl_weight=0.5)
    terms = {k: float(v) for k, v in model.loss_terms(batch[:8]).items()}
    assert terms["kl"] >= 0.0
    assert terms["loss"] == pytest.approx(
        terms["reconstruction"] + 0.5 * terms["kl"], rel=1e-6
    )


@pytest.mark.parametrize("model_class", [Autoencoder, VAE])
def test_bad_images_raise_clear_errors(model_class, batch):
    model = model_class(2, "dense")
    with pytest.raises(
        ValueError,
        match=r"expected images of shape \(n, 28, 28, 1\), got \(5, 32, 32, 1\)",
    ):
        model.encode(np.zeros((5, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match=r"expected images of shape"):
        model.encode(np.zeros((28, 28), np.float32))  # one image without its batch axis
    with pytest.raises(ValueError, match="uint8: divide by 255"):
        model.encode((batch[:2] * 255).astype(np.uint8))
    with pytest.raises(ValueError, match=r"pixels in \[0, 1\]"):
        model.encode(batch[:2] * 255.0)


@pytest.mark.parametrize("model_class", [Autoencoder, VAE])
def test_latent_shape_mismatch_raises(model_class):
    model = model_class(latent_dim=2, kind="dense")
    with pytest.raises(ValueError, match=r"of shape \(n, 2\), got \(4, 3\)"):
        model.decode(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"of shape \(n, 2\)"):
        model.decode(np.zeros(2))


@pytest.mark.parametrize("model_class", [Autoencoder, VAE])
def test_unknown_names_raise(model_class):
    with pytest.raises(ValueError, match="'bce' or 'mse', got 'l2'"):
        model_class(2, "dense", reconstruction="l2")
    with pytest.raises(
        ValueError,
        match=r"kind should be one of \('dense', 'conv', 'conv_dense'\), got 'mlp'",
    ):
        model_class(2, "mlp")


def test_get_config_round_trips():
    vae = VAE(3, "conv", "mse", kl_weight=0.25, image_shape=(32, 16, 3), seed=5)
    config = vae.get_config()
    assert {"name", "image_shape", "seed", "kl_weight"} <= set(config)
    assert VAE.from_config(config).get_config() == config
    ae = Autoencoder(4, "dense", "mse", seed=2)
    assert Autoencoder.from_config(ae.get_config()).get_config() == ae.get_config()


@pytest.mark.parametrize("model_class", [Autoencoder, VAE])
def test_any_image_shape(model_class):
    m = model_class(2, "conv", image_shape=(12, 8, 3))
    x = np.random.default_rng(0).uniform(size=(3, 12, 8, 3)).astype(np.float32)
    assert m.reconstruct(x).shape == (3, 12, 8, 3)
    assert set(m.measure(x)) >= {"mse"}
