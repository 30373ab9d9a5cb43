"""The photo set, the photo VQ-VAE and the measurements of chapter 11 (vqlab.photos, vqlab.models.photo)."""

from pathlib import Path

import numpy as np
import pytest

from vqlab import editing, photos, pretrained, tokens
from vqlab.models.photo import PhotoVQVAE

PHOTO_MODELS = (
    "photo_f4",
    "photo_f8",
    "photo_small",
    "photo_f8_large",
    "photo_dvae_f8",
)
SHIPPED = [n for n in PHOTO_MODELS if n in pretrained.names()]


def test_every_photo_is_bundled_and_licensed():
    import skimage.data

    data_dir = Path(skimage.data.__file__).parent
    for name, p in photos.PHOTOS.items():
        assert p.licence and p.source
        if p.source.startswith("scikit-image"):
            file = p.source.split("skimage/data/")[1].rstrip(")")
            assert (data_dir / file).exists(), (
                f"{name}: {file} is not in the scikit-image wheel"
            )
        x = photos.photo(name)
        assert x.dtype == np.float32 and x.ndim == 3 and x.shape[-1] == 3
        assert 0.0 <= x.min() and x.max() <= 1.0 and min(x.shape[:2]) >= 256
    assert set(photos.HELD_OUT).isdisjoint(photos.TRAIN)
    assert set(photos.HELD_OUT) | set(photos.TRAIN) == set(photos.PHOTOS)


def test_held_out_photos_are_centre_crops_of_the_short_side():
    x = photos.held_out(256)
    assert x.shape == (len(photos.HELD_OUT), 256, 256, 3)
    assert photos.square("chelsea", 64).shape == (64, 64, 3)
    with pytest.raises(ValueError, match="no photo named"):
        photos.photo("penguin")


def test_crops_are_drawn_from_the_seed_alone():
    a, b = photos.crops("train", 6, 32, seed=3), photos.crops("train", 6, 32, seed=3)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (6, 32, 32, 3) and a.dtype == np.float32
    assert not np.array_equal(a, photos.crops("train", 6, 32, seed=4))
    assert photos.thumbnails("test", 3, 32).shape == (3, 32, 32, 3)
    with pytest.raises(ValueError, match="split"):
        photos.crops("valid", 1)


def test_crop_loader_limits_and_splits():
    load = photos.crop_data(16)
    assert load("train", 5).shape == (5, 16, 16, 3)
    assert load("test", 3).shape == (3, 16, 16, 3)


def test_jpeg_rate_grows_with_the_psnr_asked_for():
    x = photos.square("coffee", 64)
    low, high = photos.jpeg_at_psnr(x, 24.0), photos.jpeg_at_psnr(x, 32.0)
    assert low["psnr"] >= 24.0 and high["psnr"] >= 32.0
    assert low["bpp"] < high["bpp"]
    assert photos.jpeg_at_psnr(x, 200.0)["quality"] is None


def test_psnr_and_ssim_of_identical_images():
    x = photos.held_out(32)
    assert np.all(photos.psnr(x, x) > 100)
    np.testing.assert_allclose(photos.ssim(x, x), 1.0)
    assert np.all(photos.ssim(x, np.clip(x + 0.2, 0, 1)) < 1.0)


def wang_ssim(a, b, sigma=1.5, radius=5, k1=0.01, k2=0.03):
    """SSIM of Wang et al. (2004) written out: Gaussian-weighted local means, variances and
    covariance over an 11 x 11 window, the SSIM map, its mean inside the border per channel."""
    from scipy.ndimage import gaussian_filter

    c1, c2 = (k1 * 1.0) ** 2, (k2 * 1.0) ** 2
    values = []
    for ch in range(a.shape[-1]):
        x, y = a[..., ch].astype(np.float64), b[..., ch].astype(np.float64)
        blur = lambda v: gaussian_filter(v, sigma, truncate=radius / sigma)  # noqa: E731
        mx, my = blur(x), blur(y)
        vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
        s = ((2 * mx * my + c1) * (2 * cxy + c2)) / (
            (mx**2 + my**2 + c1) * (vx + vy + c2)
        )
        values.append(s[radius:-radius, radius:-radius].mean())
    return float(np.mean(values))


def test_ssim_is_the_standard_form_of_wang_2004():
    x = photos.held_out(32)
    rng = np.random.default_rng(0)
    y = np.clip(x + rng.normal(0, 0.1, x.shape), 0, 1).astype(np.float32)
    expected = [wang_ssim(a, b) for a, b in zip(x, y)]
    np.testing.assert_allclose(photos.ssim(x, y), expected, rtol=1e-6, atol=1e-7)
    from skimage.metrics import structural_similarity  # the library's default differs

    default = structural_similarity(x[0], y[0], data_range=1.0, channel_axis=-1)
    assert abs(default - expected[0]) > 1e-3


def test_rotate_layout_moves_patches_not_their_content():
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(
        photos.rotate_layout(x, 8), x
    )  # one patch: nothing moves
    np.testing.assert_array_equal(
        photos.rotate_layout(x, 1), np.rot90(x, 1, axes=(1, 2))
    )  # pixels
    r = photos.rotate_layout(
        x, 4
    )  # the top-right patch goes to the top-left, unrotated
    np.testing.assert_array_equal(r[:, :4, :4], x[:, :4, 4:])


