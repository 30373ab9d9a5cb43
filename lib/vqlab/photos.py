"""Photos for chapter 11: the openly licensed photos that arrive with the stack, and how to judge a photo codec.

The photos are files inside installed wheels (scikit-image's ``skimage/data``,
scikit-learn's sample images, matplotlib's sample data), so nothing is downloaded;
``PHOTOS`` lists each with its source and licence. Four colour photos are held out
(``HELD_OUT``): no model of the book ever trains on them, every reported number is
measured on them. Grey photos join the training set as three equal channels.

* ``photo(name)``: one photo as float32 (H, W, 3) in [0, 1], at its stored size;
* ``held_out(size)``: the held-out photos as the dVAE sees a photo: shortest side
  resized to ``size``, centre crop (n, size, size, 3);
* ``crops(split, n, size, seed)``: ``n`` random crops from the training photos (or the
  held-out ones, ``split="test"``), each at a random scale and flipped left-right with
  probability 1/2, drawn from ``seed`` alone (the training data of the photo models);
* ``thumbnails(split, n, size, seed)``: random large crops shrunk to ``size`` (small images);
* ``psnr``, ``ssim``, ``jpeg_at_psnr`` (the rate Pillow's JPEG needs for a given PSNR;
  ``vqlab.rate`` has both codecs, headers counted, and the tokens' rate),
  ``transplant`` and ``seam_profile`` (a box of tokens from one photo in another, and the
  error as a function of the distance from the box edge).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from . import metrics, rate
from .images import as_batch

HELD_OUT = ("astronaut", "chelsea", "coffee", "china")
EVAL_SIZE = 256  # the dVAE's input size: held-out photos are judged at 256x256
TRAIN_SHORT_SIDES = (
    192,
    256,
    320,
    400,
    512,
)  # rescales: a training photo's shortest side, capped at its own
RESAMPLE = Image.Resampling.LANCZOS


@dataclass(frozen=True)
class Photo:
    name: str
    source: str  # where the file comes from (package and file)
    licence: str  # as its package documents it
    colour: bool


_SK = "scikit-image (skimage/data/{})"
PHOTOS: dict[str, Photo] = {
    p.name: p
    for p in (
        Photo(
            "astronaut",
            _SK.format("astronaut.png"),
            "public domain (NASA; no known copyright restrictions)",
            True,
        ),
        Photo(
            "chelsea",
            _SK.format("chelsea.png"),
            "CC0 (photographer Stefan van der Walt)",
            True,
        ),
        Photo(
            "coffee",
            _SK.format("coffee.png"),
            "CC0 (photographer Rachel Michetti)",
            True,
        ),
        Photo(
            "china",
            "scikit-learn (sklearn/datasets/images/china.jpg)",
            "CC BY 2.0 (danielbuechele on Flickr)",
            True,
        ),
        Photo(
            "flower",
            "scikit-learn (sklearn/datasets/images/flower.jpg)",
            "CC BY 2.0 (vultilion on Flickr)",
            True,
        ),
        Photo("rocket", _SK.format("rocket.jpg"), "public domain (SpaceX)", True),
        Photo(
            "hubble_deep_field",
            _SK.format("hubble_deep_field.jpg"),
            "public domain (NASA)",
            True,
        ),
        Photo("retina", _SK.format("retina.jpg"), "CC0 1.0 (Wikimedia Commons)", True),
        Photo(
            "immunohistochemistry",
            _SK.format("ihc.png"),
            "no known copyright restrictions (CMMI)",
            True,
        ),
        Photo(
            "grace_hopper",
            "matplotlib (mpl-data/sample_data/grace_hopper.jpg)",
            "public domain (U.S. Navy photograph)",
            True,
        ),
        Photo(
            "camera", _SK.format("camera.png"), "CC0 (photographer Lav Varshney)", False
        ),
        Photo(
            "coins",
            _SK.format("coins.png"),
            "no known copyright restrictions (Brooklyn Museum)",
            False,
        ),
        Photo(
            "clock",
            _SK.format("clock_motion.png"),
            "public domain (photographer Stefan van der Walt)",
            False,
        ),
        Photo("brick", _SK.format("brick.png"), "CC0 (CC0Textures)", False),
        Photo("grass", _SK.format("grass.png"), "CC0 (DeviantArt, linolafett)", False),
        Photo("gravel", _SK.format("gravel.png"), "CC0 (CC0Textures)", False),
    )
}
TRAIN = tuple(n for n in PHOTOS if n not in HELD_OUT)


def _pixels(name: str) -> np.ndarray:
    """The stored uint8 pixels of photo ``name``: (H, W) or (H, W, 3)."""
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_image

        return load_sample_image(f"{name}.jpg")
    if name == "grace_hopper":
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as f:
            return np.asarray(Image.open(f).convert("RGB"))
    import skimage.data

    return getattr(
        skimage.data, name
    )()  # bundled in the wheel: no download (pooch is never asked)


@lru_cache(maxsize=None)
def _photo_uint8(name: str) -> np.ndarray:
    if name not in PHOTOS:
        raise ValueError(f"no photo named {name!r}; known: {', '.join(PHOTOS)}")
    a = np.asarray(_pixels(name))
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)  # grey -> three equal channels
    a = a[..., :3]
    a.setflags(write=False)
    return a


def photo(name: str) -> np.ndarray:
    """Photo ``name`` as float32 (H, W, 3) in [0, 1], at its stored size."""
    return _photo_uint8(name).astype(np.float32) / 255.0


def _resize_short_side(a: np.ndarray, side: int) -> np.ndarray:
    """uint8 (H, W, 3) resized (Lanczos) so that its shortest side is ``side``."""
    h, w = a.shape[:2]
    s = side / min(h, w)
    size = (max(side, round(w * s)), max(side, round(h * s)))  # PIL: (width, height)
    return np.asarray(Image.fromarray(a).resize(size, RESAMPLE))


def square(name: str, size: int = EVAL_SIZE) -> np.ndarray:
    """Photo ``name`` as the dVAE's preprocessing makes it: shortest side ``size``, centre crop."""
    a = _resize_short_side(_photo_uint8(name), size)
    h, w = a.shape[:2]
    top, left = (h - size) // 2, (w - size) // 2
    return a[top : top + size, left : left + size].astype(np.float32) / 255.0


