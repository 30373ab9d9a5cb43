"""Migrate shipped weights files from the positional format to the format keyed by name.

    python tools/migrate_weights.py [--root lib/vqlab/weights]

Until vqlab 0.2 a weights file held ``model.get_weights()`` by position (``w000``,
``w001``, ...). This reads each such file into the model its card builds (the model's
``weights`` order is the order those files were written in), checks every shape, and
rewrites the file keyed by variable path (``vqlab.named_weights``), at the same float16
precision, so every value is unchanged; the card gets the new sha256 and
``weights_format``. Files already keyed by name are left alone. ``tests/test_migration.py``
proves the result against ``tests/data/shipped_reference.npz``, recorded before.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from vqlab import cards, named_weights, pretrained

POSITIONAL = re.compile(r"^w\d{3}$")


def migrate(name: str, root: Path) -> bool:
    card = cards.read_card(name, root)
    path = cards.weights_path(name, root)
    arrays = named_weights.read(path)
    if not all(POSITIONAL.match(k) for k in arrays):
        return False
    model = pretrained.build(card, str(cards.card_path(name, root)))
    ordered = [arrays[k] for k in sorted(arrays)]
    expected = [tuple(w.shape) for w in model.weights]
    if [a.shape for a in ordered] != expected:
        raise SystemExit(
            f"{path}: {len(ordered)} arrays do not fit the model's {len(expected)} weights"
        )
    dtype = ordered[0].dtype if ordered else np.float16
    model.set_weights([a.astype(np.float32) for a in ordered])
    digest = named_weights.save(model, path, dtype=dtype, compressed=True)
    cards.update_card(name, root, sha256=digest, weights_format=named_weights.FORMAT)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=cards.WEIGHTS_DIR)
    args = parser.parse_args()
    for name in cards.names(args.root):
        print(
            f"{name}: {'migrated' if migrate(name, args.root) else 'already by name'}"
        )


if __name__ == "__main__":
    main()
