"""PhotoDVAE (DALL·E's training method on photo_f8's stacks), the thesis' photo
manipulations as numbers, and the seam repair with a token prior."""

import math

import keras
import numpy as np
import pytest

from vqlab import editing, named_weights, pretrained, seams
from vqlab import prior as token_prior
from vqlab.models import PhotoDVAE
from vqlab.models.prior import GatedPixelCNN


def small(**kw):
    return PhotoDVAE(
        32, 8, factor=4, channels=16, res_blocks=1, image_shape=(16, 16, 3), **kw
    )


def test_dvae_surface_config_and_weights_names():
    m = pretrained.create_weights(small())
    x = np.random.default_rng(0).random((3, 16, 16, 3)).astype("float32")
    logits = m.encode_logits(x)
    assert logits.shape == (3, 4, 4, 32)
    t = m.encode(x)
    np.testing.assert_array_equal(t, logits.argmax(-1))  # tokens are the argmax codes
    assert t.dtype == np.int64 and m.decode(t).shape == x.shape
    # the latent at use is the code vector of the argmax token: quantizing it is exact
    np.testing.assert_array_equal(m.quantize_latents(m.encode_latents(x)), t)
    again = PhotoDVAE.from_config(m.get_config())
    assert again.get_config() == m.get_config()
    assert "beta" not in m.get_config() and m.get_config()["kl_weight"] == 1e-4
    keys = set(named_weights.variable_paths(m))
    assert keys == set(named_weights.variable_paths(pretrained.create_weights(small())))
    with pytest.raises(ValueError, match="num_codes"):
        PhotoDVAE(0, 8, factor=4)


def test_temperature_anneals_and_kl_warms_up():
    m = small(tau_start=1.0, tau_end=1 / 16, anneal_steps=100, kl_warmup_steps=10)
    tau = [float(m.temperature_at(s)) for s in (0, 50, 100, 1000)]
    assert tau[0] == pytest.approx(1.0) and tau[2] == pytest.approx(1 / 16)
    assert tau[1] == pytest.approx(0.25)  # exponential: the geometric mean at half-way
    assert tau[3] == pytest.approx(1 / 16)  # held after the anneal
    assert float(m.kl_weight_at(5)) == pytest.approx(0.5e-4)
    assert float(m.kl_weight_at(500)) == pytest.approx(1e-4)


def test_kl_to_uniform_is_log_k_minus_entropy_and_training_lowers_the_loss():
    m = pretrained.create_weights(small(kl_weight=1e-3, anneal_steps=50))
    x = np.random.default_rng(1).random((8, 16, 16, 3)).astype("float32")
    logits = m.encode_logits(x).astype(np.float64)
    q = np.exp(logits - logits.max(-1, keepdims=True))
    q /= q.sum(-1, keepdims=True)
    kl = np.mean(np.sum(q * np.log(q * 32), axis=-1))
    terms = m.loss_terms(x)
    assert float(terms["kl"]) == pytest.approx(kl, rel=1e-4, abs=1e-6)
    assert float(terms["temperature"]) == 0.0  # evaluation decodes argmax tokens
    unclipped = keras.ops.convert_to_numpy(m.decoder(m.codebook[m.encode(x)]))
    np.testing.assert_allclose(
        float(terms["reconstruction"]), np.mean((unclipped - x) ** 2), 1e-4
    )
    keras.utils.set_random_seed(0)
    m.compile(optimizer=keras.optimizers.Adam(3e-3))
    first = float(m.loss_terms(x)["loss"])
    m.fit(x, batch_size=8, epochs=40, verbose=0)
    assert float(m.loss_terms(x)["loss"]) < first
    assert int(m.optimizer.iterations) == 40


def test_thesis_manipulations_rank_damage_on_a_shipped_model():
    """On the shipped photo_f8 the table has each of the thesis' manipulations, PSNRs in a
    sane range, and a ranking made of the three kinds."""
    m = pretrained.load("photo_f8")
    rng = np.random.default_rng(0)
    x = np.clip(
        rng.random((2, 1, 1, 3)) + 0.05 * rng.standard_normal((2, 256, 256, 3)), 0, 1
    ).astype("float32")
    rows = editing.manipulations(m, x, x[::-1])
    names = [r["edit"] for r in rows]
    assert names == [
        "shift dx=1, dy=0",
        "shift dx=0, dy=1",
        "rotate 90",
        "flip x",
        "flip y",
        "invert z_e",
        "halves along x",
        "halves along y",
    ]
    assert all(0 < r["psnr_db"] < 80 for r in rows)
    ranking = editing.damage_ranking(rows)
    assert sorted(ranking) == sorted(editing.THESIS_RANKING)
    by = {r["kind"]: r["psnr_db"] for r in rows}
    assert (
        by["inversion"] < by["shift"]
    )  # negated latents wreck a photo; a shift does not


def test_box_jump_ring_and_neighbour_difference():
    img = np.zeros((10, 10, 3))
    img[3:7, 3:7] = 1.0  # a white box on black: every border pixel jumps by 1
    assert seams.box_jump(img, (3, 3, 4, 4)) == pytest.approx(1.0)
    assert seams.box_jump(np.full((10, 10), 0.3), (3, 3, 4, 4)) == 0.0
    assert seams.neighbour_difference(img) == pytest.approx(16 / 180)
    with pytest.raises(ValueError, match="inside the image"):
        seams.box_jump(img, (0, 3, 4, 4))
    mask = seams.ring((8, 8), (2, 2, 4, 4), width=1)
    assert mask.sum() == 12 + 20  # the box's outer ring and the ring just outside
    assert not mask[3:5, 3:5].any() and not mask[0].any()


def test_repair_resamples_only_the_ring_and_keeps_the_likeliest_draw():
    prior = pretrained.create_weights(
        GatedPixelCNN(
            num_codes=16,
            channels=8,
            num_layers=2,
            num_classes=1,
            label_dropout=0.0,
            image_shape=(8, 8, 1),
        )
    )
    grid = np.random.default_rng(0).integers(0, 16, (8, 8))
    out = token_prior.repair_seam(prior, grid, (2, 2, 4, 4), samples=6, seed=0)
    np.testing.assert_array_equal(out["tokens"][~out["mask"]], grid[~out["mask"]])
    assert out["bits_after"] == pytest.approx(
        float(token_prior.bits(prior, out["tokens"][None])[0])
    )
    draws = token_prior.complete(
        prior, np.repeat(grid[None], 6, 0), out["mask"], sweeps=0, seed=0
    )
    assert out["bits_after"] == pytest.approx(
        float(token_prior.bits(prior, draws).min())
    )
    assert not math.isnan(out["bits_before"])
