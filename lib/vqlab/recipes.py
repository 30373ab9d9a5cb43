"""How each shipped model is trained: a registry of recipes that ``python -m vqlab.train NAME`` follows.

A ``Recipe`` says how to build the model, which data it trains on, for how long and with
what learning rate. The thesis trains every model for 15 epochs, batch 128, Adam
(learning rate 1e-3) on MNIST scaled to [0, 1]; so do these unless a line says otherwise.
Loading a shipped model never needs this module (``vqlab.pretrained`` reads the card).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import keras

from .data import mnist_binarized, mnist_images
from .models import VAE, VQVAE, Autoencoder

THESIS_EPOCHS = 15
THESIS_BATCH_SIZE = 128
THESIS_LEARNING_RATE = 1e-3
PIXELS = 28 * 28
VQ_SWEEP_EPOCHS = 3  # chapter 7's comparisons: many models, one short budget each
VQ_BETAS = (0.1, 0.25, 0.5, 1.0, 2.0)
EMA_DECAY = 0.99
VQ_LEARNING_RATE = 2e-3  # vqlab's recipe: cosine decay from here to 0


# Training data by name: loader(split, limit) -> an array of examples, or a dict of
# equal-length arrays (e.g. {"tokens": ..., "labels": ...}) that reaches loss_terms as a dict.
DATA: dict[str, Callable] = {"mnist": mnist_images, "mnist_binarized": mnist_binarized}


def same_callable(f, g) -> bool:
    """Whether ``f`` and ``g`` are the same function, or the same code with the same defaults
    and closure values (a notebook cell run twice makes new function objects of the same code)."""
    if f is g:
        return True
    code_f, code_g = getattr(f, "__code__", None), getattr(g, "__code__", None)
    if code_f is None or code_f != code_g or f.__defaults__ != g.__defaults__:
        return False
    cells_f = [c.cell_contents for c in f.__closure__ or ()]
    cells_g = [c.cell_contents for c in g.__closure__ or ()]
    return len(cells_f) == len(cells_g) and all(
        same_callable(a, b) if callable(a) else a == b for a, b in zip(cells_f, cells_g)
    )


def register_data(name: str, loader: Callable) -> Callable:
    """Make ``loader(split, limit)`` available to recipes as ``data=name``. Registering the
    same loader again (a re-run cell) is a no-op; another loader under the name is an error."""
    if name in DATA:
        if same_callable(DATA[name], loader):
            return DATA[name]
        raise ValueError(f"a different data set named {name!r} is already registered")
    DATA[name] = loader
    return loader


@dataclass(frozen=True)
class Recipe:
    name: str
    build: Callable[[], keras.Model]
    description: str
    data: str = "mnist"
    epochs: int = THESIS_EPOCHS
    batch_size: int = THESIS_BATCH_SIZE
    learning_rate: float | Callable[[int], object] = (
        THESIS_LEARNING_RATE  # or total_steps -> schedule
    )
    seed: int = 0
    # Evaluate on the test split after every epoch (Keras' validation): the card's history
    # then shows the test curve, e.g. whether a photo model was still improving at the end.
    validate: bool = False

    @property
    def command(self) -> str:
        return f"python -m vqlab.train {self.name}"


REGISTRY: dict[str, Recipe] = {}


def same_recipe(a: Recipe, b: Recipe) -> bool:
    """Equal fields, functions compared by ``same_callable``."""
    fa, fb = vars(a), vars(b)
    return all(
        same_callable(fa[k], fb[k]) if callable(fa[k]) else fa[k] == fb[k] for k in fa
    )


def register(recipe: Recipe) -> Recipe:
    """Add ``recipe`` to the registry. Registering an identical recipe again (a chapter cell
    run twice) is a no-op; a different recipe under a registered name is an error."""
    if recipe.name in REGISTRY:
        if same_recipe(REGISTRY[recipe.name], recipe):
            return REGISTRY[recipe.name]
        raise ValueError(
            f"a different recipe named {recipe.name!r} is already registered; "
            f"pick another name (or `del vqlab.recipes.REGISTRY[{recipe.name!r}]`)"
        )
    REGISTRY[recipe.name] = recipe
    return recipe


def get(name: str) -> Recipe:
    if name not in REGISTRY:
        raise ValueError(
            f"no recipe named {name!r}; known: {', '.join(sorted(REGISTRY))}"
        )
    return REGISTRY[name]


def names() -> list[str]:
    return sorted(REGISTRY)


def cosine(initial: float):
    """Cosine decay of the learning rate from ``initial`` to 0 over the whole run."""
    return lambda total_steps: keras.optimizers.schedules.CosineDecay(
        initial, total_steps
    )


def plain_vqvae(**kwargs) -> VQVAE:
    """The paper's VQ-VAE: random codebook, no dead-code restarts."""
    return VQVAE(64, 16, codebook_init="random", dead_code_threshold=None, **kwargs)


