"""Vector quantization: the discrete bottleneck of a VQ-VAE (thesis section 3.4).

Given encoder outputs z_e of shape (..., D) and a codebook e of shape (K, D):

    k(z_e)    = argmin_j ||z_e - e_j||^2            nearest code's index (thesis eq. 2.5)
    z_q       = e_k                                 the quantized vector
    codebook  = mean ||sg[z_e] - z_q||^2            moves the codes       (thesis eq. 3.30)
    commit    = beta * mean ||z_e - sg[z_q]||^2     keeps z_e near its code (eq. 3.31, with
                                                    the beta of eq. 3.32)
    forward   = z_e + sg[z_q - z_e]                 straight-through estimator

The forward value equals z_q, but its gradient with respect to z_e is the identity: the
decoder's *gradient* at z_q is copied to the encoder. ``sg`` is stop-gradient. The means
run over every vector and every component, as Keras' ``mse`` does.

Two update rules, one class each (as DeepMind's Sonnet keeps them):

* ``VectorQuantizer``: the codes are trained by gradient on the codebook loss, and
  ``loss = codebook + commitment``;
* ``VectorQuantizerEMA``: the codes follow an exponential moving average of the encoder
  outputs assigned to them (van den Oord et al. 2017, appendix A.1) instead of the
  codebook loss, so ``loss = commitment`` alone.

Both share ``VectorQuantizerBase`` (the search, the straight-through output, the moving
count of assignments per code and ``dead_code_threshold``: a code whose moving count
falls below the threshold is dead and restarts at an encoder output of the current batch).
``call`` returns a dict, so every part is visible; ``loss`` is already the right sum for
the layer's update rule, so a model adds it and never has to know which terms to drop.
``make_quantizer(..., ema_decay=None | float)`` picks the class.

Trained on several devices at once (``vqlab.distribute``), each device quantizes its share
of the batch, but the counts, the EMA sums and the restart candidates are those of the
whole batch: every device's copy of the codebook takes the same values, the ones it
would take on one device.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from .checks import is_int, is_number
from .distribute import gather_over_replicas, sum_over_replicas

COUNT_DECAY = (
    0.99  # moving count of assignments per code, when there is no EMA codebook
)
LAPLACE_SMOOTHING = (
    1e-5  # keeps an EMA code that received no vectors from dividing by zero
)
LOG_FLOOR = 1e-12  # log(0) guard in the perplexity and in the restart draw


def perplexity_from_counts(counts):
    """exp(entropy) of a code histogram: 1 if one code takes everything, K if all are equal."""
    counts = ops.cast(counts, "float32")
    p = counts / ops.maximum(ops.sum(counts), 1.0)
    return ops.exp(-ops.sum(p * ops.log(p + LOG_FLOOR)))


class VectorQuantizerBase(keras.layers.Layer):
    """What both update rules share: a codebook of ``num_codes`` vectors of size ``code_dim``.

    Weights, created in ``build``: ``codebook`` (K, D); ``code_count`` (K,), the moving count
    of vectors per batch each code receives (decay ``count_decay``). Subclasses set
    ``TRAINABLE_CODEBOOK``, ``count_decay`` and ``combine_losses``, and may extend
    ``update_codebook`` and ``assign_restarted``.
    """

    TRAINABLE_CODEBOOK = True

    def __init__(
        self,
        num_codes: int,
        code_dim: int,
        beta: float = 0.25,
        dead_code_threshold: float | None = None,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (
            not (is_int(num_codes) and is_int(code_dim))
            or num_codes < 1
            or code_dim < 1
        ):
            raise ValueError(
                f"num_codes and code_dim must be positive integers, "
                f"got {num_codes!r}, {code_dim!r}"
            )
        if not is_number(beta) or beta < 0:
            raise ValueError(
                f"beta should be a number >= 0 (the paper uses 0.25), got {beta!r}"
            )
        if dead_code_threshold is not None and not (
            is_number(dead_code_threshold) and dead_code_threshold > 0
        ):
            raise ValueError(
                f"dead_code_threshold should be a number > 0 or None, "
                f"got {dead_code_threshold!r}"
            )
        self.num_codes, self.code_dim, self.beta = (
            int(num_codes),
            int(code_dim),
            float(beta),
        )
        self.dead_code_threshold, self.seed = dead_code_threshold, seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    count_decay = COUNT_DECAY

    def get_config(self):
        return {
            **super().get_config(),
            "num_codes": self.num_codes,
            "code_dim": self.code_dim,
            "beta": self.beta,
            "dead_code_threshold": self.dead_code_threshold,
            "seed": self.seed,
        }

    def build(self, input_shape):
        self._check_last_axis(input_shape)
        limit = 1.0 / self.num_codes
        self.codebook = self.add_weight(
            shape=(self.num_codes, self.code_dim),
            name="codebook",
            initializer=keras.initializers.RandomUniform(-limit, limit, seed=self.seed),
            trainable=self.TRAINABLE_CODEBOOK,
        )
        self.code_count = self.add_weight(
            shape=(self.num_codes,),
            name="code_count",
            initializer="ones",
            trainable=False,
        )

    def _check_last_axis(self, shape):
        if (
            shape[-1] != self.code_dim
        ):  # a reshape to (-1, D) would silently mix vectors
            raise ValueError(
                f"{type(self).__name__} expects inputs with last axis "
                f"{self.code_dim}, got shape {tuple(shape)}"
            )

    def distances(self, flat):
        """Squared distances (N, K) of each row of ``flat`` (N, D) to each code."""
        return (
            ops.sum(ops.square(flat), axis=1, keepdims=True)
            - 2.0 * ops.matmul(flat, ops.transpose(self.codebook))
            + ops.sum(ops.square(self.codebook), axis=1)[None, :]
        )

    def nearest_codes(self, flat):
        """Index (N,) of the nearest code for each row of ``flat`` (N, D)."""
        return ops.argmin(self.distances(flat), axis=1)

    def lookup(self, indices):
        """The code vectors of integer ``indices`` of any shape: indices.shape + (D,)."""
        return ops.take(self.codebook, ops.cast(indices, "int32"), axis=0)

    def combine_losses(self, codebook_loss, commitment_loss):
        """The gradient ``loss`` of this update rule."""
        raise NotImplementedError

    def call(self, z_e, training=False):
        """Quantize ``z_e`` of shape (..., D).

        Returns a dict: ``quantized`` (..., D), the straight-through z_q; ``indices`` (...),
        int codes; ``loss``, the scalar to add to the reconstruction loss (right for this
        class's update rule); ``codebook_loss`` and ``commitment_loss`` (scalars, reported
        either way); ``perplexity`` (scalar, exp of the entropy of the batch's code
        histogram) and ``usage`` (scalar, fraction of codes used in the batch). With
        ``training=True`` the moving counts, dead codes (and an EMA codebook) are updated.
        """
        self._check_last_axis(z_e.shape)
        flat = ops.reshape(z_e, (-1, self.code_dim))  # (N, D), N = every position
        distances = self.distances(flat)  # (N, K)
        indices = ops.argmin(distances, axis=1)  # (N,)
        z_q = self.lookup(indices)  # (N, D)

        codebook_loss = ops.mean(ops.square(ops.stop_gradient(flat) - z_q))
        commitment_loss = self.beta * ops.mean(
            ops.square(flat - ops.stop_gradient(z_q))
        )

        one_hot = ops.one_hot(indices, self.num_codes)  # (N, K)
        # (K,) code histogram of the batch; of the global batch when the batch is split
        # over devices, so every device updates its copy of the counts alike
        counts = sum_over_replicas(ops.sum(one_hot, axis=0))
        if training:
            self._update(
                ops.stop_gradient(flat), one_hot, counts, ops.min(distances, axis=1)
            )

        quantized = flat + ops.stop_gradient(z_q - flat)  # straight-through estimator
        return {
            "quantized": ops.reshape(quantized, ops.shape(z_e)),
            "indices": ops.reshape(indices, ops.shape(z_e)[:-1]),
            "loss": self.combine_losses(codebook_loss, commitment_loss),
            "codebook_loss": codebook_loss,
            "commitment_loss": commitment_loss,
            "perplexity": perplexity_from_counts(counts),
            "usage": ops.mean(ops.cast(counts > 0, "float32")),
        }

    def _update(self, flat, one_hot, counts, error):
        decay = self.count_decay
        self.code_count.assign(decay * self.code_count + (1.0 - decay) * counts)
        self.update_codebook(flat, one_hot)
        if self.dead_code_threshold is not None:
            dead = self.code_count < self.dead_code_threshold
            # Restarts draw from the whole batch. Split over devices, each gathers the
            # others' vectors here: a branch of ``cond`` may not talk between devices.
            flat, error = gather_over_replicas(flat), gather_over_replicas(error)
            ops.cond(
                ops.any(dead), lambda: self.restart(flat, error, dead), lambda: None
            )

    def update_codebook(self, flat, one_hot):
        """A training step's change of the codes outside the gradient (none by default)."""

    def restart(self, flat, error, dead):
        """Move dead codes onto distinct encoder outputs drawn with probability ~ their error.

        A draw without replacement (the Gumbel top-k trick): the i-th dead code takes the
        i-th draw. Drawing uniformly would mostly pick the most common vector (MNIST's blank
        background), which already has a code: the restarted code would tie and stay dead.
        """
        gumbel = -ops.log(
            -ops.log(
                keras.random.uniform(
                    ops.shape(error), LOG_FLOOR, 1.0, seed=self.seed_generator
                )
            )
        )
        draws = ops.minimum(self.num_codes, ops.shape(flat)[0])
        _, picks = ops.top_k(ops.log(error + LOG_FLOOR) + gumbel, draws)  # (draws,)
        rank = ops.clip(ops.cumsum(ops.cast(dead, "int32")) - 1, 0, draws - 1)  # (K,)
        fresh = ops.take(flat, ops.take(picks, rank), axis=0)  # (K, D)
        self.assign_restarted(dead, fresh)

    def assign_restarted(self, dead, fresh):
        """Codes where ``dead`` (K,) is True become ``fresh`` (K, D), with a count of one."""
        self.codebook.assign(ops.where(dead[:, None], fresh, self.codebook))
        self.code_count.assign(
            ops.where(dead, ops.ones_like(self.code_count), self.code_count)
        )

    def initialize_from(self, z_e, seed: int = 0):
        """Data-dependent start: k-means++ seeding of the codebook on encoder outputs.

        Random initial codes far from every encoder output are never chosen and never
        move (dead from the start). k-means++ draws each new code from the encoder
        outputs with probability proportional to the squared distance to the codes
        chosen so far, so codes start spread over the data and all in use.
        """
        flat = np.asarray(z_e, np.float32).reshape(-1, self.code_dim)
        if len(flat) < self.num_codes:
            raise ValueError(
                f"need at least {self.num_codes} encoder outputs, got {len(flat)}"
            )
        if not self.built:
            self.build((None, self.code_dim))
        chosen = kmeans_plus_plus(flat, self.num_codes, seed)
        self.codebook.assign(chosen)
        self.code_count.assign(np.ones(self.num_codes, np.float32))
        return chosen


