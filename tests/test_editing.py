"""measure_edits on a model whose decoder is exactly shift- and rotation-equivariant."""

import math

import numpy as np
import pytest

from vqlab import editing, plots

FACTOR, K = 4, 8


class BlockModel:
    """Token k decodes to a 4x4 block of grey level k / (K - 1); encoding rounds it back.

    It follows the VQ-VAE's surface: ``encode`` gives token grids, ``decode`` images
    (n, H, W, C) in [0, 1], and ``image_shape``, ``grid_shape``, ``num_codes``. It counts
    the images it decodes.
    """

    image_shape, grid_shape, num_codes = (28, 28, 1), (7, 7), K

    def __init__(self):
        self.decoded = 0

    def encode(self, x):
        x = np.asarray(x)
        assert x.shape[1:] == self.image_shape, x.shape
        blocks = x[..., 0].reshape(len(x), 7, FACTOR, 7, FACTOR).mean(axis=(2, 4))
        return np.rint(blocks * (K - 1)).astype(np.int64)

    def decode(self, t):
        self.decoded += len(t)
        pixels = np.repeat(
            np.repeat(np.asarray(t) / (K - 1), FACTOR, axis=1), FACTOR, axis=2
        )
        return pixels[..., None].astype(np.float32)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return BlockModel().decode(rng.integers(0, K, (5, 7, 7)))  # exactly representable


def test_equivariant_decoder_makes_every_geometric_edit_exact(images):
    model = BlockModel()
    edits = editing.standard_edits(FACTOR, background=0)
    rows = editing.measure_edits(model, images, edits)
    assert [r["edit"] for r in rows][:2] == ["identity", "shift dx=1, dy=0"]
    for r in rows:
        assert r["mse_vs_edited_reconstruction"] == pytest.approx(0.0, abs=1e-12), r[
            "edit"
        ]
        assert r["mse_vs_edited_image"] == pytest.approx(0.0, abs=1e-12), r["edit"]
    # The reconstruction is decoded once and serves the identity edit: 1 + 8 decodes of 5 images.
    assert model.decoded == len(images) * len(edits)


def test_a_wrong_pixel_twin_is_measured_as_an_error(images):
    model = BlockModel()
    wrong = editing.Edit(
        "shift by 1 pixel, not 1 token",
        lambda t: np.roll(t, 1, axis=2),
        lambda x: np.roll(x, 1, axis=2),
    )
    (row,) = editing.measure_edits(model, images, [wrong])
    assert row["mse_vs_edited_image"] > 0.01
    assert row["psnr_vs_edited_image"] < 30


def test_images_without_a_channel_axis_give_the_same_rows(images):
    """(n, 28, 28) images are accepted, also for n other than 28 (no silent broadcasting)."""
    noisy = np.clip(
        images + np.random.default_rng(1).normal(0, 0.05, images.shape), 0, 1
    )
    edits = editing.standard_edits(FACTOR, background=0)
    with_channel = editing.measure_edits(BlockModel(), noisy, edits)
    without = editing.measure_edits(BlockModel(), noisy[..., 0], edits)
    assert without == with_channel
    assert with_channel[0]["mse_vs_edited_image"] == pytest.approx(
        float(np.mean((BlockModel().decode(BlockModel().encode(noisy)) - noisy) ** 2)),
        rel=1e-6,
    )


def test_an_empty_batch_gives_one_row_per_edit_with_nan_means():
    rows = editing.measure_edits(
        BlockModel(),
        np.zeros((0, 28, 28), np.float32),
        editing.standard_edits(FACTOR, background=0),
    )
    assert len(rows) == 9 and rows[0]["edit"] == "identity"
    assert all(math.isnan(r["mse_vs_edited_image"]) for r in rows)


def test_images_of_the_wrong_shape_are_rejected():
    with pytest.raises(
        ValueError, match=r"expected images \(n, 28, 28\) or \(n, 28, 28, 1\)"
    ):
        editing.measure_edits(
            BlockModel(), np.zeros((2, 32, 32, 1)), editing.standard_edits(FACTOR, 0)
        )


def test_background_token_of_an_empty_image():
    assert editing.background_token(BlockModel()) == 0


def test_markdown_table_rounds_floats():
    """``plots.markdown_table`` formats the rows ``measure_edits`` returns."""
    table = plots.markdown_table([{"edit": "a", "mse": 0.123456}], digits=2)
    assert table.splitlines() == ["| edit | mse |", "|---|---|", "| a | 0.12 |"]
    assert not hasattr(editing, "markdown_table")  # one copy, in plots


def test_markdown_table_rejects_no_rows_and_ragged_rows():
    with pytest.raises(ValueError, match="at least one row"):
        plots.markdown_table([])
    with pytest.raises(ValueError, match="row 1 has"):
        plots.markdown_table([{"a": 1, "b": 2}, {"a": 1}])


def test_precomputed_tokens_give_the_same_rows(images):
    model = BlockModel()
    edits = editing.standard_edits(FACTOR, background=0)
    assert editing.measure_edits(
        model, images, edits, tokens=model.encode(images)
    ) == editing.measure_edits(model, images, edits)
    with pytest.raises(ValueError, match="tokens hold 1 grids for 5 images"):
        editing.measure_edits(model, images, edits, tokens=model.encode(images[:1]))
