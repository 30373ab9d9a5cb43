"""Edits in token space, and how well they match the same edit in pixel space.

The thesis edited VQ-VAE token grids and judged the decoded images by eye. Here an
``Edit`` pairs a token-space function with its pixel-space twin, and ``measure_edits``
compares, over many images x with tokens t = encode(x):

* ``decode(T(t))`` with ``T(x)``: does the edited code decode to the edited image?
* ``decode(T(t))`` with ``T(decode(t))``: the same, with the reconstruction error of the
  model itself taken out (the edit's own error).

Works with any model that has ``encode(x) -> tokens (n, h, w)``, ``decode(tokens) ->
images (n, H, W, C)`` and ``image_shape`` (H, W, C), as the VQ-VAE does. Images may be
given as (n, H, W) or (n, H, W, C).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import metrics, tokens
from .images import as_batch


@dataclass
class Edit:
    """An edit of token grids (n, h, w) and its twin on pixels (n, H, W), one channel at a time."""

    name: str
    on_tokens: Callable[[np.ndarray], np.ndarray]
    on_pixels: Callable[[np.ndarray], np.ndarray]


def background_token(model) -> int:
    """The token an empty (all-zero) image is mostly made of: what a shift should fill in."""
    t = np.asarray(model.encode(np.zeros((1,) + tuple(model.image_shape), np.float32)))
    return int(np.bincount(t.ravel()).argmax())


def standard_edits(factor: int, background: int) -> list[Edit]:
    """The thesis' geometric edits; token shifts of one cell are ``factor`` pixels."""

    def shift(dx, dy):
        return Edit(
            f"shift dx={dx}, dy={dy}",
            lambda t: tokens.shift(t, dx, dy, fill=background),
            lambda x: tokens.shift(x, dx * factor, dy * factor, fill=0.0),
        )

    return [
        Edit("identity", lambda t: t, lambda x: x),
        shift(1, 0),
        shift(0, 1),
        shift(-1, 1),
        shift(2, 0),
        Edit(
            "rotate 90",
            lambda t: tokens.rotate90(t, 1),
            lambda x: tokens.rotate90(x, 1),
        ),
        Edit(
            "rotate 180",
            lambda t: tokens.rotate90(t, 2),
            lambda x: tokens.rotate90(x, 2),
        ),
        Edit("flip x", lambda t: tokens.flip(t, "x"), lambda x: tokens.flip(x, "x")),
        Edit("flip y", lambda t: tokens.flip(t, "y"), lambda x: tokens.flip(x, "y")),
    ]


def _images(model, x) -> np.ndarray:
    """``x`` as float32 images (n, H, W, C) of the model's ``image_shape``; (n, H, W) gains C = 1."""
    shape = tuple(model.image_shape)
    x = np.asarray(x, np.float32)
    if x.ndim == 3 and shape[-1] == 1:
        x = as_batch(x)  # (n, H, W) -> (n, H, W, 1)
    if x.shape[1:] != shape:
        raise ValueError(
            f"expected images (n, {shape[0]}, {shape[1]}) or (n, {', '.join(map(str, shape))}) "
            f"for this model, got {x.shape}"
        )
    return x


def _on_pixels(edit: Edit, images: np.ndarray) -> np.ndarray:
    """Apply ``edit.on_pixels`` to images (n, H, W, C), one channel at a time."""
    return np.stack(
        [edit.on_pixels(images[..., c]) for c in range(images.shape[-1])], axis=-1
    )


def measure_edits(model, x, edits: list[Edit], tokens=None) -> list[dict]:
    """One row per edit: mean MSE and PSNR of decode(T(t)) against T(x) and T(decode(t)).

    ``x`` holds images (n, H, W) or (n, H, W, C); ``tokens``, if given, are
    ``model.encode(x)`` already computed (a chapter that has them saves an encode). The
    reconstruction decode(t) is decoded once and serves every edit that leaves the tokens
    as they are. An empty batch gives NaN means (there is nothing to average).
    """
    x = _images(model, x)
    if len(x) == 0:
        return [
            {
                "edit": e.name,
                "mse_vs_edited_image": math.nan,
                "psnr_vs_edited_image": math.nan,
                "mse_vs_edited_reconstruction": math.nan,
            }
            for e in edits
        ]
    t = np.asarray(model.encode(x) if tokens is None else tokens)  # (n, h, w)
    if t.shape[0] != len(x):
        raise ValueError(
            f"tokens hold {t.shape[0]} grids for {len(x)} images: pass model.encode(x)"
        )
    rec = np.asarray(model.decode(t))  # (n, H, W, C)
    rows = []
    for e in edits:
        edited = np.asarray(e.on_tokens(t))
        decoded = rec if np.array_equal(edited, t) else np.asarray(model.decode(edited))
        mse_image = metrics.mse(decoded, _on_pixels(e, x))  # (n,)
        rows.append(
            {
                "edit": e.name,
                "mse_vs_edited_image": float(mse_image.mean()),
                "psnr_vs_edited_image": float(metrics.psnr_of_mse(mse_image).mean()),
                "mse_vs_edited_reconstruction": float(
                    metrics.mse(decoded, _on_pixels(e, rec)).mean()
                ),
            }
        )
    return rows