def held_out(size: int = EVAL_SIZE) -> np.ndarray:
    """The held-out photos (``HELD_OUT`` order) as (n, size, size, 3) float32 in [0, 1]."""
    return np.stack([square(n, size) for n in HELD_OUT])


def _split_names(split: str) -> tuple[str, ...]:
    if split not in ("train", "test"):
        raise ValueError(f"split should be 'train' or 'test', got {split!r}")
    return TRAIN if split == "train" else HELD_OUT


@lru_cache(maxsize=None)
def _pyramid(split: str) -> tuple[np.ndarray, ...]:
    """Each photo of ``split`` at each of its scales (uint8). Held-out photos: at EVAL_SIZE only."""
    sides = TRAIN_SHORT_SIDES if split == "train" else (EVAL_SIZE,)
    levels = []
    for name in _split_names(split):
        a = _photo_uint8(name)
        levels += [
            _resize_short_side(a, s) for s in sides if s <= min(a.shape[:2])
        ] or [a]
    return tuple(levels)


def crops(split: str, n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """``n`` random crops (n, size, size, 3) float32 in [0, 1] of ``split``'s photos.

    Each crop picks a photo-and-scale (``TRAIN_SHORT_SIDES``) uniformly, a position
    uniformly, and a left-right flip with probability 1/2; all from ``seed`` alone.
    """
    levels = [a for a in _pyramid(split) if min(a.shape[:2]) >= size]
    rng = np.random.default_rng([seed, size, 0 if split == "train" else 1])
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        a = levels[rng.integers(len(levels))]
        top, left = (
            rng.integers(a.shape[0] - size + 1),
            rng.integers(a.shape[1] - size + 1),
        )
        c = a[top : top + size, left : left + size]
        out[i] = c[:, ::-1] if rng.random() < 0.5 else c
    return out.astype(np.float32) / 255.0


def thumbnails(split: str, n: int, size: int = 32, seed: int = 0) -> np.ndarray:
    """``n`` small images (n, size, size, 3): random square crops of ``split``'s photos
    (side between 1/4 of the photo's shortest side and all of it) shrunk to ``size``."""
    names = _split_names(split)
    rng = np.random.default_rng([seed, size, 2 if split == "train" else 3])
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        a = _photo_uint8(names[rng.integers(len(names))])
        short = min(a.shape[:2])
        side = int(rng.integers(max(size, short // 4), short + 1))
        top, left = (
            rng.integers(a.shape[0] - side + 1),
            rng.integers(a.shape[1] - side + 1),
        )
        c = Image.fromarray(
            np.ascontiguousarray(a[top : top + side, left : left + side])
        ).resize((size, size), RESAMPLE)
        c = np.asarray(c)
        out[i] = c[:, ::-1] if rng.random() < 0.5 else c
    return out.astype(np.float32) / 255.0


# Training data of the photo models (registered in vqlab.recipes): a fixed set of crops per split.
CROPS_PER_SPLIT = {"train": 8000, "test": 256}


def crop_data(size: int):
    """``loader(split, limit)`` for ``recipes.register_data``: ``crops`` of side ``size``."""

    def load(split: str, limit: int | None = None) -> np.ndarray:
        n = (
            CROPS_PER_SPLIT[split]
            if limit is None
            else min(limit, CROPS_PER_SPLIT[split])
        )
        return crops(split, n, size)

    return load


def thumbnail_data(size: int):
    """``loader(split, limit)`` for ``recipes.register_data``: ``thumbnails`` of side ``size``."""

    def load(split: str, limit: int | None = None) -> np.ndarray:
        n = (
            CROPS_PER_SPLIT[split]
            if limit is None
            else min(limit, CROPS_PER_SPLIT[split])
        )
        return thumbnails(split, n, size)

    return load


# Judging a photo codec ----------------------------------------------------------------------------
_batch = as_batch  # images as float (n, H, W, C): vqlab.images.as_batch


def psnr(a, b) -> np.ndarray:
    """PSNR per image in dB (peak 1): ``vqlab.metrics.psnr``."""
    return metrics.psnr(_batch(a), _batch(b))


# SSIM in the standard form of Wang et al. (2004): an 11 x 11 Gaussian window of sigma 1.5,
# population (not sample) covariances, K1 = 0.01, K2 = 0.03, the mean of the SSIM map over
# the image and the colour channels. scikit-image's defaults differ (a uniform 7 x 7 window,
# sample covariances); these arguments select the paper's form.
SSIM_ARGS = {
    "gaussian_weights": True,
    "sigma": 1.5,
    "use_sample_covariance": False,
    "data_range": 1.0,
}


def ssim(a, b) -> np.ndarray:
    """Structural similarity per image in the standard form (Wang et al. 2004; ``SSIM_ARGS``),
    pixels in [0, 1], averaged over the colour channels."""
    from skimage.metrics import structural_similarity

    a, b = _batch(a), _batch(b)
    return np.array(
        [
            structural_similarity(p, q, channel_axis=-1, **SSIM_ARGS)
            for p, q in zip(a, b)
        ]
    )


# Rate: vqlab.rate (what a photo costs in bits, token files and codecs' headers counted alike)
from .rate import token_bits_per_pixel  # noqa: E402,F401  (importable from here as before)


def jpeg(image, quality: int) -> tuple[np.ndarray, float]:
    """Pillow's JPEG (``optimize=True``, 4:2:0; ``vqlab.rate.encode``) of one image
    (H, W, 3) at ``quality``: (decoded image, bits per pixel of the whole file)."""
    decoded, data = rate.encode(image, "jpeg", quality)
    return decoded, rate.bpp(len(data), *decoded.shape[:2])


def jpeg_at_psnr(image, target: float) -> dict:
    """The lowest-rate JPEG of ``image`` whose PSNR reaches ``target`` dB
    (``vqlab.rate.codec_at_psnr``, every quality 1..100 tried): its ``quality``, ``bpp``
    (whole file) and ``psnr``, and ``rate.measure``'s figures (``payload_bpp``, ...);
    ``quality`` None if none reaches it."""
    r = rate.codec_at_psnr(image, "jpeg", target)
    return {"quality": r["quality"], "bpp": r["file_bpp"], "psnr": r["psnr_db"], **r}


def rate_table(model, x, names=HELD_OUT, prior=None) -> list[dict]:
    """Per photo: the model's PSNR through its tokens and their rate, raw and (with a
    ``prior``) prior-coded, against JPEG's and WebP's at the same PSNR: ``vqlab.rate.rate_table``
    (``model_bpp`` is ``token_bits_per_pixel``, ``jpeg_bpp`` JPEG's whole-file rate)."""
    return rate.rate_table(model, x, names, prior)


def rotate_layout(images, factor: int, k: int = 1) -> np.ndarray:
    """Rotate the grid of ``factor`` x ``factor`` patches of ``images`` (n, H, W, C) by k * 90°
    counter-clockwise, leaving each patch's content as it was: what rotating a token grid
    would give if every token decoded to its own patch and nothing else."""
    x = _batch(images)
    n, h, w, c = x.shape
    blocks = x.reshape(
        n, h // factor, factor, w // factor, factor, c
    )  # (n, rows, f, cols, f, C)
    return np.rot90(blocks, k, axes=(1, 3)).reshape(n, w, h, c)


def rotation_test(model, x, k: int = 1, factor: int | None = None) -> dict:
    """Where decode(rot90(tokens)) lands, as mean MSE against three targets:

    * ``vs_rotated_image``: rot90(x), what an edit in pixel space gives;
    * ``vs_rotated_reconstruction``: rot90(x̂), the model's own error taken out;
    * ``vs_rotated_layout``: the patches of x̂ moved as the tokens are, each patch unrotated;

    and ``layout_vs_rotation``: how far the two targets lie apart without any model (the
    energy of the image structure smaller than a patch that a rotation turns).
    """
    x = _batch(x)
    factor = factor or model.image_shape[0] // model.grid_shape[0]
    t = model.encode(x if x.shape[1:] == tuple(model.image_shape) else x[..., 0])
    rec = _batch(model.decode(t))
    decoded = _batch(model.decode(np.rot90(t, k, axes=(1, 2))))
    rot = lambda a: np.rot90(a, k, axes=(1, 2))  # noqa: E731
    layout = rotate_layout(rec, factor, k)
    return {
        "vs_rotated_image": float(metrics.mse(decoded, rot(x)).mean()),
        "vs_rotated_reconstruction": float(metrics.mse(decoded, rot(rec)).mean()),
        "vs_rotated_layout": float(metrics.mse(decoded, layout).mean()),
        "layout_vs_rotation": float(metrics.mse(rot(rec), layout).mean()),
    }


from .seams import box_distance, seam_profile  # noqa: E402,F401  (importable from here as before)
from .tokens import transplant  # noqa: E402,F401


# The photo models' cards: which photos, under which licence, and what each held-out photo gets.
def held_out_report(model) -> dict:
    """PSNR and SSIM of ``model.reconstruct`` on each held-out photo at the model's size."""
    x = held_out(model.image_shape[0])
    rec = model.reconstruct(x)
    p, s = psnr(x, rec), ssim(x, rec)
    return {
        "size": int(model.image_shape[0]),
        "bits_per_pixel": token_bits_per_pixel(model),
        "per_photo": {
            n: {"psnr_db": round(float(a), 3), "ssim": round(float(b), 4)}
            for n, a, b in zip(HELD_OUT, p, s)
        },
        "mean_psnr_db": round(float(np.mean(p)), 3),
        "mean_ssim": round(float(np.mean(s)), 4),
    }


def photo_list(names) -> list[dict]:
    return [
        {"photo": n, "source": PHOTOS[n].source, "licence": PHOTOS[n].licence}
        for n in names
    ]


def test_source_photos(size: int = EVAL_SIZE) -> tuple[np.ndarray, list[str]]:
    """The corpus' test source (a whole package no model trains on) at ``size`` x ``size``
    (short side resized, centre crop: the ImageNet tokenizers' protocol), and the photos' names."""
    from . import corpus

    return corpus.test_images(size).astype(np.float32) / 255.0, [
        p.record["id"] for p in corpus.test_photos()
    ]


def report(model, x, names) -> dict:
    """PSNR and SSIM of ``model.reconstruct`` on photos ``x`` named ``names``."""
    rec = model.reconstruct(x)
    p, s = psnr(x, rec), ssim(x, rec)
    return {
        "size": int(x.shape[1]),
        "bits_per_pixel": token_bits_per_pixel(model),
        "per_photo": {
            n: {"psnr_db": round(float(a), 3), "ssim": round(float(b), 4)}
            for n, a, b in zip(names, p, s)
        },
        "mean_psnr_db": round(float(np.mean(p)), 3),
        "mean_ssim": round(float(np.mean(s)), 4),
    }


def annotate_card(name: str) -> dict:
    """Add to shipped model ``name``'s card the photos it trained on (count per source of the
    corpus), the test source, and its PSNR and SSIM on the test source and the held-out photos."""
    from collections import Counter

    from . import cards, corpus, pretrained

    model = pretrained.load(name)
    train = Counter(p.record["source"] for p in corpus.train_photos())
    test_x, test_names = test_source_photos(model.image_shape[0])
    return cards.update_card(
        name,
        photos={
            "train_photos": sum(train.values()),
            "train_sources": dict(sorted(train.items())),
            "test_source": corpus.TEST_SOURCE,
            "held_out": photo_list(HELD_OUT),
            "credits": "book/credits.md (every photo, licence and author)",
        },
        test_source=report(model, test_x, test_names),
        held_out=held_out_report(model),
    )


if (
    __name__ == "__main__"
):  # python -m vqlab.photos NAME ...: annotate trained photo models' cards
    import sys

    for _name in sys.argv[1:]:
        print(_name, annotate_card(_name)["held_out"])


def at_size(model, size: int):
    """The same trained photo model for ``size`` x ``size`` images (its layers are all
    convolutional, so only ``image_shape`` and the grid change): e.g. the f = 4 model on
    32 x 32 thumbnails, or on 512 x 512 photos."""
    config = {**model.get_config(), "image_shape": (size, size, model.image_shape[-1])}
    config.pop("name", None)
    from .pretrained import create_weights

    other = create_weights(type(model).from_config(config))
    other.set_weights(model.get_weights())
    return other
