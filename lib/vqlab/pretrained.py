"""Shipped models: a registry of recipes and ``load(name)`` for their trained weights.

Every entry of ``REGISTRY`` is a ``Recipe``: how to build the model, which data it
trains on, for how long and with what optimizer. ``python -m vqlab.train NAME``
follows the recipe and writes two files to ``lib/vqlab/weights/``:

* ``NAME.weights.npz``: the model's weights (``model.get_weights()``, stored as
  float16 in a compressed NumPy archive read with ``allow_pickle=False``);
* ``NAME.json``: the model card: the command that trained it, data, epochs, seed,
  metrics on the test set measured after loading the stored weights back, and the
  sha256 of the weights file.

``load(name)`` checks the sha256 before it trusts the weights, so a truncated or
corrupt file raises an error that names the file and the command that rebuilds it.
Any Keras model can be registered with ``register(Recipe(...))``; the chapters
only ever call ``load``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import keras
import numpy as np

WEIGHTS_DIR = Path(__file__).parent / "weights"
STORE_DTYPE = np.float16


class WeightsError(RuntimeError):
    """A shipped weights file is missing, corrupt or does not fit its model."""


@dataclass
class Recipe:
    name: str
    build: Callable[[], keras.Model]
    description: str
    data: str = "mnist"
    epochs: int = 15
    batch_size: int = 128
    learning_rate: float | Callable[[int], object] = 1e-3
    seed: int = 0
    prepare: Callable[[keras.Model, np.ndarray], None] | None = None  # e.g. data-dependent init
    extra: dict = field(default_factory=dict)

    @property
    def command(self) -> str:
        return f"python -m vqlab.train {self.name}"


REGISTRY: dict[str, Recipe] = {}


def register(recipe: Recipe) -> Recipe:
    if recipe.name in REGISTRY:
        raise ValueError(f"a recipe named {recipe.name!r} is already registered")
    REGISTRY[recipe.name] = recipe
    return recipe


def recipe(name: str) -> Recipe:
    _register_defaults()
    if name not in REGISTRY:
        raise KeyError(f"no pretrained model named {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def names() -> list[str]:
    _register_defaults()
    return sorted(REGISTRY)


def weights_path(name: str, root: Path = WEIGHTS_DIR) -> Path:
    return Path(root) / f"{name}.weights.npz"


def card_path(name: str, root: Path = WEIGHTS_DIR) -> Path:
    return Path(root) / f"{name}.json"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def build(name: str) -> keras.Model:
    """A freshly initialised (untrained) model of recipe ``name``, with its weights created."""
    r = recipe(name)
    keras.utils.set_random_seed(r.seed)
    model = r.build()
    model(np.zeros((1,) + model_input_shape(model), np.float32))  # create every weight
    return model


def model_input_shape(model) -> tuple:
    return tuple(getattr(model, "image_shape", (28, 28, 1)))


def save_weights(model: keras.Model, path: Path) -> str:
    """Write ``model.get_weights()`` as float16 to ``path`` atomically; return its sha256."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"w{i:03d}": np.asarray(w).astype(STORE_DTYPE) for i, w in enumerate(model.get_weights())}
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(path)
    return sha256_file(path)


def read_card(name: str, root: Path = WEIGHTS_DIR) -> dict:
    path = card_path(name, root)
    if not path.exists():
        raise WeightsError(f"model card {path} is missing; rebuild it with "
                           f"`{recipe(name).command}` (or `make weights`).")
    return json.loads(path.read_text())


def load_weights_into(model: keras.Model, path: Path, expected_sha256: str | None, command: str):
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"weights file {path} is missing; rebuild it with `{command}`.")
    if expected_sha256 is not None:
        got = sha256_file(path)
        if got != expected_sha256:
            raise WeightsError(f"weights file {path} is corrupt (sha256 {got[:12]}..., expected "
                               f"{expected_sha256[:12]}...); rebuild it with `{command}`.")
    with np.load(path, allow_pickle=False) as f:
        arrays = [f[k] for k in sorted(f.files)]
    expected = [w.shape for w in model.get_weights()]
    if [a.shape for a in arrays] != expected:
        raise WeightsError(f"weights file {path} does not fit the model (its shapes differ); "
                           f"rebuild it with `{command}`.")
    model.set_weights([a.astype(np.float32) for a in arrays])
    return model


def load(name: str, root: Path = WEIGHTS_DIR) -> keras.Model:
    """The trained model ``name``, ready to use (weights verified by sha256)."""
    r = recipe(name)
    card = read_card(name, root)
    model = build(name)
    return load_weights_into(model, weights_path(name, root), card["sha256"], r.command)


_defaults_loaded = False


def _register_defaults():
    global _defaults_loaded
    if not _defaults_loaded:
        _defaults_loaded = True
        from . import recipes  # noqa: F401  (registers the book's models)
