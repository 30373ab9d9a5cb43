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

import math

import keras
import numpy as np
from keras import layers, ops

from . import checks
from .models.base import LossTermsModel
from .models.vqvae import VQVAE

LN2 = math.log(2.0)
NUM_CLASSES = 10  # MNIST digits; label NUM_CLASSES means "no label"
KERNEL_WIDTH = 3  # the vertical stack's kernel is (2, 3): the row above (after the shift) and this row
SAMPLE_BATCH = 1000  # grids per sampling pass


def _gate(a):
    """tanh(a_1) * sigmoid(a_2), the channels of ``a`` split in two halves."""
    a1, a2 = ops.split(a, 2, axis=-1)
    return ops.tanh(a1) * ops.sigmoid(a2)


def _down(x):
    """Shift (n, h, w, c) one row down: row i gets row i - 1, row 0 zeros."""
    return ops.pad(x, [[0, 0], [1, 0], [0, 0], [0, 0]])[:, :-1]


def _right(x):
    """Shift (n, h, w, c) one column right: column j gets column j - 1, column 0 zeros."""
    return ops.pad(x, [[0, 0], [0, 0], [1, 0], [0, 0]])[:, :, :-1]


class GatedPixelCNN(LossTermsModel):
    """Gated PixelCNN over token grids (n, h, w) of ``num_codes`` codes, optionally given a label.

    ``image_shape`` is the token grid as (h, w, 1), so ``model(np.zeros((1, h, w, 1)))``
    builds it as it builds the book's other models. ``model(tokens)`` gives the logits
    (n, h, w, num_codes) of p(k_i | k_<i) without a label; ``logits(tokens, labels)``
    with one. Training data: a dict ``{"tokens": (n, h, w) ints, "labels": (n,) ints}``.
    """

    TERMS = ("loss", "bits_per_image")

    def __init__(self, num_codes: int = 64, channels: int = 48, num_layers: int = 6,
                 num_classes: int = NUM_CLASSES, label_dropout: float = 0.2,
                 image_shape=(7, 7, 1), seed: int = 0, **kwargs):
        super().__init__(image_shape=image_shape, seed=seed, **kwargs)
        self.num_codes = checks.positive_int("num_codes", num_codes)
        self.channels = checks.positive_int("channels", channels)
        self.num_layers = checks.positive_int("num_layers", num_layers)
        self.num_classes = checks.positive_int("num_classes", num_classes)
        self.label_dropout = checks.number_at_least("label_dropout", label_dropout, 0.0)
        if self.label_dropout > 1.0:
            raise ValueError(f"label_dropout should lie in [0, 1], got {label_dropout!r}")
        self.grid_shape = tuple(self.image_shape[:2])
        self.no_label = self.num_classes
        C = self.channels
        self.embedding = layers.Embedding(self.num_codes, C, name="embedding")
        self.v_convs = [layers.Conv2D(2 * C, (2, KERNEL_WIDTH), name=f"v_conv{i}") for i in range(num_layers)]
        self.v_to_h = [layers.Conv2D(2 * C, 1, name=f"v_to_h{i}") for i in range(num_layers)]
        self.h_convs = [layers.Conv2D(2 * C, (1, 2), name=f"h_conv{i}") for i in range(num_layers)]
        self.h_outs = [layers.Conv2D(C, 1, name=f"h_out{i}") for i in range(num_layers)]
        # one bias per gate and label: (num_classes + 1, 2C) for each stack of each layer
        # (the last layer's vertical output feeds nothing, so it has no gate and no label bias)
        self.v_labels = [layers.Embedding(num_classes + 1, 2 * C, name=f"v_label{i}") for i in range(num_layers - 1)]
        self.h_labels = [layers.Embedding(num_classes + 1, 2 * C, name=f"h_label{i}") for i in range(num_layers)]
        self.head = [layers.Conv2D(C, 1, name="head_hidden"), layers.Conv2D(self.num_codes, 1, name="head_logits")]
        self.seed_generator = keras.random.SeedGenerator(self.seed)

    def get_config(self):
        return {**super().get_config(), "num_codes": self.num_codes, "channels": self.channels,
                "num_layers": self.num_layers, "num_classes": self.num_classes,
                "label_dropout": self.label_dropout}

    # The network, in two halves so that sampling can reuse the vertical stack -------------
    def vertical(self, tokens, labels):
        """What the horizontal stack of each layer receives from above: a list of
        ``num_layers`` tensors (n, h, w, 2C); row i depends on rows < i only."""
        v = self.embedding(tokens)                                        # (n, h, w, C)
        pad = KERNEL_WIDTH // 2
        contexts = []
        for layer in range(self.num_layers):
            a = self.v_convs[layer](ops.pad(v, [[0, 0], [1, 0], [pad, pad], [0, 0]]))  # (n, h, w, 2C): rows r-1, r
            contexts.append(self.v_to_h[layer](_down(a)) + self.h_labels[layer](labels)[:, None, None, :])
            if layer < self.num_layers - 1:
                v = _gate(a + self.v_labels[layer](labels)[:, None, None, :])  # (n, h, w, C)
        return contexts

    def horizontal(self, tokens, contexts):
        """Logits (n, rows, w, K) of rows of ``tokens`` given their ``contexts`` (those rows
        of ``vertical``'s output). Every operation acts within a row, left to right."""
        h = _right(self.embedding(tokens))                                 # (n, rows, w, C): type A
        for layer, (conv, out, ctx) in enumerate(zip(self.h_convs, self.h_outs, contexts)):
            a = conv(ops.pad(h, [[0, 0], [0, 0], [1, 0], [0, 0]])) + ctx  # columns j-1, j
            new = out(_gate(a))
            h = new if layer == 0 else h + new
        return self.head[1](ops.relu(self.head[0](ops.relu(h))))

    def logits(self, tokens, labels):
        """Logits (n, h, w, K) of p(k_i | k_<i, label) for int tokens (n, h, w) and labels (n,)."""
        return self.horizontal(tokens, self.vertical(tokens, labels))

    def call(self, x, training=False):
        tokens = ops.cast(x[..., 0] if len(x.shape) == 4 else x, "int32")  # (n, h, w[, 1]) -> (n, h, w)
        labels = ops.full((ops.shape(tokens)[0],), self.no_label, "int32")
        return self.logits(tokens, labels)

    def loss_terms(self, x, training=False):
        """``loss``: cross-entropy in nats per token; ``bits_per_image``: the same summed over
        the grid, in bits. ``x``: a dict with ``tokens`` and ``labels`` (or tokens alone)."""
        if isinstance(x, dict):
            tokens, labels = ops.cast(x["tokens"], "int32"), ops.cast(x["labels"], "int32")
        else:
            tokens = ops.cast(x, "int32")
            labels = ops.full((ops.shape(tokens)[0],), self.no_label, "int32")
        if training and self.label_dropout > 0:
            drop = keras.random.uniform(ops.shape(labels), seed=self.seed_generator) < self.label_dropout
            labels = ops.where(drop, self.no_label, labels)
        ce = keras.losses.sparse_categorical_crossentropy(tokens, self.logits(tokens, labels), from_logits=True)
        loss = ops.mean(ce)                                               # nats per token
        return {"loss": loss, "bits_per_image": loss * (self.grid_shape[0] * self.grid_shape[1]) / LN2}

    # The same checks as the VQ-VAE's decode, so a bad grid fails the same way in both
    check_tokens = VQVAE.check_tokens

    def check_labels(self, label, n: int) -> np.ndarray:
        """``label`` as int32 (n,): None -> "no label", one digit for all, or one per grid."""
        if label is None:
            return np.full(n, self.no_label, np.int32)
        arr = np.asarray(label)
        if arr.ndim == 0:
            arr = np.full(n, arr)
        if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer) or (
                n and (arr.min() < 0 or arr.max() >= self.num_classes)):
            raise ValueError(f"label should be None, one integer in [0, {self.num_classes}) or {n} such "
                             f"integers, got {label!r}")
        return arr.astype(np.int32)


