"""The plain autoencoder: x -> z = f(x) -> x_hat = g(z), trained on reconstruction alone."""

from __future__ import annotations

import numpy as np
from keras import ops

from .. import losses
from . import blocks
from .base import LossTermsModel


class Autoencoder(LossTermsModel):
    """Deterministic autoencoder with a ``latent_dim``-dimensional code.

    ``kind`` is 'dense' or 'conv'; ``reconstruction`` is 'bce' or 'mse'.
    """

    def __init__(self, latent_dim: int = 2, kind: str = "dense", reconstruction: str = "bce", **kwargs):
        super().__init__(**kwargs)
        losses.reconstruction_loss(reconstruction, np.zeros((1, 1)), np.zeros((1, 1)))  # validates the name
        self.latent_dim, self.kind, self.reconstruction = latent_dim, blocks.check_kind(kind), reconstruction
        self.encoder = blocks.encoder(kind, latent_dim)
        self.decoder = blocks.decoder(kind, latent_dim)

    def get_config(self):
        return {"latent_dim": self.latent_dim, "kind": self.kind, "reconstruction": self.reconstruction}

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    def loss_terms(self, x, training=False):
        x_hat = self(x, training=training)
        loss = ops.mean(losses.reconstruction_loss(self.reconstruction, x, x_hat))
        return {"loss": loss}

    def encode(self, x) -> np.ndarray:
        """Codes z = f(x), shape (n, latent_dim)."""
        x = blocks.check_images(x)
        return blocks.batched(lambda b: self.encoder(b), x)

    def decode(self, z) -> np.ndarray:
        """Images g(z), shape (n, 28, 28, 1)."""
        return blocks.batched(lambda b: self.decoder(b), blocks.check_latents(z, self.latent_dim))

    def reconstruct(self, x) -> np.ndarray:
        return self.decode(self.encode(x))
