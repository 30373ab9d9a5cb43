"""Shipped weights: cards, checksums, clear errors; training resumes from its checkpoint."""

import json
import shutil

import numpy as np
import pytest

from vqlab import pretrained, train
from vqlab.models import VQVAE

SHIPPED = sorted(p.name[: -len(".json")] for p in pretrained.WEIGHTS_DIR.glob("*.json"))
MNIST_BUDGET_BYTES = 10 * 1024 * 1024


def test_every_recipe_of_the_book_is_shipped():
    assert set(SHIPPED) == set(pretrained.names()), "run `make weights` for the missing ones"


@pytest.mark.parametrize("name", SHIPPED)
def test_card_says_how_it_was_made_and_matches_the_file(name):
    card = pretrained.read_card(name)
    for key in ("command", "data", "epochs", "seed", "metrics_test", "sha256", "history"):
        assert key in card, f"{name}.json lacks {key}"
    assert card["command"] == f"python -m vqlab.train {name}"
    assert pretrained.sha256_file(pretrained.weights_path(name)) == card["sha256"]


def test_shipped_mnist_weights_fit_the_budget():
    total = sum(pretrained.weights_path(n).stat().st_size for n in SHIPPED)
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
    with pytest.raises(pretrained.WeightsError, match=r"missing; rebuild it with `python -m vqlab.train vqvae_mnist`"):
        pretrained.load(name, root)


def test_missing_card_is_a_clear_error(tmp_path):
    with pytest.raises(pretrained.WeightsError, match="model card .* is missing"):
        pretrained.load("vqvae_mnist", tmp_path)


def test_unknown_name_lists_known_ones():
    with pytest.raises(KeyError, match="vqvae_mnist"):
        pretrained.load("no_such_model")


TINY = "test_tiny_vqvae"


@pytest.fixture
def tiny_recipe():
    pretrained.names()  # make sure the book's recipes are registered first
    pretrained.register(pretrained.Recipe(TINY, lambda: VQVAE(num_codes=8, code_dim=4, filters=(4,)),
                                          "a tiny model for tests", epochs=2, batch_size=64))
    yield TINY
    del pretrained.REGISTRY[TINY]


def test_interrupted_training_resumes_from_its_checkpoint(tiny_recipe, tmp_path, capsys):
    out, ckpt = tmp_path / "w", tmp_path / "ck"
    train.train(tiny_recipe, out, ckpt, epochs=1, verbose=0, limit=256)  # "interrupted" after epoch 1
    state = json.loads((ckpt / tiny_recipe / "state.json").read_text())
    assert state["epoch"] == 1
    card = train.train(tiny_recipe, out, ckpt, epochs=2, verbose=0, limit=256)
    assert "resuming after epoch 1" in capsys.readouterr().out
    assert len(card["history"]["loss"]) == 2  # epoch 1 from the checkpoint, epoch 2 from this run
    model = pretrained.load(tiny_recipe, out)  # weights and card written, checksum matches
    assert model.grid_shape == (14, 14)