# Scoring ---------------------------------------------------------------------------------

def _log_softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, np.float64)
    m = logits.max(axis=-1, keepdims=True)
    return logits - m - np.log(np.exp(logits - m).sum(axis=-1, keepdims=True))


def _position_log_probs(prior: GatedPixelCNN, tokens: np.ndarray, labels: np.ndarray,
                        batch_size: int = SAMPLE_BATCH) -> np.ndarray:
    """log p(k_i | k_<i, label) of each position of checked int32 grids: (n, h, w), float64."""
    fn = prior.graph_call("logits")
    out = np.zeros(tokens.shape, np.float64)
    for s in range(0, len(tokens), batch_size):
        t = tokens[s:s + batch_size]
        logp = _log_softmax(fn(t, labels[s:s + batch_size]))                     # (b, h, w, K)
        out[s:s + batch_size] = np.take_along_axis(logp, t[..., None].astype(np.int64), axis=-1)[..., 0]
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
        raise ValueError(f"temperature should be a finite number > 0, got {temperature!r}")
    return float(temperature)


def _temperatures(temperature, n: int) -> np.ndarray:
    """``temperature``, one number or one per grid, as floats (n, 1) > 0."""
    if checks.is_number(temperature):
        return np.full((n, 1), _check_temperature(temperature))
    t = np.asarray(temperature, np.float64)
    if t.shape != (n,) or not np.all(np.isfinite(t)) or not np.all(t > 0):
        raise ValueError(f"temperature should be a number > 0 or {n} such numbers (one per grid), "
                         f"got {temperature!r}")
    return t[:, None]


