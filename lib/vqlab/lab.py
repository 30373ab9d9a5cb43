"""Automatic feedback for the book's coding exercises.

Each ``check_*`` runs a reader's function against the library on random and edge-case
inputs and prints one verdict line: ``PASS`` with what was checked, or ``FAIL`` with a hint
that names the likely mistake (a shape, a sign, a factor of 2 or 1/2, log sigma where
log sigma^2 was meant, the wrong axis, a missing stop-gradient). An exception raised by the
reader's function becomes part of the hint, never a traceback, and a function that still
raises ``NotImplementedError`` (the student edition's stub) is reported as not done yet.
The check also returns a :class:`CheckResult` (``passed``, ``message``), so a test can assert
it. Every check takes a ``seed`` for its random inputs (the default gives the book's cases);
the nbgrader assignments' hidden tests run each check again on other seeds.

How a hint is found: every check knows the typical wrong implementations of its function.
When the reader's output differs from the library's, the check runs each wrong version on
the same input; the one that reproduces the reader's output names the mistake.

| check | the reader writes | compared with |
| --- | --- | --- |
| ``check_pca_reconstruction`` | ``fn(x, d) -> (n,)`` | scikit-learn's ``PCA`` |
| ``check_gaussian_nll`` | ``fn(x, x_hat, variance) -> (n,)`` | ``losses.gaussian_nll`` |
| ``check_kl_discrete`` | ``fn(p, q) -> float`` | ``theory.kl_discrete`` |
| ``check_kl`` | ``fn(mean, log_var) -> (batch,)`` | ``losses.kl_to_standard_normal`` |
| ``check_reparameterize`` | ``fn(mean, log_var, eps) -> z`` | ``reparameterize`` (= ``VAE.reparameterize``) |
| ``check_elbo`` | ``fn(x, probs, mean, log_var) -> (n,)`` | ``losses.elbo`` |
| ``check_active_units`` | ``fn(mean, threshold) -> int`` | ``metrics.active_units`` |
| ``check_log_mean_exp`` | ``fn(log_w) -> (n,)`` over axis 0 | ``losses.log_mean_exp`` |
| ``check_nearest_code`` | ``fn(z_e (N, D), codebook (K, D)) -> (N,) ints`` | ``VectorQuantizer.nearest_codes`` |
| ``check_straight_through`` | ``fn(z_e, z_q) -> quantized`` | value z_q, gradient to z_e only |
| ``check_commitment_loss`` | ``fn(z_e, z_q, beta) -> scalar`` | ``VectorQuantizer``'s ``commitment_loss`` |
| ``check_shift`` | ``fn(grid, dx, dy) -> grid`` | ``tokens.shift(..., fill="wrap")`` |
| ``check_masked_conv`` | ``fn(kernel_size, mask_type) -> (k, k)`` | ``causal_mask`` |
| ``check_psnr`` | ``fn(a, b, peak) -> (n,)`` | ``metrics.psnr`` |
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import losses, metrics, theory, tokens

RTOL, ATOL = (
    1e-4,
    1e-5,
)  # a float32 implementation passes; a wrong factor or term does not
MASK_TYPES = ("A", "B")


@dataclass(frozen=True)
class CheckResult:
    """What a check found: ``passed`` and the verdict ``message`` it printed."""

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self):
        """Show nothing: the check has already printed its verdict line."""


class _Fail(Exception):
    """A verdict reached inside a check: the reader's function failed, with a hint."""


def _verdict(name: str, passed: bool, message: str) -> CheckResult:
    print(f"{'PASS' if passed else 'FAIL'} {name}: {message}")
    return CheckResult(name, passed, message)


def _run(name: str, body) -> CheckResult:
    """Run a check's ``body()`` (it returns the PASS message or raises ``_Fail``)."""
    try:
        return _verdict(name, True, body())
    except _Fail as failure:
        return _verdict(name, False, str(failure))


def _call(fn, args, case: str):
    """``fn(*args)`` on fresh copies of the inputs; an exception becomes a hint."""
    args = tuple(
        np.array(a, copy=True) if isinstance(a, np.ndarray) else a for a in args
    )
    try:
        with np.errstate(
            all="ignore"
        ):  # a NaN is reported with a hint, not a RuntimeWarning
            return fn(*args)
    except NotImplementedError as e:
        raise _Fail(
            f"not implemented yet ({e}). Write the function, then run this check again."
        ) from None
    except (
        Exception
    ) as e:  # the reader's code: any error becomes a hint, not a traceback
        raise _Fail(
            f"your function raised {type(e).__name__} on {case}: {e}. "
            f"Hint: it is called as {_signature(args)}."
        ) from None


def _signature(args) -> str:
    parts = [
        f"array{tuple(a.shape)}" if isinstance(a, np.ndarray) else repr(a) for a in args
    ]
    return f"fn({', '.join(parts)})"


def _numpy(value, case: str) -> np.ndarray:
    try:
        import keras

        return np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float64)
    except Exception as e:  # noqa: BLE001 - report what came back instead
        raise _Fail(
            f"your function returned {type(value).__name__} on {case}, which is not an "
            f"array of numbers ({e})."
        ) from None


def _close(a, b) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL))