register(
    Recipe(
        "ae_dense_2d",
        lambda: Autoencoder(2, "dense", "bce"),
        "Plain dense autoencoder, 2-D code, BCE reconstruction (chapters 2-3).",
    )
)

for _kind in ("dense", "conv"):
    register(
        Recipe(
            f"vae_{_kind}_bce",
            lambda kind=_kind: VAE(2, kind, "bce"),
            f"{_kind.capitalize()} VAE, 2-D latent, BCE reconstruction (chapter 9).",
        )
    )

# The thesis' four VAEs (section 4.3): two convolutions in encoder and decoder, with
# ("convdense") or without ("conv") two fully connected layers; BCE or unweighted MSE.
for _kind, _label in (("conv_dense", "convdense"), ("conv", "conv")):
    for _rec in ("bce", "mse"):
        if (_label, _rec) == ("conv", "bce"):
            continue  # vae_conv_bce above is this model
        register(
            Recipe(
                f"vae_{_label}_{_rec}",
                lambda kind=_kind, rec=_rec: VAE(2, kind, rec),
                f"The thesis' VAE with two convolutions{' and two dense layers' if _kind == 'conv_dense' else ''} "
                f"in encoder and decoder, 2-D latent, {_rec.upper()} reconstruction (chapter 9).",
            )
        )
    register(
        Recipe(
            f"vae_{_label}_binary",
            lambda kind=_kind: VAE(2, kind, "bce"),
            f"The thesis' {_label} VAE trained on binarized MNIST (pixels > 0.5), Bernoulli "
            f"likelihood: its ELBO is a bound on log p(x) in nats (chapter 9).",
            data="mnist_binarized",
        )
    )

register(
    Recipe(
        "vae_dense_mse",
        lambda: VAE(2, "dense", "mse"),
        "Dense VAE, 2-D latent, unweighted MSE (mean over pixels) + KL: "
        "the thesis' posterior-collapse setting (chapter 9).",
    )
)
register(
    Recipe(
        "vae_dense_mse_balanced",
        lambda: VAE(2, "dense", "mse", kl_weight=1.0 / PIXELS),
        "Dense VAE, 2-D latent, MSE with the KL term weighted 1/784 so that both "
        "terms are per pixel (a Gaussian likelihood with variance 1/2) (chapter 9).",
    )
)
# Between the balanced weight (1/784) and the thesis' unweighted KL (1): the sweep that
# chapter 9's loss-balance slider walks through.
KL_SWEEP = (0.003, 0.01, 0.03, 0.1)
for _w in KL_SWEEP:
    register(
        Recipe(
            f"vae_dense_mse_kl{_w}",
            lambda w=_w: VAE(2, "dense", "mse", kl_weight=w),
            f"Dense VAE, 2-D latent, MSE with the KL term weighted {_w}: a point of the "
            f"KL-weight sweep between 1/784 and 1 (chapter 9's loss balance).",
        )
    )

register(
    Recipe(
        "vqvae_mnist",
        lambda: VQVAE(num_codes=64, code_dim=16),
        "The thesis' VQ-VAE (code_dim 16, 64 codes, 7x7 tokens) trained with vqlab's recipe: "
        "codebook initialised from encoder outputs, dead-code restarts, cosine learning rate "
        "(chapters 7 and 10).",
        learning_rate=cosine(VQ_LEARNING_RATE),
    )
)

for _beta in VQ_BETAS:
    register(
        Recipe(
            f"vqvae_beta{_beta}",
            lambda beta=_beta: plain_vqvae(beta=beta),
            f"Plain VQ-VAE as in the paper (random codebook, beta={_beta}), "
            f"{VQ_SWEEP_EPOCHS} epochs: the beta sweep of chapter 7.",
            epochs=VQ_SWEEP_EPOCHS,
        )
    )

register(
    Recipe(
        "vqvae_ema",
        lambda: plain_vqvae(ema_decay=EMA_DECAY),
        f"VQ-VAE whose codebook follows an EMA of its assigned encoder outputs, "
        f"{VQ_SWEEP_EPOCHS} epochs (chapter 7).",
        epochs=VQ_SWEEP_EPOCHS,
    )
)
register(
    Recipe(
        "vqvae_ema_restart",
        lambda: VQVAE(64, 16, ema_decay=EMA_DECAY, codebook_init="random"),
        f"EMA codebook plus dead-code restarts, {VQ_SWEEP_EPOCHS} epochs (chapter 7).",
        epochs=VQ_SWEEP_EPOCHS,
    )
)

