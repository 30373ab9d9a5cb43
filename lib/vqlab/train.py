"""Retrain a shipped model from scratch: ``python -m vqlab.train NAME [NAME ...]`` (or ``all``).

Follows the model's recipe in ``vqlab.recipes``, shows Keras' progress bar, and after
every epoch writes one checkpoint file, ``checkpoints/NAME/checkpoint.npz``, as a whole
(a temporary file renamed into place): the settings of the run, the weights, the random
generators' states, the optimizer's state, the epoch and the history. Run the same
command again after an interruption and it resumes from the last finished epoch and
ends with the same weights, bit for bit, as a run that was never interrupted: each
epoch's order of images is drawn from (seed, epoch) alone. A checkpoint made with other
settings, or a broken one, stops the run with a message; ``--restart`` starts over.

At the end it writes ``NAME.weights.npz`` and the model card ``NAME.json`` to the
weights folder (``--out`` to write elsewhere); see ``vqlab.pretrained``.

``--devices N`` trains data-parallel on N devices (the first N GPUs, or the CPU split
into N logical devices where there are none) with TensorFlow's MirroredStrategy: the
recipe's batch size is the global batch, split N ways, so the run trains the model it
trains on one device, up to float noise (``vqlab.distribute``). A checkpoint resumes on
the number of devices that made it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import platform
import sys
import time
from pathlib import Path

import keras
import numpy as np

from . import cards, checks, distribute, named_weights, pretrained, recipes
from .files import atomic_savez

CHECKPOINT_DIR = Path("checkpoints")
CHECKPOINT_FILE = "checkpoint.npz"
VALIDATION_BATCH = 64  # test examples per pass when a recipe validates after each epoch


class CheckpointError(RuntimeError):
    """A checkpoint is broken or was made by a run with other settings."""


# Settings that checkpoints written before the setting existed were made with.
OLD_SETTINGS = {"devices": 1}


json_safe = (
    cards.json_safe
)  # ``value`` as it reads back from JSON (tuples become lists)


def model_config(model: keras.Model) -> dict:
    """``model.get_config()`` as a card stores it: JSON values, without Keras' generated name."""
    return {k: v for k, v in json_safe(model.get_config()).items() if k != "name"}


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The order in which epoch ``epoch`` visits ``n`` images: depends on (seed, epoch) only."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def n_examples(x) -> int:
    """How many examples ``x`` holds: an array, or a dict of arrays of equal length."""
    if isinstance(x, dict):
        lengths = {k: len(v) for k, v in x.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(
                f"the arrays of a data dict should have equal lengths, got {lengths}"
            )
        return next(iter(lengths.values()))
    return len(x)


def take(x, index):
    """``x[index]`` for an array, or for every array of a dict of arrays."""
    return {k: v[index] for k, v in x.items()} if isinstance(x, dict) else x[index]


class EpochBatches(keras.utils.PyDataset):
    """The batches of one epoch at a time, starting at epoch ``start`` (other backends than TF)."""

    def __init__(self, x, batch_size: int, seed: int, start: int = 0):
        super().__init__()
        self.x, self.batch_size, self.seed, self.epoch = x, batch_size, seed, start
        self.n = n_examples(x)
        self.order = epoch_order(self.n, seed, start)

    def __len__(self):
        return math.ceil(self.n / self.batch_size)

    def __getitem__(self, i):
        return take(self.x, self.order[i * self.batch_size : (i + 1) * self.batch_size])

    def on_epoch_end(self):
        self.epoch += 1
        self.order = epoch_order(self.n, self.seed, self.epoch)


def epoch_batches(x, batch_size: int, seed: int, epochs: int, start: int = 0):
    """The batches of epochs ``start`` .. ``epochs - 1``, in order: a tf.data pipeline
    (or an ``EpochBatches`` dataset when Keras runs on another backend).

    ``x`` is an array of examples, or a dict of arrays (e.g. tokens and labels) whose
    batches reach ``loss_terms`` as dicts. Shuffles indices, not images, and gathers each
    batch: 60,000 integers cost far less per epoch than pushing 60,000 images through a
    shuffle buffer.
    """
    if keras.backend.backend() != "tensorflow":
        return EpochBatches(x, batch_size, seed, start)
    import tensorflow as tf

    orders = np.stack(
        [epoch_order(n_examples(x), seed, e) for e in range(start, epochs)]
    )  # (epochs - start, n)
    data = tf.nest.map_structure(tf.constant, x)
    return (
        tf.data.Dataset.from_tensor_slices(orders)
        .flat_map(
            lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        )
        .map(
            lambda idx: tf.nest.map_structure(lambda a: tf.gather(a, idx), data),
            num_parallel_calls=tf.data.AUTOTUNE,
        )
        .prefetch(tf.data.AUTOTUNE)
    )


def random_states(model: keras.Model) -> list:
    """The model's variables that are not weights: its random generators' states."""
    weights = {id(w) for w in model.weights}
    return [v for v in model.variables if id(v) not in weights]


class Checkpoint(keras.callbacks.Callback):
    """Writes the whole training state after each epoch; ``restore`` picks it up again."""

    def __init__(self, folder: Path, settings: dict):
        super().__init__()
        self.path = Path(folder) / CHECKPOINT_FILE
        self.settings = json_safe(settings)
        self.history: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch, logs=None):
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(float(v))
        arrays = {
            "settings": np.array(json.dumps(self.settings)),
            "progress": np.array(
                json.dumps({"epoch": epoch + 1, "history": self.history})
            ),
        }
        arrays.update(
            {
                f"w/{k}": np.asarray(v)
                for k, v in named_weights.variable_paths(self.model).items()
            }
        )
        parts = {
            "r": [np.asarray(v) for v in random_states(self.model)],
            "o": [np.asarray(v) for v in self.model.optimizer.variables],
        }
        for prefix, values in parts.items():
            arrays.update({f"{prefix}{i:04d}": v for i, v in enumerate(values)})
        atomic_savez(self.path, arrays, compressed=False)

    def _broken(self, why: str) -> CheckpointError:
        return CheckpointError(
            f"checkpoint {self.path} is broken ({why}). Delete it, or rerun with "
            f"--restart to train from scratch."
        )

    def restore(self, model: keras.Model) -> int:
        """Load the checkpoint into ``model`` (compiled); return the epoch to start at (0 if none)."""
        if not self.path.exists():
            if (self.path.parent / "state.json").exists():
                raise self._broken(
                    "it is in the old three-file format, which could not be written as a whole"
                )
            return 0
        try:
            with np.load(self.path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            settings = {**OLD_SETTINGS, **json.loads(str(arrays.pop("settings")))}
            progress = json.loads(str(arrays.pop("progress")))
            epoch, self.history = int(progress["epoch"]), progress["history"]
        except (
            Exception
        ) as err:  # a truncated or bit-flipped archive fails in many ways; name them
            raise self._broken(f"{type(err).__name__}: {err}") from None
        changed = {
            k: (settings.get(k), v)
            for k, v in self.settings.items()
            if settings.get(k) != v
        }
        if changed:
            lines = "; ".join(
                f"{k}: {old!r} in the checkpoint, {new!r} now"
                for k, (old, new) in changed.items()
            )
            raise CheckpointError(
                f"checkpoint {self.path} was made by a run with other settings ({lines}). "
                f"Rerun with the checkpoint's settings to resume it, or add --restart "
                f"to start over."
            )
        weights = {k[2:]: v for k, v in arrays.items() if k.startswith("w/")}
        parts = {
            p: [arrays[k] for k in sorted(arrays) if k.startswith(p) and "/" not in k]
            for p in "ro"
        }
        model.optimizer.build(model.trainable_variables)
        paths = named_weights.variable_paths(model)
        targets = {"r": random_states(model), "o": model.optimizer.variables}
        if set(weights) != set(paths) or any(
            weights[k].shape != tuple(v.shape) for k, v in paths.items()
        ):
            raise self._broken(
                "its weights do not fit this model (names or shapes differ)"
            )
        for p, values in parts.items():
            if [tuple(v.shape) for v in values] != [tuple(t.shape) for t in targets[p]]:
                raise self._broken("its arrays do not fit this model and optimizer")
        key_of = {id(v): k for k, v in paths.items()}
        model.set_weights([weights[key_of[id(v)]] for v in model.weights])
        for var, value in zip(
            targets["r"] + list(targets["o"]), parts["r"] + parts["o"]
        ):
            var.assign(value)
        return epoch


def load_data(kind: str, limit: int | None):
    """The (train, test) examples of data set ``kind`` from ``recipes.DATA``."""
    if kind not in recipes.DATA:
        raise ValueError(f"unknown data set {kind!r}; known: {', '.join(recipes.DATA)}")
    return recipes.DATA[kind]("train", limit), recipes.DATA[kind]("test", limit)


def evaluate(model, x_test, batch_size=500) -> dict:
    result = model.evaluate(x_test, batch_size=batch_size, verbose=0, return_dict=True)
    return {k: float(v) for k, v in result.items()}


def train(
    name: str,
    out: Path = cards.WEIGHTS_DIR,
    checkpoint_dir: Path = CHECKPOINT_DIR,
    epochs: int | None = None,
    verbose: int = 1,
    limit: int | None = None,
    restart: bool = False,
    callbacks=(),
    devices: int = 1,
) -> dict:
    """Train recipe ``name`` (resuming if its checkpoint exists) and write weights and card.

    ``devices > 1``: data-parallel on that many devices (``vqlab.distribute.strategy``),
    the recipe's batch split over them; on a machine without GPUs this has to run before
    TensorFlow has started in the process (the CPU is split into logical devices)."""
    r = recipes.get(name)
    epochs = checks.positive_int("epochs", r.epochs if epochs is None else epochs)
    limit = None if limit is None else checks.positive_int("limit", limit)
    devices = checks.positive_int("devices", devices)
    strategy = distribute.strategy(devices)  # None on one device
    with strategy.scope() if strategy else contextlib.nullcontext():
        model, ckpt, seconds, x_test = _fit(
            name, r, epochs, limit, devices, checkpoint_dir, verbose, restart, callbacks
        )
        path = cards.weights_path(name, out)
        digest = named_weights.save(model, path)
    card = {
        "name": name,
        "description": r.description,
        "class": type(model).__name__,
        "config": model_config(model),
        "command": r.command,
        "data": r.data + (f" (first {limit} images of each split)" if limit else ""),
        "epochs": epochs,
        "steps": ckpt.steps_per_epoch * epochs,
        "batch_size": r.batch_size,
        "optimizer": "Adam",
        "learning_rate": json_safe(ckpt.settings["learning_rate"]),
        "seed": r.seed,
    }
    reloaded = named_weights.load_into(pretrained.build(card), path, digest, name)
    reloaded.compile(optimizer="adam")
    card.update(
        {
            "metrics_test": evaluate(reloaded, x_test),
            "history": ckpt.history,
            "train_seconds_this_run": round(seconds, 1),
            "trained_with": {
                "python": platform.python_version(),
                "keras": keras.__version__,
                "backend": keras.backend.backend(),
                "device": distribute.device_kind(),
                "devices": devices,
            },
            "weights_file": path.name,
            "weights_format": named_weights.FORMAT,
            "sha256": digest,
        }
    )
    cards.write_card(name, card, out)
    print(f"{name}: wrote {path} and its card; test metrics {card['metrics_test']}")
    return card


def _fit(name, r, epochs, limit, devices, checkpoint_dir, verbose, restart, callbacks):
    """Build, compile, restore and fit recipe ``r`` (in the strategy's scope, if any):
    (model, checkpoint callback, seconds of fitting, the test examples)."""
    x_train, x_test = load_data(r.data, limit)
    keras.utils.set_random_seed(r.seed)
    model = r.build()
    if devices > 1 and not getattr(model, "DATA_PARALLEL", False):
        raise distribute.DevicesError(
            f"{name}'s model ({type(model).__name__}) does not train data-parallel "
            f"(see its DATA_PARALLEL); train it on one device (--devices 1)"
        )
    if devices > 1:
        _check_even_split(r, devices, n_examples(x_train), n_examples(x_test))
    if isinstance(x_train, dict):
        model.loss_terms(take(x_train, slice(0, 1)))  # create every weight
        # ... so the model is built: on several devices Keras would otherwise build it
        # by calling it on a batch, which a model of dict data does not take
        model.built = True
    else:
        pretrained.create_weights(model)
    steps_per_epoch = math.ceil(n_examples(x_train) / r.batch_size)
    lr = (
        r.learning_rate(steps_per_epoch * epochs)
        if callable(r.learning_rate)
        else r.learning_rate
    )
    model.compile(optimizer=keras.optimizers.Adam(lr))
    settings = {
        "model": name,
        "class": type(model).__name__,
        "config": model_config(model),
        "data": r.data,
        "limit": limit,
        "epochs": epochs,
        "batch_size": r.batch_size,
        "seed": r.seed,
        "learning_rate": lr if isinstance(lr, float) else lr.get_config(),
        "devices": devices,
    }
    ckpt = Checkpoint(Path(checkpoint_dir) / name, settings)
    ckpt.steps_per_epoch = steps_per_epoch  # the card records the run's steps
    if restart:
        ckpt.path.unlink(missing_ok=True)
    start = ckpt.restore(model)
    if start:
        print(f"{name}: resuming after epoch {start} from {ckpt.path}")
    t0 = time.time()
    if start < epochs:
        model.fit(
            epoch_batches(x_train, r.batch_size, r.seed, epochs, start),
            epochs=epochs,
            initial_epoch=start,
            steps_per_epoch=steps_per_epoch,
            callbacks=[ckpt, *callbacks],
            validation_data=x_test if r.validate else None,
            validation_batch_size=VALIDATION_BATCH,
            verbose=verbose,
            shuffle=False,
        )
    return model, ckpt, time.time() - t0, x_test


def _check_even_split(r, devices: int, n_train: int, n_test: int):
    """Refuse a run whose batches do not split into equal shares over ``devices``: Keras
    starts a data-parallel fit (and each validation) on a first batch whose shares must
    have one shape, and TensorFlow's convolutions fail on an empty share (the last batch
    of 1 example, split over 2 devices)."""
    runs = {"training": (n_train, r.batch_size)}
    if r.validate:
        runs["validation"] = (n_test, VALIDATION_BATCH)
    for kind, (n, batch) in runs.items():
        uneven = sorted({b for b in (min(batch, n), n % batch) if b % devices})
        if uneven:
            raise distribute.DevicesError(
                f"{r.name} has {kind} batches of {' and '.join(map(str, uneven))} "
                f"example(s), which do not split evenly over {devices} devices; use a "
                f"number of devices that divides the batch size ({r.batch_size}) and "
                f"{VALIDATION_BATCH}, and with --limit a limit that it divides too"
            )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer, got {text!r}"
        ) from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "names", nargs="+", help=f"model names or 'all': {', '.join(recipes.names())}"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=cards.WEIGHTS_DIR,
        help="where to write weights and cards",
    )
    parser.add_argument("--checkpoints", type=Path, default=CHECKPOINT_DIR)
    parser.add_argument(
        "--epochs",
        type=_positive_int,
        default=None,
        help="override the recipe's epochs",
    )
    parser.add_argument(
        "--limit",
        type=_positive_int,
        default=None,
        help="train and test on the first N images only (smoke tests)",
    )
    parser.add_argument(
        "--restart",
        action="store_true",
        help="delete the checkpoint and start from scratch",
    )
    parser.add_argument(
        "--devices",
        type=_positive_int,
        default=1,
        metavar="N",
        help="train data-parallel on N devices: the first N GPUs, or N logical CPU "
        "devices on a machine without GPUs; the recipe's batch is split over them",
    )
    parser.add_argument(
        "--verbose",
        type=int,
        default=1,
        choices=(0, 1, 2),
        help="Keras fit verbosity: 1 progress bar, 2 one line per epoch",
    )
    args = parser.parse_args(argv)
    todo = recipes.names() if args.names == ["all"] else args.names
    for name in todo:
        if name not in recipes.REGISTRY:
            parser.error(
                f"no recipe named {name!r}; known: {', '.join(recipes.names())}"
            )
    for name in todo:
        try:
            train(
                name,
                args.out,
                args.checkpoints,
                args.epochs,
                verbose=args.verbose,
                limit=args.limit,
                restart=args.restart,
                devices=args.devices,
            )
        except (CheckpointError, distribute.DevicesError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