@keras.saving.register_keras_serializable(package="vqlab")
class VectorQuantizer(VectorQuantizerBase):
    """Nearest-neighbour quantizer whose codes are trained by gradient (thesis eq. 3.32):

        loss = ||sg[z_e] - e||^2 + beta * ||z_e - sg[e]||^2

    ``code_count`` moves with decay ``COUNT_DECAY``; it only serves dead-code restarts.
    """

    def combine_losses(self, codebook_loss, commitment_loss):
        return codebook_loss + commitment_loss


@keras.saving.register_keras_serializable(package="vqlab")
class VectorQuantizerEMA(VectorQuantizerBase):
    """Nearest-neighbour quantizer whose codes follow moving averages (decay ``decay``):

        N_k <- decay N_k + (1 - decay) n_k         (``code_count``: vectors per batch)
        m_k <- decay m_k + (1 - decay) sum z_e     (``ema_sum``: their sum)
        e_k  = m_k / N_k                           (Laplace-smoothed N_k)

    The codebook gets no gradient, so ``loss = beta * ||z_e - sg[e]||^2`` alone.
    """

    TRAINABLE_CODEBOOK = False

    def __init__(
        self,
        num_codes: int,
        code_dim: int,
        beta: float = 0.25,
        decay: float = 0.99,
        dead_code_threshold: float | None = None,
        seed: int = 0,
        **kwargs,
    ):
        if not (is_number(decay) and 0.0 < decay < 1.0):
            raise ValueError(f"decay (ema_decay) should lie in (0, 1), got {decay!r}")
        super().__init__(
            num_codes,
            code_dim,
            beta=beta,
            dead_code_threshold=dead_code_threshold,
            seed=seed,
            **kwargs,
        )
        self.decay = float(decay)

    @property
    def count_decay(self):
        return self.decay

    def get_config(self):
        return {**super().get_config(), "decay": self.decay}

    def build(self, input_shape):
        super().build(input_shape)
        self.ema_sum = self.add_weight(
            shape=(self.num_codes, self.code_dim),
            name="ema_sum",
            initializer="zeros",
            trainable=False,
        )
        self.ema_sum.assign(
            self.codebook
        )  # count 1 and sum e_k: the EMA starts at the codebook

    def combine_losses(self, codebook_loss, commitment_loss):
        return commitment_loss

    def update_codebook(self, flat, one_hot):
        decay = self.decay
        sums = sum_over_replicas(ops.matmul(ops.transpose(one_hot), flat))  # (K, D)
        self.ema_sum.assign(decay * self.ema_sum + (1.0 - decay) * sums)
        n = ops.sum(self.code_count)
        smoothed = (
            (self.code_count + LAPLACE_SMOOTHING)
            / (n + self.num_codes * LAPLACE_SMOOTHING)
            * n
        )
        self.codebook.assign(self.ema_sum / smoothed[:, None])

    def assign_restarted(self, dead, fresh):
        super().assign_restarted(dead, fresh)
        self.ema_sum.assign(ops.where(dead[:, None], fresh, self.ema_sum))

    def initialize_from(self, z_e, seed: int = 0):
        chosen = super().initialize_from(z_e, seed)
        self.ema_sum.assign(chosen)
        return chosen


