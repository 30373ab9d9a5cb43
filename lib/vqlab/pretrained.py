"""Shipped models: ``load(name)`` reads a model card and its weights, verified by sha256.

Each shipped model is two files in ``lib/vqlab/weights/``:

* ``NAME.json``, the model card: the model's ``class`` and ``config`` (all ``load``
  needs to build it), the ``sha256`` of the weights file, and how it was made (the
  command, data, epochs, seed, per-epoch history, test metrics measured after reloading);
* ``NAME.weights.npz``: ``model.get_weights()`` in order, stored as float16 in a
  compressed NumPy archive read with ``allow_pickle=False`` (no pickle, ever).

Loading never depends on how a model was trained: this module imports the model
classes, not ``vqlab.recipes`` or ``vqlab.train``. ``register_class`` lets any Keras
model whose ``from_config`` rebuilds it be shipped the same way. Every problem (unknown
name, missing, unreadable or incomplete card, missing or corrupt weights) raises
``WeightsError``, a ``ValueError`` whose message names the file and what to do.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import keras
import numpy as np

from .files import atomic_savez, sha256_file
from .models import VAE, VQVAE, Autoencoder
from .dalle import DalleDVAE
from .models.photo import PhotoVQVAE

WEIGHTS_DIR = Path(__file__).parent / "weights"
STORE_DTYPE = np.float16
CARD_KEYS = ("class", "config", "sha256")  # what load() needs from a card
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

MODEL_CLASSES: dict[str, type] = {}


class WeightsError(ValueError):
    """A model card or weights file is unknown, missing, corrupt or does not fit its model."""


def register_class(cls: type) -> type:
    """Let cards name ``cls`` (a Keras model whose ``from_config(get_config())`` rebuilds it)."""
    MODEL_CLASSES[cls.__name__] = cls
    return cls


for _cls in (Autoencoder, VAE, VQVAE, PhotoVQVAE, DalleDVAE):
    register_class(_cls)

from .prior import GatedPixelCNN  # noqa: E402  (chapter 8's prior and classifier: models only, no training code)
from .quality import DigitClassifier  # noqa: E402

register_class(GatedPixelCNN)
register_class(DigitClassifier)


def names(root: Path = WEIGHTS_DIR) -> list[str]:
    """Names of the models whose cards lie in ``root`` (the shipped ones by default)."""
    return sorted(p.name[:-len(".json")] for p in Path(root).glob("*.json"))


def weights_path(name: str, root: Path = WEIGHTS_DIR) -> Path:
    return Path(root) / f"{name}.weights.npz"


def card_path(name: str, root: Path = WEIGHTS_DIR) -> Path:
    return Path(root) / f"{name}.json"


def rebuild_hint(name: str) -> str:
    return f"rebuild it with `python -m vqlab.train {name}` (or `make weights`)"


def read_card(name: str, root: Path = WEIGHTS_DIR) -> dict:
    """The model card of ``name``, checked: a dict with a class, a config and a sha256."""
    path = card_path(name, root)
    if not path.exists():
        known = ", ".join(names(root)) or "none"
        raise WeightsError(f"no model named {name!r}: {path} does not exist (models in {root}: {known}); "
                           f"to train it, `python -m vqlab.train {name}`")
    try:
        card = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WeightsError(f"model card {path} is not valid JSON ({err}); {rebuild_hint(name)}") from None
    if not isinstance(card, dict):
        raise WeightsError(f"model card {path} should hold a JSON object, got {type(card).__name__}")
    missing = [k for k in CARD_KEYS if k not in card]
    if missing:
        raise WeightsError(f"model card {path} lacks {', '.join(missing)}; {rebuild_hint(name)}")
    if not isinstance(card["sha256"], str) or not SHA256_HEX.match(card["sha256"]):
        raise WeightsError(f"model card {path} has no valid sha256 (got {card['sha256']!r}): weights are "
                           f"never loaded unchecked; {rebuild_hint(name)}")
    if card["class"] not in MODEL_CLASSES:
        raise WeightsError(f"model card {path} names class {card['class']!r}, not one of "
                           f"{sorted(MODEL_CLASSES)} (register it with vqlab.pretrained.register_class)")
    return card


def build(card: dict, path: str = "the model card") -> keras.Model:
    """A freshly initialised (untrained) model as the card describes, with its weights created."""
    try:
        model = MODEL_CLASSES[card["class"]].from_config(card["config"])
    except (TypeError, ValueError) as err:
        raise WeightsError(f"{path}: its config does not build a {card['class']}: {err}") from None
    model(np.zeros((1,) + tuple(model.image_shape), np.float32))  # create every weight
    return model


def save_weights(model: keras.Model, path: Path) -> str:
    """Write ``model.get_weights()`` as float16 to ``path`` atomically; return its sha256."""
    arrays = {f"w{i:03d}": np.asarray(w).astype(STORE_DTYPE) for i, w in enumerate(model.get_weights())}
    return sha256_file(atomic_savez(path, arrays))


def load_weights_into(model: keras.Model, path: Path, expected_sha256: str, name: str) -> keras.Model:
    """Set ``model``'s weights from ``path`` after checking its sha256 and every shape."""
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"weights file {path} is missing; {rebuild_hint(name)}.")
    got = sha256_file(path)
    if got != expected_sha256:
        raise WeightsError(f"weights file {path} is corrupt (sha256 {got[:12]}..., expected "
                           f"{expected_sha256[:12]}...); {rebuild_hint(name)}.")
    with np.load(path, allow_pickle=False) as f:
        arrays = [f[k] for k in sorted(f.files)]
    expected = [tuple(w.shape) for w in model.weights]
    if [a.shape for a in arrays] != expected:
        raise WeightsError(f"weights file {path} does not fit the model ({len(arrays)} arrays, "
                           f"{len(expected)} expected, or their shapes differ); {rebuild_hint(name)}.")
    model.set_weights([a.astype(np.float32) for a in arrays])
    return model


def load(name: str, root: Path = WEIGHTS_DIR) -> keras.Model:
    """The trained model ``name``, ready to use (weights verified by sha256)."""
    card = read_card(name, root)
    model = build(card, str(card_path(name, root)))
    return load_weights_into(model, weights_path(name, root), card["sha256"], name)


def main(argv=None) -> int:
    """``python -m vqlab.pretrained convert-dalle ENCODER DECODER --trust``: see ``vqlab.dalle``."""
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] != ["convert-dalle"]:
        print("usage: python -m vqlab.pretrained convert-dalle ENCODER DECODER --trust [--out DIR]",
              file=sys.stderr)
        return 2
    from . import dalle

    return dalle.main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
