"""Argument checks shared by the models and layers: each raises an error that says what was expected.

Pure NumPy, so every module can use it without importing Keras.
"""

from __future__ import annotations

import numpy as np


def is_int(v) -> bool:
    """True for Python and NumPy integers, False for bools, floats and strings."""
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def is_number(v) -> bool:
    """True for a finite int or float (NumPy scalars included), False for bools and strings."""
    return (
        isinstance(v, (int, float, np.integer, np.floating))
        and not isinstance(v, bool)
        and bool(np.isfinite(v))
    )


def positive_int(name: str, v) -> int:
    if not is_int(v) or v < 1:
        raise ValueError(f"{name} should be a positive integer, got {v!r}")
    return int(v)


def number_at_least(name: str, v, low: float = 0.0) -> float:
    if not is_number(v) or v < low:
        raise ValueError(f"{name} should be a finite number >= {low:g}, got {v!r}")
    return float(v)


def image_shape(shape) -> tuple[int, int, int]:
    """``shape`` as (height, width, channels) of positive integers."""
    try:
        shape = tuple(shape)
    except TypeError:
        shape = None
    if shape is None or len(shape) != 3 or not all(is_int(s) and s > 0 for s in shape):
        raise ValueError(
            f"image_shape should be (height, width, channels), e.g. (28, 28, 1), got {shape!r}"
        )
    return tuple(int(s) for s in shape)


def finite_array(name: str, a: np.ndarray) -> np.ndarray:
    if a.size and not np.all(np.isfinite(a)):
        raise ValueError(
            f"{name} contain NaN or infinite values ({np.count_nonzero(~np.isfinite(a))} "
            f"of {a.size}): expected finite numbers"
        )
    return a


def images(x, shape) -> np.ndarray:
    """``x`` as float32 of shape (n,) + shape, pixels in [0, 1]; (n, H, W) is accepted for one channel."""
    x = np.asarray(x)
    if x.ndim == len(shape) and shape[-1] == 1 and x.shape[1:] == tuple(shape[:-1]):
        x = x[..., None]
    if x.ndim != len(shape) + 1 or x.shape[1:] != tuple(shape):
        raise ValueError(
            f"expected images of shape (n, {', '.join(map(str, shape))}), got {x.shape}"
        )
    if x.dtype == np.uint8:
        raise ValueError(
            "expected float pixels in [0, 1], got uint8: divide by 255 first"
        )
    if not (
        np.issubdtype(x.dtype, np.floating)
        or np.issubdtype(x.dtype, np.integer)
        or x.dtype == bool
    ):
        raise ValueError(f"expected float pixels in [0, 1], got dtype {x.dtype}")
    x = finite_array("images", x.astype(np.float32))
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        raise ValueError(
            f"expected pixels in [0, 1], got values in [{x.min():.3g}, {x.max():.3g}]"
        )
    return x


def latents(z, shape) -> np.ndarray:
    """``z`` as float32 of shape (n,) + shape, finite."""
    z = np.asarray(z)
    if z.ndim != len(shape) + 1 or z.shape[1:] != tuple(shape):
        raise ValueError(
            f"expected latents of shape (n, {', '.join(map(str, shape))}), got {z.shape}"
        )
    if not (np.issubdtype(z.dtype, np.floating) or np.issubdtype(z.dtype, np.integer)):
        raise ValueError(f"expected float latents, got dtype {z.dtype}")
    return finite_array("latents", z.astype(np.float32))


def vectors(name: str, z) -> np.ndarray:
    """``z`` as float64 vectors (n, ...) for a metric that measures distances between them.

    Integer arrays are refused: a VQ-VAE's ``encode`` gives token ids, and the distance
    between token 3 and token 4 means nothing (they are names of codes, not points).
    """
    z = np.asarray(z)
    if np.issubdtype(z.dtype, np.integer) or z.dtype == bool:
        raise ValueError(
            f"{name} should hold vectors (floats), got integers of shape {z.shape}: token ids are "
            f"names of codes, not points, so distances between them mean nothing. For a VQ-VAE "
            f"pass model.encode_latents(x) (the encoder's vectors) or model.codebook[tokens] "
            f"(the quantized vectors) instead of model.encode(x)"
        )
    return np.asarray(z, np.float64)
