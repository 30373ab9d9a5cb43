"""The models the book ships, each a recipe that ``python -m vqlab.train NAME`` follows.

The thesis trains every model for 15 epochs, batch 128, Adam (learning rate 1e-3) on
MNIST scaled to [0, 1]; so do these unless a line says otherwise.
"""

from __future__ import annotations

import keras
import numpy as np

from .models import VAE, VQVAE, Autoencoder
from .pretrained import Recipe, register

THESIS_EPOCHS = 15
PIXELS = 28 * 28
VQ_SWEEP_EPOCHS = 3            # chapter 7's comparisons: many models, one short budget each
VQ_BETAS = (0.1, 0.25, 0.5, 1.0, 2.0)
DEAD_CODE_THRESHOLD = 1.0      # a code picked by < 1 vector per batch (moving average) restarts
EMA_DECAY = 0.99


def init_codebook_from_data(model: VQVAE, x_train: np.ndarray, n_images: int = 2000, seed: int = 0):
    """vqlab's recipe: start the codebook at encoder outputs of real images."""
    model.quantizer.initialize_from(model.encode(x_train[:n_images]), seed=seed)


def cosine(initial: float):
    """Cosine decay of the learning rate from ``initial`` to 0 over the whole run."""
    return lambda total_steps: keras.optimizers.schedules.CosineDecay(initial, total_steps)


register(Recipe("ae_dense_2d", lambda: Autoencoder(2, "dense", "bce"),
                "Plain dense autoencoder, 2-D code, BCE reconstruction (chapters 2-3)."))

for kind in ("dense", "conv"):
    register(Recipe(f"vae_{kind}_bce", lambda kind=kind: VAE(2, kind, "bce"),
                    f"{kind.capitalize()} VAE, 2-D latent, BCE reconstruction (chapter 9)."))

register(Recipe("vae_dense_mse", lambda: VAE(2, "dense", "mse"),
                "Dense VAE, 2-D latent, unweighted MSE (mean over pixels) + KL: "
                "the thesis' posterior-collapse setting (chapter 9)."))
register(Recipe("vae_dense_mse_balanced", lambda: VAE(2, "dense", "mse", kl_weight=1.0 / PIXELS),
                "Dense VAE, 2-D latent, MSE with the KL term weighted 1/784 so that both "
                "terms are per pixel (a Gaussian likelihood with variance 1/2) (chapter 9)."))

register(Recipe(
    "vqvae_mnist",
    lambda: VQVAE(num_codes=64, code_dim=16, dead_code_threshold=DEAD_CODE_THRESHOLD),
    "The thesis' VQ-VAE (code_dim 16, 64 codes, 7x7 tokens) trained with vqlab's recipe: "
    "codebook initialised from encoder outputs, dead-code restarts, cosine learning rate "
    "(chapters 7 and 10).",
    learning_rate=cosine(2e-3), prepare=init_codebook_from_data))

for beta in VQ_BETAS:
    register(Recipe(f"vqvae_beta{beta}", lambda beta=beta: VQVAE(64, 16, beta=beta),
                    f"Plain VQ-VAE as in the paper (random codebook, beta={beta}), "
                    f"{VQ_SWEEP_EPOCHS} epochs: the beta sweep of chapter 7.",
                    epochs=VQ_SWEEP_EPOCHS))

register(Recipe("vqvae_ema", lambda: VQVAE(64, 16, ema_decay=EMA_DECAY),
                f"VQ-VAE whose codebook follows an EMA of its assigned encoder outputs, "
                f"{VQ_SWEEP_EPOCHS} epochs (chapter 7).", epochs=VQ_SWEEP_EPOCHS))
register(Recipe("vqvae_ema_restart",
                lambda: VQVAE(64, 16, ema_decay=EMA_DECAY, dead_code_threshold=DEAD_CODE_THRESHOLD),
                f"EMA codebook plus dead-code restarts, {VQ_SWEEP_EPOCHS} epochs (chapter 7).",
                epochs=VQ_SWEEP_EPOCHS))
