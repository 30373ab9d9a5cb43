"""How long one widget update takes (decode and redraw), beside the old interactive wrappers.

Goals (issue 13): an update <= 30 ms median for the MNIST models, <= 500 ms for a 256x256
photo with the f = 8 model. An update is what a slider move or a click does: the handler
runs, decodes, composes the panel and encodes its PNG. The old wrappers (until this issue)
made a matplotlib figure per change; the same work is timed here, rendered to PNG as the
notebook does. Medians over REPEATS updates after one warm-up.
"""

import io
import statistics
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import vqlab  # noqa: F401  (quiet TensorFlow)
from vqlab import pretrained, tokens, widgets
from vqlab.data import mnist_images, mnist_labels

REPEATS = 30
MNIST_GOAL_MS, PHOTO_GOAL_MS = 30, 500


def median_ms(update, args):
    update(*args[0])  # warm-up (graph trace)
    times = []
    for a in args:
        t = time.perf_counter()
        update(*a)
        times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def figure_png(fig):
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def old_latent_update(vae, z1, z2):
    """The old latent_explorer's callback: decode, a new figure, shown as PNG."""
    image = np.asarray(vae.decode(np.array([[z1, z2]], np.float32)))[0]
    fig, ax = plt.subplots(figsize=(2.5, 2.5))
    ax.imshow(image.squeeze(), cmap="gray", vmin=0, vmax=1)
    ax.set_title(f"z = ({z1:.1f}, {z2:.1f})")
    ax.axis("off")
    return figure_png(fig)


def old_token_update(model, grid, dx, bg):
    """The old token_editor's callback: decode the original and the edit, a new figure."""
    edited = tokens.shift(grid, dx, 0, fill=bg)
    fig, axs = plt.subplots(1, 2, figsize=(5, 2.5))
    for ax, g in zip(axs, (grid, edited)):
        ax.imshow(
            np.asarray(model.decode(g[None]))[0].squeeze(), cmap="gray", vmin=0, vmax=1
        )
        ax.axis("off")
    return figure_png(fig)


def photo_model():
    """The shipped f = 8 photo model, else one of its shape with random weights (said so)."""
    if "photo_f8" in pretrained.names():
        return pretrained.load("photo_f8"), "photo_f8 (shipped weights)"
    try:
        from vqlab.models.photo import PhotoVQVAE

        return PhotoVQVAE(
            512, 32, factor=8
        ), "PhotoVQVAE(512, 32, factor=8), random weights (photo_f8 not shipped yet)"
    except ImportError:
        from vqlab.models import VQVAE

        return (
            VQVAE(512, 32, filters=(64, 128, 256), image_shape=(256, 256, 3)),
            "VQVAE 256x256x3 -> 32x32, 512 codes, random weights (no photo model yet)",
        )


def row(name, ms, goal=None, old=None):
    verdict = "" if goal is None else "ok" if ms <= goal else "OVER"
    old_text = f"{old:10.1f}" if old is not None else f"{'-':>10s}"
    goal_text = f"{goal:6d}" if goal is not None else f"{'-':>6s}"
    print(f"{name:48s} {ms:9.1f} {old_text} {goal_text}  {verdict}")


def main():
    rng = np.random.default_rng(0)
    x, y = mnist_images("test", limit=2000), mnist_labels("test")[:2000]
    vq, vae = pretrained.load("vqvae_mnist"), pretrained.load("vae_convdense_bce")
    print(
        f"{'widget update (median of %d)' % REPEATS:48s} {'new (ms)':>9s} {'old (ms)':>10s} {'goal':>6s}"
    )

    zs = [tuple(rng.uniform(-3, 3, 2)) for _ in range(REPEATS)]
    ex = widgets.latent_explorer(vae, x, y)
    row(
        "latent_explorer: slider or click",
        median_ms(ex.set_point, zs),
        MNIST_GOAL_MS,
        median_ms(lambda a, b: old_latent_update(vae, a, b), zs),
    )
    ex.show_q.value = True
    row(
        "latent_explorer: with the posterior ellipse",
        median_ms(ex.set_point, zs),
        MNIST_GOAL_MS,
    )

    ed = widgets.token_editor(vq, x[0], second=x[1])
    grid, bg = ed.original, ed.background
    paints = [
        tuple(int(v) for v in (rng.integers(7), rng.integers(7), rng.integers(64)))
        for _ in range(REPEATS)
    ]
    shifts = [(int(rng.integers(-3, 4)), 0) for _ in range(REPEATS)]
    row(
        "token_editor: paint a cell (MNIST)",
        median_ms(ed.paint, paints),
        MNIST_GOAL_MS,
        median_ms(lambda dx, _: old_token_update(vq, grid, dx, bg), shifts),
    )
    row("token_editor: shift (MNIST)", median_ms(ed.shift, shifts), MNIST_GOAL_MS)

    tr = widgets.transplant(vq, x[0], x[1])
    boxes = [
        ((r, c, 3, 3), (int(rng.integers(5)), int(rng.integers(5))))
        for r, c in rng.integers(0, 5, (REPEATS, 2)).tolist()
    ]
    row("transplant: move the box (MNIST)", median_ms(tr.set_box, boxes), MNIST_GOAL_MS)

    models = {
        n: pretrained.load(n)
        for n in ("vae_dense_mse_balanced", "vae_dense_mse", "vae_dense_bce")
    }
    lb = widgets.loss_balance(models, x, y)
    names = [list(models)[i % 3] for i in range(REPEATS)]
    row(
        "loss_balance: move the slider",
        median_ms(lambda n: lb.select(n), [(n,) for n in names]),
        MNIST_GOAL_MS,
    )

    if (
        "prior_vqvae_mnist" in pretrained.names()
    ):  # chapter 10's prior: sampling, not decoding, dominates
        import vqlab.prior  # noqa: F401  (registers the prior's class with pretrained)

        ps = widgets.prior_sampler(pretrained.load("prior_vqvae_mnist"), vq)
        row(
            "prior_sampler: resample 16 digits (no goal)",
            median_ms(ps.resample, [()] * 5),
        )

    model, which = photo_model()
    from skimage import data as skdata

    photos = [skdata.astronaut(), skdata.coffee()]
    photos = [
        np.asarray(p[: min(p.shape[:2]), : min(p.shape[:2])], np.float32) / 255
        for p in photos
    ]
    from PIL import Image

    photos = [
        np.asarray(
            Image.fromarray((p * 255).astype(np.uint8)).resize((256, 256)), np.float32
        )
        / 255
        for p in photos
    ]
    t = time.perf_counter()
    ped = widgets.token_editor(model, photos[0], second=photos[1])
    build = time.perf_counter() - t
    h, w = model.grid_shape
    paints = [
        (int(rng.integers(h)), int(rng.integers(w)), int(rng.integers(model.num_codes)))
        for _ in range(REPEATS // 3)
    ]
    print(
        f"photo model: {which}; token editor built in {build:.1f} s (palette of {model.num_codes} codes)"
    )
    row(
        "token_editor: paint a cell (256x256 photo, f=8)",
        median_ms(ped.paint, paints),
        PHOTO_GOAL_MS,
    )
    ptr = widgets.transplant(model, photos[0], photos[1])
    boxes = [
        ((r, c, 8, 8), (int(rng.integers(h - 8)), int(rng.integers(w - 8))))
        for r, c in rng.integers(0, h - 8, (REPEATS // 3, 2)).tolist()
    ]
    row(
        "transplant: move the box (256x256 photo, f=8)",
        median_ms(ptr.set_box, boxes),
        PHOTO_GOAL_MS,
    )


if __name__ == "__main__":
    main()
