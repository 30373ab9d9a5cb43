"""measure_edits on a model whose decoder is exactly shift- and rotation-equivariant."""

import numpy as np
import pytest

from vqlab import editing

FACTOR, K = 4, 8


class BlockModel:
    """Token k decodes to a 4x4 block of grey level k / (K - 1); encoding rounds it back."""

    grid_shape = (7, 7)

    def encode_tokens(self, x):
        blocks = x[..., 0].reshape(len(x), 7, FACTOR, 7, FACTOR).mean(axis=(2, 4))
        return np.rint(blocks * (K - 1)).astype(np.int64)

    def decode_tokens(self, t):
        pixels = np.repeat(np.repeat(t / (K - 1), FACTOR, axis=1), FACTOR, axis=2)
        return pixels[..., None].astype(np.float32)


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return BlockModel().decode_tokens(rng.integers(0, K, (5, 7, 7)))  # exactly representable


def test_equivariant_decoder_makes_every_geometric_edit_exact(images):
    model = BlockModel()
    rows = editing.measure_edits(model, images, editing.standard_edits(FACTOR, background=0))
    assert [r["edit"] for r in rows][:2] == ["identity", "shift dx=1, dy=0"]
    for r in rows:
        assert r["mse_vs_edited_reconstruction"] == pytest.approx(0.0, abs=1e-12), r["edit"]
        assert r["mse_vs_edited_image"] == pytest.approx(0.0, abs=1e-12), r["edit"]


def test_a_wrong_pixel_twin_is_measured_as_an_error(images):
    model = BlockModel()
    wrong = editing.Edit("shift by 1 pixel, not 1 token", lambda t: np.roll(t, 1, axis=2),
                         lambda x: np.roll(x, 1, axis=2))
    (row,) = editing.measure_edits(model, images, [wrong])
    assert row["mse_vs_edited_image"] > 0.01
    assert row["psnr_vs_edited_image"] < 30


def test_background_token_of_an_empty_image():
    assert editing.background_token(BlockModel()) == 0


def test_markdown_table_rounds_floats():
    table = editing.markdown_table([{"edit": "a", "mse": 0.123456}], digits=2)
    assert table.splitlines() == ["| edit | mse |", "|---|---|", "| a | 0.12 |"]
