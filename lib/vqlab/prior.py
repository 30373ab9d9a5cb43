"""Stage two of the VQ-VAE: a learned prior over token grids (thesis section 3.5).

Stage one trains the VQ-VAE with a uniform prior over the K codes; stage two keeps the
VQ-VAE fixed and fits an autoregressive model to the token grids of the training images,

    p(k) = prod_i p(k_i | k_<i)         (raster order: row by row, left to right)

so that new grids can be sampled and decoded, and any grid scored in bits. The model is
the gated PixelCNN of van den Oord et al. (2016) with separate vertical and horizontal
stacks, which removes the original PixelCNN's blind spot: the logits of position (i, j)
see every token above row i and every token left of column j in row i, and nothing else.

    tokens (n, h, w) -> embedding e (n, h, w, C)
    vertical stack:   v_l = gate(conv_{2x3}(v_{l-1}))        row r sees rows <= r
    horizontal stack: h_l = h_{l-1} + conv_1x1(gate(conv_{1x2}(h_{l-1}) + conv_1x1(down(v_l))))
                      with h_0's input e shifted one column right (type-A: (i, j) never sees itself)
    logits (n, h, w, K) = conv_1x1(relu(conv_1x1(relu(h_L))))

``down`` shifts the vertical features one row down, so row i of the horizontal stack only
receives rows < i. ``gate(a) = tanh(a_1) * sigmoid(a_2)`` splits the channels in two. The
digit label (or ``NO_LABEL``) adds a learned bias to every gate: one model is both the
conditional prior p(k | y) and, with ``label=None``, the unconditional p(k); training
replaces each label by ``NO_LABEL`` with probability ``label_dropout``.

The functions ``sample``, ``log_prob``, ``bits`` and ``complete`` take a trained prior
(``pretrained.load("prior_vqvae_mnist")``) and NumPy token grids, the same grids
``VQVAE.encode`` returns and ``VQVAE.decode`` accepts.
"""

from __future__ import annotations

import keras
import numpy as np

from . import checks
from .models.prior import KERNEL_WIDTH, LN2, NUM_CLASSES, GatedPixelCNN  # noqa: F401

SAMPLE_BATCH = 1000  # grids per sampling pass


# Scoring ---------------------------------------------------------------------------------


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    m = logits.max(axis=-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))


def _position_log_probs(
    prior: GatedPixelCNN,
    tokens: np.ndarray,
    labels: np.ndarray,
    batch_size: int = SAMPLE_BATCH,
) -> np.ndarray:
    """log p(k_i | k_<i, label) of each position of checked int32 grids: (n, h, w), float64."""
    fn = prior.graph_call("logits")
    out = np.zeros(tokens.shape, np.float64)
    for s in range(0, len(tokens), batch_size):
        t = tokens[s : s + batch_size]
        logp = _log_softmax(fn(t, labels[s : s + batch_size]))  # (b, h, w, K)
        out[s : s + batch_size] = np.take_along_axis(
            logp, t[..., None].astype(np.int64), axis=-1
        )[..., 0]
    return out


def position_log_probs(prior: GatedPixelCNN, tokens, label=None) -> np.ndarray:
    """log p(k_i | k_<i [, label]) in nats at every position: (n, h, w). Their sum over a
    grid is ``log_prob``; minus them, divided by ln 2, is what each token costs in bits."""
    tokens = prior.check_tokens(tokens).astype(np.int32)
    return _position_log_probs(prior, tokens, prior.check_labels(label, len(tokens)))


def log_prob(prior: GatedPixelCNN, tokens, label=None) -> np.ndarray:
    """log p(tokens [| label]) in nats, one value per grid (n,): the sum over the grid of
    log p(k_i | k_<i). ``tokens``: int grids (n, h, w) (or one (h, w)) in [0, num_codes),
    checked exactly as ``VQVAE.decode`` checks them; ``label``: None (the unconditional
    prior), one digit, or one digit per grid."""
    return position_log_probs(prior, tokens, label).sum(axis=(1, 2))


def bits(prior: GatedPixelCNN, tokens, label=None) -> np.ndarray:
    """-log2 p(tokens [| label]): the bits per grid an ideal code built on the prior needs."""
    return -log_prob(prior, tokens, label) / LN2


