"""Weights files keyed by each variable's path in the model, with every name and shape checked.

A model's variables are found by walking its layers: the key of a variable is the path of
layer names from the model down to it, then the variable's own name, e.g.
``encoder/conv0/kernel`` or ``quantizer/codebook``. Every layer that holds weights is named
in vqlab's models (``name="conv0"``), never left to Keras' automatic names (``conv2d_7``),
which depend on how many layers a process made before: ``variable_paths`` refuses those.

``save`` writes ``{path: array}`` as a compressed NumPy archive (float16 by default: the
shipped precision); ``load_into`` checks the file's sha256, then that the file and the
model hold exactly the same names with the same shapes, and raises ``WeightsError`` naming
each missing, unexpected or mis-shaped entry. Files are read with ``allow_pickle=False``.
Reordering two layers of the same shape can no longer load silently wrong.
"""

from __future__ import annotations

import re
from pathlib import Path

import keras
import numpy as np

from .cards import WeightsError, rebuild_hint
from .files import atomic_savez, sha256_file

STORE_DTYPE = np.float16
FORMAT = "by-name-1"  # recorded in cards as ``weights_format``


def _snake_case(name: str) -> str:
    """Keras' automatic layer name for a class: ``Conv2DTranspose`` -> ``conv2d_transpose``."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _automatic_name(layer) -> bool:
    """Whether ``layer.name`` is one Keras made up (``conv2d``, ``conv2d_7``)."""
    base = _snake_case(type(layer).__name__)
    return (
        layer.name == base
        or re.fullmatch(re.escape(base) + r"_\d+", layer.name) is not None
    )


def _sublayers(layer) -> list:
    return [
        child
        for child in getattr(layer, "_layers", [])
        if isinstance(child, keras.layers.Layer)
    ]


def variable_paths(model: keras.Model) -> dict[str, keras.Variable]:
    """``{path: variable}`` for every weight of ``model`` (``model.weights``, each once)."""
    paths: dict[str, keras.Variable] = {}

    def walk(layer, prefix: str):
        inner = set()
        for child in _sublayers(layer):
            if not child.weights:
                continue
            if _automatic_name(child):
                raise ValueError(
                    f"layer {prefix}{child.name} ({type(child).__name__}) has an "
                    f"automatic name: give it name=... so its weights keep their key"
                )
            walk(child, f"{prefix}{child.name}/")
            inner.update(id(v) for v in child.weights)
        for v in layer.weights:
            if id(v) in inner:
                continue
            key = prefix + v.name
            if key in paths and paths[key] is not v:
                raise ValueError(
                    f"two weights of {type(model).__name__} share the path {key!r}: "
                    f"name the layers that hold them apart"
                )
            paths[key] = v

    walk(model, "")
    if len(paths) != len(model.weights):
        raise ValueError(
            f"found {len(paths)} weight paths for {len(model.weights)} weights of "
            f"{type(model).__name__}"
        )
    return paths


def save(model: keras.Model, path, dtype=STORE_DTYPE, compressed: bool = True) -> str:
    """Write ``model``'s weights by path to ``path`` atomically; return the file's sha256."""
    arrays = {
        k: np.asarray(keras.ops.convert_to_numpy(v)).astype(dtype)
        for k, v in variable_paths(model).items()
    }
    return sha256_file(atomic_savez(Path(path), arrays, compressed=compressed))


def read(path) -> dict[str, np.ndarray]:
    """``{path: array}`` of a weights file (no pickle)."""
    with np.load(path, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def load_into(
    model: keras.Model, path, expected_sha256: str | None, name: str
) -> keras.Model:
    """Set ``model``'s weights from ``path`` after checking its sha256 and every name and shape."""
    path = Path(path)
    if not path.exists():
        raise WeightsError(f"weights file {path} is missing; {rebuild_hint(name)}.")
    if expected_sha256 is not None:
        got = sha256_file(path)
        if got != expected_sha256:
            raise WeightsError(
                f"weights file {path} is corrupt (sha256 {got[:12]}..., expected "
                f"{expected_sha256[:12]}...); {rebuild_hint(name)}."
            )
    try:
        arrays = read(path)
    except (ValueError, OSError) as err:
        raise WeightsError(
            f"weights file {path} is not a NumPy archive ({err}); {rebuild_hint(name)}."
        ) from None
    variables = variable_paths(model)
    problems = [
        f"missing {k} {tuple(v.shape)}" for k, v in variables.items() if k not in arrays
    ]
    problems += [
        f"unexpected {k} {arrays[k].shape}" for k in arrays if k not in variables
    ]
    problems += [
        f"{k} has shape {arrays[k].shape}, the model expects {tuple(v.shape)}"
        for k, v in variables.items()
        if k in arrays and arrays[k].shape != tuple(v.shape)
    ]
    if problems:
        shown = "; ".join(problems[:8]) + (
            f"; and {len(problems) - 8} more" if len(problems) > 8 else ""
        )
        raise WeightsError(
            f"weights file {path} does not fit the {type(model).__name__} its card "
            f"describes: {shown}. {rebuild_hint(name)}."
        )
    key_of = {id(v): k for k, v in variables.items()}
    model.set_weights([arrays[key_of[id(v)]].astype(np.float32) for v in model.weights])
    return model
