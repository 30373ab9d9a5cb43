"""Weights keyed by variable path: a reordered, missing, extra or mis-shaped weight is named."""

import keras
import numpy as np
import pytest
from keras import layers

from vqlab import cards, named_weights, pretrained, recipes
from vqlab.models import VQVAE, DigitClassifier, GatedPixelCNN, PhotoVQVAE
from vqlab.models.dalle import DalleDVAE


class TwoHeads(keras.Model):
    """Two layers of the same shape; ``swap`` assigns them in the other order."""

    def __init__(self, swap=False):
        super().__init__()
        first, second = layers.Dense(3, name="left"), layers.Dense(3, name="right")
        if swap:
            self.b, self.a = second, first
        else:
            self.a, self.b = first, second
        self.image_shape = (4,)

    def call(self, x):
        return self.a(x) - self.b(x)


def built(model, shape=(1, 4)):
    model(np.zeros(shape, np.float32))
    return model


def test_paths_name_every_weight_once():
    vq = pretrained.create_weights(VQVAE(8, 4, filters=(4,)))
    paths = named_weights.variable_paths(vq)
    assert list(paths)[:3] == [
        "encoder/conv0/kernel",
        "encoder/conv0/bias",
        "encoder/to_code/kernel",
    ]
    assert "quantizer/codebook" in paths and len(paths) == len(vq.weights)


@pytest.mark.parametrize(
    "build",
    [
        lambda: VQVAE(8, 4, filters=(4,)),
        lambda: VQVAE(8, 4, filters=(4,), ema_decay=0.9),
        lambda: PhotoVQVAE(
            16, 4, factor=4, channels=16, res_blocks=1, image_shape=(16, 16, 3)
        ),
        lambda: GatedPixelCNN(num_codes=8, channels=8, num_layers=2),
        lambda: DigitClassifier(feature_dim=8),
        lambda: DalleDVAE(
            n_hid=8, n_blk_per_group=1, vocab_size=16, n_init=8, image_shape=(16, 16, 3)
        ),
    ],
)
def test_paths_do_not_depend_on_what_was_built_before(build):
    first = list(named_weights.variable_paths(pretrained.create_weights(build())))
    second = list(
        named_weights.variable_paths(pretrained.create_weights(build()))
    )  # new layer counters
    assert first == second


def test_a_reordered_model_loads_the_right_weights(tmp_path):
    a = built(TwoHeads())
    a.a.kernel.assign(np.ones((4, 3), np.float32))
    named_weights.save(a, tmp_path / "w.npz", dtype=np.float32)
    b = named_weights.load_into(
        built(TwoHeads(swap=True)), tmp_path / "w.npz", None, "two_heads"
    )
    np.testing.assert_array_equal(b.a.kernel.numpy(), np.ones((4, 3)))
    np.testing.assert_array_equal(b.b.kernel.numpy(), a.b.kernel.numpy())
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    np.testing.assert_array_equal(a(x), b(x))


def test_missing_extra_and_misshaped_names_are_named(tmp_path):
    model = built(TwoHeads())
    path = tmp_path / "w.npz"
    named_weights.save(model, path)
    arrays = named_weights.read(path)
    arrays.pop("left/bias")
    arrays["middle/kernel"] = np.zeros(2, np.float16)
    arrays["right/kernel"] = np.zeros((3, 4), np.float16)
    np.savez(path, **arrays)
    with pytest.raises(cards.WeightsError) as err:
        named_weights.load_into(built(TwoHeads()), path, None, "two_heads")
    message = str(err.value)
    assert "missing left/bias (3,)" in message
    assert "unexpected middle/kernel (2,)" in message
    assert "right/kernel has shape (3, 4), the model expects (4, 3)" in message


def test_a_layer_with_an_automatic_name_is_refused():
    class Unnamed(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(2)

        def call(self, x):
            return self.dense(x)

    with pytest.raises(ValueError, match="automatic name: give it name="):
        named_weights.variable_paths(built(Unnamed()))


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "a/b", "..", "", "x\\y", 3])
def test_a_model_name_with_path_components_is_refused_before_any_file_is_opened(
    name, monkeypatch
):
    def no_io(*args, **kwargs):
        raise AssertionError("a file was opened")

    monkeypatch.setattr("pathlib.Path.exists", no_io)
    monkeypatch.setattr("pathlib.Path.read_text", no_io)
    with pytest.raises(cards.WeightsError, match="plain names"):
        pretrained.load(name)


def test_the_loader_has_no_class_table():
    assert not hasattr(pretrained, "MODEL_CLASSES")
    assert pretrained.model_class({"class": "VQVAE"}) is VQVAE
    assert pretrained.model_class({"class": "vqlab>PhotoVQVAE"}) is PhotoVQVAE
    with pytest.raises(
        cards.WeightsError, match="not a registered vqlab model.*GatedPixelCNN"
    ):
        pretrained.model_class({"class": "VectorQuantizer"})  # registered, but a layer


def test_an_identical_recipe_registers_twice_a_different_one_does_not():
    def make(epochs):
        return recipes.Recipe(
            "test_rerun_cell",
            lambda: VQVAE(8, 4, filters=(4,)),
            "a cell run twice",
            epochs=epochs,
            learning_rate=recipes.cosine(3e-3),
        )

    try:
        first = recipes.register(make(2))
        assert recipes.register(make(2)) is first  # the same cell, run again
        with pytest.raises(
            ValueError, match="different recipe named 'test_rerun_cell'"
        ):
            recipes.register(make(3))
        with pytest.raises(ValueError, match="different recipe"):
            recipes.register(
                recipes.Recipe(
                    "test_rerun_cell",
                    lambda: VQVAE(16, 4),
                    "a cell run twice",
                    epochs=2,
                    learning_rate=recipes.cosine(3e-3),
                )
            )
    finally:
        recipes.REGISTRY.pop("test_rerun_cell", None)