def unigram_bits(train_tokens, test_tokens, num_codes: int) -> np.ndarray:
    """Bits per test grid under the simplest learned prior: every token independent with
    the code histogram of ``train_tokens`` (add-one smoothing). One value per test grid."""
    counts = np.bincount(np.asarray(train_tokens).ravel(), minlength=num_codes) + 1.0
    log2_p = np.log2(counts / counts.sum())
    test_tokens = np.asarray(test_tokens)
    return -log2_p[test_tokens].reshape(len(test_tokens), -1).sum(axis=1)


# Sampling --------------------------------------------------------------------------------


def _check_temperature(temperature) -> float:
    if not checks.is_number(temperature) or temperature <= 0:
        raise ValueError(
            f"temperature should be a finite number > 0, got {temperature!r}"
        )
    return float(temperature)


def _temperatures(temperature, n: int) -> np.ndarray:
    """``temperature``, one number or one per grid, as floats (n, 1) > 0."""
    if checks.is_number(temperature):
        return np.full((n, 1), _check_temperature(temperature))
    t = np.asarray(temperature, np.float64)
    if t.shape != (n,) or not np.all(np.isfinite(t)) or not np.all(t > 0):
        raise ValueError(
            f"temperature should be a number > 0 or {n} such numbers (one per grid), "
            f"got {temperature!r}"
        )
    return t[:, None]


def _draw(logits: np.ndarray, temperature, rng: np.random.Generator) -> np.ndarray:
    """One code per row of ``logits`` (b, K) from softmax(logits / temperature) (Gumbel-max);
    ``temperature`` a number or (b, 1) per row."""
    return np.argmax(
        np.asarray(logits, np.float64) / temperature + rng.gumbel(size=logits.shape),
        axis=-1,
    )


def _raster_fill(
    prior: GatedPixelCNN,
    tokens: np.ndarray,
    labels: np.ndarray,
    mask: np.ndarray,
    temperature,
    rng: np.random.Generator,
) -> np.ndarray:
    """Draw the masked positions of ``tokens`` (b, h, w) in raster order from p(k_i | k_<i).

    The vertical stack runs once per row, on rows 0..i only (row i's context depends on
    rows < i); the horizontal stack once per position, on columns 0..j of row i only: a
    causal network never needs what lies after the position it predicts."""
    vertical, horizontal = prior.graph_call("vertical"), prior.graph_call("horizontal")
    tokens = tokens.copy()
    h, w = prior.grid_shape
    for i in range(h):
        if not mask[:, i].any():
            continue
        contexts = [
            c[:, i : i + 1] for c in vertical(tokens[:, : i + 1], labels)
        ]  # each (b, 1, w, 2C)
        for j in range(w):
            if not mask[:, i, j].any():
                continue
            row = horizontal(
                tokens[:, i : i + 1, : j + 1], [c[:, :, : j + 1] for c in contexts]
            )  # (b, 1, j + 1, K)
            logits = keras.ops.convert_to_numpy(row)[:, 0, j]  # (b, K)
            tokens[:, i, j] = np.where(
                mask[:, i, j], _draw(logits, temperature, rng), tokens[:, i, j]
            )
    return tokens


def sample(
    prior: GatedPixelCNN, n: int, temperature=1.0, label=None, seed: int = 0
) -> np.ndarray:
    """``n`` token grids (n, h, w) of int64 drawn from the prior, ready for ``VQVAE.decode``.

    ``temperature`` divides the logits (below 1: safer, more typical grids; above 1: more
    varied ones), one number or one per grid; ``label``: None (unconditional), one digit,
    or one digit per grid. The same ``seed`` gives the same grids. Batched over grids: a
    pass costs about the same for 10 grids as for 1,000 (49 sequential network calls), so
    draw what a figure needs in one call, temperatures and labels per grid. The network is
    compiled once per batch shape, so the first call pays for tracing."""
    if not checks.is_int(n) or n < 0:
        raise ValueError(f"n should be an integer >= 0 (how many grids), got {n!r}")
    n = int(n)
    temperature = _temperatures(temperature, n)
    labels = prior.check_labels(label, n)
    rng = np.random.default_rng(seed)
    h, w = prior.grid_shape
    if n == 0:
        return np.zeros((0, h, w), np.int64)
    out = []
    for s in range(0, n, SAMPLE_BATCH):
        b = len(labels[s : s + SAMPLE_BATCH])
        out.append(
            _raster_fill(
                prior,
                np.zeros((b, h, w), np.int32),
                labels[s : s + SAMPLE_BATCH],
                np.ones((b, h, w), bool),
                temperature[s : s + SAMPLE_BATCH],
                rng,
            )
        )
    return np.concatenate(out).astype(np.int64)


