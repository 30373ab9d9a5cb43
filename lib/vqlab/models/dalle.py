"""DALL·E's discrete VAE (Ramesh et al. 2021) as a Keras 3 model, equal to OpenAI's reference.

    encoder: x (n, 256, 256, 3) in [0, 1] -> map_pixels -> 7x7 conv (n_hid)
             -> 4 groups of ``n_blk_per_group`` residual blocks, a 2x2 max-pool after the
                first three (widths n_hid, 2 n_hid, 4 n_hid, 8 n_hid)
             -> ReLU -> 1x1 conv -> logits (n, 32, 32, vocab_size)
    tokens:  argmax over the 8192 logits (the dVAE has no codebook search)
    decoder: one-hot tokens (n, 32, 32, vocab_size) -> 1x1 conv (n_init)
             -> 4 groups of residual blocks, nearest 2x upsampling after the first three
                (widths 8 n_hid, 4 n_hid, 2 n_hid, n_hid) -> ReLU -> 1x1 conv (2 * 3 channels)
             -> sigmoid of the first 3 channels -> unmap_pixels -> image in [0, 1]

The model only; converting OpenAI's released weights (torch needed) is ``vqlab.dalle``.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from .. import checks
from .base import LossTermsModel, batched
from .vqvae import VQVAE

LOGIT_LAPLACE_EPS = 0.1  # dall_e.utils.logit_laplace_eps
GROUP_COUNT = 4
DVAE_SHAPE = (256, 256, 3)
DVAE_BATCH = (
    4  # photos per forward pass: the 256x256 activations have 256-2048 channels
)
ENCODER_KERNELS = (3, 3, 3, 1)
DECODER_KERNELS = (1, 3, 3, 3)


def map_pixels(x):
    """[0, 1] -> [ε, 1 - ε] (dall_e.utils.map_pixels): what the encoder reads."""
    return (1 - 2 * LOGIT_LAPLACE_EPS) * x + LOGIT_LAPLACE_EPS


def unmap_pixels(x):
    """[ε, 1 - ε] -> [0, 1], clipped (dall_e.utils.unmap_pixels): what the decoder's mean becomes."""
    return ops.clip((x - LOGIT_LAPLACE_EPS) / (1 - 2 * LOGIT_LAPLACE_EPS), 0.0, 1.0)


@keras.saving.register_keras_serializable(package="vqlab")
class DalleBlock(layers.Layer):
    """id_path(x) + post_gain * res_path(x); ``kernels`` are res_path's four kernel sizes."""

    def __init__(self, n_in: int, n_out: int, n_layers: int, kernels, **kwargs):
        super().__init__(**kwargs)
        if n_out % 4:
            raise ValueError(
                f"a dVAE block's width should be divisible by 4, got {n_out}"
            )
        self.n_in, self.n_out, self.post_gain = n_in, n_out, 1.0 / n_layers**2
        n_hid = n_out // 4
        self.id_path = (
            layers.Conv2D(n_out, 1, name="id_path") if n_in != n_out else None
        )
        self.res_path = [
            layers.Conv2D(
                n_hid if i < 3 else n_out, k, padding="same", name=f"conv_{i + 1}"
            )
            for i, k in enumerate(kernels)
        ]

    def build(self, input_shape):
        if self.id_path is not None:
            self.id_path.build(input_shape)
        shape = tuple(input_shape)
        for conv in self.res_path:
            conv.build(shape)
            shape = shape[:-1] + (conv.filters,)

    def call(self, x):
        h = x
        for conv in self.res_path:
            h = conv(ops.relu(h))
        return (x if self.id_path is None else self.id_path(x)) + self.post_gain * h

    def torch_convs(self, prefix: str):
        """(name in the reference's state_dict, Keras convolution) for each convolution."""
        if self.id_path is not None:
            yield f"{prefix}.id_path", self.id_path
        for i, conv in enumerate(self.res_path):
            yield f"{prefix}.res_path.conv_{i + 1}", conv


def _group_widths(n_hid: int, decoder: bool) -> list[int]:
    widths = [
        n_hid * 2**g for g in range(GROUP_COUNT)
    ]  # n_hid, 2 n_hid, 4 n_hid, 8 n_hid
    return widths[::-1] if decoder else widths


