"""A VQ-VAE for RGB photos: strided convolutions and residual blocks (chapter 11).

    x (H, W, 3) -> encoder -> z_e (H/f, W/f, code_dim) -> quantizer -> z_q -> decoder -> x_hat

The MNIST VQ-VAE's two plain convolutions are too weak for photos. This one follows the
VQ-VAE paper's image model (van den Oord et al. 2017, section 4.1): ``log2(f)`` stride-2
4x4 convolutions down, ``res_blocks`` residual blocks (ReLU, 3x3 conv, ReLU, 1x1 conv,
added to the input), a 1x1 projection to ``code_dim``; the decoder mirrors it with 4x4
transposed convolutions. With f = 4 a 256x256 photo is a 64x64 grid of tokens, with
f = 8 (DALL·E's dVAE's factor) a 32x32 grid.

Every layer is convolutional, so the model trains on small random crops and encodes
whole photos of ``image_shape``. It *is* a ``VQVAE``: the same quantizer, loss, codebook
start, ``encode -> tokens`` and ``decode(tokens)``, so ``vqlab.tokens`` and chapter 10's
``measure_edits`` work on its grids unchanged. Only the encoder and decoder differ.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import layers

from .. import checks
from ..quantizer import VectorQuantizer
from .base import LossTermsModel, batched
from .vqvae import CODEBOOK_INITS, DEAD_CODE_THRESHOLD, VQVAE

PHOTO_SHAPE = (256, 256, 3)
PHOTO_BATCH = 8  # photos per forward pass in encode/decode: a 256x256 photo's activations are large


def relu(x):
    """max(x, 0). Written as a maximum, not tf.nn.relu: TensorFlow's graph optimizer tries to
    fuse convolution + add + relu in a residual block, fails, and prints an error in the book."""
    return keras.ops.maximum(x, 0.0)


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
        self.conv3 = layers.Conv2D(hidden, 3, padding="same")
        self.conv1 = layers.Conv2D(channels, 1)

    def build(self, input_shape):
        self.conv3.build(input_shape)
        self.conv1.build(tuple(input_shape[:-1]) + (self.hidden,))

    def call(self, x):
        return x + self.conv1(relu(self.conv3(relu(x))))

    def get_config(self):
        return {**super().get_config(), "channels": self.channels, "hidden": self.hidden}


def stage_widths(stages: int, channels: int) -> list[int]:
    """Filters of each stride-2 stage, from the image inward: half width first, full width last."""
    return [max(channels // 2 ** (stages - 1 - i), 16) for i in range(stages)]


class PhotoVQVAE(VQVAE):
    """VQ-VAE for RGB photos with downsampling factor ``factor`` (a power of 2).

    ``channels`` filters at the token grid's resolution (halved at each larger scale),
    ``res_blocks`` residual blocks on each side. ``image_shape`` is the size ``encode``
    and ``decode`` work on; training may use smaller crops (any multiple of ``factor``).
    """

    def __init__(self, num_codes: int = 512, code_dim: int = 32, factor: int = 4, channels: int = 96,
                 res_blocks: int = 2, beta: float = 0.25, image_shape=PHOTO_SHAPE,
                 ema_decay: float | None = None, dead_code_threshold: float | None = DEAD_CODE_THRESHOLD,
                 codebook_init: str = "data", seed: int = 0, **kwargs):
        LossTermsModel.__init__(self, image_shape=image_shape, seed=seed, **kwargs)  # not VQVAE's stack
        if codebook_init not in CODEBOOK_INITS:
            raise ValueError(f"codebook_init should be one of {CODEBOOK_INITS}, got {codebook_init!r}")
        factor = checks.positive_int("factor", factor)
        if factor < 2 or factor & (factor - 1):
            raise ValueError(f"factor should be a power of 2 (2, 4, 8, ...), got {factor}")
        self.factor, self.channels = factor, checks.positive_int("channels", channels)
        if not checks.is_int(res_blocks) or res_blocks < 0:
            raise ValueError(f"res_blocks should be an integer >= 0, got {res_blocks!r}")
        self.res_blocks = int(res_blocks)
        h, w, c = self.image_shape
        if h % factor or w % factor:
            raise ValueError(f"image sides {(h, w)} must be divisible by the factor {factor}")
        self.grid_shape = (h // factor, w // factor)
        stages = int(math.log2(factor))
        widths = stage_widths(stages, self.channels)  # e.g. f=4, 96 channels: [48, 96]
        quantizer = VectorQuantizer(num_codes, code_dim, beta=beta, ema_decay=ema_decay,
                                    dead_code_threshold=dead_code_threshold, seed=self.seed, name="quantizer")
        self.num_codes, self.code_dim, self.beta = quantizer.num_codes, quantizer.code_dim, quantizer.beta
        self.ema_decay, self.dead_code_threshold = ema_decay, dead_code_threshold
        self.codebook_init = codebook_init
        self.codebook_started = codebook_init == "random"
        hidden = self.channels // 2

        def res_stack():
            return [ResidualBlock(self.channels, hidden) for _ in range(self.res_blocks)]

        # Any image size: (None, None, c). Encoder: stride-2 4x4 convs, residual blocks, 1x1 to code_dim.
        self.encoder = keras.Sequential(
            [keras.Input((None, None, c))]
            + [layers.Conv2D(f_, 4, strides=2, padding="same", activation="relu") for f_ in widths[:-1]]
            + [layers.Conv2D(widths[-1], 4, strides=2, padding="same")]
            + res_stack() + [ReLU(), layers.Conv2D(self.code_dim, 1)], name="encoder")
        self.quantizer = quantizer
        self.quantizer.build((None, None, None, self.code_dim))
        # Decoder: 3x3 conv from code_dim, residual blocks, stride-2 4x4 transposed convs, the last to pixels.
        self.decoder = keras.Sequential(
            [keras.Input((None, None, self.code_dim)), layers.Conv2D(self.channels, 3, padding="same")]
            + res_stack() + [ReLU()]
            + [layers.Conv2DTranspose(f_, 4, strides=2, padding="same", activation="relu")
               for f_ in reversed(widths[:-1])]
            + [layers.Conv2DTranspose(c, 4, strides=2, padding="same")], name="decoder")

    def get_config(self):
        base = LossTermsModel.get_config(self)
        return {**base, "num_codes": self.num_codes, "code_dim": self.code_dim, "factor": self.factor,
                "channels": self.channels, "res_blocks": self.res_blocks, "beta": self.beta,
                "ema_decay": self.ema_decay, "dead_code_threshold": self.dead_code_threshold,
                "codebook_init": self.codebook_init}

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
