"""Record what every shipped model computes, to prove a change of the weights format.

    python tools/shipped_reference.py            # writes tests/data/shipped_reference.npz

For each shipped model (every card in ``lib/vqlab/weights``): the outputs of ``model(x)``
on a fixed seeded input, and the sha256 of its weights, array by array, in the order of
``model.weights``. ``tests/test_migration.py`` loads every model with the current loader
and asserts both are unchanged. Written once, with the loader of the old format, before
the weights files were migrated to the format keyed by variable path (issue 20).
"""

from __future__ import annotations

import hashlib
import platform
from pathlib import Path

import keras
import numpy as np

OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "shipped_reference.npz"


def machine() -> str:
    """The CPU's model name (oneDNN's kernels, hence the last bits of a float, depend on it)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def reference_input(model) -> np.ndarray:
    """The fixed input of one model: two images (or token grids) drawn from seed 0."""
    rng = np.random.default_rng(0)
    name = type(model).__name__
    if name == "GatedPixelCNN":
        h, w = model.grid_shape
        return rng.integers(0, model.num_codes, size=(2, h, w, 1)).astype(np.float32)
    shape = tuple(model.image_shape)
    if (
        shape[-1] == 3
    ):  # photo models are convolutional: a small crop keeps the file small
        shape = (32, 32, 3)
    return rng.uniform(0, 1, size=(2,) + shape).astype(np.float32)


def weight_digests(model) -> list[str]:
    """sha256 of each weight's float16 bytes (the stored precision), in ``model.weights`` order."""
    return [
        hashlib.sha256(np.asarray(w).astype(np.float16).tobytes()).hexdigest()
        for w in model.weights
    ]


def outputs(model, x) -> np.ndarray:
    return np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), np.float32)


def main() -> None:
    from vqlab import pretrained

    arrays = {"machine": np.array(machine())}
    for name in pretrained.names():
        model = pretrained.load(name)
        x = reference_input(model)
        arrays[f"{name}/input"] = x
        arrays[f"{name}/output"] = outputs(model, x)
        arrays[f"{name}/weights"] = np.array(weight_digests(model))
        print(name, arrays[f"{name}/output"].shape, len(model.weights), "weights")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **arrays)
    print("wrote", OUT)


if __name__ == "__main__":
    main()
