"""Images as the library passes them around: one way to make a batch, one PNG writer.

* ``as_batch(x)``: images as float32 (n, H, W, C) in [0, 1]: one image (H, W, C) gains
  n = 1, grey (n, H, W) gains C = 1, uint8 pixels are scaled to [0, 1];
* ``to_rgb8`` / ``to_uint8``: one image as uint8 for display;
* ``png(pixels, palette)``: PNG bytes, written with zlib (fast enough for a widget's update);
* ``zoom``: nearest-neighbour upscaling; ``paste``: a box of one image put into another.

PSNR and SSIM per image of a batch are ``vqlab.photos.psnr`` and ``vqlab.photos.ssim``.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np

PNG_LEVEL = 1  # zlib level: fast to encode, still a fraction of the raw size


def as_batch(x) -> np.ndarray:
    """Images as float32 (n, H, W, C) in [0, 1]: one image (H, W, C) gains n = 1 (C = 1 or 3),
    grey (n, H, W) gains C = 1; uint8 pixels are divided by 255."""
    a = np.asarray(x)
    scale = 255.0 if a.dtype == np.uint8 else 1.0
    a = a.astype(np.float32) / scale
    if (
        a.ndim == 3 and a.shape[-1] in (1, 3) and a.shape[0] not in (1, 3)
    ):  # one (H, W, C) image
        a = a[None]
    a = a[..., None] if a.ndim == 3 else a
    if a.ndim != 4:
        raise ValueError(
            f"expected images (n, H, W), (n, H, W, C) or one (H, W, C), got shape {np.shape(x)}"
        )
    return a


def to_rgb8(image) -> np.ndarray:
    """An image (H, W), (H, W, 1) or (H, W, 3), floats in [0, 1] or uint8, as uint8 (H, W, 3)."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    if a.ndim != 3 or a.shape[-1] != 3:
        raise ValueError(
            f"expected an image (H, W), (H, W, 1) or (H, W, 3), got shape {np.shape(image)}"
        )
    if a.dtype != np.uint8:
        a = (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return a


def to_uint8(image) -> np.ndarray:
    """An image as uint8: (H, W) if it has one channel, (H, W, 3) if three (PNG's L and RGB)."""
    a = np.asarray(image)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim == 2:
        return (
            a
            if a.dtype == np.uint8
            else (np.clip(a, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        )
    return to_rgb8(a)


def zoom(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of (H, W, ...) by a whole ``factor``."""
    return (
        image
        if factor == 1
        else np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
    )


def _chunk(tag: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + tag
        + data
        + struct.pack(">I", zlib.crc32(tag + data))
    )


def png(pixels: np.ndarray, palette: np.ndarray | None = None) -> bytes:
    """PNG bytes of uint8 ``pixels``: (H, W) grey, (H, W, 3) colour, or (H, W) indices into
    ``palette`` (P, 3) uint8 with P <= 256. Written here with zlib at a fast level and no
    row filters: a 256x256 colour image in a few milliseconds (Pillow's adaptive filters
    take tens)."""
    pixels = np.ascontiguousarray(pixels, np.uint8)  # (H, W) or (H, W, 3)
    h, w = pixels.shape[:2]
    colour_type = (
        2 if pixels.ndim == 3 else 3 if palette is not None else 0
    )  # RGB, palette, grey
    rows = np.concatenate(
        [np.zeros((h, 1), np.uint8), pixels.reshape(h, -1)], axis=1
    )  # filter 0 a row
    out = [
        b"\x89PNG\r\n\x1a\n",
        _chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)),
    ]
    if palette is not None:
        out.append(_chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes()))
    out += [
        _chunk(b"IDAT", zlib.compress(rows.tobytes(), PNG_LEVEL)),
        _chunk(b"IEND", b""),
    ]
    return b"".join(out)


def paste(target, source, box, at=None, factor: int = 1) -> np.ndarray:
    """``target`` (H, W[, C]) with the box ``(top, left, height, width)`` of ``source`` put at
    ``at`` (top, left; default: the box's own place). Box and ``at`` count in units of
    ``factor`` pixels (a token's side), as ``vqlab.tokens.transplant`` counts them."""
    from .tokens import check_box

    top, left, height, width, at_top, at_left = check_box(
        np.shape(source)[:2], box, at, factor
    )
    out = np.array(target, copy=True)
    f = factor
    out[at_top * f : (at_top + height) * f, at_left * f : (at_left + width) * f] = (
        np.asarray(source)[top * f : (top + height) * f, left * f : (left + width) * f]
    )
    return out