def test_transplant_and_box_distance():
    a, b = np.zeros((4, 4), int), np.ones((4, 4), int)
    t = photos.transplant(a, b, (1, 1, 2, 2))
    assert t.sum() == 4 and t[1:3, 1:3].all() and a.sum() == 0
    assert photos.transplant(a, b, (0, 0, 1, 1), at=(3, 3))[3, 3] == 1
    with pytest.raises(ValueError, match="does not fit"):
        photos.transplant(a, b, (3, 3, 2, 2))
    d = photos.box_distance((6, 6), (2, 2, 2, 2))
    assert d[2, 2] == 0 and d[0, 0] == 2 and d[2, 1] == 1 and d[5, 5] == 2
    assert photos.box_distance((5, 5), (1, 1, 3, 3))[2, 2] == -1


class PatchCodec:
    """A perfect codec: each 4x4 patch is its own token, and decodes to exactly itself."""

    image_shape, grid_shape = (16, 16, 3), (4, 4)

    def __init__(self):
        self.patches = []

    def encode(self, x):
        out = np.zeros((len(x), 4, 4), int)
        for n, img in enumerate(x):
            for i in range(4):
                for j in range(4):
                    self.patches.append(img[4 * i : 4 * i + 4, 4 * j : 4 * j + 4])
                    out[n, i, j] = len(self.patches) - 1
        return out

    def decode(self, t):
        return np.stack(
            [
                np.concatenate(
                    [
                        np.concatenate([self.patches[k] for k in row], axis=1)
                        for row in g
                    ],
                    axis=0,
                )
                for g in t
            ]
        )


def test_seam_profile_of_a_perfect_codec_is_zero():
    rng = np.random.default_rng(1)
    a, b = rng.random((16, 16, 3)), rng.random((16, 16, 3))
    prof = photos.seam_profile(PatchCodec(), a, b, (1, 1, 2, 2), max_distance=4)
    np.testing.assert_allclose(prof["mse"][~np.isnan(prof["mse"])], 0.0)
    np.testing.assert_allclose(prof["result"][4:12, 4:12], b[4:12, 4:12])
    np.testing.assert_allclose(prof["result"][:4], a[:4])
    # a perfect codec turns a token-grid rotation into a rotation of the patch layout
    r = photos.rotation_test(PatchCodec(), a[None], factor=4)
    assert r["vs_rotated_layout"] < 1e-12 < r["vs_rotated_image"]


def test_photo_model_surface_and_config():
    m = PhotoVQVAE(64, 8, factor=4, channels=32, res_blocks=1, image_shape=(32, 32, 3))
    x = photos.held_out(32)
    t = m.encode(x)
    assert t.shape == (4, 8, 8) and t.dtype == np.int64
    assert m.decode(t).shape == x.shape
    terms = m.loss_terms(
        photos.crops("train", 2, 16)
    )  # trains on crops of another size
    assert set(terms) == set(m.TERMS)
    again = PhotoVQVAE.from_config(m.get_config())
    assert again.get_config() == m.get_config()
    assert photos.token_bits_per_pixel(m) == pytest.approx(8 * 8 * 6 / (32 * 32))
    with pytest.raises(ValueError, match="power of 2"):
        PhotoVQVAE(factor=6)
    with pytest.raises(ValueError, match="divisible"):
        PhotoVQVAE(factor=8, image_shape=(36, 36, 3))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_photo_models_reconstruct_held_out_photos(name):
    model = pretrained.load(name)
    card = pretrained.read_card(name)
    x = photos.held_out(model.image_shape[0])
    t = model.encode(x)
    assert t.shape == (len(x),) + model.grid_shape
    p = photos.psnr(x, model.decode(t))
    assert np.mean(p) == pytest.approx(card["held_out"]["mean_psnr_db"], abs=0.05)
    # chapter 9's measurement works on photo token grids unchanged
    edits = [
        editing.Edit("identity", lambda g: g, lambda i: i),
        editing.Edit(
            "flip x", lambda g: tokens.flip(g, "x"), lambda i: tokens.flip(i, "x")
        ),
    ]
    same, flipped = editing.measure_edits(model, x, edits, tokens=t)
    assert same["psnr_vs_edited_image"] == pytest.approx(np.mean(p), abs=1e-6)
    assert (
        same["psnr_vs_edited_image"] - 6
        < flipped["psnr_vs_edited_image"]
        < same["psnr_vs_edited_image"]
    )


def test_shipped_photo_weights_fit_their_budget():
    names = SHIPPED + [n for n in ("prior_photo_f8",) if n in pretrained.names()]
    total = sum(pretrained.weights_path(n).stat().st_size for n in names)
    assert total <= 32 * 2**20, (
        f"{total / 2**20:.1f} MiB of photo weights"
    )  # issue 21's budget


@pytest.mark.parametrize(
    "name", ["photo_f4", "photo_f8", "photo_f8_large", "photo_dvae_f8"]
)
def test_corpus_models_cards_hold_their_test_source_figures(name):
    """The retrained tokenizers' cards record the corpus they saw and what they reach on the
    test source; recomputed here (the test source is an 8 MB download, cached)."""
    from vqlab import corpus

    card = pretrained.read_card(name)
    assert (
        card["data"].startswith("corpus_crops")
        and card["photos"]["test_source"] == corpus.TEST_SOURCE
    )
    assert (
        card["photos"]["train_photos"]
        == sum(card["photos"]["train_sources"].values())
        > 200
    )
    assert corpus.TEST_SOURCE not in card["photos"]["train_sources"]
    # one recipe, equal budgets: the same crops and the same number of steps, < 2 hours
    reference = pretrained.read_card("photo_f8")
    assert (card["data"], card["steps"]) == (reference["data"], reference["steps"])
    assert card["train_seconds_this_run"] < 2 * 3600
    x, names = photos.test_source_photos(256)
    p = photos.psnr(x, pretrained.load(name).reconstruct(x))
    assert list(card["test_source"]["per_photo"]) == names
    assert np.mean(p) == pytest.approx(card["test_source"]["mean_psnr_db"], abs=0.05)
