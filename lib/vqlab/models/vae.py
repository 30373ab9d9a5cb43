"""The variational autoencoder (thesis chapter 3).

The encoder outputs the mean and log-variance of q(z|x) = N(mean, diag(exp(log_var)));
a latent is drawn with the reparameterization trick, z = mean + exp(log_var / 2) * eps,
eps ~ N(0, I), so gradients flow through mean and log_var; the decoder gives pixel
probabilities p(x|z). The loss is the negative ELBO, with a weight on the KL term:

    loss = reconstruction(x, decoder(z)) + kl_weight * KL(q(z|x) || N(0, I))
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .. import checks, losses, metrics
from ..distribute import draw_for_batch
from .autoencoder import Autoencoder
from .base import batched


@keras.saving.register_keras_serializable(package="vqlab")
class VAE(Autoencoder):
    """VAE with a ``latent_dim``-dimensional Gaussian latent and a standard normal prior.

    ``kind``: 'dense' or 'conv'. ``reconstruction``: 'bce' (Bernoulli NLL summed over
    pixels) or 'mse' (squared error averaged over pixels, as Keras' ``mse``).
    ``kl_weight`` multiplies the KL term (1.0 is the true ELBO for 'bce').

    ``encode(x)`` is the posterior mean (the deterministic code); ``posterior(x)`` gives
    (mean, log_var). Training draws eps from the model's seed generator; evaluation
    (``loss_terms`` and ``model(x)`` outside training) draws it from ``seed``, so the same
    call prints the same number every time it runs.
    """

    TERMS = ("loss", "reconstruction", "kl")
    ENCODER_OUTPUTS_PER_LATENT = 2

    def __init__(
        self,
        latent_dim: int = 2,
        kind: str = "dense",
        reconstruction: str = "bce",
        kl_weight: float = 1.0,
        image_shape=(28, 28, 1),
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(
            latent_dim,
            kind,
            reconstruction,
            image_shape=image_shape,
            seed=seed,
            **kwargs,
        )
        self.kl_weight = checks.number_at_least("kl_weight", kl_weight, 0.0)
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def get_config(self):
        return {**super().get_config(), "kl_weight": self.kl_weight}

    def _posterior(self, x, training=False):
        h = self.encoder(x, training=training)
        return h[:, : self.latent_dim], h[:, self.latent_dim :]

    def reparameterize(self, mean, log_var, training=False):
        """z = mean + exp(log_var / 2) * eps, eps ~ N(0, I) (thesis eq. 3.25)."""
        seed = self.seed_generator if training else self.seed
        eps = draw_for_batch(  # the global batch's noise, split over devices
            lambda shape: keras.random.normal(shape, seed=seed), ops.shape(mean)
        )
        return mean + ops.exp(0.5 * log_var) * eps

    def call(self, x, training=False):
        mean, log_var = self._posterior(x, training=training)
        return self.decoder(
            self.reparameterize(mean, log_var, training), training=training
        )

    def loss_terms(self, x, training=False):
        mean, log_var = self._posterior(x, training=training)
        x_hat = self.decoder(
            self.reparameterize(mean, log_var, training), training=training
        )
        rec = ops.mean(losses.reconstruction_loss(self.reconstruction, x, x_hat))
        kl = ops.mean(losses.kl_to_standard_normal(mean, log_var))
        return {"loss": rec + self.kl_weight * kl, "reconstruction": rec, "kl": kl}

    def posterior(self, x) -> tuple[np.ndarray, np.ndarray]:
        """(mean, log_var) of q(z|x), each of shape (n, latent_dim)."""
        return batched(self.graph_call("_posterior"), self.check_images(x))

    def encode(self, x) -> np.ndarray:
        """The posterior mean E[z|x], shape (n, latent_dim): the deterministic code of ``x``."""
        return self.posterior(x)[0]

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` images decoded from z ~ N(0, I) (the same images for the same ``seed``)."""
        if not checks.is_int(n) or n < 0:
            raise ValueError(f"n should be a number of images >= 0, got {n!r}")
        z = (
            np.random.default_rng(seed)
            .standard_normal((n, self.latent_dim))
            .astype(np.float32)
        )
        return self.decode(z)

    def measure(self, x) -> dict:
        """``mse`` of the reconstruction from the posterior mean, the mean ``kl`` (nats per
        image) of q(z|x) to the prior, and ``active_units`` (latent dimensions whose mean moves)."""
        x = self.check_images(x)
        mean, log_var = self.posterior(x)
        return {
            **super().measure(x),
            "kl": float(np.mean(losses.kl_to_standard_normal(mean, log_var)))
            if len(x)
            else float("nan"),
            "active_units": metrics.active_units(mean),
        }
