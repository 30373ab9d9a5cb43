"""A VQ-VAE for RGB photos: strided convolutions and residual blocks (chapter 11).

    x (H, W, 3) -> encoder -> z_e (H/f, W/f, code_dim) -> quantizer -> z_q -> decoder -> x_hat

The MNIST VQ-VAE's two plain convolutions are too weak for photos. This one follows the
VQ-VAE paper's image model (van den Oord et al. 2017, section 4.1): ``log2(f)`` stride-2
4x4 convolutions down, ``res_blocks`` residual blocks (ReLU, 3x3 conv, ReLU, 1x1 conv,
added to the input), a 1x1 projection to ``code_dim``; the decoder mirrors it with 4x4
transposed convolutions. With f = 4 a 256x256 photo is a 64x64 grid of tokens, with
f = 8 (DALL·E's dVAE's factor) a 32x32 grid.

Every layer is convolutional, so the model trains on small random crops and encodes
whole photos of ``image_shape``. It *is* a ``VQVAE`` built from photo stacks
(``photo_encoder``, ``photo_decoder``): the same quantizer, loss, codebook start,
``encode -> tokens`` and ``decode(tokens)``, so ``vqlab.tokens`` and chapter 10's
``measure_edits`` work on its grids unchanged. Only the stacks differ.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers

from .. import checks
from .base import batched
from .vqvae import DEAD_CODE_THRESHOLD, VQVAE

PHOTO_SHAPE = (256, 256, 3)
PHOTO_BATCH = 8  # photos per forward pass in encode/decode: a 256x256 photo's activations are large


def relu(x):
    """max(x, 0). Written as a maximum, not tf.nn.relu: TensorFlow's graph optimizer tries to
    fuse convolution + add + relu in a residual block, fails, and prints an error in the book."""
    return keras.ops.maximum(x, 0.0)


@keras.saving.register_keras_serializable(package="vqlab")
class ReLU(layers.Layer):
    """``relu`` as a layer, for the Sequential stacks."""

    def call(self, x):
        return relu(x)


@keras.saving.register_keras_serializable(package="vqlab")
class ResidualBlock(layers.Layer):
    """x + conv1x1(relu(conv3x3(relu(x)))): the VQ-VAE paper's residual block, channels kept."""

    def __init__(self, channels: int, hidden: int, **kwargs):
        super().__init__(**kwargs)
        self.channels, self.hidden = channels, hidden
        self.conv3 = layers.Conv2D(hidden, 3, padding="same", name="conv3x3")
        self.conv1 = layers.Conv2D(channels, 1, name="conv1x1")

    def build(self, input_shape):
        self.conv3.build(input_shape)
        self.conv1.build(tuple(input_shape[:-1]) + (self.hidden,))

    def call(self, x):
        return x + self.conv1(relu(self.conv3(relu(x))))

    def get_config(self):
        return {
            **super().get_config(),
            "channels": self.channels,
            "hidden": self.hidden,
        }


