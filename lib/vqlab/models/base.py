"""What every model of the book shares: train on the named terms of ``loss_terms``.

A model defines ``TERMS`` (the names it reports) and ``loss_terms(x, training)``, which
returns a dict with those names; ``fit`` minimises ``terms["loss"]`` and shows every
term in the progress bar, ``evaluate`` reports every term on held-out data.
"""

from __future__ import annotations

import keras


class LossTermsModel(keras.Model):
    TERMS: tuple[str, ...] = ("loss",)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.TERMS}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def loss_terms(self, x, training=False) -> dict:
        raise NotImplementedError

    def _track(self, terms):
        for name, tracker in self.trackers.items():
            tracker.update_state(terms[name])
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            terms = self.loss_terms(data, training=True)
        grads = tape.gradient(terms["loss"], self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        return self._track(terms)

    def test_step(self, data):
        return self._track(self.loss_terms(data))