def _check_mask(mask, shape) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != bool:
        if not np.issubdtype(mask.dtype, np.integer) or (
            mask.size and not np.isin(mask, (0, 1)).all()
        ):
            raise ValueError(
                f"mask should be boolean or 0/1 integers (True or 1 = resample), "
                f"got dtype {mask.dtype}"
                + (
                    f" with values {np.unique(mask)[:5]}"
                    if np.issubdtype(mask.dtype, np.number)
                    else ""
                )
            )
        mask = mask.astype(bool)
    try:
        return np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(
            f"mask of shape {mask.shape} does not fit token grids of shape {shape}: "
            f"expected (h, w) or (n, h, w)"
        ) from None


def complete(
    prior: GatedPixelCNN,
    tokens,
    mask,
    label=None,
    temperature: float = 1.0,
    sweeps: int = 2,
    seed: int = 0,
) -> np.ndarray:
    """Resample the positions of ``tokens`` (n, h, w) where ``mask`` (bool, (h, w) or
    (n, h, w)) is True; every other token stays as it is. Returns new int64 grids.

    A causal prior gives p(k_i | k_<i) directly, but a masked position must also agree with
    the tokens *after* it. So: (1) one raster pass draws each masked position from
    p(k_i | k_<i), which sees the tokens before it (kept ones and those just drawn); then
    (2) ``sweeps`` Gibbs passes visit the masked positions in raster order and draw each
    from its full conditional given every other token,

        p(k_i | k_-i)  ∝  p(k_i | k_<i) * prod_{j > i} p(k_j | k_<j),

    computed exactly by scoring the grid once for each of the K codes at position i (K
    passes of the network per masked position: fine for a seam, slow for a whole grid).
    Positions after a masked one thus constrain it through the second factor."""
    tokens = prior.check_tokens(tokens).astype(np.int32)
    mask = _check_mask(mask, tokens.shape)
    labels = prior.check_labels(label, len(tokens))
    temperature = _check_temperature(temperature)
    if not checks.is_int(sweeps) or sweeps < 0:
        raise ValueError(f"sweeps should be an integer >= 0, got {sweeps!r}")
    rng = np.random.default_rng(seed)
    tokens = _raster_fill(prior, tokens, labels, mask, temperature, rng)
    K = prior.num_codes
    for _ in range(sweeps):
        for i, j in zip(*np.nonzero(mask.any(axis=0))):
            rows = np.nonzero(mask[:, i, j])[0]  # grids masked here
            candidates = np.repeat(tokens[rows][:, None], K, axis=1)  # (m, K, h, w)
            candidates[:, :, i, j] = np.arange(K)
            flat = candidates.reshape((-1,) + prior.grid_shape)  # (m*K, h, w)
            scores = _position_log_probs(prior, flat, np.repeat(labels[rows], K)).sum(
                axis=(1, 2)
            )
            tokens[rows, i, j] = _draw(scores.reshape(len(rows), K), temperature, rng)
    return tokens.astype(np.int64)


# Checking the causal mask ------------------------------------------------------------------


