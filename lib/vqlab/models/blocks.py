"""Encoders and decoders shared by the models: the thesis' dense and convolutional stacks.

Three kinds (thesis section 4.3 has the last two: two convolutions in encoder and decoder,
with or without two fully connected layers between them and the 2-D latent):

dense:      Flatten -> Dense(256) -> Dense(128) -> code | code -> Dense(128) -> Dense(256) -> image
conv:       Conv(32, s2) -> Conv(64, s2) -> code | code -> ConvT(64, s2) -> ConvT(32, s2) -> image
conv_dense: Conv(32, s2) -> Conv(64, s2) -> Dense(256) -> Dense(128) -> code
            | code -> Dense(128) -> Dense(256) -> ConvT(64, s2) -> ConvT(32, s2) -> image

ReLU inside, a sigmoid on the output pixels (they are probabilities or grey levels in [0, 1]).
The thesis fixes the layer types, the activations and the 2-D latent; the widths, kernel
sizes and strides are the book's choice. ("code" is a Dense layer to the code's size; a
convolutional decoder starts with a Dense layer to the 7x7x64 grid its first ConvT needs.)
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

from .. import checks

IMAGE_SHAPE = (28, 28, 1)
DENSE_UNITS = (256, 128)
CONV_FILTERS = (32, 64)
KINDS = ("dense", "conv", "conv_dense")


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind should be one of {KINDS}, got {kind!r}")
    return kind


def check_conv_shape(image_shape, stages: int) -> tuple[int, int]:
    """The (h, w) a stack of ``stages`` stride-2 convolutions makes of ``image_shape``."""
    factor = 2**stages
    if image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(
            f"image sides {tuple(image_shape[:2])} must be divisible by {factor} "
            f"for {stages} stride-2 convolutions"
        )
    return image_shape[0] // factor, image_shape[1] // factor


def encoder(
    kind: str, out_dim: int, image_shape=IMAGE_SHAPE, name="encoder"
) -> keras.Sequential:
    """Image (n, H, W, C) -> vector (n, out_dim). Every layer is named (``conv0``, ``dense1``,
    ``code``): weights are stored by these names."""
    check_kind(kind)
    stack = [keras.Input(image_shape)]
    if kind != "dense":
        check_conv_shape(image_shape, len(CONV_FILTERS))
        stack += [
            layers.Conv2D(
                f, 3, strides=2, padding="same", activation="relu", name=f"conv{i}"
            )
            for i, f in enumerate(CONV_FILTERS)
        ]
    stack += [layers.Flatten(name="flatten")]
    if kind != "conv":
        stack += [
            layers.Dense(u, activation="relu", name=f"dense{i}")
            for i, u in enumerate(DENSE_UNITS)
        ]
    stack += [layers.Dense(out_dim, name="code")]
    return keras.Sequential(stack, name=name)


def decoder(
    kind: str, latent_dim: int, image_shape=IMAGE_SHAPE, name="decoder"
) -> keras.Sequential:
    """Vector (n, latent_dim) -> pixels in [0, 1] of shape (n, H, W, C)."""
    check_kind(kind)
    stack = [keras.Input((latent_dim,))]
    if kind != "conv":
        stack += [
            layers.Dense(u, activation="relu", name=f"dense{i}")
            for i, u in enumerate(reversed(DENSE_UNITS))
        ]
    if kind == "dense":
        stack += [
            layers.Dense(
                int(np.prod(image_shape)), activation="sigmoid", name="pixels"
            ),
            layers.Reshape(image_shape, name="image"),
        ]
    else:
        h, w = check_conv_shape(image_shape, len(CONV_FILTERS))
        stack += [
            layers.Dense(h * w * CONV_FILTERS[-1], activation="relu", name="to_grid"),
            layers.Reshape((h, w, CONV_FILTERS[-1]), name="grid"),
        ]
        stack += [
            layers.Conv2DTranspose(
                f, 3, strides=2, padding="same", activation="relu", name=f"deconv{i}"
            )
            for i, f in enumerate(reversed(CONV_FILTERS))
        ]
        stack += [
            layers.Conv2D(
                image_shape[-1], 3, padding="same", activation="sigmoid", name="pixels"
            )
        ]
    return keras.Sequential(stack, name=name)


# The VQ-VAE's stacks (MNIST): stride-2 convolutions to a grid of code_dim vectors, and back.


def check_filters(filters) -> tuple[int, ...]:
    """``filters`` as a non-empty tuple of positive ints (one per stride-2 stage)."""
    try:
        out = tuple(checks.positive_int("each entry of filters", f) for f in filters)
    except TypeError:
        raise ValueError(
            f"filters should be a sequence of positive integers, got {filters!r}"
        ) from None
    if not out:
        raise ValueError("filters should name at least one convolution stage, got ()")
    return out


def vq_encoder(
    filters, code_dim: int, image_shape=IMAGE_SHAPE, name="encoder"
) -> keras.Sequential:
    """Image (n, H, W, C) -> z_e (n, H / 2^s, W / 2^s, code_dim), s = len(filters)."""
    return keras.Sequential(
        [keras.Input(image_shape)]
        + [
            layers.Conv2D(
                f, 3, strides=2, padding="same", activation="relu", name=f"conv{i}"
            )
            for i, f in enumerate(filters)
        ]
        + [layers.Conv2D(code_dim, 1, name="to_code")],
        name=name,
    )


def vq_decoder(
    filters, code_dim: int, image_shape=IMAGE_SHAPE, grid_shape=None, name="decoder"
) -> keras.Sequential:
    """z_q (n, h, w, code_dim) -> pixels (n, H, W, C), linear (the VQ-VAE trains on MSE)."""
    grid_shape = (
        check_conv_shape(image_shape, len(filters))
        if grid_shape is None
        else grid_shape
    )
    return keras.Sequential(
        [keras.Input(tuple(grid_shape) + (code_dim,))]
        + [
            layers.Conv2DTranspose(
                f, 3, strides=2, padding="same", activation="relu", name=f"deconv{i}"
            )
            for i, f in enumerate(reversed(filters))
        ]
        + [layers.Conv2D(image_shape[-1], 3, padding="same", name="pixels")],
        name=name,
    )
