"""The interactive widgets, driven without a browser: set the controls, call the handlers a
click calls, and check the tokens, the decoded images and the markers that result."""

import io

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from PIL import Image

from vqlab import tokens, widgets


class BlockVQ:
    """A stand-in VQ-VAE whose decoder is exact: token k decodes to an f x f block of grey
    k / (K - 1) (the same in every channel), and encode reads the blocks back."""

    def __init__(self, grid=(7, 7), num_codes=64, factor=4, channels=1):
        self.grid_shape, self.num_codes, self.f = grid, num_codes, factor
        self.image_shape = (grid[0] * factor, grid[1] * factor, channels)
        rng = np.random.default_rng(0)
        self.codebook = rng.standard_normal((num_codes, 8)).astype(np.float32)
        self.decoded = []

    def decode(self, tokens):
        tokens = np.asarray(tokens)
        assert tokens.ndim == 3 and tokens.shape[1:] == self.grid_shape, tokens.shape
        assert tokens.min() >= 0 and tokens.max() < self.num_codes
        self.decoded.append(tokens.copy())
        grey = np.repeat(np.repeat(tokens / (self.num_codes - 1), self.f, 1), self.f, 2)
        return np.repeat(grey[..., None], self.image_shape[-1], -1).astype(np.float32)

    def encode(self, x):
        x = np.asarray(x)[..., 0]
        n, (h, w), f = len(x), self.grid_shape, self.f
        blocks = x.reshape(n, h, f, w, f).mean((2, 4))
        return np.rint(blocks * (self.num_codes - 1)).astype(np.int64)


def image_of(model, tokens):
    return model.decode(np.asarray(tokens)[None])[0]


def random_tokens(model, seed=1):
    return np.random.default_rng(seed).integers(0, model.num_codes, model.grid_shape)


def editor_on(model, seed=1, **kwargs):
    tokens = random_tokens(model, seed)
    return widgets.token_editor(model, image_of(model, tokens), **kwargs), tokens


def png_array(value: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(value)).convert("RGB"))


# token editor ---------------------------------------------------------------------------


def test_shift_button_equals_np_roll_with_the_chosen_fill():
    model = BlockVQ()
    ed, tokens = editor_on(model, background=5)
    assert (ed.dx.min, ed.dx.max, ed.dy.min, ed.dy.max) == (-6, 6, -6, 6)
    ed.dx.value, ed.dy.value, ed.fill.value = 1, 0, 5
    ed.shift_button.click()
    expected = np.roll(tokens, 1, axis=1)
    expected[:, 0] = 5
    np.testing.assert_array_equal(ed.tokens, expected)
    np.testing.assert_array_equal(ed.decoded, image_of(model, expected))
    ed.reset_button.click()
    np.testing.assert_array_equal(ed.tokens, tokens)
    ed.dx.value, ed.dy.value, ed.fill.value = 0, -1, "wrap"
    ed.shift_button.click()
    np.testing.assert_array_equal(ed.tokens, np.roll(tokens, -1, axis=0))
    ed.reset()
    ed.dx.value, ed.dy.value, ed.fill.value = 0, 2, "edge"
    ed.shift_button.click()
    np.testing.assert_array_equal(
        ed.tokens, np.concatenate([tokens[:1], tokens[:1], tokens[:-2]])
    )