def influence(prior: GatedPixelCNN, grid, label=None) -> np.ndarray:
    """Which tokens reach which logits, measured: a bool matrix (hw, hw) whose entry [p, q]
    says whether changing the token at raster position p (to the next code) changes the
    logits at position q. A correct autoregressive prior has it strictly upper-triangular
    (q > p only); without a blind spot, every entry above the diagonal is True."""
    grid = prior.check_tokens(grid)[:1].astype(np.int32)  # (1, h, w)
    h, w = prior.grid_shape
    grids = np.repeat(grid, h * w + 1, axis=0)  # the grid, then hw edits
    rows, cols = np.divmod(np.arange(h * w), w)
    grids[np.arange(1, h * w + 1), rows, cols] = (
        grid[0, rows, cols] + 1
    ) % prior.num_codes
    labels = prior.check_labels(label, 1).repeat(len(grids))
    logits = keras.ops.convert_to_numpy(
        prior.graph_call("logits")(grids, labels)
    )  # (hw + 1, h, w, K)
    return (np.abs(logits[1:] - logits[:1]).max(axis=-1) > 0).reshape(h * w, h * w)


# The VQ-VAE's bound on log p(x) --------------------------------------------------------------


def bernoulli_distortion(x_binary, decoded, clip: float) -> np.ndarray:
    """-log p(x | z) in nats per image (n,) for binary images ``x_binary`` under a Bernoulli
    decoder whose pixel probabilities are the decoded images ``decoded`` (e.g.
    ``vqvae.decode(tokens)``) kept inside [clip, 1 - clip]: the VQ-VAE's decoder outputs
    exact zeros and ones, which would give log 0 on a single wrong pixel."""
    from .losses import bernoulli_nll

    x = np.asarray(x_binary, np.float32)
    if x.size and not np.isin(x, (0.0, 1.0)).all():
        raise ValueError(
            "x_binary should hold binary pixels (0 or 1), e.g. data.mnist_binarized"
        )
    if not checks.is_number(clip) or not 0 < clip < 0.5:
        raise ValueError(f"clip should be a number in (0, 0.5), got {clip!r}")
    probs = np.clip(np.asarray(decoded, np.float32), clip, 1.0 - clip)
    return np.asarray(bernoulli_nll(x.reshape(probs.shape), probs), np.float64)


# Training data ---------------------------------------------------------------------------


def mnist_tokens(
    split: str = "train", limit: int | None = None, vqvae: str = "vqvae_mnist"
) -> dict:
    """The token grids of MNIST under the shipped VQ-VAE ``vqvae``, with the digit labels:
    ``{"tokens": int32 (n, h, w), "labels": int32 (n,)}``. Computed on each call (70,000
    encodes take seconds), never read from a cache."""
    from . import pretrained  # here, not at the top: pretrained imports this module
    from .data import mnist_images, mnist_labels

    vq = pretrained.load(vqvae)
    return {
        "tokens": vq.encode(mnist_images(split, limit)).astype(np.int32),
        "labels": mnist_labels(split, limit).astype(np.int32),
    }


from .seams import jump as seam_jump  # noqa: E402,F401  (importable from here as before)
from .seams import ring as seam_ring  # noqa: E402


def repair_seam(
    prior: GatedPixelCNN,
    grid,
    box,
    width: int = 1,
    samples: int = 8,
    temperature: float = 1.0,
    seed: int = 0,
) -> dict:
    """Repair the seam of a moved box in one token grid (h, w): resample the tokens of
    ``seams.ring(box, width)`` (``box`` = top, left, height, width in tokens) from
    p(k_i | k_<i) with ``complete`` (one raster pass) ``samples`` times, and keep the draw
    the prior finds most likely (fewest bits for the whole grid). Returns ``tokens``
    (h, w), ``mask``, and ``bits_before`` / ``bits_after`` of the whole grid."""
    grid = prior.check_tokens(grid)[0]
    if not checks.is_int(samples) or samples < 1:
        raise ValueError(f"samples should be an integer >= 1, got {samples!r}")
    mask = seam_ring(grid.shape, box, width)
    drawn = complete(
        prior,
        np.repeat(grid[None], samples, axis=0),
        mask,
        temperature=temperature,
        sweeps=0,
        seed=seed,
    )
    scores = bits(prior, drawn)
    best = int(np.argmin(scores))
    return {
        "tokens": drawn[best],
        "mask": mask,
        "bits_before": float(bits(prior, grid[None])[0]),
        "bits_after": float(scores[best]),
    }
