"""Encoders and decoders shared by the models: the thesis' dense and convolutional stacks.

Dense: Flatten -> Dense(256) -> Dense(128) -> code | code -> Dense(128) -> Dense(256) -> image.
Conv:  Conv(32, stride 2) -> Conv(64, stride 2) -> code | code -> ConvT(64, s2) -> ConvT(32, s2) -> image.
ReLU inside, a sigmoid on the output pixels (they are probabilities or grey levels in [0, 1]).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers

IMAGE_SHAPE = (28, 28, 1)
DENSE_UNITS = (256, 128)
CONV_FILTERS = (32, 64)
KINDS = ("dense", "conv")


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind should be one of {KINDS}, got {kind!r}")
    return kind


def encoder(kind: str, out_dim: int, image_shape=IMAGE_SHAPE, name="encoder") -> keras.Sequential:
    """Image (n, H, W, C) -> vector (n, out_dim)."""
    check_kind(kind)
    stack = [keras.Input(image_shape)]
    if kind == "dense":
        stack += [layers.Flatten()] + [layers.Dense(u, activation="relu") for u in DENSE_UNITS]
    else:
        stack += [layers.Conv2D(f, 3, strides=2, padding="same", activation="relu") for f in CONV_FILTERS]
        stack += [layers.Flatten()]
    stack += [layers.Dense(out_dim)]
    return keras.Sequential(stack, name=name)


def decoder(kind: str, latent_dim: int, image_shape=IMAGE_SHAPE, name="decoder") -> keras.Sequential:
    """Vector (n, latent_dim) -> pixels in [0, 1] of shape (n, H, W, C)."""
    check_kind(kind)
    stack = [keras.Input((latent_dim,))]
    if kind == "dense":
        stack += [layers.Dense(u, activation="relu") for u in reversed(DENSE_UNITS)]
        stack += [layers.Dense(int(np.prod(image_shape)), activation="sigmoid"), layers.Reshape(image_shape)]
    else:
        h, w = (s // 2 ** len(CONV_FILTERS) for s in image_shape[:2])
        stack += [layers.Dense(h * w * CONV_FILTERS[-1], activation="relu"),
                  layers.Reshape((h, w, CONV_FILTERS[-1]))]
        stack += [layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")
                  for f in reversed(CONV_FILTERS)]
        stack += [layers.Conv2D(image_shape[-1], 3, padding="same", activation="sigmoid")]
    return keras.Sequential(stack, name=name)


def check_images(x, image_shape=IMAGE_SHAPE) -> np.ndarray:
    """Return ``x`` as float32 of shape (n,) + image_shape, or raise a clear error.

    Accepts (n, H, W) for one-channel images. Pixels must already be scaled to [0, 1].
    """
    x = np.asarray(x)
    if x.ndim == len(image_shape) and image_shape[-1] == 1 and x.shape[1:] == image_shape[:-1]:
        x = x[..., None]
    if x.shape[1:] != tuple(image_shape) or x.ndim != len(image_shape) + 1:
        raise ValueError(f"expected images of shape (n, {', '.join(map(str, image_shape))}), "
                         f"got {x.shape}")
    if x.dtype == np.uint8:
        raise ValueError("expected float pixels in [0, 1], got uint8: divide by 255 first")
    x = x.astype(np.float32)
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        raise ValueError(f"expected pixels in [0, 1], got values in [{x.min():.3g}, {x.max():.3g}]")
    return x


def check_latents(z, latent_dim: int) -> np.ndarray:
    """Return ``z`` as float32 of shape (n, latent_dim), or raise a clear error."""
    z = np.asarray(z, np.float32)
    if z.ndim != 2 or z.shape[1] != latent_dim:
        raise ValueError(f"expected latents of shape (n, {latent_dim}), got {z.shape}")
    return z


def batched(fn, x, batch_size: int = 1000):
    """Apply ``fn`` to ``x`` in chunks and concatenate the NumPy results (tuples allowed)."""
    outs = [fn(x[i:i + batch_size]) for i in range(0, max(len(x), 1), batch_size)]
    if isinstance(outs[0], tuple):
        return tuple(np.concatenate([np.asarray(o[j]) for o in outs]) for j in range(len(outs[0])))
    return np.concatenate([np.asarray(o) for o in outs])