def _compare(
    fn, cases, reference, mistakes, shape_hint=None, exact=False, nan_hint=None
) -> str:
    """Check ``fn`` against ``reference`` on every ``(description, args)`` case.

    ``mistakes``: ``(wrong_fn, hint)`` pairs; the first whose output equals the reader's on the
    failing case names the mistake. ``shape_hint(got_shape, expected_shape, args)`` explains a
    wrong shape (or returns None). ``exact``: compare integers exactly (indices). ``nan_hint``:
    what a NaN or an infinity most likely means for this function.
    """
    for case, args in cases:
        expected = np.asarray(reference(*args))
        raw = _call(fn, args, case)
        got = _numpy(raw, case)
        if got.shape != expected.shape:
            hint = shape_hint(got.shape, expected.shape, args) if shape_hint else None
            raise _Fail(
                f"wrong shape on {case}: expected {expected.shape}, got {got.shape}. "
                f"Hint: {hint or 'check which axes you sum or average over.'}"
            )
        if exact:
            if not np.issubdtype(np.asarray(raw).dtype, np.integer):
                raise _Fail(
                    f"on {case} your function returned {np.asarray(raw).dtype} values; "
                    f"expected integer indices (argmin returns them)."
                )
            if np.array_equal(got, expected):
                continue
        elif _close(got, expected):
            continue
        if not np.all(np.isfinite(got)):
            raise _Fail(
                f"NaN or infinity on {case}. Hint: "
                + (
                    nan_hint
                    or "a log or square root of a "
                    "negative number, or a division by zero?"
                )
            )
        for wrong, hint in mistakes:
            try:
                candidate = np.asarray(wrong(*args), np.float64)
            except Exception:  # noqa: BLE001 - a wrong version that does not apply to this case
                continue
            if _close(candidate, expected):
                continue  # this mistake cannot show on this case
            if np.array_equal(got, candidate) if exact else _close(got, candidate):
                raise _Fail(f"wrong values on {case}. Hint: {hint}")
        diff = np.abs(got - expected)
        where = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        raise _Fail(
            f"wrong values on {case}: largest difference {diff.max():.3g} at index "
            f"{tuple(int(i) for i in where)} (got {got[where]:.6g}, expected "
            f"{expected[where]:.6g}). Hint: compare each term with the formula in the text."
        )
    return (
        f"matches the library on {len(cases)} cases ({'; '.join(c for c, _ in cases)})."
    )


