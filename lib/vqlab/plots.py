"""Figures and tables the chapters share: image grids, latent scatter plots, decoded latent
grids, token grids, and Markdown tables of measured rows.

Importing this module sets the book's figure style (``BOOK_STYLE``): a figure is read in a
browser at page width, where the HTML book's text column is about 700 px. At 100 dpi a figure
``PAGE_WIDTH`` inches wide is shown at its own size, so a 10 pt label is 14 px on screen; a
wider figure is scaled down and its fonts with it. Keep figures at most ``PAGE_WIDTH`` wide.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

PAGE_WIDTH = 6.8  # inches: the HTML book's text column at 100 dpi
BOOK_STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.figsize": (PAGE_WIDTH, 4.0),
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "figure.titlesize": 11,
}
MIN_FONT = 9  # points: the smallest text a figure should hold at page width


def use_book_style():
    """Apply ``BOOK_STYLE`` to matplotlib (done once when vqlab.plots is imported)."""
    plt.rcParams.update(BOOK_STYLE)


use_book_style()


def image_grid(
    images, ncols: int = 10, titles=None, size: float = 1.0, cmap="gray", axes=None
):
    """Show images (n, H, W[, 1]) in a grid of ``ncols`` columns; return the figure.

    Each tile is ``size`` inches, shrunk so the grid fits ``PAGE_WIDTH``; titles (one line
    or more each) are set at ``MIN_FONT`` points, with room above each row for their lines.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    size = min(size, PAGE_WIDTH / ncols)
    lines = (
        max((str(t).count("\n") + 1 for t in titles), default=0)
        if titles is not None
        else 0
    )
    title_h = lines * MIN_FONT * 1.3 / 72  # inches of title above each tile
    fig, axs = plt.subplots(
        nrows,
        ncols,
        figsize=(ncols * size, nrows * (size + title_h) + 0.1),
        squeeze=False,
    )
    for i, ax in enumerate(axs.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap=cmap, vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(str(titles[i]), fontsize=MIN_FONT, pad=2)
    fig.tight_layout(pad=0.2, h_pad=0.2, w_pad=0.2)
    return fig


def latent_scatter(z, labels, ax=None, title=None, s=2):
    """2-D codes coloured by digit label."""
    z = np.asarray(z)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    sc = ax.scatter(
        z[:, 0], z[:, 1], c=labels, cmap="tab10", s=s, alpha=0.7, vmin=-0.5, vmax=9.5
    )
    ax.figure.colorbar(sc, ax=ax, ticks=range(10), label="digit")
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return ax


def decoded_grid(decode, extent=(-3, 3), n: int = 15, ax=None, title=None):
    """Decode an n x n grid of 2-D latents spanning ``extent`` and tile the images."""
    side = np.linspace(extent[0], extent[1], n)
    zz = np.array([[x, y] for y in side[::-1] for x in side], np.float32)
    imgs = np.asarray(decode(zz)).reshape(n, n, 28, 28)
    canvas = imgs.transpose(0, 2, 1, 3).reshape(n * 28, n * 28)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 5))
    ax.imshow(canvas, cmap="gray", extent=(extent[0], extent[1], extent[0], extent[1]))
    ax.set_xlabel("$z_1$")
    ax.set_ylabel("$z_2$")
    if title:
        ax.set_title(title)
    return ax


