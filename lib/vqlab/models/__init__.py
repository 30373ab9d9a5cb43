"""Model families of the book, one module each: autoencoder, VAE, VQ-VAE."""

from .autoencoder import Autoencoder
from .vae import VAE
from .vqvae import VQVAE

__all__ = ["Autoencoder", "VAE", "VQVAE"]
