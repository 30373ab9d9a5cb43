"""A small CNN digit classifier: the feature extractor of ``vqlab.quality``'s sample measures."""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .. import checks
from .base import LossTermsModel, batched

NUM_CLASSES = 10


@keras.saving.register_keras_serializable(package="vqlab")
class DigitClassifier(LossTermsModel):
    """A small CNN for 28x28 digits: three 3x3 convolutions with batch normalisation, two
    max-poolings, global average pooling, a ``feature_dim`` dense layer (the penultimate
    features), dropout, and ten logits. ``model(x)`` gives the logits.
    Training data: a dict ``{"images": (n, 28, 28, 1) floats, "labels": (n,) ints}``."""

    TERMS = ("loss", "accuracy")
    # Batch normalisation keeps moving statistics per device, and Keras' dropout would
    # draw one mask for every device's share: it trains on one device only.
    DATA_PARALLEL = False

    def __init__(
        self,
        feature_dim: int = 128,
        dropout: float = 0.3,
        num_classes: int = NUM_CLASSES,
        image_shape=(28, 28, 1),
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, seed=seed, **kwargs)
        self.feature_dim = checks.positive_int("feature_dim", feature_dim)
        self.num_classes = checks.positive_int("num_classes", num_classes)
        self.dropout_rate = checks.number_at_least("dropout", dropout, 0.0)

        def conv(i, filters, padding="same"):
            return [
                layers.Conv2D(
                    filters, 3, padding=padding, use_bias=False, name=f"conv{i}"
                ),
                layers.BatchNormalization(name=f"norm{i}"),
                layers.ReLU(name=f"relu{i}"),
            ]

        self.body = keras.Sequential(
            [keras.Input(self.image_shape)]
            + conv(0, 32)
            + [layers.MaxPooling2D(name="pool0")]  # (14, 14, 32)
            + conv(1, 64)
            + [layers.MaxPooling2D(name="pool1")]  # (7, 7, 64)
            + conv(2, 128, "valid")
            + [layers.GlobalAveragePooling2D(name="pool2")]  # (128,)
            + [layers.Dense(self.feature_dim, activation="relu", name="features")],
            name="features",
        )
        self.dropout = layers.Dropout(self.dropout_rate, seed=self.seed)
        self.head = layers.Dense(self.num_classes, name="logits")

    def get_config(self):
        return {
            **super().get_config(),
            "feature_dim": self.feature_dim,
            "dropout": self.dropout_rate,
            "num_classes": self.num_classes,
        }

    def call(self, x, training=False):
        return self.head(
            self.dropout(self.body(x, training=training), training=training)
        )

    def loss_terms(self, x, training=False):
        logits = self(x["images"], training=training)
        labels = ops.cast(x["labels"], "int32")
        loss = ops.mean(
            keras.losses.sparse_categorical_crossentropy(
                labels, logits, from_logits=True
            )
        )
        accuracy = ops.mean(
            ops.cast(ops.equal(ops.argmax(logits, axis=-1), labels), "float32")
        )
        return {"loss": loss, "accuracy": accuracy}

    # The surface a chapter calls -----------------------------------------------------
    def features(self, x) -> np.ndarray:
        """Penultimate features (n, feature_dim) of images x (n, 28, 28[, 1]) in [0, 1]."""
        return batched(self.graph_call("body"), self.check_images(x))

    def probabilities(self, x=None, features=None) -> np.ndarray:
        """Class probabilities (n, num_classes) of images ``x``, or of their ``features``
        if already computed (the head is one dense layer: no second pass over the images)."""
        if features is None:
            features = self.features(x)
        logits = self.head(np.asarray(features, np.float32))
        return np.asarray(
            keras.ops.convert_to_numpy(keras.ops.softmax(logits, axis=-1))
        )

    def predict_labels(self, x=None, features=None) -> np.ndarray:
        return self.probabilities(x, features).argmax(axis=1)