# Photo models (chapter 11): the VQ-VAE with residual blocks, trained on random crops of the
# openly licensed photos that arrive with the stack, never on the held-out ones (vqlab.photos).
from . import photos as _photos  # noqa: E402  (kept beside the recipes that use it)
from .models.dvae import PhotoDVAE  # noqa: E402
from .models.photo import PhotoVQVAE  # noqa: E402

PHOTO_CROP = 64  # f=4 and f=8 train on 64x64 crops and encode 256x256 photos
PHOTO_SMALL = 32  # the thesis' open question: small images, 32x32
register_data(f"photo_crops{PHOTO_CROP}", _photos.crop_data(PHOTO_CROP))
register_data(f"photo_thumbnails{PHOTO_SMALL}", _photos.thumbnail_data(PHOTO_SMALL))

# The photo tokenizers train on the corpus of licensed photos from Debian's and PyPI's
# archives (vqlab.corpus; issue 21): the same crops and the same number of steps for each.
CORPUS_TRAIN_CROPS = 48_000  # per epoch: fixed seeded crops of the training photos
CORPUS_EPOCHS = (
    4  # 48,000 / 16 x 4 = 12,000 steps each (the 12-photo f=4 model had 6,000)
)


def corpus_crop_data(size: int):
    """``loader(split, limit)``: seeded crops of the corpus' training photos (``train``), or
    the test source's photos at 256x256 cut into ``size`` tiles (``test``), float32 [0, 1]."""

    def load(split: str, limit: int | None = None):
        from . import corpus

        if split == "train":
            n = CORPUS_TRAIN_CROPS if limit is None else min(limit, CORPUS_TRAIN_CROPS)
            return (
                corpus.training_crops(n, size, seed=0, balance="source").astype(
                    "float32"
                )
                / 255.0
            )
        x = corpus.test_images(256).astype("float32") / 255.0  # (19, 256, 256, 3)
        k = 256 // size
        tiles = (
            x.reshape(len(x), k, size, k, size, 3)
            .transpose(0, 1, 3, 2, 4, 5)
            .reshape(-1, size, size, 3)
        )
        return tiles if limit is None else tiles[:limit]

    return load


register_data(f"corpus_crops{PHOTO_CROP}", corpus_crop_data(PHOTO_CROP))
PHOTO_BATCH_SIZE = 16
PHOTO_STEPS = CORPUS_TRAIN_CROPS // PHOTO_BATCH_SIZE * CORPUS_EPOCHS  # 12,000


def corpus_recipe(name: str, build: Callable[[], keras.Model], description: str):
    """A photo tokenizer's recipe at the corpus budget that every such model shares (the
    same crops, batch, steps and learning rate; validated on the test source each epoch)."""
    return Recipe(
        name,
        build,
        description,
        data=f"corpus_crops{PHOTO_CROP}",
        epochs=CORPUS_EPOCHS,
        batch_size=PHOTO_BATCH_SIZE,
        learning_rate=cosine(VQ_LEARNING_RATE),
        validate=True,
    )


register(
    corpus_recipe(
        "photo_f4",
        lambda: PhotoVQVAE(512, 32, factor=4),
        "Photo VQ-VAE, f=4 (256x256 -> 64x64 tokens), 512 codes of size 32, two residual "
        "blocks each side; seeded random 64x64 crops of the corpus' 247 training photos "
        "(each source weighted equally) (chapter 11).",
    )
)
register(
    corpus_recipe(
        "photo_f8",
        lambda: PhotoVQVAE(512, 32, factor=8),
        "Photo VQ-VAE, f=8 like DALL·E's dVAE (256x256 -> 32x32 tokens), 512 codes of size 32; "
        "the same crops and steps as photo_f4 (chapter 11).",
    )
)

