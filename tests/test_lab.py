"""vqlab.lab: each check passes the library's own function and names the mistake of typical wrong ones."""

import numpy as np
import pytest
from keras import ops

from vqlab import lab, losses, metrics, theory, tokens
from vqlab.models import VAE


def _axes(a):
    return tuple(range(1, np.ndim(a)))


def _pca_error(x, d, centre=True, smallest=False, axis=1):
    m = x.mean(axis=0) if centre else 0.0
    _, _, vt = np.linalg.svd(x - m, full_matrices=False)
    u = (vt[-d:] if smallest else vt[:d]).T
    return np.mean((x - ((x - m) @ u @ u.T + m)) ** 2, axis=axis)


def _with_right_of_centre(mask):
    c = len(mask) // 2
    mask[c, c + 1 :] = 1.0
    return mask


def verdict(capsys, check, fn):
    result = check(fn)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out  # one verdict line, never a traceback
    assert out[0].startswith("PASS" if result.passed else "FAIL")
    assert result.message in out[0]
    return result


def assert_fails(capsys, check, fn, *hint_words):
    result = verdict(capsys, check, fn)
    assert not result.passed
    for word in hint_words:
        assert word in result.message, (word, result.message)


# (check, the library's own function) ---------------------------------------------------

REFERENCES = [
    (lab.check_log_mean_exp, lambda a: losses.log_mean_exp(a, axis=0)),
    (lab.check_kl_discrete, theory.kl_discrete),
    (lab.check_elbo, losses.elbo),
    (lab.check_active_units, metrics.active_units),
    (lab.check_pca_reconstruction, lab.pca_reconstruction_error),
    (lab.check_gaussian_nll, losses.gaussian_nll),
    (lab.check_kl, losses.kl_to_standard_normal),
    (
        lab.check_kl,
        lambda m, lv: 0.5 * ops.sum(ops.exp(lv) + ops.square(m) - 1.0 - lv, axis=1),
    ),
    (lab.check_reparameterize, lambda m, lv, e: m + ops.exp(0.5 * lv) * e),
    (lab.check_nearest_code, lab.nearest_code),
    (lab.check_straight_through, lambda z_e, z_q: z_e + ops.stop_gradient(z_q - z_e)),
    (
        lab.check_commitment_loss,
        lambda z_e, z_q, b: b * ops.mean(ops.square(z_e - ops.stop_gradient(z_q))),
    ),
    (lab.check_shift, lambda g, dx, dy: tokens.shift(g, dx, dy)),
    (lab.check_masked_conv, lab.causal_mask),
    (lab.check_psnr, metrics.psnr),
]


@pytest.mark.parametrize(
    "check, fn", REFERENCES, ids=lambda v: getattr(v, "__name__", "")
)
def test_library_function_passes(capsys, check, fn):
    result = verdict(capsys, check, fn)
    assert result.passed and bool(result)
    assert "matches the library" in result.message


@pytest.mark.parametrize("seed", [101, 202])
@pytest.mark.parametrize(
    "check, fn", REFERENCES, ids=lambda v: getattr(v, "__name__", "")
)
def test_library_function_passes_on_other_seeds(capsys, check, fn, seed):
    """The nbgrader assignments' hidden tests run each check on seeds other than the book's."""
    result = check(fn, seed=seed)
    capsys.readouterr()
    assert result.passed, result.message


def test_other_seeds_change_the_inputs_and_still_catch_mistakes(capsys):
    def kl_log_std(m, lv):
        return 0.5 * ops.sum(ops.exp(2 * lv) + ops.square(m) - 1 - 2 * lv, axis=1)  # noqa: E731

    for seed in (0, 101):
        result = lab.check_kl(kl_log_std, seed=seed)
        assert not result.passed and "log sigma where log sigma^2" in result.message
    assert "kernel_size=1" in lab.check_masked_conv(lab.causal_mask).message
    extra = lab.check_masked_conv(lab.causal_mask, seed=3).message
    assert (
        extra.count("kernel_size=") == 10
        and extra != lab.check_masked_conv(lab.causal_mask).message
    )
    capsys.readouterr()