def stage_widths(stages: int, channels: int) -> list[int]:
    """Filters of each stride-2 stage, from the image inward: half width first, full width last."""
    return [max(channels // 2 ** (stages - 1 - i), 16) for i in range(stages)]


def check_factor(factor) -> int:
    factor = checks.positive_int("factor", factor)
    if factor < 2 or factor & (factor - 1):
        raise ValueError(f"factor should be a power of 2 (2, 4, 8, ...), got {factor}")
    return factor


def res_stack(channels: int, res_blocks: int) -> list:
    hidden = channels // 2
    return [ResidualBlock(channels, hidden, name=f"res{i}") for i in range(res_blocks)]


def photo_encoder(
    factor: int,
    channels: int,
    res_blocks: int,
    code_dim: int,
    image_channels: int = 3,
    name: str = "encoder",
) -> keras.Sequential:
    """Photo (n, H, W, c) of any size -> z_e (n, H/f, W/f, code_dim): stride-2 4x4
    convolutions, ``res_blocks`` residual blocks, a 1x1 projection to ``code_dim``."""
    widths = stage_widths(
        int(math.log2(factor)), channels
    )  # e.g. f=4, 96 channels: [48, 96]
    return keras.Sequential(
        [keras.Input((None, None, image_channels))]
        + [
            layers.Conv2D(
                w, 4, strides=2, padding="same", activation="relu", name=f"down{i}"
            )
            for i, w in enumerate(widths[:-1])
        ]
        + [
            layers.Conv2D(
                widths[-1], 4, strides=2, padding="same", name=f"down{len(widths) - 1}"
            )
        ]
        + res_stack(channels, res_blocks)
        + [ReLU(name="relu"), layers.Conv2D(code_dim, 1, name="to_code")],
        name=name,
    )


def photo_decoder(
    factor: int,
    channels: int,
    res_blocks: int,
    code_dim: int,
    image_channels: int = 3,
    name: str = "decoder",
) -> keras.Sequential:
    """z_q (n, h, w, code_dim) -> photo (n, f h, f w, c): a 3x3 convolution, residual blocks,
    stride-2 4x4 transposed convolutions, the last one to pixels (linear)."""
    widths = stage_widths(int(math.log2(factor)), channels)
    return keras.Sequential(
        [
            keras.Input((None, None, code_dim)),
            layers.Conv2D(channels, 3, padding="same", name="from_code"),
        ]
        + res_stack(channels, res_blocks)
        + [ReLU(name="relu")]
        + [
            layers.Conv2DTranspose(
                w, 4, strides=2, padding="same", activation="relu", name=f"up{i}"
            )
            for i, w in enumerate(reversed(widths[:-1]))
        ]
        + [
            layers.Conv2DTranspose(
                image_channels, 4, strides=2, padding="same", name="pixels"
            )
        ],
        name=name,
    )


@keras.saving.register_keras_serializable(package="vqlab")
class PhotoVQVAE(VQVAE):
    """VQ-VAE for RGB photos with downsampling factor ``factor`` (a power of 2): a ``VQVAE``
    whose stacks are ``photo_encoder`` and ``photo_decoder``.

    ``channels`` filters at the token grid's resolution (halved at each larger scale),
    ``res_blocks`` residual blocks on each side. ``image_shape`` is the size ``encode``
    and ``decode`` work on; training may use smaller crops (any multiple of ``factor``).
    """

    def __init__(
        self,
        num_codes: int = 512,
        code_dim: int = 32,
        factor: int = 4,
        channels: int = 96,
        res_blocks: int = 2,
        beta: float = 0.25,
        image_shape=PHOTO_SHAPE,
        ema_decay: float | None = None,
        dead_code_threshold: float | None = DEAD_CODE_THRESHOLD,
        codebook_init: str = "data",
        seed: int = 0,
        **kwargs,
    ):
        factor = check_factor(factor)
        channels = checks.positive_int("channels", channels)
        if not checks.is_int(res_blocks) or res_blocks < 0:
            raise ValueError(
                f"res_blocks should be an integer >= 0, got {res_blocks!r}"
            )
        code_dim = checks.positive_int("code_dim", code_dim)
        h, w, c = checks.image_shape(image_shape)
        if h % factor or w % factor:
            raise ValueError(
                f"image sides {(h, w)} must be divisible by the factor {factor}"
            )
        stacks = (factor, channels, int(res_blocks), code_dim, c)
        encoder_stacks = (
            factor,
            channels,
            int(res_blocks),
            self.encoder_width(num_codes, code_dim),
            c,
        )
        super().__init__(
            num_codes,
            code_dim,
            beta=beta,
            image_shape=image_shape,
            ema_decay=ema_decay,
            dead_code_threshold=dead_code_threshold,
            codebook_init=codebook_init,
            seed=seed,
            encoder=photo_encoder(*encoder_stacks),
            decoder=photo_decoder(*stacks),
            grid_shape=(h // factor, w // factor),
            **kwargs,
        )
        self.factor, self.channels, self.res_blocks = factor, channels, int(res_blocks)

    @staticmethod
    def encoder_width(num_codes: int, code_dim: int) -> int:
        """Channels of the encoder's output: a VQ-VAE's z_e has ``code_dim``."""
        return code_dim

    def get_config(self):
        config = super().get_config()
        for key in (
            "encoder",
            "decoder",
            "grid_shape",
        ):  # rebuilt from the photo settings
            config.pop(key)
        return {
            **config,
            "factor": self.factor,
            "channels": self.channels,
            "res_blocks": self.res_blocks,
        }

    def start_codebook(self, x, seed: int | None = None):
        """k-means++ codebook start on the encoder outputs of ``x``: training crops of any
        size (a multiple of ``factor``), not only ``image_shape``."""
        x = np.asarray(x, np.float32)  # (n, h, w, 3), h and w multiples of factor
        z_e = batched(self.graph_call("encoder"), x, PHOTO_BATCH)
        self.quantizer.initialize_from(z_e, seed=self.seed if seed is None else seed)
        self.codebook_started = True

    # A 256x256 photo's activations are large: fewer images per forward pass than on MNIST.
    def encode_latents(self, x):
        """Continuous encoder outputs z_e, shape (n, H/f, W/f, code_dim)."""
        return batched(self.graph_call("encoder"), self.check_images(x), PHOTO_BATCH)

    def decode_latents(self, z):
        """Images in [0, 1] for latents (n, H/f, W/f, code_dim), quantized or not."""
        z = checks.latents(z, self.grid_shape + (self.code_dim,))
        return np.clip(batched(self.graph_call("decoder"), z, PHOTO_BATCH), 0.0, 1.0)
