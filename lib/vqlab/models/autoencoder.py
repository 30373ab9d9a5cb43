"""The plain autoencoder: x -> z = f(x) -> x_hat = g(z), trained on reconstruction alone."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .. import checks, losses
from . import blocks
from .base import LossTermsModel, batched


@keras.saving.register_keras_serializable(package="vqlab")
class Autoencoder(LossTermsModel):
    """Deterministic autoencoder with a ``latent_dim``-dimensional code.

    ``kind`` is 'dense' or 'conv'; ``reconstruction`` is 'bce' or 'mse'.
    """

    ENCODER_OUTPUTS_PER_LATENT = (
        1  # the VAE's encoder gives two numbers per latent: mean, log-variance
    )

    def __init__(
        self,
        latent_dim: int = 2,
        kind: str = "dense",
        reconstruction: str = "bce",
        image_shape=blocks.IMAGE_SHAPE,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, seed=seed, **kwargs)
        if reconstruction not in losses.RECONSTRUCTIONS:
            raise ValueError(
                f"reconstruction should be 'bce' or 'mse', got {reconstruction!r}"
            )
        self.latent_dim = checks.positive_int("latent_dim", latent_dim)
        self.kind, self.reconstruction = blocks.check_kind(kind), reconstruction
        self.encoder = blocks.encoder(
            kind, self.ENCODER_OUTPUTS_PER_LATENT * self.latent_dim, self.image_shape
        )
        self.decoder = blocks.decoder(kind, self.latent_dim, self.image_shape)

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "kind": self.kind,
            "reconstruction": self.reconstruction,
        }

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    def loss_terms(self, x, training=False):
        x_hat = self(x, training=training)
        return {
            "loss": ops.mean(losses.reconstruction_loss(self.reconstruction, x, x_hat))
        }

    def encode(self, x) -> np.ndarray:
        """Codes z = f(x), shape (n, latent_dim)."""
        return batched(self.graph_call("encoder"), self.check_images(x))

    def decode(self, z) -> np.ndarray:
        """Images g(z) in [0, 1], shape (n,) + image_shape, for latents ``z`` of shape (n, latent_dim)."""
        return batched(
            self.graph_call("decoder"), checks.latents(z, (self.latent_dim,))
        )