def _gradients(fn, inputs, weights):
    """Gradients of ``sum(weights * fn(*inputs))`` with respect to each input (None if none flows).

    Returns None when the Keras backend is not TensorFlow (gradients are then not checked).
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    variables = [tf.Variable(np.asarray(a, np.float32)) for a in inputs]
    with tf.GradientTape() as tape:
        try:
            out = fn(*variables)
        except Exception as e:  # the reader's code: report, do not show a traceback
            raise _Fail(
                f"the values are right, but your function raised {type(e).__name__} on TensorFlow "
                f"tensors: {e}. Hint: compute with keras.ops, which takes arrays and tensors alike."
            ) from None
        if not tf.is_tensor(out):
            return [None] * len(inputs)  # computed in NumPy: nothing to differentiate
        total = tf.reduce_sum(
            tf.cast(out, tf.float32) * np.asarray(weights, np.float32)
        )
    return [
        None if g is None else np.asarray(g, np.float64)
        for g in tape.gradient(total, variables)
    ]


def _is_zero(g) -> bool:
    return g is None or not np.any(np.abs(g) > ATOL)


# PCA and reconstruction likelihoods (chapters 2 and 3) ----------------------------------


def pca_reconstruction_error(x, d: int) -> np.ndarray:
    """Squared error per example, averaged over features, of PCA with ``d`` components fitted to ``x``."""
    from sklearn.decomposition import PCA

    x = np.asarray(x, np.float64)
    pca = PCA(n_components=d, svd_solver="full").fit(x)
    return np.mean((x - pca.inverse_transform(pca.transform(x))) ** 2, axis=1)


def check_pca_reconstruction(fn, seed: int = 7) -> CheckResult:
    """``fn(x, d)``: per-example mean squared error of x (n, D) reconstructed by its first d principal components."""
    rng = np.random.default_rng(seed)

    def project(x, basis, centre=True):
        m = x.mean(axis=0) if centre else 0.0
        x_hat = (x - m) @ basis @ basis.T + m
        return np.mean((x - x_hat) ** 2, axis=1)

    def top(x, d, centre=True, smallest=False):
        xc = x - x.mean(axis=0) if centre else x
        _, _, vt = np.linalg.svd(xc, full_matrices=False)
        return (vt[-d:] if smallest else vt[:d]).T

    def no_mean_back(x, d):
        m = x.mean(axis=0)
        return np.mean((x - (x - m) @ top(x, d) @ top(x, d).T) ** 2, axis=1)

    mistakes = [
        (
            lambda x, d: project(x, top(x, d, centre=False), centre=False),
            "the data were not centred: subtract the mean before projecting and add it back after.",
        ),
        (no_mean_back, "the mean was not added back: x_hat = U U^T (x - mean) + mean."),
        (
            lambda x, d: project(x, top(x, d, smallest=True)),
            "the d directions of *smallest* variance: PCA keeps the largest (the first rows of V^T from np.linalg.svd).",
        ),
        (
            lambda x, d: np.sum(
                (x - x.mean(0) - (x - x.mean(0)) @ top(x, d) @ top(x, d).T) ** 2, axis=1
            ),
            "a sum over features where the mean was asked for.",
        ),
    ]

    def shape_hint(got, expected, args):
        if got == ():
            return "one number for the whole data set: return the error of each example (average over axis 1 only)."
        if got == (args[0].shape[1],):
            return "wrong axis: average over the features (axis=1), keeping one value per example."
        return None

    scales = np.array([5.0, 3.0, 1.0, 0.5, 0.2])
    x = rng.normal(size=(40, 5)) * scales + np.array(
        [3.0, -2.0, 1.0, 0.0, 4.0]
    )  # off-centre
    cases = [
        ("40 points in 5-D, d=2", (x, 2)),
        ("the same points, d=1", (x, 1)),
        (
            "points in a plane of 3-D, d=2, where the error is 0",
            (rng.normal(size=(30, 2)) @ rng.normal(size=(2, 3)) + 1.0, 2),
        ),
    ]
    return _run(
        "check_pca_reconstruction",
        lambda: _compare(fn, cases, pca_reconstruction_error, mistakes, shape_hint),
    )


def check_gaussian_nll(fn, seed: int = 8) -> CheckResult:
    """``fn(x, x_hat, variance)``: -log N(x; x_hat, variance * I) per image, summed over pixels, shape (n,)."""
    rng = np.random.default_rng(seed)
    nll = losses.gaussian_nll

    def axes(a):
        return tuple(range(1, np.ndim(a)))

    mistakes = [
        (
            lambda x, m, v: np.sum(0.5 * (x - m) ** 2 / v, axis=axes(x)),
            "the normalising constant is missing: each pixel adds 1/2 log(2 pi variance).",
        ),
        (
            lambda x, m, v: np.sum(
                0.5 * (losses.LOG_2PI + (x - m) ** 2 / v), axis=axes(x)
            ),
            "the log-variance term is missing: each pixel adds 1/2 log(2 pi variance), not 1/2 log(2 pi).",
        ),
        (
            lambda x, m, v: nll(x, m, v**2),
            "the standard deviation where the variance was meant: the argument is sigma^2.",
        ),
        (
            lambda x, m, v: np.sum(
                0.5 * (losses.LOG_2PI + np.log(v) + (x - m) ** 2 / np.sqrt(v)),
                axis=axes(x),
            ),
            "divide the squared error by the variance sigma^2, not by sigma.",
        ),
        (
            lambda x, m, v: 2 * nll(x, m, v),
            "a factor of 2: -log N has 1/2 in front of both the squared error and the log term.",
        ),
        (
            lambda x, m, v: nll(x, m, v) / np.prod(np.shape(x)[1:]),
            "an average over pixels: the log-likelihood of an image sums its pixels.",
        ),
        (
            lambda x, m, v: -nll(x, m, v),
            "the sign: return the negative log-likelihood.",
        ),
    ]

    def shape_hint(got, expected, args):
        if got == ():
            return "one number for the whole batch: sum over each image's pixels only (every axis but 0)."
        if got == np.shape(args[0]):
            return "nothing was summed: add up the pixels of each image (every axis but 0)."
        return None

    x = rng.uniform(0, 1, (4, 6, 6))
    cases = [
        (
            "4 images (6, 6), variance 1",
            (x, np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1), 1.0),
        ),
        (
            "the same images, variance 0.1",
            (x, np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1), 0.1),
        ),
        (
            "2 images (5, 5, 1) equal to their means, variance 2",
            (x[:2, :5, :5, None], x[:2, :5, :5, None], 2.0),
        ),
    ]
    return _run(
        "check_gaussian_nll", lambda: _compare(fn, cases, nll, mistakes, shape_hint)
    )


# KL and the reparameterization trick (chapters 4 and 5) --------------------------------


def _kl_shape_hint(got, expected, args):
    n, d = args[0].shape
    if got == ():
        return "one number for the whole batch: sum over the latent axis only (axis=1), so each example keeps its KL."
    if got == (d,):
        return "wrong axis: one value per latent dimension; sum over axis=1 (latent), not axis=0 (batch)."
    if got == (n, d):
        return "nothing was summed: add up the latent dimensions (axis=1)."
    return None


def check_kl_discrete(fn, seed: int = 11) -> CheckResult:
    """``fn(p, q)``: KL(p || q) in nats of two distributions over the same outcomes (1-D arrays)."""
    rng = np.random.default_rng(seed)
    kl = theory.kl_discrete

    mistakes = [
        (
            lambda p, q: kl(q, p),
            "the arguments are swapped: KL(p || q) = sum p log(p / q) weights by p, the first argument.",
        ),
        (
            lambda p, q: kl(p, q) / np.log(2),
            "bits instead of nats: use the natural logarithm (np.log).",
        ),
        (
            lambda p, q: theory.cross_entropy(p, q),
            "that is the cross-entropy H(p, q); the KL subtracts the entropy: H(p, q) - H(p).",
        ),
        (lambda p, q: -kl(p, q), "the sign: KL(p || q) = sum p log(p / q) >= 0."),
        (
            lambda p, q: float(np.sum(np.log(p / q))),
            "each log-ratio must be weighted by p(x).",
        ),
        (
            lambda p, q: float(np.mean(p * np.log(p / q))),
            "a mean over outcomes where the sum was meant.",
        ),
    ]

    def expected(p, q):
        return kl(p, q)

    p, q = rng.dirichlet(np.ones(5)), rng.dirichlet(np.ones(5))
    cases = [
        ("two random distributions over 5 outcomes", (p, q)),
        ("p equal to q, where the KL is 0", (p, p.copy())),
        (
            "a p with zero-probability outcomes (0 log 0 = 0)",
            (np.array([0.5, 0.0, 0.5, 0.0]), np.array([0.1, 0.2, 0.3, 0.4])),
        ),
    ]

    return _run(
        "check_kl_discrete",
        lambda: _compare(
            fn,
            cases,
            expected,
            mistakes,
            lambda got, exp, args: "return one number, the sum over the outcomes.",
            nan_hint="0 log 0 = 0: leave out the outcomes where p(x) = 0 (p * log(p / q) is NaN there).",
        ),
    )


def check_kl(fn, seed: int = 0) -> CheckResult:
    """``fn(mean, log_var)``: KL(N(mean, diag(exp(log_var))) || N(0, I)) per example, shape (batch,)."""
    rng = np.random.default_rng(seed)
    kl = losses.kl_to_standard_normal

    def kl_log_std(m, lv):  # log_var read as log sigma
        return 0.5 * np.sum(np.exp(2 * lv) + m**2 - 1 - 2 * lv, axis=1)

    def kl_sigma(m, lv):  # sigma where sigma^2 belongs
        return 0.5 * np.sum(np.exp(0.5 * lv) + m**2 - 1 - lv, axis=1)

    mistakes = [
        (
            lambda m, lv: 2 * kl(m, lv),
            "a factor of 2: the KL is 1/2 * sum(sigma^2 + mu^2 - 1 - log sigma^2); keep the 1/2.",
        ),
        (
            lambda m, lv: 0.5 * kl(m, lv),
            "a factor of 1/2 too many: there is one 1/2 in front of the sum.",
        ),
        (
            lambda m, lv: -kl(m, lv),
            "the sign: a KL is never negative; it is +1/2 * sum(sigma^2 + mu^2 - 1 - log sigma^2).",
        ),
        (
            kl_log_std,
            "log sigma where log sigma^2 was meant: log_var is log sigma^2, so sigma^2 = exp(log_var), not exp(2 log_var).",
        ),
        (
            kl_sigma,
            "sigma where sigma^2 was meant: exp(log_var) is already the variance sigma^2.",
        ),
        (
            lambda m, lv: kl(m, lv) + 0.5 * m.shape[1],
            "the -1 is missing: a posterior equal to the prior (mean 0, log_var 0) must give 0.",
        ),
        (
            lambda m, lv: kl(m, lv) / m.shape[1],
            "an average over the latent dimensions: the KL sums them (np.sum, not np.mean).",
        ),
        (
            lambda m, lv: 0.5 * np.sum(np.exp(lv) + m**2 - 1 + lv, axis=1),
            "the sign of the log sigma^2 term: it is minus log_var.",
        ),
    ]
    cases = [
        ("a random batch (5, 3)", (rng.normal(size=(5, 3)), rng.normal(size=(5, 3)))),
        (
            "mean 0 and log_var 0, where the KL is 0",
            (np.zeros((2, 4)), np.zeros((2, 4))),
        ),
        (
            "one example with one latent dimension",
            (np.array([[1.5]]), np.array([[-2.0]])),
        ),
        (
            "wide posteriors (log_var in [2, 4])",
            (rng.normal(size=(3, 2)), rng.uniform(2, 4, (3, 2))),
        ),
    ]
    return _run("check_kl", lambda: _compare(fn, cases, kl, mistakes, _kl_shape_hint))


def reparameterize(mean, log_var, eps):
    """z = mean + exp(log_var / 2) * eps: a draw from N(mean, exp(log_var)) that is differentiable
    in mean and log_var (``VAE.reparameterize`` with its own eps ~ N(0, I))."""
    return mean + np.exp(0.5 * np.asarray(log_var)) * eps


def check_reparameterize(fn, seed: int = 1) -> CheckResult:
    """``fn(mean, log_var, eps)``: mean + sigma * eps with sigma = exp(log_var / 2), differentiable."""
    rng = np.random.default_rng(seed)
    mistakes = [
        (
            lambda m, lv, e: m + np.exp(lv) * e,
            "the variance where the standard deviation was meant: sigma = exp(log_var / 2); exp(log_var) is sigma^2.",
        ),
        (
            lambda m, lv, e: m + np.exp(2 * lv) * e,
            "log sigma where log sigma^2 was meant: log_var is log sigma^2, so sigma = exp(log_var / 2).",
        ),
        (
            lambda m, lv, e: m + lv * e,
            "log_var is a logarithm: the scale is exp(log_var / 2), not log_var.",
        ),
        (
            lambda m, lv, e: np.exp(0.5 * lv) * e,
            "the mean is missing: z = mean + sigma * eps.",
        ),
        (
            lambda m, lv, e: m - np.exp(0.5 * lv) * e,
            "the sign: z = mean + sigma * eps.",
        ),
        (
            lambda m, lv, e: m * np.exp(0.5 * lv) + e,
            "mean and noise swapped: the noise is scaled, z = mean + sigma * eps.",
        ),
    ]
    cases = [
        (
            "a random batch (4, 3)",
            (rng.normal(size=(4, 3)), rng.normal(size=(4, 3)), rng.normal(size=(4, 3))),
        ),
        (
            "log_var 0, where z = mean + eps",
            (rng.normal(size=(2, 2)), np.zeros((2, 2)), rng.normal(size=(2, 2))),
        ),
        (
            "eps 0, where z = mean",
            (rng.normal(size=(3, 2)), rng.normal(size=(3, 2)), np.zeros((3, 2))),
        ),
        (
            "narrow posteriors (log_var = -6)",
            (rng.normal(size=(2, 5)), np.full((2, 5), -6.0), rng.normal(size=(2, 5))),
        ),
    ]

    def body():
        message = _compare(fn, cases, reparameterize, mistakes)
        m, lv, e = cases[0][1]
        again = _numpy(_call(fn, (m, lv, e), cases[0][0]), cases[0][0])
        if not _close(again, reparameterize(m, lv, e)):
            raise _Fail(
                "two calls with the same eps gave different z. Hint: use the eps you are given; "
                "do not draw your own noise."
            )
        w = rng.normal(size=m.shape)
        grads = _gradients(fn, (m, lv, e), w)
        if grads is None:
            return (
                message
                + " (gradients not checked: the Keras backend is not TensorFlow)"
            )
        g_mean, g_log_var = grads[0], grads[1]
        if g_mean is None or g_log_var is None:
            raise _Fail(
                "the values are right, but no gradient reaches mean or log_var. Hint: compute with "
                "keras.ops (ops.exp), not NumPy, so that z stays differentiable: that is the point of the trick."
            )
        if not (
            _close(g_mean, w) and _close(g_log_var, w * 0.5 * np.exp(0.5 * lv) * e)
        ):
            raise _Fail(
                "the values are right but the gradients are not. Hint: was something wrapped in stop_gradient?"
            )
        return message + " Gradients reach mean and log_var."

    return _run("check_reparameterize", body)


def check_elbo(fn, seed: int = 9) -> CheckResult:
    """``fn(x, probs, mean, log_var)``: the one-sample ELBO per image with a Bernoulli decoder, shape (n,)."""
    rng = np.random.default_rng(seed)
    bce, kl = losses.bernoulli_nll, losses.kl_to_standard_normal

    def axes(a):
        return tuple(range(1, np.ndim(a)))

    def bce_mean(x, p):
        p = np.clip(p, losses.EPS, 1 - losses.EPS)
        return -np.mean(x * np.log(p) + (1 - x) * np.log(1 - p), axis=axes(x))

    mistakes = [
        (
            lambda x, p, m, lv: bce(x, p) + kl(m, lv),
            "the sign: that is the loss, the negative ELBO; the ELBO is log p(x|z) - KL.",
        ),
        (
            lambda x, p, m, lv: -bce(x, p) + kl(m, lv),
            "the KL is subtracted: ELBO = E_q[log p(x|z)] - KL(q || p).",
        ),
        (lambda x, p, m, lv: -bce(x, p), "the KL term is missing."),
        (lambda x, p, m, lv: -kl(m, lv), "the reconstruction term is missing."),
        (
            lambda x, p, m, lv: -bce_mean(x, p) - kl(m, lv),
            "the log-likelihood of an image sums its pixels: use a sum, not a mean, over pixels.",
        ),
        (
            lambda x, p, m, lv: -bce(x, p) - 2 * kl(m, lv),
            "a factor of 2 on the KL: it is 1/2 * sum(sigma^2 + mu^2 - 1 - log sigma^2).",
        ),
    ]

    def shape_hint(got, expected, args):
        if got == ():
            return "one number for the batch: return the ELBO of each image."
        return None

    x = (rng.uniform(size=(3, 4, 4)) > 0.5).astype(np.float64)
    cases = [
        (
            "3 binary images (4, 4) with a 2-D posterior",
            (
                x,
                rng.uniform(0.05, 0.95, x.shape),
                rng.normal(size=(3, 2)),
                rng.normal(size=(3, 2)),
            ),
        ),
        (
            "2 grey images (3, 3, 1) with the prior as posterior",
            (
                rng.uniform(size=(2, 3, 3, 1)),
                rng.uniform(0.1, 0.9, (2, 3, 3, 1)),
                np.zeros((2, 4)),
                np.zeros((2, 4)),
            ),
        ),
    ]
    return _run(
        "check_elbo", lambda: _compare(fn, cases, losses.elbo, mistakes, shape_hint)
    )


def check_active_units(fn, seed: int = 10) -> CheckResult:
    """``fn(mean, threshold)``: how many latent dimensions have a posterior mean whose variance over
    the inputs exceeds ``threshold`` (an int)."""
    rng = np.random.default_rng(seed)
    mistakes = [
        (
            lambda m, t: int((np.var(m, axis=1) > t).sum()),
            "wrong axis: the variance runs over the inputs (axis 0), one per latent dimension.",
        ),
        (
            lambda m, t: int((np.std(m, axis=0) > t).sum()),
            "the standard deviation where the variance was meant.",
        ),
        (
            lambda m, t: int((np.var(m, axis=0) < t).sum()),
            "the comparison is reversed: these are the collapsed (inactive) dimensions.",
        ),
        (
            lambda m, t: int((np.abs(np.mean(m, axis=0)) > t).sum()),
            "the mean of the posterior means says nothing: a dimension is active when its mean *varies* across inputs.",
        ),
        (
            lambda m, t: m.shape[1] - int((np.var(m, axis=0) > t).sum()),
            "you counted the inactive dimensions.",
        ),
    ]
    spread = np.array([1.0, 0.05, 0.2, 1e-3, 0.5, 1e-4])  # std of each dimension's mean
    mean = rng.normal(size=(500, 6)) * spread
    cases = [
        ("500 posterior means in 6-D, threshold 0.01", (mean, 0.01)),
        ("the same means, threshold 0.1", (mean, 0.1)),
        ("a collapsed 3-D model (every mean 0)", (np.zeros((50, 3)), 0.01)),
    ]

    def shape_hint(got, expected, args):
        if got == (args[0].shape[1],):
            return "return the count (an int), not the per-dimension test: sum the booleans."
        return None

    def reference(m, t):
        return np.asarray(metrics.active_units(m, t))

    return _run(
        "check_active_units",
        lambda: _compare(fn, cases, reference, mistakes, shape_hint, exact=True),
    )


def check_log_mean_exp(fn, seed: int = 12) -> CheckResult:
    """``fn(log_w)``: log(mean(exp(log_w))) over axis 0 (k weights per column), without overflow: shape (n,)."""
    rng = np.random.default_rng(seed)
    ref = lambda a: losses.log_mean_exp(a, axis=0)  # noqa: E731
    mistakes = [
        (
            lambda a: np.log(np.sum(np.exp(a - a.max(0)), axis=0)) + a.max(0),
            "a log-sum-exp: the mean divides by k, so subtract log k.",
        ),
        (
            lambda a: losses.log_mean_exp(a, axis=1),
            "wrong axis: the k weights of one example run along axis 0.",
        ),
        (
            lambda a: np.mean(a, axis=0),
            "the mean of the logs is the ELBO-like lower bound (Jensen), not the log of the mean.",
        ),
        (
            lambda a: np.max(a, axis=0),
            "the largest weight alone: add log(mean(exp(a - max))) to it.",
        ),
    ]

    def shape_hint(got, expected, args):
        if got == ():
            return "one number for everything: average over axis 0 only, one result per column (example)."
        if got == (args[0].shape[0],):
            return "wrong axis: the k weights of one example run along axis 0."
        return None

    cases = [
        ("log-weights (5, 3) of moderate size", (rng.normal(size=(5, 3)),)),
        (
            "log-weights near -1000 nats, where exp underflows to 0",
            (rng.normal(size=(4, 2)) - 1000.0,),
        ),
        (
            "log-weights near +800 nats, where exp overflows",
            (rng.normal(size=(3, 4)) + 800.0,),
        ),
        ("one weight per example (k = 1)", (rng.normal(size=(1, 6)),)),
    ]
    return _run(
        "check_log_mean_exp",
        lambda: _compare(
            fn,
            cases,
            ref,
            mistakes,
            shape_hint,
            nan_hint="exp of a large log-weight overflows (or underflows to log 0): subtract the largest "
            "log-weight before exp and add it back after the log.",
        ),
    )


# Vector quantization (chapter 7) ------------------------------------------------------


def _quantizer(codebook, beta=0.25):
    from .quantizer import VectorQuantizer

    codebook = np.asarray(codebook, np.float32)
    q = VectorQuantizer(codebook.shape[0], codebook.shape[1], beta=beta)
    q.build((None, codebook.shape[1]))
    q.codebook.assign(codebook)
    return q


def nearest_code(z_e, codebook):
    """Index of the nearest code (squared Euclidean distance) of each row of z_e: shape (N,)."""
    return np.asarray(
        _quantizer(codebook).nearest_codes(np.asarray(z_e, np.float32))
    ).astype(np.int64)


def _nearest_shape_hint(got, expected, args):
    (n, d), k = args[0].shape, args[1].shape[0]
    if got == (k,):
        return "wrong axis: one index per code; take the argmin over the codes (axis=1) for each vector."
    if got == (n, d):
        return "return the index of the nearest code (N,), not the code vector."
    if got == (n, k):
        return "these look like distances: return their argmin over the codes (axis=1)."
    return None


def check_nearest_code(fn, seed: int = 2) -> CheckResult:
    """``fn(z_e, codebook)``: index (N,) of the nearest code to each row of z_e (N, D); codebook (K, D)."""
    rng = np.random.default_rng(seed)

    def dist(z, c):
        return ((z[:, None, :] - c[None, :, :]) ** 2).sum(-1)

    mistakes = [
        (
            lambda z, c: np.argmax(dist(z, c), axis=1),
            "argmax picks the farthest code: the nearest has the smallest distance (argmin).",
        ),
        (
            lambda z, c: np.argmax(z @ c.T, axis=1),
            "the largest dot product z . e_k is not the nearest code: ||z - e_k||^2 also contains ||e_k||^2, which differs between codes.",
        ),
        (
            lambda z, c: np.argmin(z @ c.T, axis=1),
            "the distance is ||z||^2 - 2 z . e_k + ||e_k||^2: the dot product enters with a minus sign and ||e_k||^2 must be added.",
        ),
        (
            lambda z, c: np.argmin(np.abs(z[:, None, :] - c[None]).sum(-1), axis=1),
            "an L1 distance: the quantizer uses the squared Euclidean distance.",
        ),
    ]
    scales = np.array([0.2, 1.0, 2.5, 4.0, 0.5, 1.5])[:, None]
    codes = rng.normal(size=(6, 3)) * scales  # codes of very different norms
    cases = [
        (
            "8 random vectors and 6 codes of different norms",
            (rng.normal(size=(8, 3)) * 1.5, codes),
        ),
        (
            "vectors equal to the codes, in a shuffled order",
            (codes[[3, 0, 5, 1]], codes),
        ),
        ("a codebook of one code", (rng.normal(size=(4, 2)), rng.normal(size=(1, 2)))),
        (
            "one vector of dimension 16 and 64 codes",
            (rng.normal(size=(1, 16)), rng.normal(size=(64, 16))),
        ),
    ]
    return _run(
        "check_nearest_code",
        lambda: _compare(
            fn, cases, nearest_code, mistakes, _nearest_shape_hint, exact=True
        ),
    )


def check_straight_through(fn, seed: int = 3) -> CheckResult:
    """``fn(z_e, z_q)``: the straight-through output: value z_q, gradient to z_e the identity, none to z_q."""
    rng = np.random.default_rng(seed)
    cases = [
        (
            "a batch of vectors (4, 3)",
            (rng.normal(size=(4, 3)), rng.normal(size=(4, 3))),
        ),
        (
            "a feature map (2, 7, 7, 16)",
            (rng.normal(size=(2, 7, 7, 16)), rng.normal(size=(2, 7, 7, 16))),
        ),
    ]
    mistakes = [
        (
            lambda z_e, z_q: z_e,
            "the output equals z_e: its value must be z_q (the decoder sees the code), "
            "only its gradient is z_e's.",
        )
    ]

    def body():
        message = _compare(fn, cases, lambda z_e, z_q: z_q, mistakes)
        for case, (z_e, z_q) in cases:
            w = rng.normal(size=z_e.shape)
            grads = _gradients(fn, (z_e, z_q), w)
            if grads is None:
                return (
                    message
                    + " (gradients not checked: the Keras backend is not TensorFlow)"
                )
            g_e, g_q = grads
            if _is_zero(g_e) and not _is_zero(g_q) and _close(g_q, w):
                raise _Fail(
                    f"on {case} the gradient goes to z_q and none reaches the encoder. Hint: a missing "
                    "stop-gradient: z_e + (z_q - z_e) is just z_q to autodiff; write z_e + stop_gradient(z_q - z_e)."
                )
            if _is_zero(g_e):
                raise _Fail(
                    f"on {case} no gradient reaches z_e, so the encoder would never learn. Hint: "
                    "return z_e + stop_gradient(z_q - z_e), computed with keras.ops (not NumPy)."
                )
            if _close(g_e, -w):
                raise _Fail(
                    f"on {case} the gradient to z_e has the wrong sign. Hint: z_e enters with +1 outside the stop-gradient."
                )
            if not _close(g_e, w):
                raise _Fail(
                    f"on {case} the gradient to z_e is not the identity. Hint: z_e must appear once, "
                    "outside stop_gradient, with factor 1."
                )
            if not _is_zero(g_q):
                raise _Fail(
                    f"on {case} a gradient also reaches z_q. Hint: stop the gradient of the whole difference "
                    "(z_q - z_e); the codes learn from the codebook loss, not through this path."
                )
        return message + " The gradient reaches z_e unchanged and nothing reaches z_q."

    return _run("check_straight_through", body)


def commitment_loss(z_e, z_q, beta):
    """beta * mean((z_e - sg[z_q])^2) over every vector and component (``VectorQuantizer``'s term)."""
    z_e = np.asarray(z_e, np.float32)
    q = _quantizer(np.asarray(z_q, np.float32).reshape(-1, z_e.shape[-1]), beta)
    return float(q(z_e)["commitment_loss"])


def check_commitment_loss(fn, seed: int = 4) -> CheckResult:
    """``fn(z_e, z_q, beta)``: the commitment loss, a scalar, with no gradient to z_q."""
    rng = np.random.default_rng(seed)

    def per_vector(z_e, z_q, b):
        return b * np.mean(np.sum((z_e - z_q) ** 2, axis=-1))

    mistakes = [
        (
            lambda z_e, z_q, b: np.mean((z_e - z_q) ** 2),
            "beta is missing: the commitment loss is beta * mean((z_e - sg[z_q])^2).",
        ),
        (lambda z_e, z_q, b: b * b * np.mean((z_e - z_q) ** 2), "beta appears twice."),
        (
            lambda z_e, z_q, b: b * np.sum((z_e - z_q) ** 2),
            "a sum where the library takes a mean over every vector and component.",
        ),
        (
            per_vector,
            "a factor of D (code_dim): the library averages over the D components as well as over the vectors, as Keras' mse does.",
        ),
        (
            lambda z_e, z_q, b: b * np.mean(np.abs(z_e - z_q)),
            "the distance must be squared.",
        ),
        (
            lambda z_e, z_q, b: b * np.mean(np.sqrt(np.sum((z_e - z_q) ** 2, axis=-1))),
            "a norm that is not squared: use ||z_e - z_q||^2.",
        ),
        (lambda z_e, z_q, b: 2 * b * np.mean((z_e - z_q) ** 2), "a factor of 2."),
        (lambda z_e, z_q, b: 0.5 * b * np.mean((z_e - z_q) ** 2), "a factor of 1/2."),
    ]

    def case(shape, beta, equal=False):
        z_e = rng.normal(size=shape)
        codes = rng.normal(size=(5, shape[-1]))
        z_q = codes[nearest_code(z_e.reshape(-1, shape[-1]), codes)].reshape(shape)
        return (z_q.copy() if equal else z_e), z_q, beta

    cases = [
        ("vectors (6, 3) and their nearest codes, beta 0.25", case((6, 3), 0.25)),
        ("a feature map (2, 3, 3, 4), beta 1.0", case((2, 3, 3, 4), 1.0)),
        ("z_e equal to its codes, where the loss is 0", case((3, 2), 0.25, equal=True)),
    ]

    def shape_hint(got, expected, args):
        return "return one number: the mean over every vector and component (no axis)."

    def body():
        message = _compare(fn, cases, commitment_loss, mistakes, shape_hint)
        z_e, z_q, beta = cases[0][1]
        grads = _gradients(lambda a, b: fn(a, b, beta), (z_e, z_q), 1.0)
        if grads is None:
            return (
                message
                + " (gradients not checked: the Keras backend is not TensorFlow)"
            )
        g_e, g_q = grads
        if _is_zero(g_e) and not _is_zero(g_q):
            raise _Fail(
                "the values are right, but the stop-gradient is on the wrong side: this is the "
                "codebook loss (it moves the codes). The commitment loss moves z_e: sg[z_q]."
            )
        if g_e is None:
            raise _Fail(
                "the values are right, but no gradient reaches z_e. Hint: compute with keras.ops, not NumPy."
            )
        if not _is_zero(g_q):
            raise _Fail(
                "the values are right, but a gradient reaches z_q. Hint: a missing stop-gradient: "
                "use stop_gradient(z_q); the codes must not move towards the encoder here."
            )
        return message + " The gradient reaches z_e only."

    return _run("check_commitment_loss", body)


# Token grids (chapter 9) --------------------------------------------------------------


def check_shift(fn, seed: int = 5) -> CheckResult:
    """``fn(grid, dx, dy)``: move a token grid (h, w) or batch (n, h, w) dx right and dy down, wrapping."""
    rng = np.random.default_rng(seed)
    mistakes = [
        (
            lambda g, dx, dy: np.roll(np.roll(g, dx, axis=-2), dy, axis=-1),
            "x and y swapped: x runs along a row (the last axis, -1), y down a column (axis -2).",
        ),
        (
            lambda g, dx, dy: np.roll(np.roll(g, -dx, axis=-1), -dy, axis=-2),
            "the direction: a positive dx moves the content right and a positive dy down (np.roll by +dx).",
        ),
        (
            lambda g, dx, dy: np.roll(np.roll(g, -dx, axis=-1), dy, axis=-2),
            "the direction of x: a positive dx moves the content right.",
        ),
        (
            lambda g, dx, dy: np.roll(np.roll(g, dx, axis=-1), -dy, axis=-2),
            "the direction of y: a positive dy moves the content down.",
        ),
        (
            lambda g, dx, dy: np.roll(np.roll(g, dx, axis=1), dy, axis=0),
            "fixed axes 0 and 1 work for one grid but not for a batch (n, h, w): count the axes from the end (axis=-1 for x, -2 for y).",
        ),
        (
            lambda g, dx, dy: tokens.shift(g, dx, dy, fill=0),
            "what leaves one side must enter on the other (wrap around, as np.roll does), not zeros.",
        ),
    ]
    grid = np.arange(24).reshape(4, 6)  # not square, so a swap of x and y shows
    cases = [
        ("one grid (4, 6) shifted by dx=2, dy=1", (grid, 2, 1)),
        ("one grid (4, 6) shifted by dx=-1, dy=0", (grid, -1, 0)),
        (
            "a batch (3, 4, 6) shifted by dx=1, dy=-3",
            (rng.integers(0, 64, (3, 4, 6)), 1, -3),
        ),
        (
            "a batch (2, 7, 7) shifted by dx=0, dy=0",
            (rng.integers(0, 64, (2, 7, 7)), 0, 0),
        ),
    ]

    def body():
        message = _compare(
            fn, cases, lambda g, dx, dy: tokens.shift(g, dx, dy, fill="wrap"), mistakes
        )
        g = grid.copy()
        fn(g, 2, 1)
        if not np.array_equal(g, grid):
            raise _Fail(
                "your function changed the grid it was given. Hint: return a new array (np.roll does)."
            )
        return message

    return _run("check_shift", body)


# PixelCNN masks (chapter 10) ----------------------------------------------------------


def causal_mask(kernel_size: int, mask_type: str) -> np.ndarray:
    """The (k, k) mask of a PixelCNN convolution: 1 where the kernel may look, 0 elsewhere.

    In raster order (row by row, left to right) a pixel may depend only on pixels before it:
    every row above the centre, and the pixels left of the centre in its row. Type "A" (the
    first layer) also hides the centre itself; type "B" (later layers) lets it through, since
    there the centre holds features of the pixels before it (van den Oord et al. 2016).
    """
    if not (
        isinstance(kernel_size, (int, np.integer))
        and kernel_size >= 1
        and kernel_size % 2 == 1
    ):
        raise ValueError(
            f"kernel_size should be an odd positive integer, got {kernel_size!r}"
        )
    if mask_type not in MASK_TYPES:
        raise ValueError(f"mask_type should be 'A' or 'B', got {mask_type!r}")
    c = kernel_size // 2
    mask = np.zeros((kernel_size, kernel_size), np.float32)
    mask[:c, :] = 1.0  # every row above the centre
    mask[c, : c + (mask_type == "B")] = 1.0  # left of the centre (and the centre for B)
    return mask


def check_masked_conv(fn, seed: int | None = None) -> CheckResult:
    """``fn(kernel_size, mask_type)``: the (k, k) causal mask of a PixelCNN layer of type 'A' or 'B'.

    The cases are fixed; a ``seed`` adds three larger odd kernel sizes (9 to 21) drawn with it.
    """

    def other_type(k, t):
        return causal_mask(k, "B" if t == "A" else "A")

    def with_right(k, t):
        m = causal_mask(k, t)
        m[k // 2, k // 2 + 1 :] = 1.0
        return m

    def rows_above_only(k, t):
        m = np.zeros((k, k))
        m[: k // 2] = 1.0
        return m

    def rows_below(k, t):
        m = causal_mask(k, t)
        m[k // 2 + 1 :] = 1.0
        return m

    mistakes = [
        (
            other_type,
            "types A and B swapped: type A (the first layer) hides the centre pixel itself; type B lets it through.",
        ),
        (
            lambda k, t: causal_mask(k, t).T,
            "transposed: the mask hides what comes later in raster order (the rows below, and the pixels right of the centre in its row), not columns.",
        ),
        (
            lambda k, t: causal_mask(k, t)[::-1, ::-1],
            "mirrored: the visible part is above and to the left of the centre.",
        ),
        (
            with_right,
            "the pixels right of the centre come later in raster order: they must be 0.",
        ),
        (
            rows_above_only,
            "the centre row's pixels left of the centre come earlier in raster order: they must be 1.",
        ),
        (
            rows_below,
            "the rows below the centre come later in raster order: they must be 0.",
        ),
    ]
    cases = [
        (f"kernel_size={k}, mask_type={t!r}", (k, t))
        for k, t in [
            (3, "A"),
            (3, "B"),
            (5, "A"),
            (5, "B"),
            (7, "B"),
            (1, "A"),
            (1, "B"),
        ]
    ]
    if seed is not None:
        rng = np.random.default_rng(seed)
        cases += [
            (f"kernel_size={k}, mask_type={t!r}", (k, t))
            for k, t in zip(
                (2 * rng.integers(4, 11, 3) + 1).tolist(),
                rng.choice(MASK_TYPES, 3).tolist(),
            )
        ]
    return _run("check_masked_conv", lambda: _compare(fn, cases, causal_mask, mistakes))


# Image quality (chapter 11) -----------------------------------------------------------


def check_psnr(fn, seed: int = 6) -> CheckResult:
    """``fn(a, b, peak)``: the PSNR of each image pair in dB, 10 log10(peak^2 / MSE), shape (n,)."""
    rng = np.random.default_rng(seed)

    def mse(a, b):
        return metrics.mse(a, b)

    mistakes = [
        (
            lambda a, b, p: 20 * np.log10(p**2 / mse(a, b)),
            "a factor of 2: 20 log10 belongs with amplitudes (peak / RMSE); with the MSE it is 10 log10(peak^2 / MSE).",
        ),
        (
            lambda a, b, p: 5 * np.log10(p**2 / mse(a, b)),
            "a factor of 1/2: PSNR = 10 log10(peak^2 / MSE).",
        ),
        (
            lambda a, b, p: 10 * np.log10(p / mse(a, b)),
            "the peak must be squared: PSNR = 10 log10(peak^2 / MSE) (it only shows when peak is not 1).",
        ),
        (
            lambda a, b, p: 10 * np.log(p**2 / mse(a, b)),
            "a natural logarithm: decibels use log10.",
        ),
        (
            lambda a, b, p: 10 * np.log10(p**2 / np.sqrt(mse(a, b))),
            "the RMSE where the MSE belongs (a factor of 1/2).",
        ),
        (
            lambda a, b, p: 10 * np.log10(mse(a, b) / p**2),
            "the sign: PSNR grows as the error shrinks, 10 log10(peak^2 / MSE).",
        ),
        (
            lambda a, b, p: 10 * np.log10(1.0 / mse(a, b)),
            "the peak is ignored: use the peak argument (255 for 8-bit images).",
        ),
    ]

    def shape_hint(got, expected, args):
        if got == ():
            return "one number for the whole batch: average the squared error over each image's pixels only (every axis but 0)."
        if got == np.shape(args[0]):
            return "no average over the pixels: take the mean over every axis but the first."
        return None

    a = rng.uniform(0, 1, (4, 8, 8))
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1)
    a255 = rng.integers(0, 256, (3, 6, 6, 3)).astype(np.float64)
    b255 = np.clip(a255 + rng.normal(0, 8, a255.shape), 0, 255)
    c = rng.uniform(0, 1, (2, 5, 5, 1))
    cases = [
        ("4 noisy images (8, 8), peak 1", (a, b, 1.0)),
        ("3 colour images (6, 6, 3) in 0..255, peak 255", (a255, b255, 255.0)),
        (
            "2 images (5, 5, 1), one almost identical to its pair",
            (c, c + np.array([1e-3, 0.3])[:, None, None, None], 1.0),
        ),
    ]
    return _run(
        "check_psnr", lambda: _compare(fn, cases, metrics.psnr, mistakes, shape_hint)
    )