# Typical mistakes, each with the words its hint must contain ----------------------------

MISTAKES = {
    "lme_naive": (
        lab.check_log_mean_exp,
        lambda a: np.log(np.mean(np.exp(a), axis=0)),
        ["overflow"],
    ),
    "lme_no_log_k": (
        lab.check_log_mean_exp,
        lambda a: np.log(np.sum(np.exp(a - a.max(0)), axis=0)) + a.max(0),
        ["log k"],
    ),
    "lme_mean_of_logs": (lab.check_log_mean_exp, lambda a: a.mean(axis=0), ["Jensen"]),
    "kl_discrete_swapped": (
        lab.check_kl_discrete,
        lambda p, q: theory.kl_discrete(q, p),
        ["swapped"],
    ),
    "kl_discrete_bits": (
        lab.check_kl_discrete,
        lambda p, q: theory.kl_discrete(p, q) / np.log(2),
        ["bits"],
    ),
    "kl_discrete_0log0": (
        lab.check_kl_discrete,
        lambda p, q: float(np.sum(p * np.log(p / q))),
        ["0 log 0"],
    ),
    "elbo_is_loss": (
        lab.check_elbo,
        lambda x, p, m, lv: (
            losses.bernoulli_nll(x, p) + losses.kl_to_standard_normal(m, lv)
        ),
        ["sign"],
    ),
    "elbo_plus_kl": (
        lab.check_elbo,
        lambda x, p, m, lv: (
            -losses.bernoulli_nll(x, p) + losses.kl_to_standard_normal(m, lv)
        ),
        ["subtracted"],
    ),
    "elbo_no_kl": (
        lab.check_elbo,
        lambda x, p, m, lv: -losses.bernoulli_nll(x, p),
        ["KL term is missing"],
    ),
    "active_axis1": (
        lab.check_active_units,
        lambda m, t: int((np.var(m, axis=1) > t).sum()),
        ["wrong axis"],
    ),
    "active_std": (
        lab.check_active_units,
        lambda m, t: int((np.std(m, axis=0) > t).sum()),
        ["standard deviation"],
    ),
    "active_per_dimension": (
        lab.check_active_units,
        lambda m, t: np.var(m, axis=0) > t,
        ["count"],
    ),
    "pca_not_centred": (
        lab.check_pca_reconstruction,
        lambda x, d: _pca_error(x, d, centre=False),
        ["centred"],
    ),
    "pca_smallest": (
        lab.check_pca_reconstruction,
        lambda x, d: _pca_error(x, d, smallest=True),
        ["smallest"],
    ),
    "pca_axis0": (
        lab.check_pca_reconstruction,
        lambda x, d: _pca_error(x, d, axis=0),
        ["wrong axis"],
    ),
    "nll_no_constant": (
        lab.check_gaussian_nll,
        lambda x, m, v: np.sum(0.5 * (x - m) ** 2 / v, axis=_axes(x)),
        ["normalising constant"],
    ),
    "nll_std": (
        lab.check_gaussian_nll,
        lambda x, m, v: losses.gaussian_nll(x, m, v**2),
        ["standard deviation"],
    ),
    "nll_mean_over_pixels": (
        lab.check_gaussian_nll,
        lambda x, m, v: np.mean(
            0.5 * (np.log(2 * np.pi * v) + (x - m) ** 2 / v), axis=_axes(x)
        ),
        ["average over pixels"],
    ),
    "kl_log_std": (
        lab.check_kl,
        lambda m, lv: 0.5 * np.sum(np.exp(2 * lv) + m**2 - 1 - 2 * lv, axis=1),
        ["log sigma^2"],
    ),
    "kl_no_half": (
        lab.check_kl,
        lambda m, lv: np.sum(np.exp(lv) + m**2 - 1 - lv, axis=1),
        ["factor of 2"],
    ),
    "kl_axis0": (
        lab.check_kl,
        lambda m, lv: 0.5 * np.sum(np.exp(lv) + m**2 - 1 - lv, axis=0),
        ["wrong axis"],
    ),
    "kl_sign": (
        lab.check_kl,
        lambda m, lv: -0.5 * np.sum(np.exp(lv) + m**2 - 1 - lv, axis=1),
        ["sign"],
    ),
    "reparam_variance": (
        lab.check_reparameterize,
        lambda m, lv, e: m + ops.exp(lv) * e,
        ["standard deviation"],
    ),
    "reparam_numpy": (
        lab.check_reparameterize,
        lambda m, lv, e: m + np.exp(0.5 * np.asarray(lv)) * np.asarray(e),
        ["no gradient", "keras.ops"],
    ),
    "reparam_own_noise": (
        lab.check_reparameterize,
        lambda m, lv, e: (
            m + np.exp(0.5 * lv) * np.random.default_rng().normal(size=np.shape(m))
        ),
        ["wrong values"],
    ),
    "nearest_argmax": (
        lab.check_nearest_code,
        lambda z, c: np.argmax(((z[:, None] - c[None]) ** 2).sum(-1), 1),
        ["argmax"],
    ),
    "nearest_dot": (
        lab.check_nearest_code,
        lambda z, c: np.argmax(z @ c.T, axis=1),
        ["dot product", "||e_k||^2"],
    ),
    "nearest_axis0": (
        lab.check_nearest_code,
        lambda z, c: np.argmin(((z[:, None] - c[None]) ** 2).sum(-1), 0),
        ["wrong axis"],
    ),
    "st_no_stop_gradient": (
        lab.check_straight_through,
        lambda z_e, z_q: z_e + (z_q - z_e),
        ["stop-gradient"],
    ),
    "st_returns_z_e": (
        lab.check_straight_through,
        lambda z_e, z_q: z_e,
        ["must be z_q"],
    ),
    "st_grad_to_codes": (
        lab.check_straight_through,
        lambda z_e, z_q: z_e - ops.stop_gradient(z_e) + z_q,
        ["also reaches z_q"],
    ),
    "commit_wrong_side": (
        lab.check_commitment_loss,
        lambda z_e, z_q, b: b * ops.mean(ops.square(ops.stop_gradient(z_e) - z_q)),
        ["wrong side"],
    ),
    "commit_no_stop_gradient": (
        lab.check_commitment_loss,
        lambda z_e, z_q, b: b * ops.mean(ops.square(z_e - z_q)),
        ["missing stop-gradient"],
    ),
    "commit_no_beta": (
        lab.check_commitment_loss,
        lambda z_e, z_q, b: ops.mean(ops.square(z_e - z_q)),
        ["beta is missing"],
    ),
    "commit_sum_over_d": (
        lab.check_commitment_loss,
        lambda z_e, z_q, b: b * ops.mean(ops.sum(ops.square(z_e - z_q), axis=-1)),
        ["factor of D"],
    ),
    "shift_swapped": (
        lab.check_shift,
        lambda g, dx, dy: np.roll(g, (dx, dy), axis=(-2, -1)),
        ["swapped"],
    ),
    "shift_direction": (
        lab.check_shift,
        lambda g, dx, dy: np.roll(g, (-dy, -dx), axis=(-2, -1)),
        ["direction"],
    ),
    "shift_fixed_axes": (
        lab.check_shift,
        lambda g, dx, dy: np.roll(g, (dy, dx), axis=(0, 1)),
        ["batch"],
    ),
    "mask_types_swapped": (
        lab.check_masked_conv,
        lambda k, t: lab.causal_mask(k, "B" if t == "A" else "A"),
        ["swapped"],
    ),
    "mask_transposed": (
        lab.check_masked_conv,
        lambda k, t: lab.causal_mask(k, t).T,
        ["transposed"],
    ),
    "mask_right_of_centre": (
        lab.check_masked_conv,
        lambda k, t: _with_right_of_centre(lab.causal_mask(k, t)),
        ["right of the centre"],
    ),
    "psnr_20log": (
        lab.check_psnr,
        lambda a, b, p: 20 * np.log10(p**2 / np.mean((a - b) ** 2, axis=_axes(a))),
        ["factor of 2"],
    ),
    "psnr_peak_not_squared": (
        lab.check_psnr,
        lambda a, b, p: 10 * np.log10(p / np.mean((a - b) ** 2, axis=_axes(a))),
        ["squared"],
    ),
    "psnr_one_number": (
        lab.check_psnr,
        lambda a, b, p: 10 * np.log10(p**2 / np.mean((a - b) ** 2)),
        ["wrong shape", "whole batch"],
    ),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_typical_mistake_fails_with_its_hint(capsys, name):
    check, fn, words = MISTAKES[name]
    assert_fails(capsys, check, fn, *words)


def test_a_mistake_that_raises_is_a_hint_not_a_traceback(capsys):
    def broken(mean, log_var):
        return mean[:, 5]  # IndexError inside the reader's function

    assert_fails(
        capsys, lab.check_kl, broken, "IndexError", "fn(array(5, 3), array(5, 3))"
    )


def test_a_stub_is_reported_as_not_implemented(capsys):
    def stub(z_e, codebook):
        raise NotImplementedError("return the index of the nearest code")

    assert_fails(
        capsys, lab.check_nearest_code, stub, "not implemented yet", "nearest code"
    )


def test_shift_that_changes_its_input_fails(capsys):
    def in_place(g, dx, dy):
        g[...] = np.roll(g, (dy, dx), axis=(-2, -1))
        return g

    assert_fails(capsys, lab.check_shift, in_place, "changed the grid")


def test_result_prints_nothing_more_in_a_notebook(capsys):
    result = lab.check_masked_conv(lab.causal_mask)
    capsys.readouterr()
    assert result._ipython_display_() is None
    assert capsys.readouterr().out == ""


# The references lab.py holds agree with the library ------------------------------------


def test_reparameterize_is_the_vaes():
    vae = VAE(latent_dim=3, seed=7)
    rng = np.random.default_rng(0)
    mean, log_var = (
        rng.normal(size=(4, 3)).astype("float32"),
        rng.normal(size=(4, 3)).astype("float32"),
    )
    eps = np.asarray(
        vae.reparameterize(np.zeros_like(mean), np.zeros_like(log_var))
    )  # seeded: the same eps
    z = np.asarray(vae.reparameterize(mean, log_var))
    np.testing.assert_allclose(
        lab.reparameterize(mean, log_var, eps), z, rtol=1e-5, atol=1e-6
    )


def test_commitment_loss_is_beta_times_mse():
    rng = np.random.default_rng(1)
    z_e, z_q = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    # a codebook made of z_q's rows quantizes each row of z_e to some row of z_q: use z_e = z_q + small noise
    z_e = z_q + 0.01 * z_e
    assert lab.commitment_loss(z_e, z_q, 0.5) == pytest.approx(
        0.5 * np.mean((z_e - z_q) ** 2), rel=1e-4
    )


@pytest.mark.parametrize("k", [1, 3, 5])
def test_causal_mask_sees_only_earlier_pixels_in_raster_order(k):
    c = k // 2
    order = np.arange(k * k).reshape(k, k)  # raster order of the kernel's positions
    for mask_type, centre in (("A", 0.0), ("B", 1.0)):
        mask = lab.causal_mask(k, mask_type)
        np.testing.assert_array_equal(mask[order < order[c, c]], 1.0)
        np.testing.assert_array_equal(mask[order > order[c, c]], 0.0)
        assert mask[c, c] == centre


@pytest.mark.parametrize("args", [(4, "A"), (3, "C"), (0, "B"), (3.0, "A")])
def test_causal_mask_rejects_bad_arguments(args):
    with pytest.raises(ValueError, match="kernel_size|mask_type"):
        lab.causal_mask(*args)
