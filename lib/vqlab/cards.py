"""Model cards: one reader, one writer, and the names and paths of shipped models.

Each shipped model is two files in ``lib/vqlab/weights/`` (or another ``root``):

* ``NAME.json``, the model card: the model's ``class`` (a Keras-registered vqlab class)
  and ``config`` (all ``vqlab.pretrained.load`` needs to build it), the ``sha256`` of the
  weights file, and how it was made (command, data, epochs, seed, history, metrics);
* ``NAME.weights.npz``: the weights keyed by variable path (``vqlab.named_weights``).

Every problem (a name that is not a plain name, an unknown model, an unreadable or
incomplete card) raises ``WeightsError``, a ``ValueError`` whose message names the file
and what to do.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from .files import atomic_write_text

WEIGHTS_DIR = Path(__file__).parent / "weights"
EXTRA_ROOTS = "VQLAB_WEIGHTS"  # more folders of cards and weights (os.pathsep-separated), after WEIGHTS_DIR
CARD_KEYS = ("class", "config", "sha256")  # what load() needs from a card
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")  # a file name, never a path


class WeightsError(ValueError):
    """A model card or weights file is unknown, missing, corrupt or does not fit its model."""


def check_name(name) -> str:
    """``name`` if it is a plain model name (letters, digits, ``_ . -``), before any file is opened."""
    if not isinstance(name, str) or not NAME.match(name) or ".." in name:
        raise WeightsError(
            f"model names are plain names such as 'vqvae_mnist' (letters, digits, "
            f"'_', '.', '-'; no path components), got {name!r}"
        )
    return name


def roots() -> list[Path]:
    """Where models are looked for: the shipped ``WEIGHTS_DIR``, then each folder named in
    ``$VQLAB_WEIGHTS`` (e.g. converted DALL·E weights kept outside the package)."""
    extra = os.environ.get(EXTRA_ROOTS, "")
    return [WEIGHTS_DIR] + [Path(p) for p in extra.split(os.pathsep) if p]


def find_root(name: str) -> Path:
    """The first of ``roots()`` that holds the card of ``name`` (``WEIGHTS_DIR`` if none does)."""
    check_name(name)
    return next((r for r in roots() if (r / f"{name}.json").exists()), WEIGHTS_DIR)


def names(root: Path | None = None) -> list[str]:
    """Names of the models whose cards lie in ``root`` (default: every folder of ``roots()``)."""
    folders = roots() if root is None else [Path(root)]
    return sorted({p.name[: -len(".json")] for r in folders for p in r.glob("*.json")})


def weights_path(name: str, root: Path | None = None) -> Path:
    return (
        find_root(name) if root is None else Path(root)
    ) / f"{check_name(name)}.weights.npz"


def card_path(name: str, root: Path | None = None) -> Path:
    return (
        find_root(name) if root is None else Path(root)
    ) / f"{check_name(name)}.json"


def rebuild_hint(name: str) -> str:
    return f"rebuild it with `python -m vqlab.train {name}` (or `make weights`)"


def read_card(name: str, root: Path | None = None) -> dict:
    """The model card of ``name``, checked: a dict with a class, a config and a sha256."""
    path = card_path(name, root)
    if not path.exists():
        known = ", ".join(names(root)) or "none"
        where = root if root is not None else ", ".join(map(str, roots()))
        raise WeightsError(
            f"no model named {name!r}: {path} does not exist (models in {where}: "
            f"{known}); to train it, `python -m vqlab.train {name}`"
        )
    try:
        card = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise WeightsError(
            f"model card {path} is not valid JSON ({err}); {rebuild_hint(name)}"
        ) from None
    if not isinstance(card, dict):
        raise WeightsError(
            f"model card {path} should hold a JSON object, got {type(card).__name__}"
        )
    missing = [k for k in CARD_KEYS if k not in card]
    if missing:
        raise WeightsError(
            f"model card {path} lacks {', '.join(missing)}; {rebuild_hint(name)}"
        )
    if not isinstance(card["sha256"], str) or not SHA256_HEX.match(card["sha256"]):
        raise WeightsError(
            f"model card {path} has no valid sha256 (got {card['sha256']!r}): weights "
            f"are never loaded unchecked; {rebuild_hint(name)}"
        )
    return card


def json_safe(value):
    """``value`` with tuples as lists and NumPy scalars as Python numbers (what JSON holds)."""
    return json.loads(
        json.dumps(value, default=lambda v: v.item() if hasattr(v, "item") else str(v))
    )


def write_card(name: str, card: dict, root: Path = WEIGHTS_DIR) -> Path:
    """Write ``card`` as ``root/NAME.json`` atomically (the one card writer)."""
    for key in CARD_KEYS:
        if key not in card:
            raise ValueError(
                f"a model card needs {', '.join(CARD_KEYS)}; {key!r} is missing"
            )
    return atomic_write_text(
        card_path(name, root), json.dumps(json_safe(card), indent=1) + "\n"
    )


def update_card(name: str, root: Path | None = None, **entries) -> dict:
    """Read the card of ``name``, set ``entries`` in it, write it back; return it."""
    card = {**read_card(name, root), **entries}
    write_card(name, card, root)
    return card