# The same f = 8 budget, trained the way DALL·E trained its dVAE (vqlab.models.dvae):
# Gumbel-softmax relaxed one-hots into the decoder, a KL term to the uniform prior, the
# temperature annealed from 1 to 1/16 over three quarters of the steps.
# ~ DALL·E's beta = 6.6 once its per-pixel sum is a per-pixel mean
DVAE_KL_WEIGHT = 5e-4
register(
    corpus_recipe(
        "photo_dvae_f8",
        lambda: PhotoDVAE(
            512,
            32,
            factor=8,
            kl_weight=DVAE_KL_WEIGHT,
            anneal_steps=PHOTO_STEPS * 3 // 4,
            kl_warmup_steps=PHOTO_STEPS // 6,
        ),
        "DALL·E-style discrete VAE, f=8, 512 codes of size 32, photo_f8's stacks: Gumbel-"
        "softmax relaxation, KL to the uniform prior (weight 5e-4, warmed up over the first "
        "sixth of the steps), temperature 1 -> 1/16 over three quarters of them; the same "
        "crops and steps as photo_f8 (chapter 11).",
    )
)
# Capacity at one patch size: photo_f8 with twice the channels and twice the residual blocks.
register(
    corpus_recipe(
        "photo_f8_large",
        lambda: PhotoVQVAE(512, 32, factor=8, channels=192, res_blocks=4),
        "Photo VQ-VAE, f=8, 512 codes of size 32, twice photo_f8's width (192 channels) and "
        "residual blocks (4 each side); the same crops and steps (chapter 11: does a bigger "
        "model resist edits better?).",
    )
)
register(
    Recipe(
        "photo_small",
        lambda: PhotoVQVAE(
            512, 32, factor=4, image_shape=(PHOTO_SMALL, PHOTO_SMALL, 3)
        ),
        "Photo VQ-VAE, f=4, on small images: random crops of the training photos shrunk to "
        "32x32 (8x8 tokens) (chapter 11).",
        data=f"photo_thumbnails{PHOTO_SMALL}",
        epochs=6,
        batch_size=32,
        learning_rate=cosine(VQ_LEARNING_RATE),
    )
)

# Stage two (chapter 8): a gated PixelCNN prior over vqvae_mnist's token grids, and the
# small classifier that scores its samples. The token data are encoded afresh on each run.
from . import prior as _prior  # noqa: E402
from .quality import DigitClassifier, labelled_mnist  # noqa: E402

PRIOR_LEARNING_RATE = 2e-3
register_data("vqvae_mnist_tokens", _prior.mnist_tokens)
register_data("mnist_labelled", labelled_mnist)
register(
    Recipe(
        "prior_vqvae_mnist",
        lambda: _prior.GatedPixelCNN(num_codes=64),
        "Gated PixelCNN prior (48 channels, 6 layers, vertical + horizontal stacks) over the 7x7 "
        "token grids of vqvae_mnist, conditioned on the digit label with label dropout 0.2 so it "
        "is also the unconditional prior (chapter 8).",
        data="vqvae_mnist_tokens",
        epochs=12,
        learning_rate=cosine(PRIOR_LEARNING_RATE),
    )
)

# Stage two for photos (chapter 11): a gated PixelCNN over photo_f8's 32x32 token grids of
# 256x256 crops of the training photos. Its code length on the test source is the rate an
# entropy coder built on it reaches (vqlab.rate).
PHOTO_PRIOR_GRIDS = 8_000  # 256x256 crops of the training photos: 8.2 million tokens
PHOTO_PRIOR_CHUNK = 400  # crops made and encoded at a time (a 256x256 crop is 0.8 MB)


def photo_tokens(vqvae: str = "photo_f8", grids: int = PHOTO_PRIOR_GRIDS):
    """``loader(split, limit)``: int32 token grids of ``vqvae`` on 256x256 training crops
    (``train``, seeded) or on the test source's photos (``test``), encoded on each call."""

    def load(split: str, limit: int | None = None):
        import numpy as np

        from . import corpus, pretrained

        model = pretrained.load(vqvae)
        if split != "train":
            x = corpus.test_images(256).astype("float32") / 255.0
            tokens = model.encode(x).astype(np.int32)
            return tokens if limit is None else tokens[:limit]
        n = grids if limit is None else min(limit, grids)
        out = []
        for start in range(0, n, PHOTO_PRIOR_CHUNK):
            k = min(PHOTO_PRIOR_CHUNK, n - start)
            crops = corpus.training_crops(k, 256, seed=1, start=start, balance="source")
            out.append(model.encode(crops.astype("float32") / 255.0).astype(np.int32))
        return np.concatenate(out)

    return load


register_data("photo_f8_tokens", photo_tokens("photo_f8"))
register(
    Recipe(
        "prior_photo_f8",
        lambda: _prior.GatedPixelCNN(
            num_codes=512,
            channels=64,
            num_layers=8,
            num_classes=1,
            label_dropout=0.0,
            image_shape=(32, 32, 1),
        ),
        "Gated PixelCNN prior (64 channels, 8 layers, unconditional) over photo_f8's 32x32 "
        "token grids of 8,000 seeded 256x256 crops of the corpus' training photos: the "
        "photo tokens' code length and the seams' repair (chapter 11).",
        data="photo_f8_tokens",
        epochs=6,
        batch_size=16,
        learning_rate=cosine(PRIOR_LEARNING_RATE),
    )
)
register(
    Recipe(
        "digit_classifier",
        lambda: DigitClassifier(),
        "Small CNN MNIST classifier whose penultimate features measure sample quality (chapter 8).",
        data="mnist_labelled",
        epochs=5,
        learning_rate=cosine(THESIS_LEARNING_RATE),
    )
)
