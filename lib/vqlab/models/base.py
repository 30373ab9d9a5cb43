"""What every model of the book shares: one surface, and training on named loss terms.

A model defines ``TERMS`` (the names it reports) and ``loss_terms(x, training)``, which
returns a dict with those names; ``fit`` minimises ``terms["loss"]`` and shows every
term in the progress bar, ``evaluate`` reports every term on held-out data.

The surface a chapter calls (NumPy in, NumPy out, any batch size, empty included):
``encode(x)``, ``decode(z)``, ``reconstruct(x) = decode(encode(x))`` and ``measure(x)``.
Images are float pixels in [0, 1] of shape (n,) + ``image_shape``; (n, H, W) is accepted
for one-channel images, and every decoded image lies in [0, 1].
"""

from __future__ import annotations

import keras
import numpy as np

from .. import checks, metrics
from ..distribute import batch_share

BATCH = 1000  # images per forward pass in encode/decode: bounded memory, few Python round trips


def batched(fn, x: np.ndarray, batch_size: int = BATCH):
    """Apply ``fn`` to ``x`` in chunks and concatenate the NumPy results (tuples allowed).

    An empty ``x`` gives empty results of the right shape (``fn`` sees one zero example).
    """
    numpy = (
        keras.ops.convert_to_numpy
    )  # any backend's tensor, detached from its gradient tape
    if len(x) == 0:
        out = fn(np.zeros((1,) + x.shape[1:], x.dtype))
        return (
            tuple(numpy(o)[:0] for o in out)
            if isinstance(out, tuple)
            else numpy(out)[:0]
        )
    outs = [fn(x[i : i + batch_size]) for i in range(0, len(x), batch_size)]
    if isinstance(outs[0], tuple):
        return tuple(
            np.concatenate([numpy(o[j]) for o in outs]) for j in range(len(outs[0]))
        )
    return np.concatenate([numpy(o) for o in outs])


def inference(fn):
    """``fn`` (a layer or a method, tensors in and out) as a compiled graph on the TensorFlow
    backend: the chapters' encode and decode calls run about a quarter faster than eagerly.
    One trace per batch shape at most (``reduce_retracing``); other backends call ``fn``."""
    if keras.backend.backend() != "tensorflow":
        return fn
    import tensorflow as tf

    return tf.function(fn, reduce_retracing=True)


class LossTermsModel(keras.Model):
    TERMS: tuple[str, ...] = ("loss",)
    # Trains data-parallel on several devices as it does on one (vqlab.distribute): its
    # randomness and batch statistics are drawn for the global batch. A model with
    # layers that keep per-device statistics (batch normalisation) sets it False.
    DATA_PARALLEL = True

    def __init__(self, image_shape=(28, 28, 1), seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.image_shape = checks.image_shape(image_shape)
        if not checks.is_int(seed):
            raise ValueError(f"seed should be an integer, got {seed!r}")
        self.seed = int(seed)
        self.trackers = {name: keras.metrics.Mean(name=name) for name in self.TERMS}

    def get_config(self):
        """Everything ``type(model)(**config)`` needs to build the same model."""
        return {
            **super().get_config(),
            "image_shape": self.image_shape,
            "seed": self.seed,
        }

    @property
    def metrics(self):
        return list(self.trackers.values())

    def loss_terms(self, x, training=False) -> dict:
        raise NotImplementedError

    def _track(self, terms, share=None):
        """Add the batch's terms to the running means. Split over devices, each adds its
        terms weighted by its ``share`` of the batch: the means are the global batch's."""
        for name, tracker in self.trackers.items():
            if share is None:
                tracker.update_state(terms[name])
            else:  # an empty share has NaN terms: weigh 0, not NaN
                value = keras.ops.where(share > 0, terms[name], 0.0)
                tracker.update_state(value, sample_weight=share)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def train_step(self, data):
        """One gradient step on ``terms["loss"]`` (TensorFlow, or PyTorch as Keras' backend)."""
        data, _, _ = keras.utils.unpack_x_y_sample_weight(
            data
        )  # images only: no labels
        backend = keras.backend.backend()
        # On several devices the optimizer sums their gradients: each device's mean loss
        # is weighted by its share of the batch, so the sum is the gradient of the mean
        # loss over the global batch (None on one device: no weighting).
        share = batch_share(data)
        if backend == "tensorflow":
            import tensorflow as tf

            with tf.GradientTape() as tape:
                terms = self.loss_terms(data, training=True)
                loss = terms["loss"]
                if share is not None:
                    loss = tf.where(share > 0, loss, 0.0) * share
            grads = tape.gradient(loss, self.trainable_weights)
        elif backend == "torch":
            self.zero_grad()
            terms = self.loss_terms(data, training=True)
            terms["loss"].backward()
            grads = [v.value.grad for v in self.trainable_weights]
        else:
            raise NotImplementedError(
                f"vqlab's models train with Keras' tensorflow or torch backend, not {backend!r}"
            )
        self.optimizer.apply(grads, self.trainable_weights)
        return self._track(terms, share)

    def test_step(self, data):
        data, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._track(self.loss_terms(data), batch_share(data))

    # The surface a chapter calls -----------------------------------------------------
    def graph_call(self, name: str):
        """The compiled inference call of ``self.<name>`` (built once, kept on the instance)."""
        calls = self.__dict__.setdefault(
            "_compiled_calls", {}
        )  # plain dict: Keras does not track it
        if name not in calls:
            calls[name] = inference(getattr(self, name))
        return calls[name]

    def check_images(self, x) -> np.ndarray:
        """``x`` as float32 (n,) + image_shape, or a ValueError that says what was expected."""
        return checks.images(x, self.image_shape)

    def encode(self, x) -> np.ndarray:
        raise NotImplementedError

    def decode(self, z) -> np.ndarray:
        raise NotImplementedError

    def reconstruct(self, x) -> np.ndarray:
        """decode(encode(x)): images (n,) + image_shape in [0, 1]."""
        return self.decode(self.encode(x))

    def measure(self, x) -> dict:
        """On images ``x``: ``mse``, the mean squared error of ``reconstruct(x)`` per pixel."""
        x = self.check_images(x)
        return {"mse": mean_mse(x, self.reconstruct(x))}


def mean_mse(x: np.ndarray, x_hat: np.ndarray) -> float:
    """Mean squared error per pixel over a batch of images (NaN for an empty batch)."""
    return float(np.mean(metrics.mse(x, x_hat))) if len(x) else float("nan")
