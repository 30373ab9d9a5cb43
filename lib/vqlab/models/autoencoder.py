"""The plain autoencoder: x -> z = f(x) -> x_hat = g(z), trained on reconstruction alone."""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .. import losses
from . import blocks


class Autoencoder(keras.Model):
    """Deterministic autoencoder with a ``latent_dim``-dimensional code.

    ``kind`` is 'dense' or 'conv'; ``reconstruction`` is 'bce' or 'mse'.
    """

    def __init__(self, latent_dim: int = 2, kind: str = "dense", reconstruction: str = "bce", **kwargs):
        super().__init__(**kwargs)
        losses.reconstruction_loss(reconstruction, np.zeros((1, 1)), np.zeros((1, 1)))  # validates the name
        self.latent_dim, self.kind, self.reconstruction = latent_dim, blocks.check_kind(kind), reconstruction
        self.encoder = blocks.encoder(kind, latent_dim)
        self.decoder = blocks.decoder(kind, latent_dim)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def get_config(self):
        return {"latent_dim": self.latent_dim, "kind": self.kind, "reconstruction": self.reconstruction}

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, x, training=False):
        return self.decoder(self.encoder(x, training=training), training=training)

    def loss_terms(self, x, training=False):
        x_hat = self(x, training=training)
        loss = ops.mean(losses.reconstruction_loss(self.reconstruction, x, x_hat))
        return {"loss": loss}

    def train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            terms = self.loss_terms(data, training=True)
        grads = tape.gradient(terms["loss"], self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(terms["loss"])
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        self.loss_tracker.update_state(self.loss_terms(data)["loss"])
        return {m.name: m.result() for m in self.metrics}

    def encode(self, x) -> np.ndarray:
        """Codes z = f(x), shape (n, latent_dim)."""
        x = blocks.check_images(x)
        return blocks.batched(lambda b: self.encoder(b), x)

    def decode(self, z) -> np.ndarray:
        """Images g(z), shape (n, 28, 28, 1)."""
        z = np.asarray(z, np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ValueError(f"expected codes of shape (n, {self.latent_dim}), got {z.shape}")
        return blocks.batched(lambda b: self.decoder(b), z)

    def reconstruct(self, x) -> np.ndarray:
        return self.decode(self.encode(x))