def _draw(logits: np.ndarray, temperature, rng: np.random.Generator) -> np.ndarray:
    """One code per row of ``logits`` (b, K) from softmax(logits / temperature) (Gumbel-max);
    ``temperature`` a number or (b, 1) per row."""
    return np.argmax(np.asarray(logits, np.float64) / temperature + rng.gumbel(size=logits.shape), axis=-1)


def _raster_fill(prior: GatedPixelCNN, tokens: np.ndarray, labels: np.ndarray, mask: np.ndarray,
                 temperature, rng: np.random.Generator) -> np.ndarray:
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
        contexts = [c[:, i:i + 1] for c in vertical(tokens[:, :i + 1], labels)]  # each (b, 1, w, 2C)
        for j in range(w):
            if not mask[:, i, j].any():
                continue
            row = horizontal(tokens[:, i:i + 1, :j + 1], [c[:, :, :j + 1] for c in contexts])  # (b, 1, j + 1, K)
            logits = keras.ops.convert_to_numpy(row)[:, 0, j]                                  # (b, K)
            tokens[:, i, j] = np.where(mask[:, i, j], _draw(logits, temperature, rng), tokens[:, i, j])
    return tokens


def sample(prior: GatedPixelCNN, n: int, temperature=1.0, label=None, seed: int = 0) -> np.ndarray:
    """``n`` token grids (n, h, w) of int64 drawn from the prior, ready for ``VQVAE.decode``.

    ``temperature`` divides the logits (below 1: safer, more typical grids; above 1: more
    varied ones), one number or one per grid; ``label``: None (unconditional), one digit,
    or one digit per grid. The same ``seed`` gives the same grids. Batched over grids: a
    pass costs about the same for 10 grids as for 1,000 (49 sequential network calls), so
    draw what a figure needs in one call, temperatures and labels per grid. The network is
    compiled once per batch shape, so the first call pays for tracing."""
    n = checks.positive_int("n", n)
    temperature = _temperatures(temperature, n)
    labels = prior.check_labels(label, n)
    rng = np.random.default_rng(seed)
    h, w = prior.grid_shape
    out = []
    for s in range(0, n, SAMPLE_BATCH):
        b = len(labels[s:s + SAMPLE_BATCH])
        out.append(_raster_fill(prior, np.zeros((b, h, w), np.int32), labels[s:s + SAMPLE_BATCH],
                                np.ones((b, h, w), bool), temperature[s:s + SAMPLE_BATCH], rng))
    return np.concatenate(out).astype(np.int64)


