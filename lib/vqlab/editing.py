"""Edits in token space, and how well they match the same edit in pixel space.

The thesis edited VQ-VAE token grids and judged the decoded images by eye. Here an
``Edit`` pairs a token-space function with its pixel-space twin, and ``measure_edits``
compares, over many images x with tokens t = encode(x):

* ``decode(T(t))`` with ``T(x)``: does the edited code decode to the edited image?
* ``decode(T(t))`` with ``T(decode(t))``: the same, with the reconstruction error of the
  model itself taken out (the edit's own error).

Works with any model that has ``encode_tokens``, ``decode_tokens`` and ``grid_shape``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import metrics, tokens


@dataclass
class Edit:
    name: str
    on_tokens: Callable[[np.ndarray], np.ndarray]
    on_pixels: Callable[[np.ndarray], np.ndarray]


def background_token(model, image_shape=(28, 28, 1)) -> int:
    """The token an empty (all-zero) image is mostly made of: what a shift should fill in."""
    t = model.encode_tokens(np.zeros((1,) + tuple(image_shape), np.float32))
    return int(np.bincount(t.ravel()).argmax())


def standard_edits(factor: int, background: int) -> list[Edit]:
    """The thesis' geometric edits; token shifts of one cell are ``factor`` pixels."""
    def shift(dx, dy):
        return Edit(f"shift dx={dx}, dy={dy}",
                    lambda t: tokens.shift(t, dx, dy, fill=background),
                    lambda x: tokens.shift(x, dx * factor, dy * factor, fill=0.0))

    return [
        Edit("identity", lambda t: t, lambda x: x),
        shift(1, 0), shift(0, 1), shift(-1, 1), shift(2, 0),
        Edit("rotate 90", lambda t: tokens.rotate90(t, 1), lambda x: tokens.rotate90(x, 1)),
        Edit("rotate 180", lambda t: tokens.rotate90(t, 2), lambda x: tokens.rotate90(x, 2)),
        Edit("flip x", lambda t: tokens.flip(t, "x"), lambda x: tokens.flip(x, "x")),
        Edit("flip y", lambda t: tokens.flip(t, "y"), lambda x: tokens.flip(x, "y")),
    ]


def measure_edits(model, x, edits: list[Edit]) -> list[dict]:
    """One row per edit: mean MSE and PSNR of decode(T(t)) against T(x) and T(decode(t))."""
    t = model.encode_tokens(x)
    rec = model.decode_tokens(t)[..., 0]
    rows = []
    for e in edits:
        decoded = model.decode_tokens(e.on_tokens(t))[..., 0]
        target = e.on_pixels(x[..., 0])
        rows.append({
            "edit": e.name,
            "mse_vs_edited_image": float(metrics.mse(decoded, target).mean()),
            "psnr_vs_edited_image": float(metrics.psnr(decoded, target).mean()),
            "mse_vs_edited_reconstruction": float(metrics.mse(decoded, e.on_pixels(rec)).mean()),
        })
    return rows


def markdown_table(rows: list[dict], digits: int = 4) -> str:
    """A Markdown table of a list of dicts with the same keys (floats rounded)."""
    keys = list(rows[0])
    fmt = lambda v: f"{v:.{digits}g}" if isinstance(v, float) else str(v)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)
