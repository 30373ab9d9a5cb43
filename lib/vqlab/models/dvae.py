"""A photo tokenizer trained the way DALL·E trained its dVAE: Gumbel-softmax, not VQ (chapter 11).

    x -> encoder -> logits (H/f, W/f, K) -> y = softmax((logits + g) / tau) -> y @ E -> decoder

The encoder (the same photo stack as ``PhotoVQVAE``) ends in K logits per position
instead of a ``code_dim`` vector. Training never picks a code: it draws Gumbel noise g,
relaxes the one-hot sample into ``y`` (a point of the simplex, near a corner when the
temperature ``tau`` is small), and feeds the decoder the mixture ``y @ E`` of the K code
vectors ``E`` (a learned embedding, here the quantizer's codebook). The loss is the
negative ELBO with a uniform prior over the codes (Ramesh et al. 2021, section 2.1):

    loss = mse(x, x_hat) + kl_weight * mean over tokens of KL(q(k | x) || uniform(K))
    KL(q || uniform) = sum_k q_k log(K q_k) = log K - H(q),  q = softmax(logits)

``tau`` anneals from ``tau_start`` to ``tau_end`` (exponentially, over ``anneal_steps``
optimizer steps, then stays) and ``kl_weight`` rises linearly from 0 over
``kl_warmup_steps``, as DALL·E's schedules do, on a budget a laptop affords. Once
trained, the model is used like a VQ-VAE: ``encode`` takes the argmax token of each
position, ``decode`` looks the tokens up in ``E`` and decodes, so the token tools,
``measure_edits`` and the widgets work on its grids unchanged. What differs is only how
it was trained, which is what chapter 11 compares.

Reconstruction is measured as MSE (as for the book's VQ-VAEs) where DALL·E used its
logit-Laplace likelihood: the comparison with ``photo_f8`` keeps everything but the
training method the same.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops

from .. import checks, losses
from ..distribute import draw_for_batch, sum_over_replicas
from ..quantizer import perplexity_from_counts
from .base import batched
from .photo import PHOTO_BATCH, PHOTO_SHAPE, PhotoVQVAE

LOG_FLOOR = 1e-12


@keras.saving.register_keras_serializable(package="vqlab")
class PhotoDVAE(PhotoVQVAE):
    """DALL·E-style discrete VAE for photos: ``PhotoVQVAE``'s stacks, trained through a
    Gumbel-softmax relaxation with a KL term to the uniform prior over ``num_codes`` codes."""

    TERMS = ("loss", "reconstruction", "kl", "temperature", "perplexity", "usage")

    def __init__(
        self,
        num_codes: int = 512,
        code_dim: int = 32,
        factor: int = 8,
        channels: int = 96,
        res_blocks: int = 2,
        kl_weight: float = 1e-4,
        tau_start: float = 1.0,
        tau_end: float = 1.0 / 16,
        anneal_steps: int = 10_000,
        kl_warmup_steps: int = 2_000,
        image_shape=PHOTO_SHAPE,
        seed: int = 0,
        **kwargs,
    ):
        for key in ("ema_decay", "dead_code_threshold", "codebook_init", "beta"):
            kwargs.pop(
                key, None
            )  # a VQ setting: the config of the parent class has them
        self.kl_weight = checks.number_at_least("kl_weight", kl_weight, 0.0)
        self.tau_start = checks.number_at_least("tau_start", tau_start, 1e-6)
        self.tau_end = checks.number_at_least("tau_end", tau_end, 1e-6)
        self.anneal_steps = checks.positive_int("anneal_steps", anneal_steps)
        if not checks.is_int(kl_warmup_steps) or kl_warmup_steps < 0:
            raise ValueError(
                f"kl_warmup_steps should be an integer >= 0, got {kl_warmup_steps!r}"
            )
        self.kl_warmup_steps = int(kl_warmup_steps)
        super().__init__(
            num_codes,
            code_dim,
            factor=factor,
            channels=channels,
            res_blocks=res_blocks,
            image_shape=image_shape,
            ema_decay=None,
            dead_code_threshold=None,
            codebook_init="random",
            seed=seed,
            **kwargs,
        )
        self.noise = keras.random.SeedGenerator(self.seed + 1)
        # The code vectors are the decoder's input embedding: unit scale, as a 1x1
        # convolution on the one-hot would start (the VQ codebook starts near 0 instead).
        rng = np.random.default_rng([self.seed, 1])
        self.quantizer.codebook.assign(
            rng.standard_normal((self.num_codes, self.code_dim)).astype("float32")
        )

    @staticmethod
    def encoder_width(num_codes: int, code_dim: int) -> int:
        """The encoder ends in one logit per code."""
        return checks.positive_int("num_codes", num_codes)

    def get_config(self):
        config = super().get_config()
        for key in ("ema_decay", "dead_code_threshold", "codebook_init", "beta"):
            config.pop(key, None)
        return {
            **config,
            "kl_weight": self.kl_weight,
            "tau_start": self.tau_start,
            "tau_end": self.tau_end,
            "anneal_steps": self.anneal_steps,
            "kl_warmup_steps": self.kl_warmup_steps,
        }

    # Schedules of the optimizer step -------------------------------------------------
    def temperature_at(self, step):
        """tau after ``step`` optimizer steps: tau_start * (tau_end / tau_start) ** (step / anneal_steps),
        held at tau_end afterwards."""
        t = ops.minimum(ops.cast(step, "float32") / float(self.anneal_steps), 1.0)
        return self.tau_start * ops.exp(t * math.log(self.tau_end / self.tau_start))

    def kl_weight_at(self, step):
        if self.kl_warmup_steps == 0:
            return ops.convert_to_tensor(self.kl_weight, "float32")
        ramp = ops.minimum(ops.cast(step, "float32") / float(self.kl_warmup_steps), 1.0)
        return self.kl_weight * ramp

    def _step(self):
        opt = getattr(self, "optimizer", None)
        return opt.iterations if opt is not None and opt.built else 0

    # Training ------------------------------------------------------------------------
    def call(self, x, training=False):
        logits = self.encoder(x, training=training)
        hard = ops.one_hot(ops.argmax(logits, axis=-1), self.num_codes)
        return ops.clip(
            self.decoder(ops.matmul(hard, self.quantizer.codebook)), 0.0, 1.0
        )

    def loss_terms(self, x, training=False):
        logits = self.encoder(x, training=training)  # (n, h, w, K)
        step = self._step()
        log_q = ops.log_softmax(logits, axis=-1)
        q = ops.exp(log_q)
        kl = ops.mean(ops.sum(q * log_q, axis=-1)) + math.log(self.num_codes)
        hard = ops.one_hot(ops.argmax(logits, axis=-1), self.num_codes)
        if training:
            tau = self.temperature_at(step)
            u = draw_for_batch(  # the global batch's noise, split over devices
                lambda shape: keras.random.uniform(
                    shape, 1e-6, 1.0 - 1e-6, seed=self.noise
                ),
                ops.shape(logits),
            )
            gumbel = -ops.log(-ops.log(u))
            y = ops.softmax((logits + gumbel) / tau, axis=-1)
            weight = self.kl_weight_at(step)
        else:  # evaluation measures the model as it is used: argmax tokens
            tau, y, weight = ops.convert_to_tensor(0.0), hard, self.kl_weight
        x_hat = self.decoder(ops.matmul(y, self.quantizer.codebook), training=training)
        rec = ops.mean(losses.mean_squared_error(x, x_hat))
        # (K,) token histogram of the batch (of the global batch, split over devices)
        counts = sum_over_replicas(ops.sum(ops.reshape(hard, (-1, self.num_codes)), 0))
        return {
            "loss": rec + weight * kl,
            "reconstruction": rec,
            "kl": kl,
            "temperature": tau,
            "perplexity": perplexity_from_counts(counts),
            "usage": ops.mean(ops.cast(counts > 0, "float32")),
        }

    def start_codebook(self, x, seed: int | None = None):
        """No data-dependent start: the code vectors are an embedding trained by gradient."""
        self.codebook_started = True

    # The surface a chapter calls -----------------------------------------------------
    def encode_logits(self, x) -> np.ndarray:
        """The encoder's logits over the codes, (n, H/f, W/f, num_codes)."""
        return batched(self.graph_call("encoder"), self.check_images(x), PHOTO_BATCH)

    def encode_latents(self, x) -> np.ndarray:
        """The code vector of each position's argmax token, (n, H/f, W/f, code_dim): the
        latent the decoder sees at use (a dVAE has no continuous z_e to quantize)."""
        return self.codebook[self.encode(x)]

    def encode(self, x) -> np.ndarray:
        """Token grid of each image: the argmax code of each position, int64 (n, h, w)."""
        return np.argmax(self.encode_logits(x), axis=-1).astype(np.int64)
