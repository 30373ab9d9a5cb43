"""The two interactive figures of chapters 9 and 10, live in the static HTML book.

A static page has no kernel, so the ipywidgets of ``vqlab.widgets`` cannot redraw there.
Here the small MNIST decoders are exported at build time (``write_live``, called by the
book's Sphinx extension tools/book_web.py) and their forward pass runs in the page:

    latent explorer  z (2,) -> Dense(128) -> Dense(256) -> Dense(3136) -> (7, 7, 64)
                     -> ConvT(64, s2) -> (14, 14, 64) -> ConvT(32, s2) -> (28, 28, 32)
                     -> Conv(1) + sigmoid -> (28, 28, 1)          [vae_convdense_bce]
    token editor     tokens (7, 7) -> codebook rows (7, 7, 16) -> ConvT(64, s2)
                     -> ConvT(32, s2) -> Conv(1), clipped to [0, 1]  [vqvae_mnist]

The forward pass is a few plain JavaScript loops (``vqlab/js/vqlab-live.js``, package data): dense, transposed and
plain 3x3 "same" convolutions, ReLU, sigmoid. A maintained runtime was the first choice,
but onnxruntime-web's WebAssembly file alone is 11.8 MB (the budget for a page is 5 MB) and
TensorFlow.js' CPU backend runs the same kind of loops behind ~1 MB of library; these
decoders need ~10 KB of code. tests/test_browser.py checks the page's output against
``model.decode`` (within 1e-4) and times an update.

Layout and state come from the Python widgets themselves (``vqlab.widgets``, whose docstring
lists the layouts): at build time ``write_live`` builds a ``LatentExplorer`` and a
``TokenEditor`` exactly as the chapters do and exports what they show (the latent scatter
as rendered, the posterior means and deviations, the token grids, the code colours, the
palette, the inverse codes), so the page has the same panels, controls, ranges and first
state. Only the work a control triggers (decode, redraw) runs in the page.

In JupyterLab the Python widgets are shown; the cells that show these live versions output
HTML whose scripts load from the book's ``_static/live/``, so outside the book they stay hidden.
"""

from __future__ import annotations

import base64
import io
import json
from importlib import resources
from pathlib import Path

import numpy as np

from .files import atomic_write_text

LATENT_MODEL = "vae_convdense_bce"
TOKEN_MODEL = "vqvae_mnist"
TOKEN_IMAGES = (0, 1)  # chapter 10 edits test digit 0 and combines it with test digit 1
SPRITE_COLS = 100  # test digits per row of the latent explorer's digit sheet
STATIC = (
    "../_static/live"  # from a chapter page (book/X.html) to the book's _static/live
)


def _f32(a) -> str:
    """A float array as base64 of its little-endian bytes, prefixed by its type: "f16:" where
    float16 holds every value exactly (the shipped weights are float16: half the page weight,
    nothing lost), "f32:" otherwise. The page turns both into a Float32Array."""
    a = np.asarray(a, np.float32)
    half = a.astype("<f2")
    if np.array_equal(half.astype(np.float32), a):
        return "f16:" + base64.b64encode(half.tobytes()).decode("ascii")
    return "f32:" + base64.b64encode(np.ascontiguousarray(a, "<f4").tobytes()).decode(
        "ascii"
    )


def _png(rgb8) -> str:
    """A data: URL of a uint8 image (H, W) or (H, W, 3) as PNG."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(rgb8, np.uint8)).save(buf, format="png", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _gray8(images) -> np.ndarray:
    """Images (n, H, W[, 1]) in [0, 1] as uint8, rounded as vqlab.widgets.to_rgb8 rounds."""
    a = np.asarray(images, np.float32)
    return (np.clip(a.reshape(a.shape[:3]), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def _rgb8(image, palette=None) -> np.ndarray:
    """A widget's panel as uint8 (H, W, 3): colours as they are, or indices into ``palette``."""
    image = np.asarray(image)
    return (
        np.asarray(palette, np.uint8)[image]
        if image.ndim == 2 and palette is not None
        else image
    )


def decoder_spec(decoder) -> list[dict]:
    """The layers of a Keras Sequential decoder as plain data for the page's forward pass."""
    from keras import layers

    spec = []
    for layer in decoder.layers:
        if isinstance(layer, layers.InputLayer):
            continue
        if isinstance(layer, layers.Reshape):
            spec.append({"type": "reshape", "shape": list(layer.target_shape)})
            continue
        act = layer.activation.__name__
        if act not in ("relu", "sigmoid", "linear"):
            raise ValueError(
                f"{layer.name}: activation {act!r} has no JavaScript version (relu, sigmoid, linear)"
            )
        kernel, bias = (np.asarray(w) for w in layer.get_weights())
        if isinstance(layer, layers.Dense):
            spec.append(
                {
                    "type": "dense",
                    "units": int(kernel.shape[1]),
                    "activation": act,
                    "kernel": _f32(kernel),
                    "bias": _f32(bias),
                }
            )
            continue
        conv_t = isinstance(layer, layers.Conv2DTranspose)
        if (
            not (conv_t or isinstance(layer, layers.Conv2D))
            or layer.padding != "same"
            or kernel.shape[0] != kernel.shape[1]
            or tuple(layer.dilation_rate) != (1, 1)
        ):
            raise ValueError(
                f"{layer.name}: only Dense, Reshape and square 'same' Conv2D / Conv2DTranspose "
                "layers have a JavaScript version"
            )
        spec.append(
            {
                "type": "conv2d_transpose" if conv_t else "conv2d",
                "activation": act,
                "kernel_size": int(kernel.shape[0]),
                "strides": int(layer.strides[0]),
                # Conv2D kernels are (k, k, in, out); Conv2DTranspose kernels (k, k, out, in)
                "filters": int(kernel.shape[2] if conv_t else kernel.shape[3]),
                "kernel": _f32(
                    kernel.transpose(0, 1, 3, 2) if conv_t else kernel
                ),  # -> (k, k, in, out)
                "bias": _f32(bias),
            }
        )
    return spec


