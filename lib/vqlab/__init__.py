"""vqlab: the library behind the course book on VAEs with quantized latent representations.

Modules, one idea each, imported one way (lower rows never import higher ones; a test
walks the import graph and fails on a cycle):

| layer | modules |
| --- | --- |
| data, maths | ``data`` (MNIST), ``images`` (batches, PNG, paste), ``losses``, ``metrics``, ``theory``, ``tokens`` (grid edits, ``transplant``), ``seams``, ``checks``, ``files``, ``distribute`` (data parallelism on several devices) |
| layers | ``quantizer`` (``VectorQuantizer``: gradient codebook; ``VectorQuantizerEMA``: moving averages) |
| models | ``models``: ``Autoencoder``, ``VAE``, ``VQVAE``, ``PhotoVQVAE``, ``DalleDVAE``, ``GatedPixelCNN``, ``DigitClassifier``; the ``TokenModel`` protocol |
| shipped weights | ``cards`` (model cards), ``named_weights`` (weights by variable path), ``pretrained`` (``load(name)``) |
| using models | ``prior`` (``sample``, ``log_prob``, ``complete``), ``quality`` (Fréchet distance), ``dalle`` (converting DALL·E's weights), ``photos``, ``editing`` |
| training | ``recipes`` (how each shipped model is trained), ``train`` (``python -m vqlab.train``) |
| chapters' tools | ``plots``, ``widgets`` (JupyterLab), ``web`` (the same widgets live in the HTML book; ``js/``), ``lab`` (exercise checks) |

The three model families answer the same calls (x: images (n, H, W[, C]) in [0, 1]):

| call | ``Autoencoder`` | ``VAE`` | ``VQVAE`` |
| --- | --- | --- | --- |
| ``encode(x)`` | code z (n, d) | posterior mean (n, d) | token grid (n, h, w) of ints |
| ``decode(z)`` | images in [0, 1] | images (pixel probabilities) | images in [0, 1] (clipped) |
| ``reconstruct(x)`` | ``decode(encode(x))`` | ``decode(encode(x))`` | ``decode(encode(x))`` |
| ``sample(n, seed)`` | (not a generator) | decode z ~ N(0, I) | ``decode(prior.sample(pcnn, n))`` (chapter 10) |
| ``measure(x)`` | ``mse`` | ``mse``, ``kl``, ``active_units`` | ``mse``, ``usage``, ``perplexity``, ``counts`` |
| more | | ``posterior(x)`` -> (mean, log_var) | ``encode_latents``, ``quantize_latents``, ``decode_latents``, ``codebook`` |

Every constructor takes ``image_shape`` and ``seed``; ``get_config()`` rebuilds the model,
and every class is registered with Keras (``vqlab>VQVAE``), so a card names it.
Swap a family in one line: ``model = VQVAE(64, 16)`` for ``model = VAE(2, "conv")``.
Training reports the same names (``loss``, ``reconstruction``, ``kl``; ``codebook_loss``,
``commitment_loss``, ``perplexity``, ``usage``).

Importing vqlab sets one environment variable, ``TF_CPP_MIN_LOG_LEVEL=2`` (only if it is
unset), to keep TensorFlow's start-up chatter out of the book; set it yourself to see it.
It also drops TensorFlow's "triggered tf.function retracing" warning: every model compiles
its own encode and decode graphs (``models.base.inference``), so a chapter that uses many
models traces many graphs by design, and the warning would only fill its outputs.
"""

import logging
import os
from importlib import metadata

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class _NoRetracingWarning(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


logging.getLogger("tensorflow").addFilter(_NoRetracingWarning())

try:
    __version__ = metadata.version(
        "vqlab"
    )  # the one version number lives in pyproject.toml
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"


def seed_everything(seed: int = 0) -> None:
    """Fix Python's, NumPy's and Keras' global random seeds so a chapter prints the same numbers.

    The models' own evaluation draws are seeded by their ``seed`` argument, so re-running
    a cell that evaluates a model gives the same number without calling this again.
    """
    import keras

    keras.utils.set_random_seed(seed)
