"""Interactive widgets for a lab session: move a latent point, paint and edit token grids,
transplant regions, balance the loss, sample from the prior.

Each function returns a small object whose ``.widget`` is the ipywidgets container a
notebook shows (the object displays as that widget, so a chapter calls it in one line) and
whose methods are the handlers the controls call: a test or a reader can drive it from
code, ``editor.paint(i, j, k)``, ``explorer.click(col, row)``, and read the state back
(``editor.tokens``, ``editor.decoded``, ``explorer.z``). Images are ``ipywidgets.Image``
panels whose PNG bytes are replaced in place (a small zlib PNG writer, nearest-neighbour
upscaling with ``np.repeat``); no figure is made after a widget is built. Clicks on an image
arrive through ipyevents as the pixel of the PNG that was clicked (``dataX``, ``dataY``).
Every range is bounded by the grid, the codebook or the data, so the controls cannot reach
an invalid state. A static HTML page has no kernel behind it: the book hides these widgets'
outputs there (the chapters tag their cells remove-output).

Layouts (top to bottom; within a row left to right). Each image panel has its caption,
in bold, above it; MNIST images are upscaled to 196 px (x7), a token grid to about 196 px.
The JavaScript versions of the static book follow these.

``latent_explorer(vae, x, y)``
    1. panels: "latent space (click to move z)": the scatter of ``x``'s posterior means
       coloured by digit (tab10), axes z1, z2 over [-extent, extent], a digit colour bar,
       a crimson ring at the current z, and (when shown) the black 2-sigma ellipse of
       q(z|x_i) | "decoded z" | "test digit": x_i.
    2. sliders ``z1``, ``z2`` over [-extent, extent] (extent 4).
    3. slider ``test digit`` (index i), checkbox ``show q(z|x)``, button ``go to its mean``.
    4. a status line: z, and digit i with its label (and its posterior's mean and std).

``token_editor(model, image, second=None)``
    1. panels: "image" | "tokens (click to paint)": the grid, each cell in its code's colour
       (viridis over the codebook, white cell borders when cells are >= 8 px); a click
       paints the selected code into that cell | "decoded tokens" | "second image" (only
       when given).
    2. sliders ``dx`` in [-(w-1), w-1], ``dy`` in [-(h-1), h-1], dropdown ``fill``
       ("background (k)", "wrap", "edge"), button ``shift``.
    3. buttons ``rotate 90°`` (square grids only), ``flip x``, ``flip y``, ``invert`` (every
       code to the code nearest to its negation), ``reset``.
    4. (with a second image) dropdown ``axis`` (x, y), slider ``split`` in [0, grid size
       along the axis], button ``combine``: cells before the split from the current grid,
       the rest from the second image's grid.
    5. panel "codebook (click to select a code)": one tile per code, 16 a row (32 for more
       than 128 codes), 2 px apart: what a 3x3 block of that code decodes to, a 4 px bar in
       the code's colour under it, the selected code framed in crimson.
    6. slider ``code`` in [0, K-1].
    7. a status line: grid and codebook size, selected code, last edit.
    Every edit acts on the current grid; ``reset`` restores the image's own tokens.

``transplant(model, target, source)``
    1. panels: "source" (the box outlined in crimson) | "target" (where the box lands,
       outlined) | "decoded": the target's tokens with the box pasted, decoded | "seam error
       |decoded - pasted|" (magma, white at 0.5; pasted: the source's reconstruction pasted
       into the target's in pixels).
    2. range sliders ``source rows``, ``source cols`` over [0, h] and [0, w] (a box may be
       empty).
    3. sliders ``to row``, ``to col``, bounded so that the box stays in the target.
    4. a status line: the box, and the seam error as MSE and PSNR.

``loss_balance(models, x, y)``
    1. a selection slider ``loss`` over the models in ascending KL weight, each labelled
       like "MSE + 1/784 KL".
    2. panels: "latent space" (the scatter of ``x``'s posterior means, fixed axes [-4, 4]) |
       "test digits and reconstructions" (8 digits over their reconstructions).
    3. a status line: model, KL weight, KL (nats), active units, reconstruction MSE.
    Everything is computed when the widget is built; the slider only swaps precomputed PNGs.

``prior_sampler(prior, vqvae)``
    1. slider ``temperature`` in [0.5, 1.5], dropdown ``digit`` ("any", 0-9), button
       ``resample`` (the next seed).
    2. panel "decoded samples": 16 samples, 8 a row.
    3. a status line: temperature, digit, seed.
"""

from __future__ import annotations

import math

import ipywidgets as w
import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from . import metrics, plots, seams
from . import tokens as tk
from .images import paste, png, to_rgb8, to_uint8, zoom  # noqa: F401  (vqlab.widgets.png as before)

PANEL = 196  # px: image panels are upscaled by a whole factor towards this side
SCATTER_PX = 360  # px: side of a latent scatter panel (rendered once per widget)
BLOCK = 3  # a palette tile is what a BLOCK x BLOCK patch of one code decodes to
TILE_PX = 24  # px: palette tiles are upscaled towards this side
MARKER = (220, 20, 60)  # the current point and the boxes: crimson
ELLIPSE = (0, 0, 0)
MAGMA = (colormaps["magma"](np.linspace(0, 1, 256))[:, :3] * 255 + 0.5).astype(
    np.uint8
)  # the seam error's palette


