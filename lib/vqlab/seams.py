"""Seams: where a box of tokens from one image meets the tokens of another (one module).

Two measures, both in pixels:

* ``profile(model, target, source, box, at)``: move the box (``vqlab.tokens.transplant``'s
  convention, (top, left, height, width) in tokens) and compare the decoded result with
  the pasted-together reconstructions, as mean squared error at each signed distance
  from the box's edge (``box_distance``); ``error`` is the same comparison per pixel
  (what the transplant widget shows) and ``mse`` its mean;
* ``jump(images, column)``: the mean absolute difference across a vertical seam at
  ``column``, of images alone: how visible the seam is (chapter 8's repair by the prior).
"""

from __future__ import annotations

import numpy as np

from .images import as_batch, paste
from .tokens import check_box, transplant


def box_distance(shape, box) -> np.ndarray:
    """Signed distance (pixels, Chebyshev) of each pixel of an (H, W) image to the edge of
    ``box`` (top, left, height, width) in pixels: 0 on the box's border pixels, negative
    inside, positive outside."""
    top, left, height, width = box
    i, j = np.indices(shape)
    outside = np.maximum.reduce(
        [top - i, i - (top + height - 1), left - j, j - (left + width - 1)]
    )
    inside = -np.minimum.reduce(
        [i - top, top + height - 1 - i, j - left, left + width - 1 - j]
    )
    return np.where(outside > 0, outside, inside)


def error(decoded, pasted) -> np.ndarray:
    """Squared error per pixel (H, W), averaged over channels, of a decoded transplant
    against the pasted reconstructions."""
    d = np.asarray(decoded, np.float64) - np.asarray(pasted, np.float64)
    return np.mean(d**2, axis=-1) if d.ndim == 3 else d**2


def mse(decoded, pasted) -> float:
    """The mean of ``error``: one number for a whole transplant."""
    return float(np.mean(error(decoded, pasted)))


def profile(model, target, source, box, at=None, max_distance: int = 24) -> dict:
    """Transplant ``box`` (tokens) of ``source``'s tokens into ``target``'s and measure the
    seam: ``error`` of the decoded result against the pasted-together reconstructions (the
    target's outside the box, the source's inside), averaged over pixels at each signed
    distance d (pixels) from the box's edge, |d| <= max_distance.

    Far from the edge the decoder sees tokens of one image only and the error is ~0; near it
    the decoder's receptive field straddles both. Returns ``distance`` (pixels), ``mse`` per
    distance, the decoded ``result``, the pixel ``composite``, the ``tokens`` and ``factor``."""
    f = model.image_shape[0] // model.grid_shape[0]
    x = np.stack([as_batch(target)[0], as_batch(source)[0]])
    t = model.encode(x)
    rec = model.decode(t)
    mixed = transplant(t[0], t[1], box, at)
    result = model.decode(mixed[None])[0]
    _, _, height, width, at_top, at_left = check_box(t.shape[1:], box, at)
    composite = paste(rec[0], rec[1], box, at, factor=f)
    err = error(result, composite)  # (H, W)
    d = box_distance(err.shape, (at_top * f, at_left * f, height * f, width * f))
    distances = np.arange(-max_distance, max_distance + 1)
    per = np.array(
        [err[d == k].mean() if np.any(d == k) else np.nan for k in distances]
    )
    return {
        "distance": distances,
        "mse": per,
        "result": result,
        "composite": composite,
        "tokens": mixed,
        "factor": f,
    }


seam_profile = profile  # the name chapter 11 reads


def jump(images, column: int) -> np.ndarray:
    """Mean absolute difference between pixel columns ``column - 1`` and ``column`` of each
    image (n, H, W[, 1]): how visible a vertical seam at ``column`` is. One value per image."""
    x = np.asarray(images, np.float64)
    x = x[..., 0] if x.ndim == 4 else x
    if not 0 < column < x.shape[-1]:
        raise ValueError(f"column should lie in [1, {x.shape[-1] - 1}], got {column!r}")
    return np.abs(x[:, :, column] - x[:, :, column - 1]).mean(axis=1)


def box_jump(image, box) -> float:
    """How visible the edge of ``box`` (top, left, height, width, in pixels) is in one image
    (H, W[, C]): the mean absolute difference, over the box's border and the colour
    channels, between each border pixel and its neighbour just outside the box. Compare
    with ``neighbour_difference``, the same for any two adjacent pixels of the image."""
    x = np.asarray(image, np.float64)
    x = x[..., None] if x.ndim == 2 else x
    top, left, height, width = (int(v) for v in box)
    bottom, right = top + height - 1, left + width - 1
    if top < 1 or left < 1 or bottom > x.shape[0] - 2 or right > x.shape[1] - 2:
        raise ValueError(
            f"box {box} should lie inside the image {x.shape[:2]} with a pixel to spare "
            f"on each side"
        )
    cols, rows = slice(left, right + 1), slice(top, bottom + 1)
    pairs = [
        (x[top, cols], x[top - 1, cols]),
        (x[bottom, cols], x[bottom + 1, cols]),
        (x[rows, left], x[rows, left - 1]),
        (x[rows, right], x[rows, right + 1]),
    ]
    return float(np.mean(np.concatenate([np.abs(a - b).ravel() for a, b in pairs])))


def neighbour_difference(image) -> float:
    """The mean absolute difference between horizontally or vertically adjacent pixels of
    one image (H, W[, C]): what ``box_jump`` would be for an edge that is not there."""
    x = np.asarray(image, np.float64)
    return float(
        np.mean(
            np.concatenate(
                [np.abs(np.diff(x, axis=0)).ravel(), np.abs(np.diff(x, axis=1)).ravel()]
            )
        )
    )


def ring(grid_shape, box, width: int = 1) -> np.ndarray:
    """Bool mask (h, w) of the tokens within ``width`` tokens of the edge of ``box`` (top,
    left, height, width, in tokens): the box's own ``width`` outer rings and the ``width``
    rings just outside it. These are the tokens a repair resamples."""
    d = box_distance(tuple(grid_shape), box)
    return (d > -width) & (d <= width)
