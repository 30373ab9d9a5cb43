"""The VQ-VAE (van den Oord et al. 2017; thesis section 3.4).

    x -> encoder -> z_e (h, w, code_dim) -> quantizer -> z_q -> decoder -> x_hat

Thesis model on MNIST: two stride-2 convolutions (32, 64 filters) and a 1x1 projection
to code_dim = 16, a codebook of 64 codes, mirrored decoder: a 28x28 image becomes a
7x7 grid of tokens. The loss is (eqs. 3.30-3.32)

    loss = mse(x, x_hat) + ||sg[z_e] - e||^2 + beta * ||z_e - sg[e]||^2

(the codebook term is left out when the quantizer moves its codes by EMA).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from ..quantizer import VectorQuantizer, codebook_perplexity
from . import blocks
from .base import LossTermsModel


class VQVAE(LossTermsModel):
    """VQ-VAE for images of ``image_shape``; ``len(filters)`` stride-2 stages on each side."""

    TERMS = ("loss", "reconstruction", "codebook_loss", "commitment_loss", "perplexity", "usage")

    def __init__(self, num_codes: int = 64, code_dim: int = 16, beta: float = 0.25,
                 filters=(32, 64), image_shape=blocks.IMAGE_SHAPE, ema_decay: float | None = None,
                 dead_code_threshold: float | None = None, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.num_codes, self.code_dim, self.beta = num_codes, code_dim, beta
        self.filters, self.image_shape = tuple(filters), tuple(image_shape)
        self.ema_decay, self.dead_code_threshold = ema_decay, dead_code_threshold
        factor = 2 ** len(self.filters)
        if image_shape[0] % factor or image_shape[1] % factor:
            raise ValueError(f"image sides {image_shape[:2]} must be divisible by {factor}")
        self.grid_shape = (image_shape[0] // factor, image_shape[1] // factor)
        self.encoder = keras.Sequential(
            [keras.Input(image_shape)]
            + [layers.Conv2D(f, 3, strides=2, padding="same", activation="relu") for f in self.filters]
            + [layers.Conv2D(code_dim, 1)], name="encoder")
        self.quantizer = VectorQuantizer(num_codes, code_dim, beta=beta, ema_decay=ema_decay,
                                         dead_code_threshold=dead_code_threshold, seed=seed,
                                         name="quantizer")
        self.decoder = keras.Sequential(
            [keras.Input(self.grid_shape + (code_dim,))]
            + [layers.Conv2DTranspose(f, 3, strides=2, padding="same", activation="relu")
               for f in reversed(self.filters)]
            + [layers.Conv2D(image_shape[-1], 3, padding="same")], name="decoder")
        self.quantizer.build((None,) + self.grid_shape + (code_dim,))

    def get_config(self):
        return {"num_codes": self.num_codes, "code_dim": self.code_dim, "beta": self.beta,
                "filters": self.filters, "image_shape": self.image_shape,
                "ema_decay": self.ema_decay, "dead_code_threshold": self.dead_code_threshold}

    @property
    def codebook(self) -> np.ndarray:
        return np.asarray(self.quantizer.codebook)

    def call(self, x, training=False):
        q = self.quantizer(self.encoder(x, training=training), training=training)
        return self.decoder(q["quantized"], training=training)

    def loss_terms(self, x, training=False):
        q = self.quantizer(self.encoder(x, training=training), training=training)
        x_hat = self.decoder(q["quantized"], training=training)
        rec = ops.mean(ops.square(x - x_hat))
        loss = rec + q["commitment_loss"]
        if self.ema_decay is None:
            loss = loss + q["codebook_loss"]
        return {"loss": loss, "reconstruction": rec, **{k: q[k] for k in
                ("codebook_loss", "commitment_loss", "perplexity", "usage")}}

    # What a chapter calls -------------------------------------------------------------
    def encode(self, x) -> np.ndarray:
        """Continuous encoder outputs z_e, shape (n, h, w, code_dim)."""
        x = blocks.check_images(x, self.image_shape)
        return blocks.batched(lambda b: self.encoder(b), x)

    def tokens_from_latents(self, z_e) -> np.ndarray:
        """Quantize continuous latents (n, h, w, code_dim) to int tokens (n, h, w)."""
        z_e = np.asarray(z_e, np.float32)
        if z_e.ndim != 4 or z_e.shape[-1] != self.code_dim:
            raise ValueError(f"expected latents of shape (n, h, w, {self.code_dim}), got {z_e.shape}")
        flat = z_e.reshape(-1, self.code_dim)
        idx = blocks.batched(lambda b: self.quantizer.nearest_codes(b), flat, 50000)
        return idx.reshape(z_e.shape[:-1]).astype(np.int64)

    def encode_tokens(self, x) -> np.ndarray:
        """Token grid of each image: int64 array (n, h, w) with values in [0, num_codes)."""
        return self.tokens_from_latents(self.encode(x))

    def check_tokens(self, tokens) -> np.ndarray:
        tokens = np.asarray(tokens)
        if tokens.ndim == 2:
            tokens = tokens[None]
        if tokens.ndim != 3 or tokens.shape[1:] != self.grid_shape:
            raise ValueError(f"expected token grids of shape (n, {self.grid_shape[0]}, "
                             f"{self.grid_shape[1]}), got {tokens.shape}")
        if not np.issubdtype(tokens.dtype, np.integer):
            raise ValueError(f"tokens must be integers, got dtype {tokens.dtype}")
        if tokens.size and (tokens.min() < 0 or tokens.max() >= self.num_codes):
            raise ValueError(f"tokens must lie in [0, {self.num_codes}), "
                             f"got values in [{tokens.min()}, {tokens.max()}]")
        return tokens

    def decode_tokens(self, tokens) -> np.ndarray:
        """Images for token grids (n, h, w): look the codes up and decode; pixels clipped to [0, 1]."""
        tokens = self.check_tokens(tokens)
        z_q = self.codebook[tokens]
        return self.decode_latents(z_q)

    def decode_latents(self, z) -> np.ndarray:
        """Decode (n, h, w, code_dim) latents to images in [0, 1]."""
        z = np.asarray(z, np.float32)
        if z.ndim != 4 or z.shape[1:] != self.grid_shape + (self.code_dim,):
            raise ValueError(f"expected latents of shape (n, {self.grid_shape[0]}, "
                             f"{self.grid_shape[1]}, {self.code_dim}), got {z.shape}")
        out = blocks.batched(lambda b: self.decoder(b), z)
        return np.clip(out, 0.0, 1.0)

    def reconstruct(self, x) -> np.ndarray:
        return self.decode_tokens(self.encode_tokens(x))

    def measure(self, x) -> dict:
        """On images ``x``: MSE of the reconstruction through the tokens (pixels in [0, 1]),
        the fraction of codes used at least once, the perplexity of the code histogram,
        and that histogram (``counts``: how many tokens of ``x`` each code is)."""
        x = blocks.check_images(x, self.image_shape)
        tokens = self.encode_tokens(x)
        perplexity, usage = codebook_perplexity(tokens, self.num_codes)
        mse = float(np.mean(np.square(x - self.decode_tokens(tokens))))
        counts = np.bincount(tokens.ravel(), minlength=self.num_codes)
        return {"mse": mse, "codes_used": usage, "perplexity": perplexity, "counts": counts}