# The thesis' photo manipulations (its figs. 5.15-5.18), as numbers ----------------------
# Which rows of ``manipulations`` stand for the thesis' three kinds of damage, in the
# order it ranks them, worst first (section 5.2.2: inversion, then rotation, then shift).
THESIS_RANKING = ("inversion", "rotation", "shift")
KIND_OF = {
    "shift dx=1, dy=0": "shift",
    "shift dx=0, dy=1": "shift",
    "rotate 90": "rotation",
    "invert z_e": "inversion",
}


def manipulations(model, x, second=None) -> list[dict]:
    """The thesis' manipulations of photo token grids, each measured as the PSNR (dB) of the
    decoded edit against the same edit of the reconstruction, T(x̂) (the model's own error
    taken out), averaged over the images ``x`` (n, H, W, C):

    shifts by one token in x and in y, rotation by 90°, both flips, inversion of the
    latents (-z_e, then quantized: judged against the better of x̂ and its negative
    1 - x̂, the two things an inverted picture could mean), and, with ``second`` images,
    halves of two photos combined along x and along y (against the halves of the two
    reconstructions). Rows: ``edit``, ``kind`` (see ``KIND_OF``), ``psnr_db``."""
    x = _images(model, x)
    f = model.image_shape[0] // model.grid_shape[0]
    keep = ("shift dx=1, dy=0", "shift dx=0, dy=1", "rotate 90", "flip x", "flip y")
    edits = [e for e in standard_edits(f, background_token(model)) if e.name in keep]
    t = np.asarray(model.encode(x))
    rec = np.asarray(model.decode(t))
    rows = [
        {
            "edit": r["edit"],
            "kind": KIND_OF.get(r["edit"], "flip"),
            "psnr_db": float(metrics.psnr_of_mse(r["mse_vs_edited_reconstruction"])),
        }
        for r in measure_edits(model, x, edits, tokens=t)
    ]
    inverted = model.decode(model.quantize_latents(-model.encode_latents(x)))
    best = np.maximum(
        metrics.psnr_of_mse(metrics.mse(inverted, rec)),
        metrics.psnr_of_mse(metrics.mse(inverted, 1.0 - rec)),
    )
    rows.append(
        {"edit": "invert z_e", "kind": "inversion", "psnr_db": float(best.mean())}
    )
    if second is not None:
        y = _images(model, second)
        ty = np.asarray(model.encode(y))
        rec_y = np.asarray(model.decode(ty))
        for axis in ("x", "y"):
            decoded = model.decode(tokens.combine(t, ty, axis))
            split = (model.grid_shape[1 if axis == "x" else 0] // 2) * f
            pasted = np.stack(
                [
                    tokens.combine(rec[..., c], rec_y[..., c], axis, split=split)
                    for c in range(rec.shape[-1])
                ],
                axis=-1,
            )
            psnr = metrics.psnr_of_mse(metrics.mse(decoded, pasted)).mean()
            rows.append(
                {
                    "edit": f"halves along {axis}",
                    "kind": "combine",
                    "psnr_db": float(psnr),
                }
            )
    return rows


def damage_ranking(rows) -> tuple[str, ...]:
    """The thesis' three kinds of damage ordered worst first (lowest mean PSNR of their
    rows of ``manipulations`` first): compare with ``THESIS_RANKING``."""
    by_kind = {
        kind: np.mean([r["psnr_db"] for r in rows if r["kind"] == kind])
        for kind in THESIS_RANKING
    }
    return tuple(sorted(by_kind, key=by_kind.get))