@keras.saving.register_keras_serializable(package="vqlab")
class DalleEncoder(keras.Model):
    """Mapped pixels (n, H, W, channels) -> logits (n, H/8, W/8, vocab_size)."""

    def __init__(
        self,
        n_hid: int = 256,
        n_blk_per_group: int = 2,
        vocab_size: int = 8192,
        input_channels: int = 3,
        **kwargs,
    ):
        super().__init__(**kwargs)
        n_layers = GROUP_COUNT * n_blk_per_group
        self.n_blk_per_group = n_blk_per_group
        self.input_conv = layers.Conv2D(n_hid, 7, padding="same", name="input")
        self.blocks, n_in = (
            [],
            n_hid,
        )  # group-major: blocks[g * n_blk + i] is group g+1's block i+1
        for g, width in enumerate(_group_widths(n_hid, decoder=False)):
            for i in range(n_blk_per_group):
                self.blocks.append(
                    DalleBlock(
                        n_in,
                        width,
                        n_layers,
                        ENCODER_KERNELS,
                        name=f"group_{g + 1}_block_{i + 1}",
                    )
                )
                n_in = width
        self.output_conv = layers.Conv2D(vocab_size, 1, name="output")

    def call(self, x):
        h = self.input_conv(x)
        for g in range(GROUP_COUNT):
            for block in self.blocks[
                g * self.n_blk_per_group : (g + 1) * self.n_blk_per_group
            ]:
                h = block(h)
            if g < GROUP_COUNT - 1:
                h = ops.max_pool(h, 2, 2)  # (n, H, W, c) -> (n, H/2, W/2, c)
        return self.output_conv(ops.relu(h))

    def torch_convs(self):
        yield "blocks.input", self.input_conv
        for j, block in enumerate(self.blocks):
            g, i = divmod(j, self.n_blk_per_group)
            yield from block.torch_convs(f"blocks.group_{g + 1}.block_{i + 1}")
        yield "blocks.output.conv", self.output_conv


@keras.saving.register_keras_serializable(package="vqlab")
class DalleDecoder(keras.Model):
    """One-hot (or relaxed) tokens (n, h, w, vocab_size) -> statistics (n, 8h, 8w, 2 * channels)."""

    def __init__(
        self,
        n_init: int = 128,
        n_hid: int = 256,
        n_blk_per_group: int = 2,
        output_channels: int = 3,
        vocab_size: int = 8192,
        **kwargs,
    ):
        super().__init__(**kwargs)
        n_layers = GROUP_COUNT * n_blk_per_group
        self.n_blk_per_group, self.vocab_size = n_blk_per_group, vocab_size
        self.input_conv = layers.Conv2D(n_init, 1, name="input")
        self.input_conv.build(
            (None, None, None, vocab_size)
        )  # from_tokens reads its kernel first
        self.blocks, n_in = [], n_init
        for g, width in enumerate(_group_widths(n_hid, decoder=True)):
            for i in range(n_blk_per_group):
                self.blocks.append(
                    DalleBlock(
                        n_in,
                        width,
                        n_layers,
                        DECODER_KERNELS,
                        name=f"group_{g + 1}_block_{i + 1}",
                    )
                )
                n_in = width
        self.output_conv = layers.Conv2D(2 * output_channels, 1, name="output")

    def body(self, h):
        """Everything after the first 1x1 convolution."""
        for g in range(GROUP_COUNT):
            for block in self.blocks[
                g * self.n_blk_per_group : (g + 1) * self.n_blk_per_group
            ]:
                h = block(h)
            if g < GROUP_COUNT - 1:
                h = ops.repeat(
                    ops.repeat(h, 2, axis=1), 2, axis=2
                )  # nearest 2x upsampling
        return self.output_conv(ops.relu(h))

    def call(self, z):
        return self.body(self.input_conv(z))

    def from_tokens(self, tokens):
        """``call(one_hot(tokens))`` without the one-hot: a 1x1 convolution of a one-hot
        vector is a row of its kernel, so look the rows up (n, h, w) -> (n, h, w, n_init)."""
        rows = ops.take(self.input_conv.kernel[0, 0], ops.cast(tokens, "int32"), axis=0)
        return self.body(rows + self.input_conv.bias)

    torch_convs = (
        DalleEncoder.torch_convs
    )  # the reference names both halves' convolutions alike


