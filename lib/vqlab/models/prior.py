"""The gated PixelCNN (van den Oord et al. 2016) over token grids: stage two's prior model.

    tokens (n, h, w) -> embedding e (n, h, w, C)
    vertical stack:   v_l = gate(conv_{2x3}(v_{l-1}))        row r sees rows <= r
    horizontal stack: h_l = h_{l-1} + conv_1x1(gate(conv_{1x2}(h_{l-1}) + conv_1x1(down(v_l))))
                      with h_0's input e shifted one column right (type-A: (i, j) never sees itself)
    logits (n, h, w, K) = conv_1x1(relu(conv_1x1(relu(h_L))))

The model only; sampling, scoring and completion are ``vqlab.prior``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers, ops

from .. import checks
from ..distribute import draw_for_batch
from .base import LossTermsModel
from .vqvae import VQVAE

LN2 = math.log(2.0)
NUM_CLASSES = 10  # MNIST digits; label NUM_CLASSES means "no label"
KERNEL_WIDTH = 3  # the vertical stack's kernel is (2, 3): the row above (after the shift) and this row


def _gate(a):
    """tanh(a_1) * sigmoid(a_2), the channels of ``a`` split in two halves."""
    a1, a2 = ops.split(a, 2, axis=-1)
    return ops.tanh(a1) * ops.sigmoid(a2)


def _down(x):
    """Shift (n, h, w, c) one row down: row i gets row i - 1, row 0 zeros."""
    return ops.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def _right(x):
    """Shift (n, h, w, c) one column right: column j gets column j - 1, column 0 zeros."""
    return ops.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


@keras.saving.register_keras_serializable(package="vqlab")
class GatedPixelCNN(LossTermsModel):
    """Gated PixelCNN over token grids (n, h, w) of ``num_codes`` codes, optionally given a label.

    ``image_shape`` is the token grid as (h, w, 1), so ``model(np.zeros((1, h, w, 1)))``
    builds it as it builds the book's other models. ``model(tokens)`` gives the logits
    (n, h, w, num_codes) of p(k_i | k_<i) without a label; ``logits(tokens, labels)``
    with one. Training data: a dict ``{"tokens": (n, h, w) ints, "labels": (n,) ints}``.
    """

    TERMS = ("loss", "bits_per_image")

    def __init__(
        self,
        num_codes: int = 64,
        channels: int = 48,
        num_layers: int = 6,
        num_classes: int = NUM_CLASSES,
        label_dropout: float = 0.2,
        image_shape=(7, 7, 1),
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, seed=seed, **kwargs)
        self.num_codes = checks.positive_int("num_codes", num_codes)
        self.channels = checks.positive_int("channels", channels)
        self.num_layers = checks.positive_int("num_layers", num_layers)
        self.num_classes = checks.positive_int("num_classes", num_classes)
        self.label_dropout = checks.number_at_least("label_dropout", label_dropout, 0.0)
        if self.label_dropout > 1.0:
            raise ValueError(
                f"label_dropout should lie in [0, 1], got {label_dropout!r}"
            )
        self.grid_shape = tuple(self.image_shape[:2])
        self.no_label = self.num_classes
        C = self.channels
        self.embedding = layers.Embedding(self.num_codes, C, name="token_embedding")
        self.v_convs = [
            layers.Conv2D(2 * C, (2, KERNEL_WIDTH), name=f"v_conv{i}")
            for i in range(num_layers)
        ]
        self.v_to_h = [
            layers.Conv2D(2 * C, 1, name=f"v_to_h{i}") for i in range(num_layers)
        ]
        self.h_convs = [
            layers.Conv2D(2 * C, (1, 2), name=f"h_conv{i}") for i in range(num_layers)
        ]
        self.h_outs = [layers.Conv2D(C, 1, name=f"h_out{i}") for i in range(num_layers)]
        # one bias per gate and label: (num_classes + 1, 2C) for each stack of each layer
        # (the last layer's vertical output feeds nothing, so it has no gate and no label bias)
        self.v_labels = [
            layers.Embedding(num_classes + 1, 2 * C, name=f"v_label{i}")
            for i in range(num_layers - 1)
        ]
        self.h_labels = [
            layers.Embedding(num_classes + 1, 2 * C, name=f"h_label{i}")
            for i in range(num_layers)
        ]
        self.head = [
            layers.Conv2D(C, 1, name="head_hidden"),
            layers.Conv2D(self.num_codes, 1, name="head_logits"),
        ]
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def get_config(self):
        return {
            **super().get_config(),
            "num_codes": self.num_codes,
            "channels": self.channels,
            "num_layers": self.num_layers,
            "num_classes": self.num_classes,
            "label_dropout": self.label_dropout,
        }

    # The network, in two halves so that sampling can reuse the vertical stack -------------
    def vertical(self, tokens, labels):
        """What the horizontal stack of each layer receives from above: a list of
        ``num_layers`` tensors (n, h, w, 2C); row i depends on rows < i only."""
        v = self.embedding(tokens)  # (n, h, w, C)
        pad = KERNEL_WIDTH // 2
        contexts = []
        for layer in range(self.num_layers):
            a = self.v_convs[layer](
                ops.pad(v, [[0, 0], [1, 0], [pad, pad], [0, 0]])
            )  # (n, h, w, 2C): rows r-1, r
            contexts.append(
                self.v_to_h[layer](_down(a))
                + self.h_labels[layer](labels)[:, None, None, :]
            )
            if layer < self.num_layers - 1:
                v = _gate(
                    a + self.v_labels[layer](labels)[:, None, None, :]
                )  # (n, h, w, C)
        return contexts

    def horizontal(self, tokens, contexts):
        """Logits (n, rows, w, K) of rows of ``tokens`` given their ``contexts`` (those rows
        of ``vertical``'s output). Every operation acts within a row, left to right."""
        h = _right(self.embedding(tokens))  # (n, rows, w, C): type A
        for layer, (conv, out, ctx) in enumerate(
            zip(self.h_convs, self.h_outs, contexts)
        ):
            a = (
                conv(ops.pad(h, [[0, 0], [0, 0], [1, 0], [0, 0]])) + ctx
            )  # columns j-1, j
            new = out(_gate(a))
            h = new if layer == 0 else h + new
        return self.head[1](ops.relu(self.head[0](ops.relu(h))))

    def logits(self, tokens, labels):
        """Logits (n, h, w, K) of p(k_i | k_<i, label) for int tokens (n, h, w) and labels (n,)."""
        return self.horizontal(tokens, self.vertical(tokens, labels))

    def call(self, x, training=False):
        tokens = ops.cast(
            x[..., 0] if len(x.shape) == 4 else x, "int32"
        )  # (n, h, w[, 1]) -> (n, h, w)
        labels = ops.full((ops.shape(tokens)[0],), self.no_label, "int32")
        return self.logits(tokens, labels)

    def loss_terms(self, x, training=False):
        """``loss``: cross-entropy in nats per token; ``bits_per_image``: the same summed over
        the grid, in bits. ``x``: a dict with ``tokens`` and ``labels`` (or tokens alone)."""
        if isinstance(x, dict):
            tokens, labels = (
                ops.cast(x["tokens"], "int32"),
                ops.cast(x["labels"], "int32"),
            )
        else:
            tokens = ops.cast(x, "int32")
            labels = ops.full((ops.shape(tokens)[0],), self.no_label, "int32")
        if training and self.label_dropout > 0:
            u = draw_for_batch(  # the global batch's draw, split over devices
                lambda shape: keras.random.uniform(shape, seed=self.seed_generator),
                ops.shape(labels),
            )
            drop = u < self.label_dropout
            labels = ops.where(drop, self.no_label, labels)
        ce = keras.losses.sparse_categorical_crossentropy(
            tokens, self.logits(tokens, labels), from_logits=True
        )
        loss = ops.mean(ce)  # nats per token
        return {
            "loss": loss,
            "bits_per_image": loss * (self.grid_shape[0] * self.grid_shape[1]) / LN2,
        }

    # The same checks as the VQ-VAE's decode, so a bad grid fails the same way in both
    check_tokens = VQVAE.check_tokens

    def check_labels(self, label, n: int) -> np.ndarray:
        """``label`` as int32 (n,): None -> "no label", one digit for all, or one per grid."""
        if label is None:
            return np.full(n, self.no_label, np.int32)
        arr = np.asarray(label)
        if arr.ndim == 0:
            arr = np.full(n, arr)
        if (
            arr.shape != (n,)
            or not np.issubdtype(arr.dtype, np.integer)
            or (n and (arr.min() < 0 or arr.max() >= self.num_classes))
        ):
            raise ValueError(
                f"label should be None, one integer in [0, {self.num_classes}) or {n} such "
                f"integers, got {label!r}"
            )
        return arr.astype(np.int32)