def test_painting_code_k_at_a_clicked_cell_changes_exactly_that_cell():
    model = BlockVQ()
    ed, tokens = editor_on(model)
    k, (i, j) = 42, (2, 5)
    # select k on the palette by a click in the middle of its tile
    th, tw = ed.tile_side
    r, c = divmod(k, ed.palette_cols)
    ed.click_palette(c * (tw + 2) + tw / 2, r * (th + 2) + th / 2)
    assert ed.code == k and ed.code_slider.value == k
    # the selected code is framed on the palette
    assert (
        tuple(png_array(ed.palette_panel.value)[r * (th + 2), c * (tw + 2) + 3])
        == widgets.MARKER
    )
    ed.click_tokens((j + 0.5) * ed.cell, (i + 0.5) * ed.cell)
    changed = np.argwhere(ed.tokens != tokens)
    assert ed.tokens[i, j] == k and (tokens[i, j] == k or changed.tolist() == [[i, j]])
    np.testing.assert_array_equal(ed.decoded, image_of(model, ed.tokens))
    pixel_changed = np.argwhere(np.any(ed.decoded != image_of(model, tokens), -1))
    assert set(map(tuple, pixel_changed // model.f)) <= {(i, j)}
    # the token panel shows code k's colour in that cell
    grid = png_array(ed.tokens_panel.value)
    centre = grid[int((i + 0.5) * ed.cell), int((j + 0.5) * ed.cell)]
    np.testing.assert_array_equal(centre, ed.colours[k])


def test_paint_refuses_a_cell_or_code_outside_the_grid_and_codebook():
    ed, tokens = editor_on(BlockVQ())
    for bad in [(7, 0, 1), (0, -1, 1), (0, 0, 64)]:
        with pytest.raises(
            ValueError, match=r"a cell in \[0, 7\) x \[0, 7\) and a code in \[0, 64\)"
        ):
            ed.paint(*bad)
    ed.click_tokens(7 * ed.cell + 3, 0)  # a click beside the grid paints nothing
    np.testing.assert_array_equal(ed.tokens, tokens)


def test_rotate_flip_invert_combine_and_reset_buttons():
    model = BlockVQ()
    second = random_tokens(model, seed=2)
    ed, tokens = editor_on(model, second=image_of(model, second))
    ed.rotate_button.click()
    np.testing.assert_array_equal(ed.tokens, np.rot90(tokens))
    ed.flip_x_button.click()
    np.testing.assert_array_equal(ed.tokens, np.rot90(tokens)[:, ::-1])
    ed.flip_y_button.click()
    np.testing.assert_array_equal(ed.tokens, np.rot90(tokens)[::-1, ::-1])
    ed.reset_button.click()
    ed.invert_button.click()
    cb = model.codebook.astype(np.float64)
    nearest_to_negation = np.argmin(((-cb[:, None] - cb[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(ed.tokens, nearest_to_negation[tokens])
    ed.reset_button.click()
    ed.axis.value = "y"
    assert ed.split.max == 7
    ed.split.value = 3
    ed.combine_button.click()
    np.testing.assert_array_equal(ed.tokens, np.concatenate([tokens[:3], second[3:]]))
    np.testing.assert_array_equal(ed.decoded, image_of(model, ed.tokens))
    assert "combine along y at 3" in ed.status.value


def test_editor_adapts_to_a_photo_grid_and_codebook():
    model = BlockVQ(
        grid=(64, 64), num_codes=512, factor=4, channels=3
    )  # 256x256 RGB, f = 4
    ed, tokens = editor_on(model)
    assert (ed.dx.max, ed.dy.min, ed.code_slider.max) == (63, -63, 511)
    assert ed.split.max == 64 and ed.fill.options[0][1] == ed.background
    ed.select(511)
    ed.click_tokens(50 * ed.cell + 1, 40 * ed.cell + 1)
    assert ed.tokens[40, 50] == 511
    assert ed.decoded.shape == (256, 256, 3)
    patches = widgets.code_patches(model)
    assert patches.shape == (512, 12, 12, 3)
    np.testing.assert_allclose(patches[:, 6, 6, 0], np.arange(512) / 511, atol=1e-6)
    with pytest.raises(ValueError, match="expected one image of shape"):
        widgets.token_editor(model, np.zeros((2, 256, 256, 3)))


def test_a_non_square_grid_cannot_be_rotated():
    ed, tokens = editor_on(BlockVQ(grid=(4, 6)))
    assert ed.rotate_button.disabled and not ed.flip_x_button.disabled
    with pytest.raises(ValueError, match="not square"):
        ed.rotate()
    assert ed.combine_button.disabled  # no second image


# transplant -----------------------------------------------------------------------------


def test_a_transplant_box_of_size_zero_leaves_the_target_unchanged():
    model = BlockVQ()
    target, source = random_tokens(model, 1), random_tokens(model, 2)
    tr = widgets.transplant(model, image_of(model, target), image_of(model, source))
    tr.rows.value = (3, 3)
    np.testing.assert_array_equal(tr.tokens, target)
    np.testing.assert_array_equal(tr.decoded, image_of(model, target))
    assert tr.seam_mse == 0.0


def test_a_transplant_box_moves_exactly_those_source_tokens():
    model = BlockVQ()
    target, source = random_tokens(model, 1), random_tokens(model, 2)
    tr = widgets.transplant(model, image_of(model, target), image_of(model, source))
    tr.set_box((1, 2, 3, 5), at=(3, 0))  # rows 1-3, columns 2-6, to (3, 0)
    expected = target.copy()
    expected[3:6, 0:5] = source[1:4, 2:7]
    np.testing.assert_array_equal(tr.tokens, expected)
    assert (tr.to_row.max, tr.to_col.max) == (4, 2)  # the box stays inside the target
    tr.to_col.value = 2
    assert (tr.box, tr.at) == ((1, 2, 3, 5), (3, 2))
    np.testing.assert_array_equal(
        tr.tokens, tokens.transplant(target, source, (1, 2, 3, 5), at=(3, 2))
    )
    # the block decoder pastes exactly: no seam
    assert tr.seam_mse == pytest.approx(0.0, abs=1e-12)
    tr.set_box((0, 0, 7, 7), at=(5, 5))  # the whole grid can only land at (0, 0)
    np.testing.assert_array_equal(tr.tokens, source)
    assert tr.at == (0, 0)


# latent explorer ------------------------------------------------------------------------


class PointVAE:
    """A stand-in 2-D VAE: fixed posteriors, and a decoder that writes z into its image."""

    def __init__(self, mean, log_var):
        self.mean, self.log_var = (
            np.asarray(mean, np.float32),
            np.asarray(log_var, np.float32),
        )
        self.decoded = []

    def posterior(self, x):
        return self.mean[: len(x)], self.log_var[: len(x)]

    def decode(self, z):
        z = np.asarray(z)
        self.decoded.append(z.copy())
        out = np.zeros((len(z), 28, 28, 1), np.float32)
        out[:, :, :14] = (z[:, 0, None, None, None] + 4) / 8
        out[:, :, 14:] = (z[:, 1, None, None, None] + 4) / 8
        return out


def test_a_click_on_the_scatter_moves_the_latent_to_the_clicked_coordinates():
    mean = np.array([[1.5, -2.0], [-3.0, 3.0], [0.0, 0.0]])
    vae = PointVAE(mean, np.log([[0.25, 0.01], [1.0, 1.0], [1.0, 1.0]]))
    ex = widgets.latent_explorer(
        vae, np.zeros((3, 28, 28, 1)), np.array([3, 7, 1]), extent=4.0
    )
    # the map from latent to pixels is matplotlib's own: digit 3's point is drawn there
    col, row = ex.latent_to_pixel(1.5, -2.0)
    assert tuple(ex.palette[ex.background[int(round(row)), int(round(col))]]) != (
        255,
        255,
        255,
    )
    ex.click(col, row)
    np.testing.assert_allclose(ex.z, [1.5, -2.0], atol=1e-5)
    assert (ex.z1.value, ex.z2.value) == pytest.approx((1.5, -2.0))
    np.testing.assert_allclose(vae.decoded[-1], [[1.5, -2.0]], atol=1e-5)
    np.testing.assert_allclose(ex.decoded[0, 0, 0], (1.5 + 4) / 8, atol=1e-5)
    assert ex.marker == pytest.approx((col, row))
    shown = png_array(ex.scatter_panel.value)
    np.testing.assert_array_equal(shown, ex.frame)
    assert (
        tuple(shown[int(round(row)), int(round(col + 6))]) == widgets.MARKER
    )  # the ring
    # a click whose pixel is a whole number lands within one pixel's worth of latent
    ex.click(round(col), round(row))
    assert np.abs(ex.z - [1.5, -2.0]).max() <= 1 / abs(ex._map[0]) + 1e-6
    # beyond the axes: clipped to the sliders' range, a state the sliders can show
    ex.click(-50, -50)
    assert ex.z.tolist() == [-4.0, 4.0] and ex.z1.value == -4.0


def test_sliders_move_the_point_and_the_posterior_ellipse_is_drawn():
    vae = PointVAE([[1.0, 1.0], [2.0, -1.0]], np.log([[0.25, 0.25], [1.0, 1.0]]))
    ex = widgets.latent_explorer(vae, np.zeros((2, 28, 28, 1)), np.array([0, 1]))
    assert (ex.z1.min, ex.z1.max, ex.digit.max) == (-4.0, 4.0, 1)
    ex.z1.value = 0.5
    np.testing.assert_allclose(vae.decoded[-1], [[0.5, 0.0]])
    ex.show_q.value = True
    ex.digit.value = 0
    col, row = ex.latent_to_pixel(
        1.0 + 2 * 0.5, 1.0
    )  # 2 sigma to the right of the mean
    patch = ex.frame[int(row) - 1 : int(row) + 2, int(col) - 1 : int(col) + 2]
    assert (patch == 0).all(-1).any()  # the ellipse's black pixels
    assert "mean (1.00, 1.00), std (0.500, 0.500)" in ex.status.value
    ex.to_mean.click()
    np.testing.assert_allclose(ex.z, [1.0, 1.0])
    ex.digit.value = 1
    ex.to_mean.click()
    np.testing.assert_allclose(ex.z, [2.0, -1.0])


def test_latent_explorer_needs_a_2d_latent():
    vae = PointVAE(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="2-D latent space"):
        widgets.latent_explorer(vae, np.zeros((2, 28, 28, 1)), np.array([0, 1]))


# loss balance and prior sampler ----------------------------------------------------------


class MeasuredVAE(PointVAE):
    def __init__(self, kl_weight, reconstruction, kl, spread):
        rng = np.random.default_rng(0)
        super().__init__(spread * rng.standard_normal((50, 2)), np.zeros((50, 2)))
        self.kl_weight, self.reconstruction, self.kl = kl_weight, reconstruction, kl
        self.measured = 0

    def encode(self, x):
        return self.mean[: len(x)]

    def measure(self, x):
        self.measured += 1
        return {
            "mse": 0.01 * self.kl_weight,
            "kl": self.kl,
            "active_units": int(self.mean[:, 0].std() > 0.1) * 2,
        }


def test_loss_balance_shows_precomputed_values_without_computing_again():
    models = {
        "collapsed": MeasuredVAE(1.0, "mse", 0.0001, 0.0),
        "balanced": MeasuredVAE(1 / 784, "mse", 5.25, 1.0),
    }
    lb = widgets.loss_balance(
        models, np.zeros((50, 28, 28, 1)), np.arange(50) % 10, n_show=4
    )
    assert [label for label, _ in lb.slider.options] == ["MSE + 1/784 KL", "MSE + 1 KL"]
    assert lb.selected == "balanced" and "KL 5.25 nats" in lb.status.value
    calls = [len(m.decoded) for m in models.values()]
    lb.slider.value = "collapsed"
    assert lb.selected == "collapsed"
    assert "active units 0" in lb.status.value and "KL 0.00 nats" in lb.status.value
    assert lb.scatter_panel.value == lb.results["collapsed"]["scatter"]
    assert lb.recon_panel.value == lb.results["collapsed"]["reconstructions"]
    assert [
        len(m.decoded) for m in models.values()
    ] == calls  # nothing decoded on change
    assert all(m.measured == 1 for m in models.values())
    assert (
        lb.results["balanced"]["active_units"] == 2
        and lb.results["balanced"]["kl_weight"] == 1 / 784
    )


def test_prior_sampler_passes_temperature_label_and_seed_to_the_sampler():
    model = BlockVQ()
    calls = []

    def sample(prior, n, temperature, label, seed):
        calls.append((n, temperature, label, seed))
        return np.random.default_rng(seed).integers(0, 64, (n, 7, 7))

    class Prior:
        num_classes = 10

    ps = widgets.prior_sampler(Prior(), model, n=8, sample=sample)
    assert calls[-1] == (8, 1.0, None, 0) and len(ps.label.options) == 11
    ps.temperature.value = 0.5
    ps.label.value = 3
    assert calls[-1] == (8, 0.5, 3, 0)
    ps.resample_button.click()
    assert calls[-1] == (8, 0.5, 3, 1)
    np.testing.assert_array_equal(ps.images, model.decode(ps.samples))
    assert (ps.temperature.min, ps.temperature.max) == (0.5, 1.5)


def test_pixel_helpers():
    assert widgets.weight_label(1 / 784) == "1/784" and widgets.weight_label(1.0) == "1"
    assert widgets.weight_label(0.3) == "0.3"
    rgb = widgets.to_rgb8(np.array([[0.0, 1.0]]))
    assert rgb.shape == (1, 2, 3) and rgb[0, 1].tolist() == [255, 255, 255]
    assert widgets.zoom(rgb, 3).shape == (3, 6, 3)
    np.testing.assert_array_equal(png_array(widgets.png(rgb)), rgb)
    grey = widgets.to_uint8(np.array([[[0.0], [1.0]]]))
    assert grey.shape == (1, 2) and png_array(widgets.png(grey))[0, 1].tolist() == [
        255,
        255,
        255,
    ]
    palette = np.array([[1, 2, 3], [200, 100, 50]], np.uint8)
    np.testing.assert_array_equal(
        png_array(widgets.png(np.array([[1, 0]], np.uint8), palette)), palette[[[1, 0]]]
    )
    with pytest.raises(ValueError, match=r"\(H, W\), \(H, W, 1\) or \(H, W, 3\)"):
        widgets.to_rgb8(np.zeros((2, 2, 2)))


# the real models ------------------------------------------------------------------------


def test_every_widget_builds_on_the_shipped_models_and_displays():
    from vqlab import pretrained
    from vqlab.data import mnist_images, mnist_labels

    x, y = mnist_images("test", limit=300), mnist_labels("test")[:300]
    vq, vae = pretrained.load("vqvae_mnist"), pretrained.load("vae_dense_mse_balanced")
    built = [
        widgets.latent_explorer(vae, x, y),
        widgets.token_editor(vq, x[0], second=x[1]),
        widgets.transplant(vq, x[0], x[1]),
        widgets.loss_balance({"vae_dense_mse_balanced": vae}, x, y),
    ]
    for w in built:
        bundle = w._repr_mimebundle_()
        assert "application/vnd.jupyter.widget-view+json" in bundle
    ex, ed = built[0], built[1]
    ex.click(*ex.latent_to_pixel(0.5, 0.5))
    np.testing.assert_allclose(
        ex.decoded, vae.decode(np.array([[0.5, 0.5]], np.float32))[0], atol=1e-6
    )
    ed.paint(3, 3, 17)
    assert ed.tokens[3, 3] == 17
    np.testing.assert_allclose(ed.decoded, vq.decode(ed.tokens[None])[0], atol=1e-6)


# JupyterLab opens the chapters as notebooks ----------------------------------------------


def test_the_lab_settings_override_opens_markdown_with_jupytext_notebook(tmp_path):
    """`make` copies tools/lab_overrides.json into the venv's JupyterLab settings; JupyterLab
    reads it as the default of the document manager's defaultViewers, and the factory it
    names is the one jupytext's JupyterLab extension registers."""
    import json
    import shutil
    import sys
    from pathlib import Path

    from jupyterlab_server.settings_utils import _get_overrides

    source = Path(__file__).resolve().parent.parent / "tools" / "lab_overrides.json"
    shutil.copy(source, tmp_path / "overrides.json")
    overrides, error = _get_overrides(str(tmp_path))
    assert not error
    viewers = overrides["@jupyterlab/docmanager-extension:plugin"]["defaultViewers"]
    assert viewers == {"markdown": "Jupytext Notebook", "myst": "Jupytext Notebook"}
    # a lab machine may be offline: JupyterLab neither asks to fetch news nor checks for updates
    assert overrides["@jupyterlab/apputils-extension:notification"] == {
        "fetchNews": "false",
        "checkForUpdates": False,
    }
    static = (
        Path(sys.prefix)
        / "share"
        / "jupyter"
        / "labextensions"
        / "jupyterlab-jupytext"
        / "static"
    )
    bundles = "".join(p.read_text(errors="ignore") for p in static.glob("*.js"))
    assert 'FACTORY="Jupytext Notebook"' in bundles, (
        "jupytext's extension no longer names its factory so"
    )
    installed = (
        Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    )
    if not installed.exists():
        pytest.skip(f"{installed} is written by `make` (this venv was not made by it)")
    assert json.loads(installed.read_text()) == json.loads(source.read_text())


def test_transplant_starts_with_the_given_box():
    model = BlockVQ()
    target, source = random_tokens(model, 1), random_tokens(model, 2)
    tr = widgets.transplant(
        model,
        image_of(model, target),
        image_of(model, source),
        box=(0, 1, 2, 2),
        at=(5, 4),
    )
    assert (
        tr.box == (0, 1, 2, 2)
        and tr.at == (5, 4)
        and tr.rows.value == (0, 2)
        and tr.to_col.value == 4
    )
    np.testing.assert_array_equal(tr.tokens[5:7, 4:6], source[0:2, 1:3])
