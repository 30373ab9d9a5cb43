"""Data-parallel training (``python -m vqlab.train NAME --devices N``, vqlab.distribute).

A photo recipe trained on the CPU split into two logical devices trains the model it
trains on one, up to float noise: the same loss curve, the same weights of the stacks.
Each run is a subprocess, since the CPU can be split only before TensorFlow starts.

How close is close: the first epoch's loss agrees to about 1e-6 (relative), later epochs
drift apart as float noise flips a few nearest-code choices and restart draws (two runs
on one device, one with TensorFlow's oneDNN kernels and one without, drift as much), so
the curve is held to a looser bound than its first epoch. The codebook itself is not
compared: one restart that draws another vector moves a code entirely. What each bound
rules out was measured by breaking the code on purpose: a quantizer counting only its
own device's share, restarts drawn from it, gradients not weighted by the shares (twice
the step), a batch per device as large as the recipe's, the dVAE's noise drawn per
device: each moves the first epoch's loss by 4e-3 or more, and the stacks' weights by
8e-3 or more.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import vqlab
from vqlab import corpus, distribute, pretrained, recipes, train
from vqlab.models import VQVAE

LIB = (
    Path(vqlab.__file__).resolve().parents[1]
)  # the vqlab under test, for subprocesses
FIRST_EPOCH_RTOL = 1e-4  # loss and reconstruction in epoch 1 (measured: about 1e-6)
CURVE_RTOL = 3e-3  # every loss term, every epoch (measured: up to 1e-3)
STATS_RTOL = 5e-3  # perplexity and usage in epoch 1 (measured: up to 6e-4)
WEIGHTS_RTOL = 1e-3  # |w2 - w1| / |w1| over the stacks' weights (measured: 1e-4)


def run(*args, env=None, check=True):
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        check=check,
        env={
            **os.environ,
            "PYTHONPATH": str(LIB),
            "PYTHONHASHSEED": "0",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            **(env or {}),
        },
    )


def trained(tmp: Path, name: str, limit: int, epochs: int, devices: int) -> Path:
    """Train ``name`` in a fresh process; the folder of its card and checkpoint."""
    folder = tmp / f"{name}-{devices}"
    run(
        *("-m", "vqlab.train", name, "--limit", str(limit), "--epochs", str(epochs)),
        *("--devices", str(devices), "--verbose", "0"),
        *("--out", str(folder / "out"), "--checkpoints", str(folder / "ck")),
    )
    return folder


def card(folder: Path, name: str) -> dict:
    return json.loads((folder / "out" / f"{name}.json").read_text())


def checkpoint(folder: Path, name: str):
    return np.load(folder / "ck" / name / train.CHECKPOINT_FILE)


def stack_weights(ckpt) -> np.ndarray:
    """The encoder's and decoder's weights of a checkpoint, in one vector."""
    keys = [k for k in ckpt.files if k.startswith("w/") and "quantizer" not in k]
    return np.concatenate([ckpt[k].ravel() for k in keys])


def relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return np.abs(b - a) / np.maximum(np.abs(a), 1e-12)


def assert_same_training(one: Path, two: Path, name: str):
    h1, h2 = card(one, name)["history"], card(two, name)["history"]
    assert h1.keys() == h2.keys()
    for term in h1:
        base = term.removeprefix("val_")
        diff = relative(h1[term], h2[term])
        if base in ("loss", "reconstruction"):
            assert diff[0] < FIRST_EPOCH_RTOL, (term, h1[term], h2[term])
        if base in ("perplexity", "usage"):
            assert diff[0] < STATS_RTOL, (term, h1[term], h2[term])
        elif base != "temperature":  # a loss term
            assert diff.max() < CURVE_RTOL, (term, h1[term], h2[term])
    w1, w2 = (stack_weights(checkpoint(f, name)) for f in (one, two))
    assert np.linalg.norm(w2 - w1) / np.linalg.norm(w1) < WEIGHTS_RTOL
    assert card(one, name)["trained_with"]["devices"] == 1
    assert card(two, name)["trained_with"]["devices"] == 2


SMALL = "photo_small"  # bundled photos: always at hand
SMALL_LIMIT, SMALL_EPOCHS = 352, 2  # 11 batches of 32 per epoch: 22 steps


@pytest.fixture(scope="module")
def small_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("distribute")
    return tmp, {d: trained(tmp, SMALL, SMALL_LIMIT, SMALL_EPOCHS, d) for d in (1, 2)}


def test_two_devices_train_the_one_device_vqvae(small_runs):
    _, runs = small_runs
    assert_same_training(runs[1], runs[2], SMALL)
    settings = json.loads(str(checkpoint(runs[2], SMALL)["settings"]))
    assert settings["devices"] == 2 and settings["batch_size"] == 32


def test_a_two_device_run_resumes_bit_for_bit_on_two_devices_only(small_runs):
    tmp, runs = small_runs
    out, ck = tmp / "resumed" / "out", tmp / "resumed" / "ck"
    interrupted = run(
        "-c",
        "import sys, keras\n"
        "from vqlab import train\n"
        "class Stop(keras.callbacks.Callback):\n"
        "    def on_epoch_end(self, epoch, logs=None):\n"
        "        raise KeyboardInterrupt\n"
        f"train.train({SMALL!r}, sys.argv[1], sys.argv[2], epochs={SMALL_EPOCHS}, "
        f"verbose=0, limit={SMALL_LIMIT}, devices=2, callbacks=[Stop()])",
        str(out),
        str(ck),
        check=False,
    )
    assert "KeyboardInterrupt" in interrupted.stderr
    assert (ck / SMALL / train.CHECKPOINT_FILE).exists()
    command = ("-m", "vqlab.train", SMALL, "--limit", str(SMALL_LIMIT), "--verbose")
    command += ("0", "--epochs", str(SMALL_EPOCHS), "--out", str(out))
    command += ("--checkpoints", str(ck))
    other = run(*command, "--devices", "1", check=False)
    assert other.returncode == 2
    assert "devices: 2 in the checkpoint, 1 now" in other.stderr
    resumed = run(*command, "--devices", "2")
    assert "resuming after epoch 1" in resumed.stdout
    again, straight = card(tmp / "resumed", SMALL), card(runs[2], SMALL)
    assert again["sha256"] == straight["sha256"]
    assert again["history"] == straight["history"]


DVAE = (
    "photo_dvae_f8"  # Gumbel noise, schedules of the step, validation after each epoch
)
DVAE_LIMIT, DVAE_EPOCHS = 128, 2  # 8 batches of 16 per epoch; 2 validation batches


@pytest.mark.skipif(
    bool(corpus.missing()), reason="the photo corpus is not cached (vqlab.corpus)"
)
def test_two_devices_train_the_one_device_dvae(tmp_path):
    runs = {d: trained(tmp_path, DVAE, DVAE_LIMIT, DVAE_EPOCHS, d) for d in (1, 2)}
    assert_same_training(runs[1], runs[2], DVAE)
    assert "val_loss" in card(runs[2], DVAE)["history"]


# The errors, in this process ----------------------------------------------------------
def test_more_devices_than_gpus_are_refused(monkeypatch):
    import tensorflow as tf

    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind=None: ["GPU:0"])
    with pytest.raises(distribute.DevicesError, match="sees 1 GPU.*--devices 1"):
        distribute.strategy(2)


def test_another_backend_is_refused(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    with pytest.raises(distribute.DevicesError, match="tensorflow backend.*'torch'"):
        distribute.strategy(2)
    assert distribute.strategy(1) is None  # one device needs no strategy


def test_splitting_a_started_cpu_is_refused_with_the_command(tmp_path, capsys):
    import tensorflow as tf

    if len(tf.config.list_logical_devices("CPU")) > 1:  # starts TensorFlow
        pytest.skip("this process's CPU is already split")
    argv = [SMALL, "--devices", "2", "--out", str(tmp_path), "--limit", "64"]
    assert train.main(argv) == 2
    err = capsys.readouterr().err
    assert "TensorFlow has started" in err and "--devices 2" in err


def test_uneven_shares_are_refused():
    small, f8 = recipes.get(SMALL), recipes.get("photo_f8")
    train._check_even_split(small, 2, SMALL_LIMIT, 0)
    with pytest.raises(distribute.DevicesError, match="training batches of 1 exam"):
        train._check_even_split(small, 2, SMALL_LIMIT + 1, 0)  # a share of 0
    with pytest.raises(distribute.DevicesError, match="batches of 32 .*over 3 dev"):
        train._check_even_split(small, 3, SMALL_LIMIT, 0)
    with pytest.raises(distribute.DevicesError, match="validation batches of 41"):
        train._check_even_split(f8, 2, 64, 41)


def test_a_model_with_batch_norm_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(distribute, "strategy", lambda devices: None)
    x = {"images": np.zeros((64, 28, 28, 1), "float32"), "labels": np.zeros(64, int)}
    monkeypatch.setattr(train, "load_data", lambda kind, limit: (x, x))
    with pytest.raises(distribute.DevicesError, match="DigitClassifier.*one device"):
        train.train("digit_classifier", tmp_path, tmp_path, devices=2)


def test_a_checkpoint_from_before_the_device_count_resumes_on_one(tmp_path):
    model = VQVAE(8, 4, filters=(4,))
    pretrained.create_weights(model)
    model.compile(optimizer="adam")
    model.optimizer.build(model.trainable_variables)
    old = train.Checkpoint(tmp_path, {"model": "m", "epochs": 2})  # no "devices"
    old.set_model(model)
    old.on_epoch_end(0, {"loss": 1.0})
    assert train.Checkpoint(tmp_path, {"model": "m", "devices": 1}).restore(model) == 1
    with pytest.raises(train.CheckpointError, match="devices: 1 in the checkpoint"):
        train.Checkpoint(tmp_path, {"model": "m", "devices": 2}).restore(model)
