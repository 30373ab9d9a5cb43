"""VectorQuantizer against plain NumPy: nearest codes, both loss terms, straight-through
gradients, the EMA update, dead-code restarts, k-means++ seeding and the perplexity helper."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from vqlab import quantizer
from vqlab.quantizer import (
    VectorQuantizer,
    VectorQuantizerEMA,
    codebook_perplexity,
    kmeans_plus_plus,
)


def make_quantizer(num_codes=8, code_dim=4, seed=0, **kwargs):
    q = quantizer.make_quantizer(num_codes, code_dim, **kwargs)
    q.build((None, code_dim))
    codebook = (
        np.random.default_rng(seed)
        .normal(size=(num_codes, code_dim))
        .astype(np.float32)
    )
    q.codebook.assign(codebook)
    if isinstance(q, VectorQuantizerEMA):
        q.ema_sum.assign(codebook)
    return q, codebook


def test_one_update_rule_per_class():
    plain, _ = make_quantizer()
    ema, _ = make_quantizer(ema_decay=0.9)
    assert type(plain) is VectorQuantizer and type(ema) is VectorQuantizerEMA
    assert [w.name for w in plain.weights] == ["codebook", "code_count"]
    assert [w.name for w in ema.weights] == ["codebook", "code_count", "ema_sum"]
    assert plain.codebook.trainable and not ema.codebook.trainable
    z = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    p, e = plain(z), ema(z)
    np.testing.assert_allclose(
        float(p["loss"]), float(p["codebook_loss"] + p["commitment_loss"]), rtol=1e-6
    )
    np.testing.assert_allclose(float(e["loss"]), float(e["commitment_loss"]), rtol=1e-6)


@pytest.mark.parametrize(
    "cls, kwargs", [(VectorQuantizer, {}), (VectorQuantizerEMA, {"decay": 0.95})]
)
def test_quantizers_round_trip_through_keras_serialization(cls, kwargs):
    q = cls(8, 4, beta=0.3, dead_code_threshold=0.5, seed=3, **kwargs)
    again = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(q)
    )
    assert type(again) is cls and again.get_config() == q.get_config()


def numpy_quantize(z, codebook, beta):
    flat = z.reshape(-1, codebook.shape[1]).astype(np.float64)
    d = ((flat[:, None, :] - codebook[None, :, :]) ** 2).sum(-1)
    idx = d.argmin(1)
    zq = codebook[idx]
    mse = ((flat - zq) ** 2).mean()
    p = np.bincount(idx, minlength=len(codebook)) / len(idx)
    perplexity = np.exp(-(p[p > 0] * np.log(p[p > 0])).sum())
    return idx.reshape(z.shape[:-1]), zq.reshape(z.shape), mse, beta * mse, perplexity


def test_matches_numpy():
    q, codebook = make_quantizer(num_codes=8, code_dim=4, beta=0.7)
    z = np.random.default_rng(1).normal(size=(3, 5, 5, 4)).astype(np.float32)
    out = q(z)
    idx, zq, cb_loss, commit, perplexity = numpy_quantize(z, codebook, 0.7)
    np.testing.assert_array_equal(np.asarray(out["indices"]), idx)
    np.testing.assert_allclose(np.asarray(out["quantized"]), zq, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(float(out["codebook_loss"]), cb_loss, rtol=1e-5)
    np.testing.assert_allclose(float(out["commitment_loss"]), commit, rtol=1e-5)
    np.testing.assert_allclose(float(out["loss"]), cb_loss + commit, rtol=1e-5)
    np.testing.assert_allclose(float(out["perplexity"]), perplexity, rtol=1e-4)
    assert float(out["usage"]) == pytest.approx(len(np.unique(idx)) / 8)
    np.testing.assert_array_equal(
        np.asarray(q.nearest_codes(z.reshape(-1, 4))), idx.ravel()
    )


def test_straight_through_gradient():
    """The gradient at the encoder output equals the gradient at the decoder input."""
    q, _ = make_quantizer(num_codes=8, code_dim=4)
    z_e = tf.Variable(
        np.random.default_rng(2).normal(size=(2, 3, 3, 4)).astype(np.float32)
    )
    w = tf.constant(np.random.default_rng(3).normal(size=(4, 5)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        out = q(z_e)
        z_q = out["quantized"]
        reconstruction = tf.reduce_sum(
            tf.tanh(z_q @ w)
        )  # a small stand-in decoder + loss
    at_decoder = tape.gradient(reconstruction, z_q)
    at_encoder = tape.gradient(reconstruction, z_e)
    assert float(tf.reduce_max(tf.abs(at_decoder))) > 0
    np.testing.assert_allclose(at_encoder.numpy(), at_decoder.numpy(), rtol=1e-6)
    # the reconstruction term sends no gradient to the codebook ...
    assert tape.gradient(reconstruction, q.codebook) is None
    # ... nor does the commitment loss; the codebook loss reaches only the codebook
    assert tape.gradient(out["commitment_loss"], q.codebook) is None
    assert tape.gradient(out["codebook_loss"], z_e) is None
    grad = tf.convert_to_tensor(tape.gradient(out["codebook_loss"], q.codebook)).numpy()
    flat = z_e.numpy().reshape(-1, 4)
    idx = np.asarray(out["indices"]).ravel()
    expected = np.zeros_like(grad)
    for i, k in enumerate(idx):  # d/de_k mean ||z - e_k||^2 = 2 (e_k - z) / (N D)
        expected[k] += 2.0 * (q.codebook.numpy()[k] - flat[i]) / flat.size
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-7)


def test_ema_moves_codes_toward_assigned_outputs():
    decay = 0.5
    q, codebook = make_quantizer(num_codes=4, code_dim=2, ema_decay=decay)
    assert not q.codebook.trainable
    rng = np.random.default_rng(4)
    z = (codebook[[0, 0, 1, 1, 1, 2]] + 0.3 + 0.05 * rng.normal(size=(6, 2))).astype(
        np.float32
    )
    idx = np.asarray(q(z)["indices"])
    before = q.codebook.numpy().copy()
    q(z, training=True)
    after = q.codebook.numpy()
    for k in np.unique(idx):
        target = z[idx == k].mean(0)
        assert np.linalg.norm(after[k] - target) < np.linalg.norm(before[k] - target)
    # exact EMA of counts and sums (van den Oord et al. 2017, appendix A.1)
    counts = np.bincount(idx, minlength=4).astype(np.float64)
    ema_count = decay * 1.0 + (1 - decay) * counts
    sums = np.stack(
        [z[idx == k].sum(0) if counts[k] else np.zeros(2) for k in range(4)]
    )
    ema_sum = decay * codebook + (1 - decay) * sums
    n = ema_count.sum()
    smoothed = (ema_count + 1e-5) / (n + 4e-5) * n
    np.testing.assert_allclose(after, ema_sum / smoothed[:, None], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        after[3], codebook[3], rtol=1e-4
    )  # an unused code stays put
    np.testing.assert_allclose(
        q.code_count.numpy(), ema_count, rtol=1e-6
    )  # one moving count


def test_loss_is_right_for_the_update_rule():
    """With an EMA codebook the codebook term moves nothing by gradient: ``loss`` leaves it out."""
    z = np.random.default_rng(7).normal(size=(20, 2)).astype(np.float32)
    plain, _ = make_quantizer(num_codes=4, code_dim=2, beta=0.3)
    ema, _ = make_quantizer(num_codes=4, code_dim=2, beta=0.3, ema_decay=0.9)
    p, e = plain(z), ema(z)
    assert float(p["loss"]) == pytest.approx(
        float(p["codebook_loss"] + p["commitment_loss"])
    )
    assert float(e["loss"]) == pytest.approx(float(e["commitment_loss"]))
    assert float(e["codebook_loss"]) > 0  # still reported


def test_dead_code_restart_revives_unused_code():
    q, codebook = make_quantizer(num_codes=4, code_dim=2, dead_code_threshold=1.0)
    codebook[3] = 1e3  # far from everything: never chosen
    q.codebook.assign(codebook)
    # many vectors sit exactly on code 0 (zero error), a few far from every live code
    rare = np.array([[5.0, 5.0], [5.5, 5.0], [5.0, 5.5]], np.float32)
    z = np.concatenate([np.repeat(codebook[:1], 200, 0), codebook[1:3], rare]).astype(
        np.float32
    )
    assert 3 not in np.asarray(q(z)["indices"])
    q(z, training=True)
    revived = q.codebook.numpy()[3]
    assert (
        np.min(np.linalg.norm(rare - revived, axis=1)) < 1e-6
    )  # moved onto a badly-fit vector
    np.testing.assert_allclose(
        q.codebook.numpy()[:3], codebook[:3]
    )  # live codes untouched
    assert 3 in np.asarray(q(z)["indices"])


def test_restarts_draw_distinct_outputs_and_only_when_a_code_is_dead():
    q, codebook = make_quantizer(num_codes=6, code_dim=2, dead_code_threshold=1.0)
    codebook[3:] = 1e3  # three dead codes
    q.codebook.assign(codebook)
    rng = np.random.default_rng(8)
    z = np.concatenate(
        [np.repeat(codebook[:3], 100, 0), 5 + rng.normal(size=(6, 2))]
    ).astype(np.float32)
    q(z, training=True)
    revived = q.codebook.numpy()[3:]
    assert (
        len({tuple(r) for r in revived}) == 3
    )  # without replacement: three different vectors
    assert all(np.min(np.linalg.norm(z - r, axis=1)) < 1e-6 for r in revived)
    state = q.seed_generator.state.numpy().copy()
    q.code_count.assign(
        np.full(6, 50.0, np.float32)
    )  # every code alive: nothing is drawn
    before = q.codebook.numpy().copy()
    q(z[:300], training=True)
    np.testing.assert_array_equal(q.seed_generator.state.numpy(), state)
    np.testing.assert_allclose(q.codebook.numpy(), before)


def test_no_restart_without_threshold():
    q, codebook = make_quantizer(num_codes=4, code_dim=2)
    codebook[3] = 1e3
    q.codebook.assign(codebook)
    q(codebook[:3].repeat(5, 0), training=True)
    np.testing.assert_allclose(q.codebook.numpy(), codebook)


def test_kmeans_plus_plus_one_center_per_cluster():
    rng = np.random.default_rng(5)
    centres = np.array([[0, 0], [10, 0], [0, 10], [10, 10]], np.float32)
    points = np.concatenate(
        [c + 0.1 * rng.normal(size=(50, 2)) for c in centres]
    ).astype(np.float32)
    chosen = kmeans_plus_plus(points, 4, seed=0)
    nearest = np.argmin(((chosen[:, None] - centres[None]) ** 2).sum(-1), axis=1)
    assert sorted(nearest) == [0, 1, 2, 3]
    assert all(
        np.any(np.all(points == c, axis=1)) for c in chosen
    )  # centres are data points


def test_initialize_from_puts_every_code_in_use():
    q = VectorQuantizerEMA(16, 3, decay=0.9)
    q.build((None, 3))
    z = np.random.default_rng(6).normal(size=(40, 5, 3)).astype(np.float32)
    q.initialize_from(z, seed=1)
    _, usage = codebook_perplexity(np.asarray(q(z)["indices"]), 16)
    assert usage == 1.0
    np.testing.assert_allclose(q.ema_sum.numpy(), q.codebook.numpy())
    with pytest.raises(ValueError, match="at least 16 encoder outputs"):
        q.initialize_from(z[:1, :2], seed=1)


def test_codebook_perplexity():
    assert codebook_perplexity([0, 1, 2, 3] * 5, 8) == pytest.approx((4.0, 0.5))
    assert codebook_perplexity(np.zeros((3, 7, 7), int), 64) == pytest.approx(
        (1.0, 1 / 64)
    )
    p, u = codebook_perplexity([0, 0, 0, 1], 2)
    assert p == pytest.approx(np.exp(-(0.75 * np.log(0.75) + 0.25 * np.log(0.25))))
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        codebook_perplexity([0, 2], 2)


def test_wrong_code_dim_raises():
    q = VectorQuantizer(8, 4)
    with pytest.raises(ValueError, match="last axis 4"):
        q(np.zeros((2, 8), np.float32))  # first call (build)
    q(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="last axis 4"):
        q(
            np.zeros((4, 8), np.float32)
        )  # later calls: 32 numbers would reshape to (8, 4)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="positive"):
        VectorQuantizer(0, 4)
    with pytest.raises(ValueError, match="positive integers"):
        VectorQuantizer(8, 2.5)
    with pytest.raises(ValueError, match="beta"):
        VectorQuantizer(8, 4, beta=-1)
    with pytest.raises(ValueError, match="dead_code_threshold"):
        VectorQuantizer(8, 4, dead_code_threshold=0)
    with pytest.raises(ValueError, match="ema_decay"):
        VectorQuantizerEMA(8, 4, decay=1.0)
    with pytest.raises(
        ValueError, match="Unrecognized"
    ):  # the EMA rule is its own class
        VectorQuantizer(8, 4, ema_decay=0.9)
