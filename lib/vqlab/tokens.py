"""Manipulations of token grids (thesis section 5.2), for any grid size and codebook.

A VQ-VAE turns an image into a grid of integers, ``tokens`` of shape (h, w) or a batch
(n, h, w). These functions edit such grids the way one edits an image: shift, rotate,
flip, combine halves. They work on any array of that layout, so the very same call
applied to pixels (n, H, W) gives the pixel-space version of an edit, which is how the
book measures whether an edit in token space means the same thing as in pixel space.

Axes: ``x`` runs along a row (left to right, the last axis), ``y`` down a column
(the axis before it). A positive ``dx`` moves content right, a positive ``dy`` down.

Counts (``dx``, ``dy``, ``k``, ``split``) must be integers (Python or NumPy, not bools):
1.5 or "1" raise an error instead of being truncated. A ``fill`` for an integer grid must be
an integer too.

``invert_latents`` is the one edit that is not on tokens: it negates the continuous
encoder outputs z_e before they are quantized.
"""

from __future__ import annotations

import operator

import numpy as np

AXES = ("x", "y")
FILLS = ("wrap", "edge")


def _as_grids(grid) -> tuple[np.ndarray, bool]:
    """(n, h, w) view of ``grid``, and whether the input was a single (h, w) grid."""
    grid = np.asarray(grid)
    if grid.ndim == 2:
        return grid[None], True
    if grid.ndim == 3:
        return grid, False
    raise ValueError(
        f"expected a grid (h, w) or a batch of grids (n, h, w), got shape {grid.shape}"
    )


def _integer(name: str, value) -> int:
    """``value`` as an int if it is an integer (``operator.index``), else a TypeError."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} should be an integer, got the bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} should be an integer, got {value!r} of type {type(value).__name__}"
        ) from None


def _check_fill(fill, grid: np.ndarray):
    """'wrap', 'edge', or a number the grid's dtype holds exactly (an integer for token grids)."""
    if isinstance(fill, str):
        if fill not in FILLS:
            raise ValueError(f"fill should be 'wrap', 'edge' or a number, got {fill!r}")
        return fill
    if np.issubdtype(grid.dtype, np.integer):
        return _integer("fill for an integer grid", fill)
    if isinstance(fill, (bool, np.bool_)) or not isinstance(
        fill, (int, float, np.integer, np.floating)
    ):
        raise ValueError(f"fill should be 'wrap', 'edge' or a number, got {fill!r}")
    return fill


def _axis_index(axis: str) -> int:
    if axis not in AXES:
        raise ValueError(
            f"axis should be 'x' (along a row) or 'y' (down a column), got {axis!r}"
        )
    return 2 if axis == "x" else 1


def _shift_one_axis(g: np.ndarray, by: int, ax: int, fill) -> np.ndarray:
    size = g.shape[ax]
    if (
        fill == "wrap"
    ):  # a shift by the grid's size is no shift: take it modulo the size
        by = by % size
    if abs(by) >= size:
        name = "x" if ax == 2 else "y"
        raise ValueError(
            f"shift d{name}={by} is not smaller than the grid's size {size} along {name}"
        )
    if by == 0:
        return g
    if fill == "wrap":
        return np.roll(g, by, axis=ax)
    out = np.roll(g, by, axis=ax)
    idx = [slice(None)] * 3
    if by > 0:
        idx[ax] = slice(0, by)
        edge = np.take(g, [0], axis=ax)
    else:
        idx[ax] = slice(size + by, size)
        edge = np.take(g, [size - 1], axis=ax)
    out[tuple(idx)] = edge if fill == "edge" else fill
    return out


def shift(grid, dx: int = 0, dy: int = 0, fill="wrap") -> np.ndarray:
    """Move the content ``dx`` cells right and ``dy`` cells down.

    ``fill`` says what enters at the border: 'wrap' (what leaves one side enters the
    other), 'edge' (repeat the border row or column), or a value (e.g. the token of an
    empty background, or 0.0 for pixels). With 'wrap' a shift is taken modulo the grid's
    size (a shift by the whole width is no shift); with the other fills it must be smaller.
    """
    dx, dy = _integer("dx", dx), _integer("dy", dy)
    g, single = _as_grids(grid)
    fill = _check_fill(fill, g)
    out = _shift_one_axis(_shift_one_axis(g, dx, 2, fill), dy, 1, fill)
    return out[0] if single else out


