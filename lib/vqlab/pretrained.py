"""Shipped models: ``load(name)`` builds a model from its card and loads its weights by name.

A card (``vqlab.cards``) names the model's class, registered with Keras' serialization
(``keras.saving.register_keras_serializable(package="vqlab")``, e.g. ``vqlab>VQVAE``), and
its ``config``; ``build`` asks Keras' registry for the class, so there is no class table
here, and any registered Keras model whose ``from_config(get_config())`` rebuilds it can be
shipped the same way. The weights file is checked by sha256 and loaded by variable path
(``vqlab.named_weights``): a missing, unexpected or mis-shaped weight is a ``WeightsError``
naming it.

Loading never depends on how a model was trained: this module imports the model
families (``vqlab.models``), never ``vqlab.recipes`` or ``vqlab.train``.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from . import models  # noqa: F401  (importing the families registers their classes with Keras)
from .cards import (  # noqa: F401  (the names this module has always offered)
    WEIGHTS_DIR,
    WeightsError,
    card_path,
    check_name,
    names,
    read_card,
    rebuild_hint,
    weights_path,
)
from .named_weights import STORE_DTYPE, load_into, save

PACKAGE = "vqlab"


def model_class(card: dict, path: str = "the model card") -> type:
    """The Keras-registered class a card names (``"VQVAE"`` or ``"vqlab>VQVAE"``)."""
    name = card["class"]
    registered = name if ">" in str(name) else f"{PACKAGE}>{name}"
    cls = keras.saving.get_registered_object(registered)
    if not isinstance(cls, type) or not issubclass(cls, keras.Model):
        known = sorted(
            k.split(">", 1)[1]
            for k, v in keras.saving.get_custom_objects().items()
            if k.startswith(PACKAGE + ">")
            and isinstance(v, type)
            and issubclass(v, keras.Model)
        )
        raise WeightsError(
            f"{path} names class {name!r}, not a registered vqlab model (one of "
            f"{known}; register a class with "
            f"@keras.saving.register_keras_serializable(package='vqlab'))"
        )
    return cls


def build(card: dict, path: str = "the model card") -> keras.Model:
    """A freshly initialised (untrained) model as the card describes, with its weights created."""
    cls = model_class(card, path)
    try:
        model = cls.from_config(card["config"])
    except (TypeError, ValueError) as err:
        raise WeightsError(
            f"{path}: its config does not build a {card['class']}: {err}"
        ) from None
    return create_weights(model)


def create_weights(model: keras.Model) -> keras.Model:
    """Create every weight of ``model`` (the one "call it on zeros" of the library)."""
    if hasattr(model, "build_all"):
        return model.build_all()
    model(np.zeros((1,) + tuple(model.image_shape), np.float32))
    return model


def save_weights(model: keras.Model, path: Path, dtype=STORE_DTYPE) -> str:
    """Write ``model``'s weights by variable path (float16) to ``path``; return its sha256."""
    return save(model, path, dtype=dtype)


def load_weights_into(
    model: keras.Model, path: Path, expected_sha256: str, name: str
) -> keras.Model:
    """Set ``model``'s weights from ``path`` after checking its sha256 and every name and shape."""
    return load_into(model, path, expected_sha256, name)


def load(name: str, root: Path | None = None) -> keras.Model:
    """The trained model ``name``, ready to use (weights verified by sha256, loaded by name).
    ``root``: the folder of its card (default: the shipped weights, then ``$VQLAB_WEIGHTS``)."""
    card = read_card(name, root)
    model = build(card, str(card_path(name, root)))
    return load_into(model, weights_path(name, root), card["sha256"], name)


def main(argv=None) -> int:
    """``python -m vqlab.pretrained convert-dalle ENCODER DECODER --trust``: see ``vqlab.dalle``."""
    import sys

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] != ["convert-dalle"]:
        print(
            "usage: python -m vqlab.pretrained convert-dalle ENCODER DECODER --trust [--out DIR]",
            file=sys.stderr,
        )
        return 2
    from . import dalle

    return dalle.main(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
