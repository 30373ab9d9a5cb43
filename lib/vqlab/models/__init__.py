"""Every model family of the book, one module each, registered with Keras' serialization.

| module | class | what it is |
| --- | --- | --- |
| ``autoencoder`` | ``Autoencoder`` | x -> z -> x_hat (chapter 2) |
| ``vae`` | ``VAE`` | Gaussian latent, the ELBO (chapters 3-5) |
| ``vqvae`` | ``VQVAE`` | encoder stack, quantizer, decoder stack (chapter 7) |
| ``photo`` | ``PhotoVQVAE`` | a ``VQVAE`` built from photo stacks (chapter 11) |
| ``dvae`` | ``PhotoDVAE`` | the same stacks trained as DALL·E's dVAE: Gumbel-softmax (chapter 11) |
| ``dalle`` | ``DalleDVAE`` | DALL·E's dVAE, a Keras port (chapter 11) |
| ``prior`` | ``GatedPixelCNN`` | stage two: a prior over token grids (chapter 8) |
| ``classifier`` | ``DigitClassifier`` | features for the sample-quality measures (chapter 8) |

``TokenModel`` is the protocol of the models whose latents are token grids (``VQVAE``,
``PhotoVQVAE``, ``DalleDVAE``): ``encode(x)`` -> int tokens (n, h, w), ``decode(tokens)``
-> images, ``grid_shape``, ``num_codes`` (and ``codebook`` where there is one).
Each class is registered as ``vqlab>ClassName``; ``vqlab.pretrained`` builds any of them
from a model card through Keras' registry.
"""

from typing import Protocol, runtime_checkable

import numpy as np

from .autoencoder import Autoencoder
from .classifier import DigitClassifier
from .dalle import DalleDVAE
from .dvae import PhotoDVAE
from .photo import PhotoVQVAE
from .prior import GatedPixelCNN
from .vae import VAE
from .vqvae import VQVAE


@runtime_checkable
class TokenModel(Protocol):
    """A model whose latent is a grid of integer tokens."""

    grid_shape: tuple
    num_codes: int

    def encode(self, x) -> np.ndarray: ...

    def decode(self, tokens) -> np.ndarray: ...


__all__ = [
    "Autoencoder",
    "VAE",
    "VQVAE",
    "PhotoVQVAE",
    "PhotoDVAE",
    "DalleDVAE",
    "GatedPixelCNN",
    "DigitClassifier",
    "TokenModel",
]
