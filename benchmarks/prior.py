"""How long the prior takes to sample 64 MNIST token grids on one CPU core (goal: <= 2 s).

Measured after a warm-up (the first call traces the compiled network), best of three.
Baselines in the same run: one VQ-VAE decoder pass over the 64 sampled grids (what a
reader pays anyway to see the samples), and one full pass of the prior over them (the
network evaluation a naive sampler would repeat 49 times).
"""

import os

os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")


import tensorflow as tf  # noqa: E402

tf.config.threading.set_intra_op_parallelism_threads(
    1
)  # one CPU core, before any op runs
tf.config.threading.set_inter_op_parallelism_threads(1)

from timing import best_of  # noqa: E402  (benchmarks/timing.py)

from vqlab import pretrained, prior  # noqa: E402

N = 64


def main():
    p, vq = pretrained.load("prior_vqvae_mnist"), pretrained.load("vqvae_mnist")
    grids = prior.sample(
        p, N, seed=0
    )  # warm-up: traces the vertical and horizontal stacks
    vq.decode(grids)
    prior.log_prob(p, grids)
    rows = [
        ("sample 64 grids (prior.sample)", best_of(lambda: prior.sample(p, N, seed=1))),
        (
            "sample 64 grids, label 3",
            best_of(lambda: prior.sample(p, N, label=3, seed=1)),
        ),
        ("baseline: decode 64 grids (vq.decode)", best_of(lambda: vq.decode(grids))),
        (
            "baseline: one prior pass (log_prob)",
            best_of(lambda: prior.log_prob(p, grids)),
        ),
    ]
    print(f"one CPU core; {N} MNIST samples, 7x7 tokens; goal: sampling <= 2 s")
    for name, seconds in rows:
        print(f"{name:40s} {seconds:8.3f} s")


if __name__ == "__main__":
    main()