def token_grid(tokens, ax=None, num_codes=None, title=None):
    """Show an integer token grid (h, w) with the token number written in each cell."""
    tokens = np.asarray(tokens)
    if ax is None:
        _, ax = plt.subplots(figsize=(3, 3))
    top = (num_codes or tokens.max() + 1) - 1
    ax.imshow(tokens, cmap="viridis", vmin=0, vmax=top)
    for (i, j), t in np.ndenumerate(
        tokens
    ):  # dark text on the bright (yellow) end of viridis
        ax.text(
            j,
            i,
            str(t),
            ha="center",
            va="center",
            fontsize=MIN_FONT,
            color="black" if t > 0.6 * top else "white",
        )
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def markdown_table(rows: list[dict], digits: int = 4) -> str:
    """A Markdown table of a list of dicts with the same keys, in the first row's order;
    floats are shown with ``digits`` significant digits."""
    rows = list(rows)
    if not rows:
        raise ValueError(
            "markdown_table needs at least one row (a dict of column -> value), got none"
        )
    keys = list(rows[0])
    for i, r in enumerate(rows):
        if list(r) != keys:
            raise ValueError(
                f"every row should have the keys {keys} in that order; row {i} has {list(r)}"
            )

    def fmt(v):
        return f"{v:.{digits}g}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(fmt(r[k]) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def rate_distortion(curves, points=(), ax=None, rate: str = "file", log_x: bool = True):
    """PSNR (dB, y) against bits per pixel (x): each codec of ``curves`` (dicts from
    ``vqlab.rate.codec_curve``: ``label``, ``psnr_db``, ``file_bpp``, ``payload_bpp``) as
    a line with markers, each model of ``points`` (dicts from ``vqlab.rate.point``:
    ``label``, ``psnr_db``, ``file_bpp``, ``payload_bpp`` and, when a prior codes its
    tokens, ``prior_file_bpp`` and ``prior_payload_bpp``) as a labelled point, the raw
    tokens (hollow) joined by an arrow to the prior-coded ones (filled).

    ``rate``: "file" (whole files, headers counted) or "payload" (entropy-coded data
    only). ``log_x``: a logarithmic rate axis, on which the codecs' curves are nearly
    straight and the low rates of the tokens are not squeezed against the axis."""
    if rate not in ("file", "payload"):
        raise ValueError(f"rate should be 'file' or 'payload', got {rate!r}")
    key = f"{rate}_bpp"
    if ax is None:
        _, ax = plt.subplots(figsize=(PAGE_WIDTH, 4.2))
    for c, marker in zip(curves, "os^Dv" * 4):
        ax.plot(
            np.asarray(c[key]),
            np.asarray(c["psnr_db"]),
            marker=marker,
            markersize=3,
            linewidth=1.2,
            label=c["label"],
        )
    for i, p in enumerate(points):
        colour = plt.get_cmap("tab10")(3 + i)
        x, y = p[key], p["psnr_db"]
        prior_key = f"prior_{rate}_bpp"
        coded = prior_key in p
        ax.plot(
            [x],
            [y],
            "o",
            markersize=7,
            markerfacecolor="none" if coded else colour,
            markeredgecolor=colour,
            linestyle="none",
            label=f"{p['label']} tokens ({'raw, ' if coded else ''}log2 K each)",
        )
        ax.annotate(
            p["label"],
            (x, y),
            xytext=(6, 6),
            textcoords="offset points",
            fontsize=MIN_FONT,
            color=colour,
        )
        if coded:
            ax.plot(
                [p[prior_key]],
                [y],
                "o",
                markersize=7,
                color=colour,
                linestyle="none",
                label=f"{p['label']} tokens (prior-coded)",
            )
            ax.annotate(
                "",
                (p[prior_key], y),
                xytext=(x, y),
                arrowprops={"arrowstyle": "->", "color": colour, "linewidth": 1},
            )
    if log_x:
        from matplotlib.ticker import FixedLocator, NullFormatter, ScalarFormatter

        ax.set_xscale("log")
        lo, hi = ax.get_xlim()
        ticks = [
            m * 10.0**e
            for e in range(-3, 3)
            for m in (1, 2, 3, 5)
            if lo <= m * 10.0**e <= hi
        ]
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel(
        "bits per pixel (" + ("whole file" if rate == "file" else "payload only") + ")"
    )
    ax.set_ylabel("PSNR (dB)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left")  # the curves rise to the right: this corner is free
    return ax
