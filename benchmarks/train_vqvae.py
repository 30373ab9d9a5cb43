"""Training benchmark: a straightforward VQ-VAE against vqlab's recipe (``make bench``).

Both train the thesis' architecture (two stride-2 convolutions each side, code_dim 16)
with a codebook of ``NUM_CODES`` codes, batch 128, on the same MNIST training images,
and are scored on the full test set with the same function.

* reference: written here as a reader would write it from the paper: a custom
  ``train_step`` with ``tf.GradientTape``, the codebook a plain variable initialised
  uniformly at random, lookup by a one-hot matmul, codebook + commitment loss,
  Adam at a constant learning rate 1e-3, ``fit`` on NumPy arrays;
* vqlab: ``vqlab.models.VQVAE`` trained the way ``vqlab.recipes`` trains ``vqvae_mnist``:
  codebook started by k-means++ on encoder outputs (``quantizer.initialize_from``),
  dead-code restarts, a cosine learning-rate schedule, a ``tf.data`` pipeline.

The two models train in turns, one epoch each, so a change in the machine's load hits
both alike. Every 1/EVALS_PER_EPOCH epoch the script pauses the training clock,
computes the test MSE (pixels in [0, 1], decoder output clipped to [0, 1], mean over
all 10,000 test images and pixels) and restarts the clock: the times below are pure
training time, including tracing, the first step and vqlab's codebook initialisation.
Throughput (images per second of training time) is given over the whole run and over the
epochs after the first (no tracing, no initialisation). XLA (``jit_compile=True``) is left
off: on a 2-core CPU it made vqlab's training step 2-2.6x slower.

    python benchmarks/train_vqvae.py                 # the full run (30 epochs each)
    python benchmarks/train_vqvae.py --epochs 1 --limit 5000   # a smoke run
    python benchmarks/train_vqvae.py --json bench.json          # also write the results
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from vqlab import seed_everything
from vqlab.data import mnist_images
from vqlab.models import VQVAE
from vqlab.quantizer import codebook_perplexity
from vqlab.recipes import VQ_LEARNING_RATE, cosine
from vqlab.train import epoch_batches

NUM_CODES = 128
CODE_DIM = 16
FILTERS = (32, 64)
BETA = 0.25
BATCH_SIZE = 128
REFERENCE_LR = 1e-3
VQLAB_LR = VQ_LEARNING_RATE  # peak of the cosine schedule, as for vqvae_mnist
TARGETS = (0.0055, 0.0040)  # test MSE thresholds whose training time is reported
EVALS_PER_EPOCH = 4
EVAL_BATCH = 1000


class ReferenceVQVAE(keras.Model):
    """The VQ-VAE as the paper describes it, in one straightforward class."""

    def __init__(self, num_codes=NUM_CODES, code_dim=CODE_DIM, beta=BETA):
        super().__init__()
        self.num_codes, self.code_dim, self.beta = num_codes, code_dim, beta
        self.encoder = keras.Sequential(
            [keras.Input((28, 28, 1))]
            + [
                layers.Conv2D(f, 3, strides=2, padding="same", activation="relu")
                for f in FILTERS
            ]
            + [layers.Conv2D(code_dim, 1)]
        )
        self.decoder = keras.Sequential(
            [keras.Input((7, 7, code_dim))]
            + [
                layers.Conv2DTranspose(
                    f, 3, strides=2, padding="same", activation="relu"
                )
                for f in reversed(FILTERS)
            ]
            + [layers.Conv2D(1, 3, padding="same")]
        )
        lim = 1.0 / num_codes
        self.codebook = self.add_weight(
            shape=(num_codes, code_dim),
            name="codebook",
            initializer=keras.initializers.RandomUniform(-lim, lim),
        )

    def nearest_codes(self, z_e):
        codebook = tf.convert_to_tensor(self.codebook)
        flat = tf.reshape(z_e, (-1, self.code_dim))
        d = (
            tf.reduce_sum(tf.square(flat), 1, keepdims=True)
            - 2.0 * flat @ tf.transpose(codebook)
            + tf.reduce_sum(tf.square(codebook), 1)
        )
        indices = tf.argmin(d, axis=1)
        z_q = tf.one_hot(indices, self.num_codes) @ codebook
        return tf.reshape(z_q, tf.shape(z_e)), tf.reshape(indices, tf.shape(z_e)[:-1])

    def call(self, x, training=False):
        z_e = self.encoder(x, training=training)
        z_q, _ = self.nearest_codes(z_e)
        return self.decoder(z_e + tf.stop_gradient(z_q - z_e), training=training)

    def train_step(self, x):
        with tf.GradientTape() as tape:
            z_e = self.encoder(x, training=True)
            z_q, _ = self.nearest_codes(z_e)
            x_hat = self.decoder(z_e + tf.stop_gradient(z_q - z_e), training=True)
            reconstruction = tf.reduce_mean(tf.square(x - x_hat))
            codebook = tf.reduce_mean(tf.square(tf.stop_gradient(z_e) - z_q))
            commitment = self.beta * tf.reduce_mean(
                tf.square(z_e - tf.stop_gradient(z_q))
            )
            loss = reconstruction + codebook + commitment
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        return {"loss": loss, "reconstruction": reconstruction}

    def tokens(self, x):
        return np.concatenate(
            [
                self.nearest_codes(self.encoder(x[i : i + EVAL_BATCH]))[1].numpy()
                for i in range(0, len(x), EVAL_BATCH)
            ]
        )


class Clock(keras.callbacks.Callback):
    """Training time without evaluation time; test MSE every ``every`` steps and at epoch end."""

    def __init__(self, name, x_test, every, steps_per_epoch):
        super().__init__()
        self.name, self.x_test, self.every = name, x_test, every
        self.steps_per_epoch = steps_per_epoch
        self.epoch_seconds = []
        self.train_s, self.steps, self.evals, self.reached = 0.0, 0, [], {}
        self.forward = None

    def start(self):
        self.mark = time.perf_counter()

    def stop(self):
        self.train_s += time.perf_counter() - self.mark

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = self.train_s
        self.start()

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        if (batch + 1) % self.every == 0 and batch + 1 < self.steps_per_epoch:
            self.stop()
            self.evaluate()
            self.start()

    def on_epoch_end(self, epoch, logs=None):
        self.stop()
        self.epoch_seconds.append(self.train_s - self.epoch_start)
        self.evaluate()

    def evaluate(self):
        mse = test_mse(self.model, self.x_test)
        self.evals.append(
            {"step": self.steps, "train_s": round(self.train_s, 2), "test_mse": mse}
        )
        for t in TARGETS:
            if mse <= t and t not in self.reached:
                self.reached[t] = {
                    "train_s": round(self.train_s, 2),
                    "step": self.steps,
                }


def test_mse(model, x_test) -> float:
    total = 0.0
    for i in range(0, len(x_test), EVAL_BATCH):
        x = x_test[i : i + EVAL_BATCH]
        x_hat = np.clip(np.asarray(model(x, training=False)), 0.0, 1.0)
        total += float(np.sum((x - x_hat) ** 2))
    return total / x_test.size


def build_reference(x_train, total_steps):
    model = ReferenceVQVAE()
    model.compile(optimizer=keras.optimizers.Adam(REFERENCE_LR))
    return model, x_train  # fit on NumPy arrays with shuffle=True


def build_vqlab(x_train, total_steps):
    model = VQVAE(
        num_codes=NUM_CODES, code_dim=CODE_DIM, beta=BETA, filters=FILTERS
    )  # recipe = defaults
    model.compile(optimizer=keras.optimizers.Adam(cosine(VQLAB_LR)(total_steps)))
    model.start_codebook(
        x_train[:BATCH_SIZE]
    )  # what fit does on its first batch; timed here
    return model, lambda epoch: epoch_batches(
        x_train, BATCH_SIZE, seed=0, epochs=epoch + 1, start=epoch
    )


def tokens_of(model, x):
    return model.tokens(x) if isinstance(model, ReferenceVQVAE) else model.encode(x)


def run(epochs: int, limit: int | None, which: list[str]) -> dict:
    x_train, x_test = mnist_images("train", limit), mnist_images("test")
    steps_per_epoch = math.ceil(len(x_train) / BATCH_SIZE)
    every = math.ceil(steps_per_epoch / EVALS_PER_EPOCH)
    builders = {"reference": build_reference, "vqlab": build_vqlab}
    sides = {}
    for name in which:
        seed_everything(0)
        clock = Clock(name, x_test, every, steps_per_epoch)
        t = time.perf_counter()
        model, data = builders[name](x_train, steps_per_epoch * epochs)
        clock.train_s += (
            time.perf_counter() - t
        )  # vqlab's codebook initialisation counts
        clock.set_model(model)
        sides[name] = (model, data, clock)
    for epoch in range(epochs):
        for name, (model, data, clock) in sides.items():
            n_evals = len(clock.evals)
            kwargs = (
                {"batch_size": BATCH_SIZE} if name == "reference" else {}
            )  # tf.data shuffles
            model.fit(
                data(epoch) if callable(data) else data,
                epochs=epoch + 1,
                initial_epoch=epoch,
                callbacks=[clock],
                verbose=0,
                shuffle=name == "reference",
                **kwargs,
            )
            mses = " ".join(f"{e['test_mse']:.5f}" for e in clock.evals[n_evals:])
            print(
                f"epoch {epoch + 1:2d} {name:9s} train {clock.train_s:7.1f} s  test MSE {mses}",
                flush=True,
            )
    results = {}
    for name, (model, data, clock) in sides.items():
        perplexity, usage = codebook_perplexity(tokens_of(model, x_test), NUM_CODES)
        results[name] = {
            "images_per_second": round(len(x_train) * epochs / clock.train_s, 1),
            # after the first epoch: no tracing, no codebook initialisation
            "images_per_second_after_epoch_1": round(
                len(x_train) * (epochs - 1) / sum(clock.epoch_seconds[1:]), 1
            )
            if epochs > 1
            else None,
            "epoch_seconds": [round(t, 2) for t in clock.epoch_seconds],
            "train_seconds": round(clock.train_s, 1),
            "seconds_to": {
                str(t): clock.reached.get(t, {}).get("train_s") for t in TARGETS
            },
            "final_test_mse": clock.evals[-1]["test_mse"],
            "best_test_mse": min(e["test_mse"] for e in clock.evals),
            "codebook_usage": usage,
            "codebook_perplexity": perplexity,
            "evals": clock.evals,
        }
    return results


def report(results: dict, epochs: int, limit: int | None) -> dict:
    print(
        f"\n{epochs} epoch(s) on {limit or 60000} training images, batch {BATCH_SIZE}, "
        f"{NUM_CODES} codes; times exclude evaluation."
    )
    fmt = lambda v, spec: "not reached" if v is None else format(v, spec)  # noqa: E731
    for name, r in results.items():
        reach = ", ".join(
            f"MSE<={t}: {fmt(s, '.1f')}{'' if s is None else ' s'}"
            for t, s in r["seconds_to"].items()
        )
        steady = r["images_per_second_after_epoch_1"]
        print(
            f"{name:9s} {r['images_per_second']:6.0f} img/s ({fmt(steady, '.0f')} after epoch 1) | "
            f"{reach} | final MSE "
            f"{r['final_test_mse']:.5f} | codebook usage {r['codebook_usage']:.0%}, "
            f"perplexity {r['codebook_perplexity']:.1f}"
        )
    ratios = {}
    if {"reference", "vqlab"} <= results.keys():
        ref, vq = results["reference"], results["vqlab"]
        ratios["throughput"] = round(
            vq["images_per_second"] / ref["images_per_second"], 2
        )
        if vq["images_per_second_after_epoch_1"]:
            ratios["throughput_after_epoch_1"] = round(
                vq["images_per_second_after_epoch_1"]
                / ref["images_per_second_after_epoch_1"],
                2,
            )
        for t in map(str, TARGETS):
            a, b = ref["seconds_to"][t], vq["seconds_to"][t]
            if b is None:
                ratios[f"speedup_to_{t}"] = None
            elif a is None:  # reference never got there: a lower bound
                ratios[f"speedup_to_{t}"] = f">{ref['train_seconds'] / b:.2f}"
            else:
                ratios[f"speedup_to_{t}"] = round(a / b, 2)
        speedups = [
            f"MSE<={t} {'not reached by vqlab' if r is None else f'{r}x sooner'}"
            for t in map(str, TARGETS)
            for r in [ratios[f"speedup_to_{t}"]]
        ]
        print(
            f"vqlab / reference: throughput x{ratios['throughput']} "
            f"(after epoch 1: x{ratios.get('throughput_after_epoch_1', '-')}); time to "
            + ", ".join(speedups)
            + "  ('>' : the reference never got there; its total training time is used)"
        )
    return ratios


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--epochs", type=int, default=30, help="epochs for each model (default 30)"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="train on the first N images only"
    )
    parser.add_argument(
        "--json", type=str, default=None, metavar="OUT", help="write the results here"
    )
    parser.add_argument(
        "--only",
        choices=("reference", "vqlab"),
        default=None,
        help="train one side only (for trying recipes)",
    )
    args = parser.parse_args(argv)
    which = [args.only] if args.only else ["reference", "vqlab"]
    results = run(args.epochs, args.limit, which)
    ratios = report(results, args.epochs, args.limit)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "epochs": args.epochs,
                    "limit": args.limit,
                    "batch_size": BATCH_SIZE,
                    "num_codes": NUM_CODES,
                    "targets": TARGETS,
                    "evals_per_epoch": EVALS_PER_EPOCH,
                    "machine": {
                        "python": platform.python_version(),
                        "keras": keras.__version__,
                        "tensorflow": tf.__version__,
                        "cpus": __import__("os").cpu_count(),
                    },
                    "results": results,
                    "ratios": ratios,
                },
                f,
                indent=1,
            )
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