def make_quantizer(
    num_codes: int,
    code_dim: int,
    beta: float = 0.25,
    ema_decay: float | None = None,
    dead_code_threshold: float | None = None,
    seed: int = 0,
    name: str = "quantizer",
) -> VectorQuantizerBase:
    """``VectorQuantizer`` (``ema_decay=None``) or ``VectorQuantizerEMA(decay=ema_decay)``."""
    if ema_decay is None:
        return VectorQuantizer(
            num_codes,
            code_dim,
            beta=beta,
            dead_code_threshold=dead_code_threshold,
            seed=seed,
            name=name,
        )
    return VectorQuantizerEMA(
        num_codes,
        code_dim,
        beta=beta,
        decay=ema_decay,
        dead_code_threshold=dead_code_threshold,
        seed=seed,
        name=name,
    )


def kmeans_plus_plus(points: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): ``k`` rows of ``points`` spread over them."""
    rng = np.random.default_rng(seed)
    centers = [points[rng.integers(len(points))]]
    d2 = np.sum((points - centers[0]) ** 2, axis=1)
    for _ in range(1, k):
        p = d2 / d2.sum() if d2.sum() > 0 else None
        centers.append(points[rng.choice(len(points), p=p)])
        d2 = np.minimum(d2, np.sum((points - centers[-1]) ** 2, axis=1))
    return np.stack(centers).astype(np.float32)


def codebook_perplexity(indices, num_codes: int) -> tuple[float, float]:
    """Perplexity of the code histogram of ``indices`` and the fraction of codes used at least once."""
    indices = np.asarray(indices).ravel()
    if (
        indices.size == 0
        or not np.issubdtype(indices.dtype, np.integer)
        or indices.min() < 0
        or indices.max() >= num_codes
    ):
        raise ValueError(
            f"indices must be a non-empty array of integer codes in [0, {num_codes})"
        )
    counts = np.bincount(indices, minlength=num_codes)
    return float(perplexity_from_counts(counts)), float(np.mean(counts > 0))