@keras.saving.register_keras_serializable(package="vqlab")
class DalleDVAE(LossTermsModel):
    """DALL·E's dVAE with the book's model surface: ``encode(x)`` -> token grids (n, H/8, W/8)
    (argmax of ``logits(x)``), ``decode(tokens)`` -> images in [0, 1]. Inference only: the
    dVAE was trained with a Gumbel-softmax relaxation that this port does not reproduce.
    The released model is the default config (n_hid 256, 2 blocks per group, 8192 codes)."""

    def __init__(
        self,
        n_hid: int = 256,
        n_blk_per_group: int = 2,
        vocab_size: int = 8192,
        n_init: int = 128,
        image_shape=DVAE_SHAPE,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(image_shape=image_shape, seed=seed, **kwargs)
        self.n_hid = checks.positive_int("n_hid", n_hid)
        self.n_blk_per_group = checks.positive_int("n_blk_per_group", n_blk_per_group)
        self.num_codes = checks.positive_int("vocab_size", vocab_size)
        self.n_init = checks.positive_int("n_init", n_init)
        h, w, c = self.image_shape
        if h % 8 or w % 8:
            raise ValueError(
                f"the dVAE downsamples by 8: image sides {(h, w)} must be divisible by 8"
            )
        self.grid_shape = (h // 8, w // 8)
        self.encoder = DalleEncoder(
            n_hid, n_blk_per_group, vocab_size, c, name="encoder"
        )
        self.decoder = DalleDecoder(
            n_init, n_hid, n_blk_per_group, c, vocab_size, name="decoder"
        )

    def get_config(self):
        return {
            **super().get_config(),
            "n_hid": self.n_hid,
            "n_blk_per_group": self.n_blk_per_group,
            "vocab_size": self.num_codes,
            "n_init": self.n_init,
        }

    def build(self, input_shape=None):
        self.built = (
            True  # the encoder and decoder create their weights on their first call
        )

    def build_all(self):
        """Create every weight (encoder and decoder) on a small zero image (weights do not depend on its size)."""
        self(np.zeros((1, 8, 8, self.image_shape[-1]), np.float32))
        return self

    def call(self, x):
        """Reconstruction through argmax tokens: images (n, H, W, C) in [0, 1]."""
        return self.images_from_tokens(self.tokens_of(x))

    # Graph pieces (tensors in and out) ------------------------------------------------
    def logits_of(self, x):
        return self.encoder(map_pixels(x))

    def tokens_of(self, x):
        return ops.argmax(self.logits_of(x), axis=-1)

    def images_from_stats(self, stats):
        """The decoder's mean: unmap_pixels(sigmoid(first C channels)) (the rest are scales)."""
        return unmap_pixels(ops.sigmoid(stats[..., : self.image_shape[-1]]))

    def images_from_tokens(self, tokens):
        return self.images_from_stats(self.decoder.from_tokens(tokens))

    def images_from_one_hot(self, z):
        return self.images_from_stats(self.decoder(z))

    # The surface a chapter calls (NumPy) -----------------------------------------------
    def logits(self, x) -> np.ndarray:
        """The encoder's logits over the codes, (n, H/8, W/8, vocab_size)."""
        return batched(self.graph_call("logits_of"), self.check_images(x), DVAE_BATCH)

    def encode(self, x) -> np.ndarray:
        """Token grids (n, H/8, W/8): the argmax of the logits, int64."""
        return batched(
            self.graph_call("tokens_of"), self.check_images(x), DVAE_BATCH
        ).astype(np.int64)

    check_tokens = (
        VQVAE.check_tokens
    )  # the same grids, the same errors as the MNIST VQ-VAE's decode

    def decode(self, tokens) -> np.ndarray:
        """Images (n, H, W, C) in [0, 1] of token grids (n, H/8, W/8)."""
        return batched(
            self.graph_call("images_from_tokens"),
            self.check_tokens(tokens).astype(np.int32),
            DVAE_BATCH,
        )

    def decode_one_hot(self, z) -> np.ndarray:
        """Images of one-hot (or relaxed, e.g. Gumbel-softmax) token vectors (n, h, w, vocab_size)."""
        z = checks.latents(z, self.grid_shape + (self.num_codes,))
        return batched(self.graph_call("images_from_one_hot"), z, DVAE_BATCH)

    def torch_convs(self):
        """(part, name in the reference's state_dict, Keras convolution), part "encoder" or "decoder"."""
        for part, net in (("encoder", self.encoder), ("decoder", self.decoder)):
            for name, conv in net.torch_convs():
                yield part, name, conv


def parameter_count(
    n_hid: int = 256,
    n_blk_per_group: int = 2,
    vocab_size: int = 8192,
    n_init: int = 128,
    channels: int = 3,
) -> int:
    """Weights of a ``DalleDVAE`` of this config, counted without building it (the released
    config's 98 M parameters take a while to initialise)."""

    def conv(n_in, n_out, k):
        return n_in * n_out * k * k + n_out

    def blocks(n_in, widths, kernels):
        total = 0
        for width in widths:
            for _ in range(n_blk_per_group):
                h = width // 4
                total += (conv(n_in, width, 1) if n_in != width else 0) + sum(
                    conv(a, b, k)
                    for a, b, k in zip((n_in, h, h, h), (h, h, h, width), kernels)
                )
                n_in = width
        return total

    encoder = (
        conv(channels, n_hid, 7)
        + blocks(n_hid, _group_widths(n_hid, False), ENCODER_KERNELS)
        + conv(8 * n_hid, vocab_size, 1)
    )
    decoder = (
        conv(vocab_size, n_init, 1)
        + blocks(n_init, _group_widths(n_hid, True), DECODER_KERNELS)
        + conv(n_hid, 2 * channels, 1)
    )
    return encoder + decoder
