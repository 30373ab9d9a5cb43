"""Token-grid manipulations on small hand-made grids, with exact expected outputs."""

import numpy as np
import pytest

from vqlab import tokens

G = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])


def test_shift_right_wrap():
    np.testing.assert_array_equal(
        tokens.shift(G, dx=1), [[3, 1, 2], [6, 4, 5], [9, 7, 8]]
    )


def test_shift_down_with_fill_value():
    np.testing.assert_array_equal(
        tokens.shift(G, dy=1, fill=0), [[0, 0, 0], [1, 2, 3], [4, 5, 6]]
    )


def test_shift_left_and_up_with_edge_fill():
    np.testing.assert_array_equal(
        tokens.shift(G, dx=-1, dy=-1, fill="edge"), [[5, 6, 6], [8, 9, 9], [8, 9, 9]]
    )


def test_shift_zero_is_identity_and_batch_keeps_shape():
    batch = np.stack([G, G + 10])
    out = tokens.shift(batch, dx=1, fill=0)
    assert out.shape == (2, 3, 3)
    np.testing.assert_array_equal(out[1], [[0, 11, 12], [0, 14, 15], [0, 17, 18]])
    np.testing.assert_array_equal(tokens.shift(G), G)


def test_rotate90_counter_clockwise():
    np.testing.assert_array_equal(tokens.rotate90(G), [[3, 6, 9], [2, 5, 8], [1, 4, 7]])
    np.testing.assert_array_equal(
        tokens.rotate90(G, k=-1), [[7, 4, 1], [8, 5, 2], [9, 6, 3]]
    )
    np.testing.assert_array_equal(tokens.rotate90(G, k=4), G)


def test_flip_x_and_y():
    np.testing.assert_array_equal(
        tokens.flip(G, "x"), [[3, 2, 1], [6, 5, 4], [9, 8, 7]]
    )
    np.testing.assert_array_equal(
        tokens.flip(G, "y"), [[7, 8, 9], [4, 5, 6], [1, 2, 3]]
    )


def test_combine_halves_along_x_and_y():
    other = G + 10
    np.testing.assert_array_equal(
        tokens.combine(G, other, "x"), [[1, 12, 13], [4, 15, 16], [7, 18, 19]]
    )
    np.testing.assert_array_equal(
        tokens.combine(G, other, "y"), [[1, 2, 3], [14, 15, 16], [17, 18, 19]]
    )
    np.testing.assert_array_equal(
        tokens.combine(G, other, "x", split=2), [[1, 2, 13], [4, 5, 16], [7, 8, 19]]
    )


def test_invert_latents_negates():
    z = np.array([[[[0.5, -1.0]]]])
    np.testing.assert_array_equal(tokens.invert_latents(z), [[[[-0.5, 1.0]]]])


def test_same_function_works_on_any_grid_size_and_on_pixels():
    grid = np.arange(32 * 32).reshape(32, 32)
    assert tokens.shift(grid, dx=3, fill=0)[0, :3].tolist() == [0, 0, 0]
    pixels = np.zeros((2, 28, 28), np.float32)
    pixels[:, 0, 0] = 1.0
    moved = tokens.shift(pixels, dx=4, dy=4, fill=0.0)
    assert moved[0, 4, 4] == 1.0 and moved.sum() == 2.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: tokens.flip(G, "z"), "axis should be 'x'"),
        (lambda: tokens.combine(G, G, axis="diagonal"), "axis should be 'x'"),
        (lambda: tokens.shift(G, dx=3, fill=0), "not smaller than the grid's size 3"),
        (
            lambda: tokens.shift(G, dy=-4, fill="edge"),
            "not smaller than the grid's size 3",
        ),
        (lambda: tokens.shift(G, dx=1, fill="mirror"), "fill should be"),
        (lambda: tokens.combine(G, np.zeros((4, 4), int)), "same shape"),
        (lambda: tokens.combine(G, G, split=5), "split should lie"),
        (lambda: tokens.rotate90(np.zeros((2, 2, 2, 2))), "expected a grid"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: tokens.shift(G, dx=1.5), "dx should be an integer, got 1.5"),
        (lambda: tokens.shift(G, dy="1"), "dy should be an integer, got '1'"),
        (lambda: tokens.shift(G, dx=True), "dx should be an integer, got the bool"),
        (
            lambda: tokens.shift(G, dx=1, fill=1.7),
            "fill for an integer grid should be an integer, got 1.7",
        ),
        (
            lambda: tokens.shift(G, dx=1, fill=np.float64(2.0)),
            "fill for an integer grid should be an integer",
        ),
        (lambda: tokens.rotate90(G, k=1.0), "k should be an integer"),
        (
            lambda: tokens.combine(G, G, split=3.9),
            "split should be an integer, got 3.9",
        ),
    ],
)
def test_non_integer_counts_are_rejected_not_truncated(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_numpy_integers_are_counts_and_float_grids_take_float_fills():
    np.testing.assert_array_equal(
        tokens.shift(G, dx=np.int64(1), fill=np.int32(0)), tokens.shift(G, dx=1, fill=0)
    )
    np.testing.assert_array_equal(
        tokens.rotate90(G, k=np.int8(2)), tokens.rotate90(G, 2)
    )
    np.testing.assert_array_equal(
        tokens.combine(G, G + 10, split=np.uint8(1)), tokens.combine(G, G + 10, split=1)
    )
    pixels = np.ones((1, 4, 4), np.float32)
    assert tokens.shift(pixels, dx=1, fill=0.5)[0, 0, 0] == 0.5
    assert tokens.shift(pixels, dx=1, fill=0)[0, 0, 0] == 0.0
