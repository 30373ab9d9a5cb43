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

from .. import losses
from . import blocks
from .base import LossTermsModel


class VAE(LossTermsModel):
    """VAE with a ``latent_dim``-dimensional Gaussian latent and a standard normal prior.

    ``kind``: 'dense' or 'conv'. ``reconstruction``: 'bce' (Bernoulli NLL summed over
    pixels) or 'mse' (squared error averaged over pixels, as Keras' ``mse``).
    ``kl_weight`` multiplies the KL term (1.0 is the true ELBO for 'bce').
    """

    TERMS = ("loss", "reconstruction", "kl")

    def __init__(self, latent_dim: int = 2, kind: str = "dense", reconstruction: str = "bce",
                 kl_weight: float = 1.0, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        losses.reconstruction_loss(reconstruction, np.zeros((1, 1)), np.zeros((1, 1)))  # validates the name
        self.latent_dim, self.kind = latent_dim, blocks.check_kind(kind)
        self.reconstruction, self.kl_weight = reconstruction, kl_weight
        self.encoder = blocks.encoder(kind, 2 * latent_dim)
        self.decoder = blocks.decoder(kind, latent_dim)
        self.seed_generator = keras.random.SeedGenerator(seed)

    def get_config(self):
        return {"latent_dim": self.latent_dim, "kind": self.kind,
                "reconstruction": self.reconstruction, "kl_weight": self.kl_weight}

    def posterior(self, x, training=False):
        """(mean, log_var) of q(z|x), each (n, latent_dim)."""
        h = self.encoder(x, training=training)
        return h[:, :self.latent_dim], h[:, self.latent_dim:]

    def reparameterize(self, mean, log_var):
        eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def call(self, x, training=False):
        mean, log_var = self.posterior(x, training=training)
        return self.decoder(self.reparameterize(mean, log_var), training=training)

    def loss_terms(self, x, training=False):
        mean, log_var = self.posterior(x, training=training)
        x_hat = self.decoder(self.reparameterize(mean, log_var), training=training)
        rec = ops.mean(losses.reconstruction_loss(self.reconstruction, x, x_hat))
        kl = ops.mean(losses.kl_to_standard_normal(mean, log_var))
        return {"loss": rec + self.kl_weight * kl, "reconstruction": rec, "kl": kl}

    # What a chapter calls -------------------------------------------------------------
    def encode(self, x):
        """(mean, log_var) of q(z|x) for images ``x`` in [0, 1], as NumPy arrays."""
        x = blocks.check_images(x)
        return blocks.batched(lambda b: self.posterior(b), x)

    def decode(self, z) -> np.ndarray:
        """Pixel probabilities p(x|z) for latents ``z`` of shape (n, latent_dim)."""
        return blocks.batched(lambda b: self.decoder(b), blocks.check_latents(z, self.latent_dim))

    def reconstruct(self, x) -> np.ndarray:
        """Decode the posterior mean: the deterministic reconstruction of ``x``."""
        return self.decode(self.encode(x)[0])

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` images decoded from z ~ N(0, I)."""
        z = np.random.default_rng(seed).standard_normal((n, self.latent_dim)).astype(np.float32)
        return self.decode(z)
