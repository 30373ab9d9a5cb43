"""Retrain a shipped model from scratch: ``python -m vqlab.train NAME`` (or ``all``).

Follows the model's recipe in ``vqlab.recipes``, shows Keras' progress bar, and saves a
checkpoint (weights, optimizer state, epoch, history) after every epoch under
``checkpoints/NAME/``. Run the same command again after an interruption and it resumes
from the last finished epoch. At the end it writes ``NAME.weights.npz`` and the model
card ``NAME.json`` to the weights folder (``--out`` to write elsewhere).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from pathlib import Path

import keras
import numpy as np

from . import pretrained
from .data import mnist_images

CHECKPOINT_DIR = Path("checkpoints")


def _atomic_savez(path: Path, arrays: dict):
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


class Checkpoint(keras.callbacks.Callback):
    """Saves model and optimizer state after each epoch; ``restore`` picks it up again."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = Path(folder)
        self.history: dict[str, list[float]] = {}

    @property
    def meta_path(self):
        return self.folder / "state.json"

    def on_epoch_end(self, epoch, logs=None):
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(float(v))
        self.folder.mkdir(parents=True, exist_ok=True)
        _atomic_savez(self.folder / "model.npz",
                      {f"w{i:03d}": w for i, w in enumerate(self.model.get_weights())})
        opt_vars = [np.asarray(v) for v in self.model.optimizer.variables]
        _atomic_savez(self.folder / "optimizer.npz", {f"v{i:03d}": v for i, v in enumerate(opt_vars)})
        tmp = self.meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"epoch": epoch + 1, "history": self.history}))
        tmp.replace(self.meta_path)  # written last: a state.json always names complete files

    def restore(self, model: keras.Model) -> int:
        """Load the last checkpoint into ``model`` (compiled); return the epoch to start at."""
        if not self.meta_path.exists():
            return 0
        meta = json.loads(self.meta_path.read_text())
        with np.load(self.folder / "model.npz", allow_pickle=False) as f:
            model.set_weights([f[k] for k in sorted(f.files)])
        model.optimizer.build(model.trainable_variables)
        with np.load(self.folder / "optimizer.npz", allow_pickle=False) as f:
            saved = [f[k] for k in sorted(f.files)]
        if len(saved) != len(model.optimizer.variables):
            raise RuntimeError(f"checkpoint in {self.folder} does not match this recipe; delete it")
        for var, value in zip(model.optimizer.variables, saved):
            var.assign(value)
        self.history = meta["history"]
        return int(meta["epoch"])


def batches(x, batch_size: int, seed: int = 0):
    """A tf.data pipeline of shuffled batches of ``x`` that shuffles indices, not images.

    Shuffling 60,000 integers and gathering each batch costs far less per epoch than
    pushing 60,000 images through a shuffle buffer.
    """
    import tensorflow as tf

    images = tf.constant(x)
    return (tf.data.Dataset.range(len(x))
            .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
            .map(lambda idx: tf.gather(images, idx), num_parallel_calls=tf.data.AUTOTUNE)
            .prefetch(tf.data.AUTOTUNE))


def load_data(kind: str):
    if kind != "mnist":
        raise ValueError(f"unknown data set {kind!r}")
    return mnist_images("train"), mnist_images("test")


def evaluate(model, x_test, batch_size=500) -> dict:
    result = model.evaluate(x_test, batch_size=batch_size, verbose=0, return_dict=True)
    return {k: float(v) for k, v in result.items()}


def train(name: str, out: Path = pretrained.WEIGHTS_DIR, checkpoint_dir: Path = CHECKPOINT_DIR,
          epochs: int | None = None, verbose: int = 1, limit: int | None = None) -> dict:
    """Train recipe ``name`` (resuming if a checkpoint exists) and write weights and card."""
    r = pretrained.recipe(name)
    epochs = epochs or r.epochs
    x_train, x_test = load_data(r.data)
    if limit:
        x_train, x_test = x_train[:limit], x_test[:limit]
    model = pretrained.build(name)
    steps = math.ceil(len(x_train) / r.batch_size) * epochs
    lr = r.learning_rate(steps) if callable(r.learning_rate) else r.learning_rate
    model.compile(optimizer=keras.optimizers.Adam(lr))
    ckpt = Checkpoint(Path(checkpoint_dir) / name)
    start = ckpt.restore(model)
    if start:
        print(f"{name}: resuming after epoch {start} from {ckpt.folder}")
    elif r.prepare is not None:
        r.prepare(model, x_train)
    ds = batches(x_train, r.batch_size, seed=r.seed + start)
    t0 = time.time()
    if start < epochs:
        model.fit(ds, epochs=epochs, initial_epoch=start, callbacks=[ckpt], verbose=verbose, shuffle=False)
    seconds = time.time() - t0

    out = Path(out)
    digest = pretrained.save_weights(model, pretrained.weights_path(name, out))
    reloaded = pretrained.load_weights_into(pretrained.build(name), pretrained.weights_path(name, out),
                                            digest, r.command)
    reloaded.compile(optimizer="adam")
    card = {
        "name": name,
        "description": r.description,
        "command": r.command,
        "data": r.data + (f" (first {limit} images)" if limit else ""),
        "epochs": epochs,
        "batch_size": r.batch_size,
        "optimizer": "Adam",
        "learning_rate": r.learning_rate if not callable(r.learning_rate) else str(lr.get_config()),
        "seed": r.seed,
        "config": reloaded.get_config(),
        "metrics_test": evaluate(reloaded, x_test),
        "history": ckpt.history,
        "train_seconds_this_run": round(seconds, 1),
        "trained_with": {"python": platform.python_version(), "keras": keras.__version__},
        "weights_file": pretrained.weights_path(name, out).name,
        "sha256": digest,
    }
    pretrained.card_path(name, out).write_text(json.dumps(card, indent=1, default=str) + "\n")
    print(f"{name}: wrote {pretrained.weights_path(name, out)} and its card; "
          f"test metrics {card['metrics_test']}")
    return card


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="+", help=f"model names or 'all': {', '.join(pretrained.names())}")
    parser.add_argument("--out", type=Path, default=pretrained.WEIGHTS_DIR, help="where to write weights and cards")
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINT_DIR)
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    parser.add_argument("--limit", type=int, default=None, help="train on the first N images only (smoke tests)")
    parser.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2),
                        help="Keras fit verbosity: 1 progress bar, 2 one line per epoch")
    args = parser.parse_args(argv)
    todo = pretrained.names() if args.names == ["all"] else args.names
    for name in todo:
        pretrained.recipe(name)  # fail early on an unknown name
    for name in todo:
        train(name, args.out, args.checkpoints, args.epochs, verbose=args.verbose, limit=args.limit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