def rotate90(grid, k: int = 1) -> np.ndarray:
    """Rotate by k * 90 degrees counter-clockwise (k may be negative). The grid must be square
    for a batch of odd k to keep its shape, as it does for every grid of this book."""
    k = _integer("k", k)
    g, single = _as_grids(grid)
    out = np.rot90(g, k=k, axes=(1, 2))
    return out[0] if single else out


def flip(grid, axis: str = "x") -> np.ndarray:
    """Mirror along ``axis``: 'x' reverses each row (left <-> right), 'y' each column (top <-> bottom)."""
    g, single = _as_grids(grid)
    out = np.flip(g, axis=_axis_index(axis))
    return out[0] if single else out


def combine(first, second, axis: str = "x", split: int | None = None) -> np.ndarray:
    """Join two grids of the same shape: the part of ``first`` before ``split`` and the part
    of ``second`` from ``split`` on, along ``axis`` ('x': left | right, 'y': top / bottom).
    ``split`` defaults to the middle (rounded down)."""
    a, single_a = _as_grids(first)
    b, single_b = _as_grids(second)
    if a.shape != b.shape:
        raise ValueError(
            f"grids to combine must have the same shape, got {np.shape(first)} and {np.shape(second)}"
        )
    ax = _axis_index(axis)
    size = a.shape[ax]
    split = size // 2 if split is None else _integer("split", split)
    if not 0 <= split <= size:
        raise ValueError(f"split should lie in [0, {size}] along {axis}, got {split}")
    idx = np.arange(size).reshape([-1 if i == ax else 1 for i in range(3)])
    out = np.where(idx < split, a, b)
    return out[0] if single_a and single_b else out


def invert_latents(z_e) -> np.ndarray:
    """Negate the continuous encoder outputs: z_e -> -z_e (quantize the result afterwards)."""
    return -np.asarray(z_e)


def check_box(
    grid_shape, box, at=None, factor: int = 1
) -> tuple[int, int, int, int, int, int]:
    """``box`` = (top, left, height, width) and ``at`` = (top, left) (default: the box's own
    place), checked against a grid of ``grid_shape`` (h, w) (in pixels: ``grid_shape`` is
    divided by ``factor``): (top, left, height, width, at_top, at_left), or a ValueError."""
    h, w = (int(s) // factor for s in grid_shape[:2])
    try:
        top, left, height, width = (_integer("box entry", v) for v in box)
        at_top, at_left = (
            (top, left) if at is None else (_integer("at entry", v) for v in at)
        )
    except (TypeError, ValueError):
        raise ValueError(
            f"box should be (top, left, height, width) and at (top, left), integers in "
            f"tokens; got box={box!r}, at={at!r}"
        ) from None
    if (
        min(top, left, at_top, at_left, height, width) < 0
        or max(top, at_top) + height > h
        or max(left, at_left) + width > w
    ):
        raise ValueError(
            f"box (top, left, height, width) = {tuple(box)} at {(at_top, at_left)} "
            f"does not fit token grids of shape {(h, w)}"
        )
    return top, left, height, width, at_top, at_left


def transplant(target, source, box, at=None) -> np.ndarray:
    """``target`` (h, w) with the box ``(top, left, height, width)`` of ``source`` (h, w)
    pasted at ``at`` (top, left; default: the box's own place). The one box convention of
    the library: the widgets, ``vqlab.seams`` and ``vqlab.images.paste`` use it too."""
    t, s = np.array(target), np.asarray(source)
    if t.shape != s.shape or t.ndim != 2:
        raise ValueError(
            f"target and source should be token grids (h, w) of one shape, "
            f"got {t.shape} and {s.shape}"
        )
    top, left, height, width, at_top, at_left = check_box(s.shape, box, at)
    t[at_top : at_top + height, at_left : at_left + width] = s[
        top : top + height, left : left + width
    ]
    return t