def export_latent_model(name: str = LATENT_MODEL) -> tuple[dict, bytes]:
    """The latent explorer of chapter 9 as data, and the PNG sheet of its test digits."""
    import matplotlib
    from PIL import Image

    from . import plots, pretrained, widgets
    from .data import mnist_images, mnist_labels

    vae, x, y = pretrained.load(name), mnist_images("test"), mnist_labels("test")
    with (
        matplotlib.rc_context()
    ):  # the scatter is drawn in the book's style, whatever the caller set
        matplotlib.rcdefaults()
        plots.use_book_style()
        ex = widgets.latent_explorer(vae, x, y)
    (c0, r0), (c1, r1) = ex.latent_to_pixel(0.0, 0.0), ex.latent_to_pixel(1.0, 1.0)
    z1 = ex.z1
    n, (H, W) = len(x), x.shape[1:3]
    rows = -(-n // SPRITE_COLS)
    sheet = np.zeros((rows * SPRITE_COLS, H, W), np.uint8)
    sheet[:n] = _gray8(x)
    sheet = (
        sheet.reshape(rows, SPRITE_COLS, H, W)
        .transpose(0, 2, 1, 3)
        .reshape(rows * H, SPRITE_COLS * W)
    )
    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, format="png", optimize=True)
    model = {
        "kind": "latent",
        "name": name,
        "latent_dim": 2,
        "panel": widgets.PANEL,
        "image_shape": list(vae.image_shape),
        "layers": decoder_spec(vae.decoder),
        "extent": float(ex.extent),
        "step": float(z1.step),
        "scatter": _png(_rgb8(ex.background, getattr(ex, "palette", None))),
        "map": [float(c1 - c0), float(c0), float(r1 - r0), float(r0)],
        "mean": _f32(ex.mean),
        "std": None if ex.std is None else _f32(ex.std),
        "labels": np.asarray(y).tolist(),
        "n_digits": n,
        "sprite_cols": SPRITE_COLS,
        "sprite": f"{name}_digits.png",
    }
    return model, buf.getvalue()


def export_token_model(name: str = TOKEN_MODEL) -> dict:
    """The token editor of chapter 10 as data."""
    from . import pretrained, widgets
    from .data import mnist_images
    from .editing import background_token

    vq = pretrained.load(name)
    x = mnist_images("test", limit=max(TOKEN_IMAGES) + 1)
    first, second = (x[i] for i in TOKEN_IMAGES)
    ed = widgets.token_editor(vq, first, second=second, background=background_token(vq))
    (th, tw), cols = ed.tile_side, ed.palette_cols
    return {
        "kind": "tokens",
        "name": name,
        "panel": widgets.PANEL,
        "grid_shape": [ed.h, ed.w],
        "num_codes": ed.num_codes,
        "code_dim": int(vq.code_dim),
        "codebook": _f32(vq.codebook),
        "image_shape": list(vq.image_shape),
        "layers": decoder_spec(vq.decoder),
        "clip": [0.0, 1.0],
        "original": ed.original.tolist(),
        "second": ed.second.tolist(),
        "background": ed.background,
        "images": [_gray8(first[None])[0].tolist(), _gray8(second[None])[0].tolist()],
        "colours": ed.colours.tolist(),
        "inverse": None if ed.inverse is None else ed.inverse.tolist(),
        "cell": ed.cell,
        "dx": ed.dx.value,
        "dy": ed.dy.value,
        "split": ed.split.value,
        "palette": _png(_rgb8(ed.palette_image)),
        "tile": [th, tw],
        "palette_cols": cols,
        "code": ed.code,
    }


def write_live(dest) -> list[Path]:
    """Write the page runtime and both exported widgets into ``dest`` (the book's _static/live)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = [dest / "vqlab-live.js"]
    atomic_write_text(written[0], runtime_js())
    latent, sprite = export_latent_model()
    (dest / latent["sprite"]).write_bytes(sprite)
    written.append(dest / latent["sprite"])
    for model in (latent, export_token_model()):
        path = dest / f"{model['name']}.js"
        atomic_write_text(
            path,
            "(window.VQLAB_LIVE_MODELS = window.VQLAB_LIVE_MODELS || {})"
            f"[{json.dumps(model['name'])}] = {json.dumps(model, separators=(',', ':'))};\n",
        )
        written.append(path)
    return written


def _html(widget: str, name: str):
    from IPython.display import HTML

    return HTML(
        f'<div class="vqlab-live" data-widget="{widget}" data-model="{name}" hidden></div>\n'
        f'<script src="{STATIC}/{name}.js"></script>\n<script src="{STATIC}/vqlab-live.js"></script>'
    )


def live_latent_explorer(name: str = LATENT_MODEL):
    """The latent explorer as it runs in the HTML book (hidden outside it)."""
    return _html("latent-explorer", name)


def live_token_editor(name: str = TOKEN_MODEL):
    """The token editor as it runs in the HTML book (hidden outside it)."""
    return _html("token-editor", name)


def runtime_js() -> str:
    """The page's runtime (the decoders' forward pass and both widgets): package data
    ``vqlab/js/vqlab-live.js``, a plain JavaScript file the browser test runs."""
    return (
        resources.files("vqlab")
        .joinpath("js", "vqlab-live.js")
        .read_text(encoding="utf-8")
    )
