"""The VQ-VAE (van den Oord et al. 2017; thesis section 3.4).

    x -> encoder -> z_e (h, w, code_dim) -> quantizer -> z_q -> decoder -> x_hat

On MNIST the thesis fixes code_dim = 16 and 64 codes; the book's encoder has two
stride-2 convolutions (32, 64 filters) and a 1x1 projection to code_dim, and the
decoder mirrors it, so a 28x28 image becomes a 7x7 grid of tokens. The loss is the
thesis' eq. 3.32, with the mean squared error as the reconstruction term (3.29):

    loss = mse(x, x_hat) + ||sg[z_e] - e||^2 + beta * ||z_e - sg[e]||^2

where the quantizer's ``loss`` already leaves out the codebook term when the codes
move by EMA. The decoder's last layer is linear (as in the thesis, trained with MSE);
``decode`` and ``model(x)`` clip its output to [0, 1] like the other families' sigmoid.

vqlab's training recipe is the model's default, so ``VQVAE(64, 16).fit(...)`` gets it:
``codebook_init="data"`` starts the codebook by k-means++ on the encoder outputs of the
first training batch (random codes far from the data are never chosen and never
move), and ``dead_code_threshold`` restarts codes that fall out of use. The third part of
the recipe, a cosine learning rate from 2e-3, is an optimizer choice:
``model.compile(keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(2e-3, steps)))``.
``codebook_init="random", dead_code_threshold=None`` is the paper's plain VQ-VAE.

Composition: a VQ-VAE is an encoder stack, a quantizer and a decoder stack. By default
the stacks are the MNIST ones above (``filters``); pass ``encoder``, ``decoder`` and
``grid_shape`` to build the same model around other stacks (``PhotoVQVAE`` does, with
photo stacks). The quantizer is ``VectorQuantizer`` or, with ``ema_decay``,
``VectorQuantizerEMA`` (``vqlab.quantizer.make_quantizer``).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .. import checks, losses
from ..quantizer import codebook_perplexity, make_quantizer
from . import blocks
from .base import LossTermsModel, batched, mean_mse

DEAD_CODE_THRESHOLD = (
    1.0  # a code that gets < 1 vector per batch (moving count) restarts
)
CODEBOOK_INITS = ("data", "random")
NEAREST_CODE_CHUNK = (
    50_000  # latent vectors per nearest-code search: (chunk, K) distances in memory
)


@keras.saving.register_keras_serializable(package="vqlab")
class VQVAE(LossTermsModel):
    """VQ-VAE for images of ``image_shape``: ``encoder`` -> quantizer -> ``decoder``.

    Default stacks: ``len(filters)`` stride-2 stages on each side (the MNIST model).
    ``encode(x)`` gives token grids (n, h, w) of ints in [0, num_codes), ``decode(tokens)``
    images; ``encode_latents``, ``quantize_latents`` and ``decode_latents`` are the steps between.
    """

    TERMS = (
        "loss",
        "reconstruction",
        "codebook_loss",
        "commitment_loss",
        "perplexity",
        "usage",
    )

    def __init__(
        self,
        num_codes: int = 64,
        code_dim: int = 16,
        beta: float = 0.25,
        filters=(32, 64),
        image_shape=blocks.IMAGE_SHAPE,
        ema_decay: float | None = None,
        dead_code_threshold: float | None = DEAD_CODE_THRESHOLD,
        codebook_init: str = "data",
        seed: int = 0,
        encoder=None,
        decoder=None,
        grid_shape=None,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, seed=seed, **kwargs)
        if codebook_init not in CODEBOOK_INITS:
            raise ValueError(
                f"codebook_init should be one of {CODEBOOK_INITS}, got {codebook_init!r}"
            )
        quantizer = make_quantizer(
            num_codes,
            code_dim,
            beta=beta,
            ema_decay=ema_decay,
            dead_code_threshold=dead_code_threshold,
            seed=self.seed,
        )
        self.num_codes, self.code_dim, self.beta = (
            quantizer.num_codes,
            quantizer.code_dim,
            quantizer.beta,
        )
        self.ema_decay, self.dead_code_threshold = ema_decay, dead_code_threshold
        self.codebook_init = codebook_init
        self.codebook_started = (
            codebook_init == "random"
        )  # "data": the first fit starts it
        self.custom_stacks = encoder is not None or decoder is not None
        if self.custom_stacks:
            if encoder is None or decoder is None or grid_shape is None:
                raise ValueError(
                    "pass encoder, decoder and grid_shape together (or none of them "
                    "for the default stacks of `filters`)"
                )
            self.filters = None
            self.grid_shape = tuple(int(s) for s in grid_shape)
        else:
            self.filters = blocks.check_filters(filters)
            self.grid_shape = blocks.check_conv_shape(
                self.image_shape, len(self.filters)
            )
            encoder = blocks.vq_encoder(self.filters, self.code_dim, self.image_shape)
            decoder = blocks.vq_decoder(
                self.filters, self.code_dim, self.image_shape, self.grid_shape
            )
        # encoder -> quantizer -> decoder: the order of model.weights (and of the old files)
        self.encoder = encoder
        self.quantizer = quantizer
        self.quantizer.build((None, None, None, self.code_dim))
        self.decoder = decoder

    def get_config(self):
        config = {
            **super().get_config(),
            "num_codes": self.num_codes,
            "code_dim": self.code_dim,
            "beta": self.beta,
            "ema_decay": self.ema_decay,
            "dead_code_threshold": self.dead_code_threshold,
            "codebook_init": self.codebook_init,
        }
        if not self.custom_stacks:
            return {**config, "filters": self.filters}
        return {
            **config,
            "grid_shape": self.grid_shape,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "decoder": keras.saving.serialize_keras_object(self.decoder),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for part in ("encoder", "decoder"):
            if isinstance(config.get(part), dict):
                config[part] = keras.saving.deserialize_keras_object(config[part])
        return cls(**config)

    @property
    def codebook(self) -> np.ndarray:
        """The K code vectors, shape (num_codes, code_dim)."""
        return keras.ops.convert_to_numpy(self.quantizer.codebook)

    def call(self, x, training=False):
        q = self.quantizer(self.encoder(x, training=training), training=training)
        return ops.clip(self.decoder(q["quantized"], training=training), 0.0, 1.0)

    def loss_terms(self, x, training=False):
        q = self.quantizer(self.encoder(x, training=training), training=training)
        x_hat = self.decoder(q["quantized"], training=training)
        rec = ops.mean(losses.mean_squared_error(x, x_hat))
        return {
            "loss": rec + q["loss"],
            "reconstruction": rec,
            **{
                k: q[k]
                for k in ("codebook_loss", "commitment_loss", "perplexity", "usage")
            },
        }

    # Training: the data-dependent codebook start -----------------------------------
    def start_codebook(self, x, seed: int | None = None):
        """Start the codebook by k-means++ on the encoder outputs of images ``x``."""
        self.quantizer.initialize_from(
            self.encode_latents(x), seed=self.seed if seed is None else seed
        )
        self.codebook_started = True

    def fit(self, x=None, *args, **kwargs):
        """Keras' ``fit``; with ``codebook_init="data"`` the first call starts the codebook
        on the first training batch (``x[:batch_size]``, or the first batch of a dataset)."""
        if not self.codebook_started:
            if isinstance(x, np.ndarray):
                first = x[: kwargs.get("batch_size") or 32]
            elif isinstance(x, keras.utils.PyDataset):
                first = x[0]
            else:
                first = next(iter(x))
                first = first[0] if isinstance(first, tuple) else first
            self.start_codebook(np.asarray(first))
        return super().fit(x, *args, **kwargs)

    def set_weights(self, weights):
        super().set_weights(weights)
        self.codebook_started = (
            True  # trained or restored weights: never restart from data
        )

    # The surface a chapter calls -----------------------------------------------------
    def encode_latents(self, x) -> np.ndarray:
        """Continuous encoder outputs z_e, shape (n, h, w, code_dim)."""
        return batched(self.graph_call("encoder"), self.check_images(x))

    def quantize_latents(self, z_e) -> np.ndarray:
        """Token grids (n, h, w): the index of the nearest code of each vector of ``z_e``."""
        z_e = checks.latents(z_e, self.grid_shape + (self.code_dim,))
        flat = z_e.reshape(-1, self.code_dim)  # (n*h*w, D)
        idx = batched(self.quantizer.nearest_codes, flat, NEAREST_CODE_CHUNK)
        return idx.reshape(z_e.shape[:-1]).astype(np.int64)

    def encode(self, x) -> np.ndarray:
        """Token grid of each image: int64 array (n, h, w) with values in [0, num_codes)."""
        return self.quantize_latents(self.encode_latents(x))

    def check_tokens(self, tokens) -> np.ndarray:
        """``tokens`` as (n, h, w) integers in [0, num_codes); one (h, w) grid is accepted."""
        tokens = np.asarray(tokens)
        if tokens.ndim == 2:
            tokens = tokens[None]
        if tokens.ndim != 3 or tokens.shape[1:] != self.grid_shape:
            raise ValueError(
                f"expected token grids of shape (n, {self.grid_shape[0]}, "
                f"{self.grid_shape[1]}), got {tokens.shape}"
            )
        if not np.issubdtype(tokens.dtype, np.integer):
            raise ValueError(f"tokens must be integers, got dtype {tokens.dtype}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.num_codes):
            raise ValueError(
                f"tokens must lie in [0, {self.num_codes}), "
                f"got values in [{tokens.min()}, {tokens.max()}]"
            )
        return tokens

    def decode(self, tokens) -> np.ndarray:
        """Images (n,) + image_shape in [0, 1] for token grids (n, h, w): look the codes up, decode."""
        return self.decode_latents(self.codebook[self.check_tokens(tokens)])

    def decode_latents(self, z) -> np.ndarray:
        """Images in [0, 1] for latents (n, h, w, code_dim), quantized or not."""
        z = checks.latents(z, self.grid_shape + (self.code_dim,))
        return np.clip(batched(self.graph_call("decoder"), z), 0.0, 1.0)

    def measure(self, x) -> dict:
        """On images ``x``: ``mse`` of the reconstruction through the tokens, ``usage`` (the
        fraction of codes used at least once), ``perplexity`` of the code histogram, and
        ``counts``, that histogram (how many tokens of ``x`` each code is)."""
        x = self.check_images(x)
        tokens = self.encode(x)
        perplexity, usage = (
            codebook_perplexity(tokens, self.num_codes)
            if len(x)
            else (float("nan"), 0.0)
        )
        return {
            "mse": mean_mse(x, self.decode(tokens)),
            "usage": usage,
            "perplexity": perplexity,
            "counts": np.bincount(tokens.ravel(), minlength=self.num_codes),
        }
