"""Shipped weights: cards, checksums, clear errors; loading never imports training code;
training writes one checkpoint per epoch as a whole and resumes bit for bit."""

import shutil
import subprocess
import sys

import keras
import numpy as np
import pytest

from vqlab import pretrained, recipes, train
from vqlab.files import sha256_file
from vqlab.models import VQVAE

SHIPPED = [
    n for n in pretrained.names() if n != "dalle_dvae"
]  # a converted dVAE is the reader's, not shipped
MNIST_BUDGET_BYTES = (
    20 * 1024 * 1024
)  # 28 MNIST models (VAEs, VQ-VAEs, the KL sweep, the prior, the classifier); photos: their own 32 MiB


def test_every_recipe_of_the_book_is_shipped():
    assert set(SHIPPED) == set(recipes.names()), (
        "run `make weights` for the missing ones"
    )


def test_loading_does_not_import_training_code():
    code = "import sys, vqlab.pretrained; print(sorted(m for m in sys.modules if m.startswith('vqlab')))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "vqlab.pretrained" in out
    assert "vqlab.train" not in out and "vqlab.recipes" not in out


@pytest.mark.parametrize("name", SHIPPED)
def test_card_says_how_it_was_made_and_matches_the_file(name):
    card = pretrained.read_card(name)
    for key in (
        "class",
        "config",
        "command",
        "data",
        "epochs",
        "seed",
        "metrics_test",
        "sha256",
        "history",
    ):
        assert key in card, f"{name}.json lacks {key}"
    assert card["command"] == f"python -m vqlab.train {name}"
    assert sha256_file(pretrained.weights_path(name)) == card["sha256"]
    # the card builds the same model the recipe builds (training settings can't drift from loading)
    assert card["config"]["image_shape"] == list(recipes.get(name).build().image_shape)
    assert train.model_config(recipes.get(name).build()) == card["config"]


def test_shipped_mnist_weights_fit_the_budget():
    mnist = [
        n for n in SHIPPED if pretrained.read_card(n)["class"] != "PhotoVQVAE"
    ]  # photos: own budget
    total = sum(pretrained.weights_path(n).stat().st_size for n in mnist)
    assert total < MNIST_BUDGET_BYTES, f"{total / 2**20:.1f} MiB of weights"


def test_loaded_vqvae_reconstructs_test_digits():
    from vqlab.data import mnist_images

    vq = pretrained.load("vqvae_mnist")
    x = mnist_images("test", limit=200)
    assert float(np.mean((vq.reconstruct(x) - x) ** 2)) < 0.01


@pytest.fixture
def copied(tmp_path):
    name = "vqvae_mnist"
    for path in (pretrained.weights_path(name), pretrained.card_path(name)):
        shutil.copy(path, tmp_path / path.name)
    return name, tmp_path


def test_corrupt_weights_are_detected_by_checksum(copied):
    name, root = copied
    path = pretrained.weights_path(name, root)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(pretrained.WeightsError) as err:
        pretrained.load(name, root)
    assert "corrupt" in str(err.value) and str(path) in str(err.value)
    assert "python -m vqlab.train vqvae_mnist" in str(err.value)


def test_missing_weights_name_the_file_and_the_command(copied):
    name, root = copied
    pretrained.weights_path(name, root).unlink()
    with pytest.raises(
        pretrained.WeightsError,
        match=r"missing; rebuild it with `python -m vqlab.train vqvae_mnist`",
    ):
        pretrained.load(name, root)


def test_unknown_name_is_a_value_error_listing_known_ones():
    with pytest.raises(ValueError, match="no model named 'no_such_model'.*vqvae_mnist"):
        pretrained.load("no_such_model")


TINY = "test_tiny_vqvae"


@pytest.fixture
def tiny_recipe():
    recipes.register(
        recipes.Recipe(
            TINY,
            lambda: VQVAE(num_codes=8, code_dim=4, filters=(4,)),
            "a tiny model for tests",
            epochs=3,
            batch_size=64,
            learning_rate=recipes.cosine(3e-3),
        )
    )
    yield TINY
    del recipes.REGISTRY[TINY]


class Interrupt(keras.callbacks.Callback):
    """Stops a run the hard way after ``epoch`` epochs, as Ctrl-C or a killed job would."""

    def __init__(self, after_epochs):
        super().__init__()
        self.after_epochs = after_epochs

    def on_epoch_end(self, epoch, logs=None):
        if epoch + 1 == self.after_epochs:
            raise KeyboardInterrupt


def test_interrupted_training_resumes_to_the_same_weights_bit_for_bit(
    tiny_recipe, tmp_path, capsys
):
    straight = train.train(
        tiny_recipe, tmp_path / "a", tmp_path / "ca", verbose=0, limit=256
    )
    with pytest.raises(
        KeyboardInterrupt
    ):  # killed after epoch 1 (the checkpoint is written first)
        train.train(
            tiny_recipe,
            tmp_path / "b",
            tmp_path / "cb",
            verbose=0,
            limit=256,
            callbacks=[Interrupt(1)],
        )
    assert list((tmp_path / "cb" / TINY).iterdir()) == [
        tmp_path / "cb" / TINY / "checkpoint.npz"
    ]
    resumed = train.train(
        tiny_recipe, tmp_path / "b", tmp_path / "cb", verbose=0, limit=256
    )
    assert "resuming after epoch 1" in capsys.readouterr().out
    assert resumed["history"] == straight["history"]
    a, b = (pretrained.load(TINY, tmp_path / d) for d in "ab")
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert resumed["sha256"] == straight["sha256"]
    assert a.grid_shape == (14, 14)


def test_a_checkpoint_of_other_settings_stops_the_run(tiny_recipe, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        train.train(
            tiny_recipe,
            tmp_path / "w",
            tmp_path / "ck",
            verbose=0,
            limit=200,
            epochs=2,
            callbacks=[Interrupt(1)],
        )
    with pytest.raises(
        train.CheckpointError,
        match=r"other settings .*limit: 200 in the checkpoint, 256 now.*--restart",
    ):
        train.train(
            tiny_recipe, tmp_path / "w", tmp_path / "ck", verbose=0, limit=256, epochs=3
        )
    card = train.train(
        tiny_recipe,
        tmp_path / "w",
        tmp_path / "ck",
        verbose=0,
        limit=256,
        epochs=2,
        restart=True,
    )
    assert (
        card["data"].endswith("(first 256 images of each split)")
        and len(card["history"]["loss"]) == 2
    )


def test_epoch_batches_of_a_dict_keep_rows_together():
    x = {
        "tokens": np.arange(10, dtype=np.int32).reshape(10, 1),
        "labels": np.arange(10, dtype=np.int32) * 2,
    }
    for batches in (
        train.epoch_batches(x, 4, seed=3, epochs=2),
        train.EpochBatches(x, 4, seed=3),
    ):
        seen = []
        for i, b in enumerate(batches):
            if isinstance(batches, train.EpochBatches) and i == len(batches):
                break
            b = {k: np.asarray(v) for k, v in b.items()}
            np.testing.assert_array_equal(b["labels"], 2 * b["tokens"][:, 0])
            seen.extend(b["tokens"][:, 0].tolist())
        assert sorted(seen[:10]) == list(range(10))


def test_unequal_data_dict_is_refused():
    with pytest.raises(ValueError, match="equal lengths"):
        train.n_examples({"a": np.zeros(3), "b": np.zeros(4)})
