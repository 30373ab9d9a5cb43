"""The interactive widgets: their sliders span the grid and drive the real edit functions."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

from vqlab import widgets


class RecordingModel:
    """Stands in for a VQ-VAE: records the token grids it is asked to decode."""

    def __init__(self):
        self.seen = []

    image_shape, grid_shape = (28, 28, 1), (7, 7)

    def decode(self, grids):
        self.seen.append(np.array(grids))
        return np.zeros((len(grids), 28, 28, 1), np.float32)


def test_token_editor_sliders_apply_shift_rotation_and_flip():
    grid = np.arange(49).reshape(7, 7)
    model = RecordingModel()
    ui = widgets.token_editor(model, grid, background=0)
    sliders = {c.description: c for c in ui.children if hasattr(c, "description")}
    assert sliders["dx"].min == -6 and sliders["dx"].max == 6
    ui.f(dx=1, dy=0, quarter_turns=1, flip_x=True)
    edited = model.seen[-1][0]
    expected = np.flip(np.rot90(np.roll(grid, 1, axis=1), 1), axis=1).copy()
    expected_first_col = np.flip(np.rot90(np.concatenate([np.zeros((7, 1), int), grid[:, :6]], 1), 1), 1)
    np.testing.assert_array_equal(edited, expected_first_col)
    assert not np.array_equal(edited, expected)  # the background fill, not wrap-around


def test_token_editor_takes_a_batch_of_one_grid_and_rejects_more():
    grid = np.arange(49).reshape(1, 7, 7)
    model = RecordingModel()
    ui = widgets.token_editor(model, grid, background=0)
    ui.f(dx=0, dy=0, quarter_turns=0, flip_x=False)
    np.testing.assert_array_equal(model.seen[-1], grid)
    for bad in (np.zeros((2, 7, 7), int), np.zeros(7, int)):
        with pytest.raises(ValueError, match=r"one token grid \(h, w\) or \(1, h, w\)"):
            widgets.token_editor(model, bad, background=0)


def test_latent_explorer_decodes_the_slider_point():
    points = []

    def decode(z):
        points.append(z.copy())
        return np.zeros((1, 28, 28, 1))

    ui = widgets.latent_explorer(decode, extent=2.0)
    ui.f(z1=1.5, z2=-0.5)
    np.testing.assert_allclose(points[-1], [[1.5, -0.5]])
    assert ui.children[0].max == 2.0