def _check_mask(mask, shape) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise ValueError(f"mask should be a boolean array (True = resample), got dtype {mask.dtype}")
    try:
        return np.broadcast_to(mask, shape)
    except ValueError:
        raise ValueError(f"mask of shape {mask.shape} does not fit token grids of shape {shape}: "
                         f"expected (h, w) or (n, h, w)") from None


def complete(prior: GatedPixelCNN, tokens, mask, label=None, temperature: float = 1.0,
             sweeps: int = 2, seed: int = 0) -> np.ndarray:
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
            rows = np.nonzero(mask[:, i, j])[0]                                  # grids masked here
            candidates = np.repeat(tokens[rows][:, None], K, axis=1)             # (m, K, h, w)
            candidates[:, :, i, j] = np.arange(K)
            flat = candidates.reshape((-1,) + prior.grid_shape)                  # (m*K, h, w)
            scores = _position_log_probs(prior, flat, np.repeat(labels[rows], K)).sum(axis=(1, 2))
            tokens[rows, i, j] = _draw(scores.reshape(len(rows), K), temperature, rng)
    return tokens.astype(np.int64)


# Checking the causal mask ------------------------------------------------------------------

def influence(prior: GatedPixelCNN, grid, label=None) -> np.ndarray:
    """Which tokens reach which logits, measured: a bool matrix (hw, hw) whose entry [p, q]
    says whether changing the token at raster position p (to the next code) changes the
    logits at position q. A correct autoregressive prior has it strictly upper-triangular
    (q > p only); without a blind spot, every entry above the diagonal is True."""
    grid = prior.check_tokens(grid)[:1].astype(np.int32)                    # (1, h, w)
    h, w = prior.grid_shape
    grids = np.repeat(grid, h * w + 1, axis=0)                                # the grid, then hw edits
    rows, cols = np.divmod(np.arange(h * w), w)
    grids[np.arange(1, h * w + 1), rows, cols] = (grid[0, rows, cols] + 1) % prior.num_codes
    labels = prior.check_labels(label, 1).repeat(len(grids))
    logits = keras.ops.convert_to_numpy(prior.graph_call("logits")(grids, labels))  # (hw + 1, h, w, K)
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
        raise ValueError("x_binary should hold binary pixels (0 or 1), e.g. data.mnist_binarized")
    if not checks.is_number(clip) or not 0 < clip < 0.5:
        raise ValueError(f"clip should be a number in (0, 0.5), got {clip!r}")
    probs = np.clip(np.asarray(decoded, np.float32), clip, 1.0 - clip)
    return np.asarray(bernoulli_nll(x.reshape(probs.shape), probs), np.float64)


# Training data ---------------------------------------------------------------------------

def mnist_tokens(split: str = "train", limit: int | None = None, vqvae: str = "vqvae_mnist") -> dict:
    """The token grids of MNIST under the shipped VQ-VAE ``vqvae``, with the digit labels:
    ``{"tokens": int32 (n, h, w), "labels": int32 (n,)}``. Computed on each call (70,000
    encodes take seconds), never read from a cache."""
    from . import pretrained  # here, not at the top: pretrained imports this module
    from .data import mnist_images, mnist_labels

    vq = pretrained.load(vqvae)
    return {"tokens": vq.encode(mnist_images(split, limit)).astype(np.int32),
            "labels": mnist_labels(split, limit).astype(np.int32)}


def seam_jump(images, column: int) -> np.ndarray:
    """Mean absolute difference between pixel columns ``column - 1`` and ``column`` of each
    image (n, H, W[, 1]): how visible a vertical seam at ``column`` is. One value per image."""
    x = np.asarray(images, np.float64)
    x = x[..., 0] if x.ndim == 4 else x
    if not 0 < column < x.shape[-1]:
        raise ValueError(f"column should lie in [1, {x.shape[-1] - 1}], got {column!r}")
    return np.abs(x[:, :, column] - x[:, :, column - 1]).mean(axis=1)
