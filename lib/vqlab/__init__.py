"""vqlab: the library behind the course book on VAEs with quantized latent representations.

Modules, one idea each: ``data`` (MNIST anywhere), ``losses`` (ELBO terms),
``models`` (autoencoder, VAE, VQ-VAE), ``quantizer`` (vector quantization),
``tokens`` (token-grid manipulations), ``pretrained`` (shipped weights),
``train`` (retraining), ``metrics`` and ``plots`` (what the chapters measure and show).
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter out of the book

__version__ = "0.1.0"


def seed_everything(seed: int = 0) -> None:
    """Fix Python's, NumPy's and Keras' random seeds so a chapter prints the same numbers."""
    import keras

    keras.utils.set_random_seed(seed)