# Pixels (vqlab.images) ---------------------------------------------------------------------


def zoom_for(side: int, target: int = PANEL) -> int:
    """The whole factor that brings ``side`` pixels closest to ``target`` from below (at least 1)."""
    return max(1, target // side)


def tile(images: np.ndarray, ncols: int, gap: int = 2, fill: int = 255) -> np.ndarray:
    """uint8 images (n, H, W, 3) side by side in rows of ``ncols``, ``gap`` px apart."""
    n, H, W, _ = images.shape
    nrows = math.ceil(n / ncols)
    out = np.full((nrows * (H + gap) - gap, ncols * (W + gap) - gap, 3), fill, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, ncols)
        out[r * (H + gap) : r * (H + gap) + H, c * (W + gap) : c * (W + gap) + W] = im
    return out


def outline(
    rgb8: np.ndarray,
    top: int,
    left: int,
    bottom: int,
    right: int,
    colour=MARKER,
    width: int = 2,
):
    """Draw the rectangle [top, bottom) x [left, right) in place; an empty box draws nothing."""
    if bottom <= top or right <= left:
        return
    H, W, _ = rgb8.shape
    t, b = max(top, 0), min(bottom, H)
    lft, r = max(left, 0), min(right, W)
    rgb8[t : min(t + width, b), lft:r] = colour
    rgb8[max(b - width, t) : b, lft:r] = colour
    rgb8[t:b, lft : min(lft + width, r)] = colour
    rgb8[t:b, max(r - width, lft) : r] = colour


def ring(
    rgb8: np.ndarray,
    col: float,
    row: float,
    radius: float = 6.0,
    colour=MARKER,
    inside=(255, 255, 255),
):
    """Draw a ring of ``radius`` px (2 px thick, lined with ``inside``) around (col, row) in
    place; on palette indices (H, W) the colours are indices too."""
    H, W = rgb8.shape[:2]
    r0, r1 = int(max(row - radius - 2, 0)), int(min(row + radius + 3, H))
    c0, c1 = int(max(col - radius - 2, 0)), int(min(col + radius + 3, W))
    if r0 >= r1 or c0 >= c1:
        return
    rr, cc = np.mgrid[r0:r1, c0:c1]
    d = np.hypot(rr - row, cc - col)
    patch = rgb8[r0:r1, c0:c1]
    patch[(d >= radius - 3) & (d < radius - 1)] = inside
    patch[(d >= radius - 1) & (d <= radius + 1)] = colour


def _image_panel(rgb8: np.ndarray | None = None) -> w.Image:
    return w.Image(
        value=png(rgb8) if rgb8 is not None else b"",
        format="png",
        layout=w.Layout(margin="2px", object_fit="contain"),
    )


def _row(*panels: tuple[str, w.Widget]) -> w.HBox:
    """(caption, panel) pairs side by side, left to right, each caption above its panel."""
    return w.HBox(
        [
            w.VBox(
                [w.HTML(f"<b>{caption}</b>"), panel],
                layout=w.Layout(align_items="center"),
            )
            for caption, panel in panels
        ]
    )


def _on_click(image: w.Image, handler):
    """Call ``handler(col, row)`` with the PNG pixel a click on ``image`` lands on."""
    from ipyevents import Event

    event = Event(source=image, watched_events=["click"], prevent_default_action=True)
    event.on_dom_event(lambda e: handler(e["dataX"], e["dataY"]))
    return event


class _Widget:
    """Displays as its ``.widget``, so a chapter's last line shows it."""

    widget: w.Widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def _scatter_background(z, labels, extent: float, title: str | None = None):
    """The latent scatter as uint8 (S, S, 3) and the map (a_col, b_col, a_row, b_row) from
    latent coordinates to its pixels: col = a_col z1 + b_col, row = a_row z2 + b_row."""
    fig = Figure(figsize=(SCATTER_PX / 100, SCATTER_PX / 100), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    plots.latent_scatter(z, labels, ax=ax, title=title)
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    fig.tight_layout(pad=0.4)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3].copy()
    height = rgb.shape[0]
    (x0, y0), (x1, y1) = ax.transData.transform([[-extent, -extent], [extent, extent]])
    a_col = (x1 - x0) / (2 * extent)
    a_row = -(y1 - y0) / (2 * extent)  # display y runs up, rows run down
    return rgb, (a_col, x0 + extent * a_col, a_row, (height - y0) + extent * a_row)


# The latent explorer --------------------------------------------------------------------


class LatentExplorer(_Widget):
    """See the module docstring for the layout. State: ``z`` (2,), ``decoded`` (the decoded
    image of z), ``marker`` (col, row) on the scatter, ``index`` and ``posterior_shown``."""

    def __init__(self, vae, x, y, extent: float = 4.0, step: float = 0.05):
        x = np.asarray(x, np.float32)
        self.vae, self.x, self.labels, self.extent = (
            vae,
            x,
            np.asarray(y),
            float(extent),
        )
        if hasattr(vae, "posterior"):
            self.mean, log_var = vae.posterior(x)
            self.std = np.exp(0.5 * log_var)
        else:  # a plain autoencoder: a point, no posterior
            self.mean, self.std = vae.encode(x), None
        if self.mean.shape[1] != 2:
            raise ValueError(
                f"latent_explorer shows a 2-D latent space, the model's has {self.mean.shape[1]} dimensions"
            )
        rgb, self._map = _scatter_background(self.mean, self.labels, self.extent)
        # drawn on as palette indices: 253 colours of the scatter, then the ring's and the ellipse's
        quantized = Image.fromarray(rgb).quantize(
            colors=253, method=Image.Quantize.MEDIANCUT
        )
        self.background = np.asarray(quantized)  # (S, S) indices
        colours = np.asarray(quantized.getpalette(), np.uint8).reshape(-1, 3)[:253]
        colours = np.concatenate([colours, np.zeros((253 - len(colours), 3), np.uint8)])
        self.palette = np.concatenate(
            [colours, [MARKER, (255, 255, 255), ELLIPSE]]
        ).astype(np.uint8)
        self._ink = {"marker": 253, "white": 254, "ellipse": 255}
        self.z, self.index, self.posterior_shown = np.zeros(2, np.float32), 0, False
        self._quiet = False

        slider = dict(
            min=-self.extent,
            max=self.extent,
            step=step,
            value=0.0,
            readout_format=".2f",
            continuous_update=True,
        )
        self.z1, self.z2 = (
            w.FloatSlider(description="z1", **slider),
            w.FloatSlider(description="z2", **slider),
        )
        self.digit = w.IntSlider(
            0, 0, len(x) - 1, description="test digit", continuous_update=False
        )
        self.show_q = w.Checkbox(
            False, description="show q(z|x)", disabled=self.std is None
        )
        self.to_mean = w.Button(description="go to its mean")
        self.scatter_panel, self.decoded_panel, self.digit_panel = (
            _image_panel(),
            _image_panel(),
            _image_panel(),
        )
        self.status = w.HTML()
        self._click = _on_click(self.scatter_panel, self.click)
        for s in (self.z1, self.z2):
            s.observe(self._on_slider, "value")
        self.digit.observe(lambda c: self.select(c["new"]), "value")
        self.show_q.observe(lambda c: self.show_posterior(c["new"]), "value")
        self.to_mean.on_click(lambda _: self.set_point(*self.mean[self.index]))
        self.widget = w.VBox(
            [
                _row(
                    ("latent space (click to move z)", self.scatter_panel),
                    ("decoded z", self.decoded_panel),
                    ("test digit", self.digit_panel),
                ),
                w.HBox([self.z1, self.z2]),
                w.HBox([self.digit, self.show_q, self.to_mean]),
                self.status,
            ]
        )
        self.select(0)

    def latent_to_pixel(self, z1: float, z2: float) -> tuple[float, float]:
        a_col, b_col, a_row, b_row = self._map
        return a_col * z1 + b_col, a_row * z2 + b_row

    def pixel_to_latent(self, col: float, row: float) -> tuple[float, float]:
        a_col, b_col, a_row, b_row = self._map
        return (col - b_col) / a_col, (row - b_row) / a_row

    def click(self, col: float, row: float):
        """The scatter's click handler: place z at the latent point under pixel (col, row)."""
        self.set_point(*self.pixel_to_latent(col, row))

    def set_point(self, z1: float, z2: float):
        """Move z to (z1, z2), clipped to the sliders' range, and redraw once."""
        z = np.clip(np.array([z1, z2], np.float32), -self.extent, self.extent)
        self._quiet = True  # one redraw, not one per slider
        self.z1.value, self.z2.value = float(z[0]), float(z[1])
        self._quiet = False
        self.z = z
        self._draw()

    def select(self, index: int):
        """Choose test digit ``index`` (its image, and its posterior when shown)."""
        self.index = int(index)
        if self.digit.value != self.index:
            self.digit.value = self.index  # calls select again through the observer
            return
        self.digit_panel.value = png(
            zoom(to_uint8(self.x[self.index]), zoom_for(self.x.shape[1]))
        )
        self._draw()

    def show_posterior(self, shown: bool):
        self.posterior_shown = bool(shown) and self.std is not None
        self._draw()

    def _on_slider(self, change):
        if not self._quiet:
            self.z = np.array([self.z1.value, self.z2.value], np.float32)
            self._draw()

    def _draw(self):
        frame = self.background.copy()
        i = self.index
        if self.posterior_shown:
            t = np.linspace(0.0, 2 * np.pi, 400)
            pts = self.mean[i] + 2.0 * self.std[i] * np.stack(
                [np.cos(t), np.sin(t)], 1
            )  # (400, 2)
            cols, rows = self.latent_to_pixel(pts[:, 0], pts[:, 1])
            H, W = frame.shape
            for dr in (0, 1):
                for dc in (0, 1):
                    r, c = (
                        np.round(rows).astype(int) + dr,
                        np.round(cols).astype(int) + dc,
                    )
                    ok = (r >= 0) & (r < H) & (c >= 0) & (c < W)
                    frame[r[ok], c[ok]] = self._ink["ellipse"]
        self.marker = self.latent_to_pixel(*self.z)
        ring(frame, *self.marker, colour=self._ink["marker"], inside=self._ink["white"])
        self.frame = self.palette[frame]  # (S, S, 3) as shown
        self.scatter_panel.value = png(frame, self.palette)
        self.decoded = np.asarray(self.vae.decode(self.z[None]))[0]
        self.decoded_panel.value = png(
            zoom(to_uint8(self.decoded), zoom_for(self.decoded.shape[0]))
        )
        q = ""
        if self.posterior_shown:
            q = (
                f", q(z|x): mean ({self.mean[i, 0]:.2f}, {self.mean[i, 1]:.2f}), "
                f"std ({self.std[i, 0]:.3f}, {self.std[i, 1]:.3f})"
            )
        self.status.value = (
            f"z = ({self.z[0]:.2f}, {self.z[1]:.2f}) &nbsp;|&nbsp; test digit {i} "
            f"(a {self.labels[i]}){q}"
        )


def latent_explorer(vae, x, y, extent: float = 4.0) -> LatentExplorer:
    """Explore a 2-D latent space: the scatter of ``x``'s posterior means coloured by labels
    ``y``, a point moved by sliders or a click on the scatter, its decoded image, and the
    posterior q(z|x) of a chosen test digit as a 2-sigma ellipse."""
    return LatentExplorer(vae, x, y, extent)


# The token editor -----------------------------------------------------------------------


def code_colours(num_codes: int) -> np.ndarray:
    """uint8 (K, 3): code k's colour on a token grid (viridis over the codebook)."""
    return (
        colormaps["viridis"](np.linspace(0, 1, num_codes))[:, :3] * 255 + 0.5
    ).astype(np.uint8)


def code_patches(model, block: int = BLOCK) -> np.ndarray:
    """What each code looks like: (K, P, P, C) images, the decoded centre of a block x block
    patch of that code. Codes are laid out as blocks on whole grids, many to a grid, so a
    codebook of 512 costs a few decodes."""
    h, w = model.grid_shape
    b = min(block, h, w)
    rows, cols = h // b, w // b
    per_grid = rows * cols
    K = model.num_codes
    n_grids = math.ceil(K / per_grid)
    codes = (np.arange(n_grids * per_grid) % K).reshape(n_grids, rows, cols)
    grids = np.repeat(np.repeat(codes, b, 1), b, 2)  # (g, rows*b, cols*b)
    grids = np.pad(grids, ((0, 0), (0, h - rows * b), (0, w - cols * b)), mode="edge")
    # one grid at a time: the batch shape the editor decodes anyway (no second graph trace)
    images = np.concatenate(
        [np.asarray(model.decode(g[None])) for g in grids]
    )  # (g, H, W, C)
    f = images.shape[1] // h  # pixels per token
    P = b * f
    patches = images[:, : rows * P, : cols * P].reshape(n_grids, rows, P, cols, P, -1)
    patches = patches.transpose(0, 1, 3, 2, 4, 5).reshape(n_grids * per_grid, P, P, -1)
    return patches[:K]


def _grid_of(model, image) -> np.ndarray:
    """The token grid (h, w) of one image: (H, W[, C]) or a batch of one (1, H, W, C)."""
    shape = tuple(model.image_shape)  # (H, W, C)
    x = np.asarray(image, np.float32)
    if x.shape in (shape, shape[:2] if shape[-1] == 1 else shape):
        x = x.reshape((1,) + shape)
    if x.shape != (1,) + shape:
        raise ValueError(
            f"expected one image of shape {shape} (or {(1,) + shape}), got {np.shape(image)}"
        )
    return np.asarray(model.encode(x))[0]


class TokenEditor(_Widget):
    """See the module docstring for the layout. State: ``tokens`` (h, w) int64, ``decoded``
    (the decoded tokens, (H, W, C)), ``code`` (the selected code), ``last_edit``."""

    def __init__(self, model, image, second=None, background: int | None = None):
        self.model = model
        self.h, self.w = tuple(model.grid_shape)
        self.num_codes = int(model.num_codes)
        self.image = np.asarray(image, np.float32)
        self.original = _grid_of(model, image).astype(np.int64)
        self.second = (
            None if second is None else _grid_of(model, second).astype(np.int64)
        )
        if background is None:
            from .editing import background_token

            background = background_token(model)
        if not 0 <= int(background) < self.num_codes:
            raise ValueError(
                f"background should be a code in [0, {self.num_codes}), got {background}"
            )
        self.background = int(background)
        self.colours = code_colours(self.num_codes)
        codebook = getattr(model, "codebook", None)
        self.inverse = None
        if codebook is not None:  # code k -> the code nearest to -e_k
            cb = np.asarray(codebook, np.float64)  # (K, D)
            d = (
                (cb**2).sum(1)[None, :] + 2 * cb @ cb.T + (cb**2).sum(1)[:, None]
            )  # |-e_k - e_j|^2
            self.inverse = d.argmin(1)
        self.cell = max(2, zoom_for(max(self.h, self.w)))
        self.palette_image, self.tile_side, self.palette_cols = self._palette()

        # controls
        self.dx = w.IntSlider(
            1, -(self.w - 1), self.w - 1, description="dx", continuous_update=False
        )
        self.dy = w.IntSlider(
            0, -(self.h - 1), self.h - 1, description="dy", continuous_update=False
        )
        self.fill = w.Dropdown(
            options=[
                (f"background ({self.background})", self.background),
                ("wrap", "wrap"),
                ("edge", "edge"),
            ],
            description="fill",
        )
        self.shift_button = w.Button(description="shift")
        self.rotate_button = w.Button(
            description="rotate 90°", disabled=self.h != self.w
        )
        self.flip_x_button, self.flip_y_button = (
            w.Button(description="flip x"),
            w.Button(description="flip y"),
        )
        self.invert_button = w.Button(
            description="invert", disabled=self.inverse is None
        )
        self.reset_button = w.Button(description="reset")
        self.axis = w.Dropdown(options=["x", "y"], description="axis")
        self.split = w.IntSlider(
            self.w // 2, 0, self.w, description="split", continuous_update=False
        )
        self.combine_button = w.Button(
            description="combine", disabled=self.second is None
        )
        self.code_slider = w.IntSlider(0, 0, self.num_codes - 1, description="code")
        self.image_panel = _image_panel(
            zoom(to_uint8(self._one(self.image)), zoom_for(model.image_shape[0]))
        )
        self.tokens_panel, self.decoded_panel, self.palette_panel = (
            _image_panel(),
            _image_panel(),
            _image_panel(),
        )
        self.status = w.HTML()
        self._events = [
            _on_click(self.tokens_panel, self.click_tokens),
            _on_click(self.palette_panel, self.click_palette),
        ]

        self.shift_button.on_click(
            lambda _: self.shift(self.dx.value, self.dy.value, self.fill.value)
        )
        self.rotate_button.on_click(lambda _: self.rotate())
        self.flip_x_button.on_click(lambda _: self.flip("x"))
        self.flip_y_button.on_click(lambda _: self.flip("y"))
        self.invert_button.on_click(lambda _: self.invert())
        self.reset_button.on_click(lambda _: self.reset())
        self.combine_button.on_click(
            lambda _: self.combine(self.axis.value, self.split.value)
        )
        self.axis.observe(self._on_axis, "value")
        self.code_slider.observe(lambda c: self.select(c["new"]), "value")

        panels = [
            ("image", self.image_panel),
            ("tokens (click to paint)", self.tokens_panel),
            ("decoded tokens", self.decoded_panel),
        ]
        if second is not None:
            panels.append(
                (
                    "second image",
                    _image_panel(
                        zoom(
                            to_uint8(self._one(second)), zoom_for(model.image_shape[0])
                        )
                    ),
                )
            )
        rows = [
            _row(*panels),
            w.HBox([self.dx, self.dy, self.fill, self.shift_button]),
            w.HBox(
                [
                    self.rotate_button,
                    self.flip_x_button,
                    self.flip_y_button,
                    self.invert_button,
                    self.reset_button,
                ]
            ),
        ]
        if second is not None:
            rows.append(w.HBox([self.axis, self.split, self.combine_button]))
        rows += [
            _row(("codebook (click to select a code)", self.palette_panel)),
            self.code_slider,
            self.status,
        ]
        self.widget = w.VBox(rows)
        self.code, self.tokens, self.last_edit = 0, self.original.copy(), "none"
        self.select(self.background)
        self._render()

    @staticmethod
    def _one(image):
        a = np.asarray(image)
        return a[0] if a.ndim == 4 else a

    def _palette(self):
        patches = code_patches(self.model)  # (K, P, P, C)
        z = zoom_for(patches.shape[1], TILE_PX)
        tiles = np.stack([zoom(to_rgb8(p), z) for p in patches])  # (K, T, T, 3)
        bar = np.repeat(self.colours[:, None, None, :], 4, axis=1)  # (K, 4, 1, 3)
        tiles = np.concatenate(
            [tiles, np.repeat(bar, tiles.shape[2], axis=2)], axis=1
        )  # (K, T+4, T, 3)
        cols = 16 if self.num_codes <= 128 else 32
        return tile(tiles, cols, gap=2), (tiles.shape[1], tiles.shape[2]), cols

    # the handlers -----------------------------------------------------------------------
    def shift(self, dx: int, dy: int, fill=None):
        """Move the grid ``dx`` cells right and ``dy`` down; ``fill``: a code, 'wrap' or 'edge'
        (default: the background code)."""
        fill = self.background if fill is None else fill
        self._edit(
            tk.shift(self.tokens, dx, dy, fill=fill),
            f"shift dx={dx}, dy={dy}, fill {fill}",
        )

    def rotate(self, k: int = 1):
        if self.h != self.w:
            raise ValueError(
                f"a {self.h}x{self.w} grid is not square: a quarter turn would change its shape"
            )
        self._edit(tk.rotate90(self.tokens, k), f"rotate {90 * k}°")

    def flip(self, axis: str):
        self._edit(tk.flip(self.tokens, axis), f"flip {axis}")

    def invert(self):
        """Replace every code by the code nearest to its negated vector: the quantized version
        of chapter 10's ``invert_latents`` (which negates z_e before quantizing)."""
        if self.inverse is None:
            raise ValueError("invert needs a model with a codebook (K, D)")
        self._edit(self.inverse[self.tokens], "invert")

    def combine(self, axis: str, split: int):
        """Cells before ``split`` along ``axis`` from the current grid, the rest from the second's."""
        if self.second is None:
            raise ValueError(
                "combine needs a second image: token_editor(model, image, second=...)"
            )
        self._edit(
            tk.combine(self.tokens, self.second, axis, split),
            f"combine along {axis} at {split}",
        )

    def paint(self, i: int, j: int, k: int | None = None):
        """Put code ``k`` (default: the selected code) into cell (row i, column j)."""
        k = self.code if k is None else int(k)
        if not (0 <= i < self.h and 0 <= j < self.w and 0 <= k < self.num_codes):
            raise ValueError(
                f"paint takes a cell in [0, {self.h}) x [0, {self.w}) and a code in "
                f"[0, {self.num_codes}), got ({i}, {j}) and {k}"
            )
        edited = self.tokens.copy()
        edited[i, j] = k
        self._edit(edited, f"paint code {k} at ({i}, {j})")

    def click_tokens(self, col: float, row: float):
        """The token panel's click handler: paint the selected code into the clicked cell."""
        i, j = int(row) // self.cell, int(col) // self.cell
        if 0 <= i < self.h and 0 <= j < self.w:
            self.paint(i, j)

    def click_palette(self, col: float, row: float):
        """The palette's click handler: select the code of the clicked tile."""
        th, tw = self.tile_side
        r, c = int(row) // (th + 2), int(col) // (tw + 2)
        k = r * self.palette_cols + c
        if c < self.palette_cols and 0 <= k < self.num_codes:
            self.select(k)

    def select(self, k: int):
        """Make code ``k`` the one a click paints."""
        self.code = int(k)
        if self.code_slider.value != self.code:
            self.code_slider.value = (
                self.code
            )  # calls select again through the observer
            return
        palette = self.palette_image.copy()
        th, tw = self.tile_side
        r, c = divmod(self.code, self.palette_cols)
        outline(
            palette,
            r * (th + 2),
            c * (tw + 2),
            r * (th + 2) + th,
            c * (tw + 2) + tw,
            width=2,
        )
        self.palette_panel.value = png(palette)
        self._status()

    def reset(self):
        self._edit(self.original.copy(), "reset")

    def _on_axis(self, change):
        size = self.w if change["new"] == "x" else self.h
        self.split.max = size
        self.split.value = min(self.split.value, size)

    def _edit(self, tokens: np.ndarray, name: str):
        self.tokens, self.last_edit = np.asarray(tokens, np.int64), name
        self._render()

    def _render(self):
        K = self.num_codes
        if K < 256:  # codes as palette indices, white borders as index K
            grid = zoom(self.tokens.astype(np.uint8), self.cell)  # (h*cell, w*cell)
            white, palette = K, np.concatenate([self.colours, [[255, 255, 255]]])
        else:
            grid, white, palette = zoom(self.colours[self.tokens], self.cell), 255, None
        if self.cell >= 8:  # cell borders
            grid[:: self.cell, :] = white
            grid[:, :: self.cell] = white
        self.tokens_panel.value = png(grid, palette)
        self.decoded = np.asarray(self.model.decode(self.tokens[None]))[0]
        self.decoded_panel.value = png(
            zoom(to_uint8(self.decoded), zoom_for(self.decoded.shape[0]))
        )
        self._status()

    def _status(self):
        self.status.value = (
            f"{self.h}x{self.w} tokens, {self.num_codes} codes &nbsp;|&nbsp; "
            f"selected code {self.code} &nbsp;|&nbsp; last edit: {self.last_edit}"
        )


def token_editor(
    model, image, second=None, background: int | None = None
) -> TokenEditor:
    """Edit the token grid of ``image`` (H, W[, C]) under ``model`` (any VQ-VAE: ``encode``,
    ``decode``, ``grid_shape``, ``num_codes``, ``image_shape``; ``codebook`` for invert):
    shift, rotate, flip, invert, combine with ``second``, paint codes from the palette.
    ``background``: the code a shift fills in (default: the code of an all-black image)."""
    return TokenEditor(model, image, second, background)


# The transplant -------------------------------------------------------------------------


class Transplant(_Widget):
    """See the module docstring for the layout. State: ``box`` (top, left, height, width)
    of the source's tokens and ``at`` (top, left), where it lands in the target (the
    convention of ``vqlab.tokens.transplant``); ``tokens`` (the target's grid with the box
    pasted), ``decoded``, ``pasted`` (the pixel paste of the reconstructions), ``seam_mse``."""

    def __init__(self, model, target, source, box=None, at=None):
        self.model = model
        self.h, self.w = tuple(model.grid_shape)
        self.target_tokens = _grid_of(model, target).astype(np.int64)
        self.source_tokens = _grid_of(model, source).astype(np.int64)
        rec = np.asarray(
            model.decode(np.stack([self.target_tokens, self.source_tokens]))
        )
        self.target_rec, self.source_rec = rec[0], rec[1]
        self.f = rec.shape[1] // self.h  # pixels per token
        self.zoom = zoom_for(rec.shape[1])
        self.target_image = TokenEditor._one(target)
        self.source_image = TokenEditor._one(source)
        slow = dict(continuous_update=False)
        h, wd = self.h, self.w
        self.rows = w.IntRangeSlider(
            value=(h // 4, h // 2), min=0, max=h, description="source rows", **slow
        )
        self.cols = w.IntRangeSlider(
            value=(wd // 4, wd // 2), min=0, max=wd, description="source cols", **slow
        )
        self.to_row = w.IntSlider(h // 4, 0, h, description="to row", **slow)
        self.to_col = w.IntSlider(wd // 4, 0, wd, description="to col", **slow)
        self.source_panel, self.target_panel = _image_panel(), _image_panel()
        self.decoded_panel, self.error_panel = _image_panel(), _image_panel()
        self.status = w.HTML()
        self._quiet = False
        for s in (self.rows, self.cols, self.to_row, self.to_col):
            s.observe(self._on_slider, "value")
        self.widget = w.VBox(
            [
                _row(
                    ("source", self.source_panel),
                    ("target", self.target_panel),
                    ("decoded", self.decoded_panel),
                    ("seam error |decoded - pasted|", self.error_panel),
                ),
                w.HBox([self.rows, self.cols]),
                w.HBox([self.to_row, self.to_col]),
                self.status,
            ]
        )
        if box is None:
            (r0, r1), (c0, c1) = self.rows.value, self.cols.value
            box, at = (r0, c0, r1 - r0, c1 - c0), (self.to_row.value, self.to_col.value)
        self.set_box(box, at)

    def set_box(self, box, at=None):
        """Move the source's box (top, left, height, width) to the target cell ``at`` (its
        top-left; default: the same place); clipped so that the box stays inside the grid."""
        top, left, height, width = (int(v) for v in box)
        self._set_ranges(
            (top, top + height), (left, left + width), (top, left) if at is None else at
        )

    def _set_ranges(
        self, rows: tuple[int, int], cols: tuple[int, int], to: tuple[int, int]
    ):
        (r0, r1), (c0, c1) = sorted(map(int, rows)), sorted(map(int, cols))
        r0, r1, c0, c1 = max(r0, 0), min(r1, self.h), max(c0, 0), min(c1, self.w)
        bh, bw = max(r1 - r0, 0), max(c1 - c0, 0)
        i, j = (
            min(max(int(to[0]), 0), self.h - bh),
            min(max(int(to[1]), 0), self.w - bw),
        )
        self._quiet = True  # one redraw for the whole box
        self.rows.value, self.cols.value = (r0, r1), (c0, c1)
        self.to_row.max, self.to_col.max = self.h - bh, self.w - bw
        self.to_row.value, self.to_col.value = i, j
        self._quiet = False
        self.box, self.at = (r0, c0, bh, bw), (i, j)
        self._render()

    def _on_slider(self, change):
        if not self._quiet:
            self._set_ranges(
                self.rows.value, self.cols.value, (self.to_row.value, self.to_col.value)
            )

    def _render(self):
        (r0, c0, bh, bw), (i, j), f = self.box, self.at, self.f
        r1, c1 = r0 + bh, c0 + bw
        self.tokens = tk.transplant(
            self.target_tokens, self.source_tokens, self.box, self.at
        )
        self.decoded = np.asarray(self.model.decode(self.tokens[None]))[0]
        self.pasted = paste(
            self.target_rec, self.source_rec, self.box, self.at, factor=f
        )
        error = np.abs(self.decoded - self.pasted).mean(-1)  # (H, W), shown
        self.seam_mse = seams.mse(self.decoded, self.pasted)
        z, s = self.zoom, self.zoom * f
        src = zoom(to_rgb8(self.source_image), z)
        outline(src, r0 * s, c0 * s, r1 * s, c1 * s)
        tgt = zoom(to_rgb8(self.target_image), z)
        outline(tgt, i * s, j * s, (i + bh) * s, (j + bw) * s)
        self.source_panel.value, self.target_panel.value = png(src), png(tgt)
        self.decoded_panel.value = png(zoom(to_uint8(self.decoded), z))
        level = (np.clip(error / 0.5, 0.0, 1.0) * 255 + 0.5).astype(
            np.uint8
        )  # 0.5 and more: white
        self.error_panel.value = png(zoom(level, z), MAGMA)
        psnr = float(metrics.psnr_of_mse(self.seam_mse))
        self.status.value = (
            f"box rows [{r0}, {r1}) x cols [{c0}, {c1}) to ({i}, {j}) &nbsp;|&nbsp; "
            f"seam error (decoded vs pasted): MSE {self.seam_mse:.4f}, PSNR {psnr:.1f} dB"
        )


def transplant(model, target, source, box=None, at=None) -> Transplant:
    """Move a box of ``source``'s tokens into ``target``'s grid and decode: the result beside
    the pixel paste of the two reconstructions, and the seam error between them. ``box``, the
    first state: (top, left, height, width) of the source's tokens, and ``at`` (top, left),
    where it lands (``vqlab.tokens.transplant``'s convention; default: a quarter of the
    grid, at the same place)."""
    return Transplant(model, target, source, box, at)


# The loss balance -----------------------------------------------------------------------


def weight_label(weight: float) -> str:
    """A KL weight as written in the book: 1, 0.5, or 1/784 for the reciprocal of a whole number."""
    if 0 < weight < 1 and abs(1 / weight - round(1 / weight)) < 1e-6 * (1 / weight):
        return f"1/{round(1 / weight)}"
    return f"{weight:g}"


class LossBalance(_Widget):
    """See the module docstring for the layout. ``results[name]``: ``kl_weight``, ``kl``,
    ``active_units``, ``mse``, ``scatter`` and ``reconstructions`` (PNG bytes), all computed
    when the widget is built. State: ``selected`` (a model's name)."""

    def __init__(self, models: dict, x, y, n_show: int = 8, extent: float = 4.0):
        x = np.asarray(x, np.float32)
        order = sorted(models, key=lambda n: getattr(models[n], "kl_weight", 1.0))
        self.results = {}
        for name in order:
            m = models[name]
            measured = m.measure(x)  # kl, active_units, mse: chapter 9's numbers
            mean = m.encode(x)
            rec = np.asarray(m.decode(mean[:n_show]))
            shown = np.concatenate([x[:n_show].reshape(rec.shape), rec])
            strip = tile(np.stack([zoom(to_rgb8(im), 2) for im in shown]), n_show)
            scatter, _ = _scatter_background(mean, y, extent, title=name)
            self.results[name] = {
                "kl_weight": float(getattr(m, "kl_weight", 1.0)),
                "kl": float(measured["kl"]),
                "active_units": int(measured["active_units"]),
                "mse": float(measured["mse"]),
                "scatter": png(scatter),
                "reconstructions": png(strip),
            }
        # "MSE + 1/784 KL": the reconstruction term and the KL weight; the name where two coincide
        terms = [
            f"{getattr(models[n], 'reconstruction', '?').upper()} + "
            f"{weight_label(self.results[n]['kl_weight'])} KL"
            for n in order
        ]
        labels = [
            t if terms.count(t) == 1 else f"{t} ({n})" for t, n in zip(terms, order)
        ]
        self.slider = w.SelectionSlider(
            options=list(zip(labels, order)),
            value=order[0],
            description="loss",
            continuous_update=True,
            layout=w.Layout(width="480px"),
        )
        self.scatter_panel, self.recon_panel = _image_panel(), _image_panel()
        self.status = w.HTML()
        self.slider.observe(lambda c: self.select(c["new"]), "value")
        self.widget = w.VBox(
            [
                self.slider,
                _row(
                    ("latent space", self.scatter_panel),
                    ("test digits and reconstructions", self.recon_panel),
                ),
                self.status,
            ]
        )
        self.select(order[0])

    def select(self, name: str):
        """Show the precomputed results of model ``name``."""
        if self.slider.value != name:
            self.slider.value = name  # calls select again through the observer
            return
        self.selected = name
        r = self.results[name]
        self.scatter_panel.value, self.recon_panel.value = (
            r["scatter"],
            r["reconstructions"],
        )
        self.status.value = (
            f"<b>{name}</b>: KL weight {weight_label(r['kl_weight'])} &nbsp;|&nbsp; "
            f"KL {r['kl']:.2f} nats &nbsp;|&nbsp; active units {r['active_units']} "
            f"&nbsp;|&nbsp; reconstruction MSE {r['mse']:.4f}"
        )


def loss_balance(models: dict, x, y, n_show: int = 8) -> LossBalance:
    """A slider over the KL weight of ``models`` ({name: VAE}, e.g. the posterior-collapse
    models of chapter 9) showing each one's latent scatter of ``x`` (coloured by ``y``),
    reconstructions of the first ``n_show`` images, KL and active units, all precomputed."""
    return LossBalance(models, x, y, n_show)


# The prior sampler ----------------------------------------------------------------------


class PriorSampler(_Widget):
    """See the module docstring for the layout. State: ``samples`` (token grids (n, h, w)),
    ``images`` (decoded), ``seed``."""

    def __init__(
        self, prior, vqvae, n: int = 16, ncols: int = 8, sample=None, seed: int = 0
    ):
        if sample is None:
            from .prior import sample
        self.prior, self.vqvae, self.n, self.ncols, self._sample = (
            prior,
            vqvae,
            int(n),
            int(ncols),
            sample,
        )
        self.seed = int(seed)
        num_classes = getattr(prior, "num_classes", 0) or 0
        self.temperature = w.FloatSlider(
            1.0,
            min=0.5,
            max=1.5,
            step=0.05,
            description="temperature",
            continuous_update=False,
        )
        self.label = w.Dropdown(
            options=[("any", None)] + [(str(c), c) for c in range(num_classes)],
            description="digit",
            disabled=num_classes == 0,
        )
        self.resample_button = w.Button(description="resample")
        self.panel, self.status = _image_panel(), w.HTML()
        self.temperature.observe(lambda _: self._draw(), "value")
        self.label.observe(lambda _: self._draw(), "value")
        self.resample_button.on_click(lambda _: self.resample())
        self.widget = w.VBox(
            [
                w.HBox([self.temperature, self.label, self.resample_button]),
                _row(("decoded samples", self.panel)),
                self.status,
            ]
        )
        self._draw()

    def resample(self):
        """Draw new samples (the next seed) with the same temperature and digit."""
        self.seed += 1
        self._draw()

    def _draw(self):
        self.status.value = "sampling..."
        self.samples = np.asarray(
            self._sample(
                self.prior,
                self.n,
                temperature=self.temperature.value,
                label=self.label.value,
                seed=self.seed,
            )
        )
        self.images = np.asarray(self.vqvae.decode(self.samples))
        z = zoom_for(self.images.shape[1], 84)
        self.panel.value = png(
            tile(np.stack([zoom(to_rgb8(im), z) for im in self.images]), self.ncols)
        )
        digit = "any" if self.label.value is None else self.label.value
        self.status.value = f"temperature {self.temperature.value:.2f} &nbsp;|&nbsp; digit {digit} &nbsp;|&nbsp; seed {self.seed}"


def prior_sampler(prior, vqvae, n: int = 16, sample=None) -> PriorSampler:
    """Samples of a token prior (chapter 8) decoded by ``vqvae``: temperature, digit label,
    resample. ``sample(prior, n, temperature=, label=, seed=)`` defaults to ``vqlab.prior.sample``."""
    return PriorSampler(prior, vqvae, n, sample=sample)
