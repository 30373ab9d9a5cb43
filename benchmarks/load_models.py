"""How long each shipped model takes to load (goal: under a second each), against a baseline.

The baseline in the same run is building the same model with fresh random weights, so
the ratio shows what reading and verifying the weights file adds on this machine.
"""

from timing import best_of  # benchmarks/timing.py

import vqlab  # noqa: F401  (quiet TensorFlow)
from vqlab import pretrained


def main():
    pretrained.load("vqvae_mnist")  # warm-up: import TensorFlow and Keras once
    print(f"{'model':26s} {'load (s)':>9s} {'build only (s)':>15s} {'ratio':>6s}")
    for name in pretrained.names():
        load = best_of(lambda: pretrained.load(name))
        card = pretrained.read_card(name)
        build = best_of(lambda: pretrained.build(card))
        print(f"{name:26s} {load:9.3f} {build:15.3f} {load / build:6.2f}")


if __name__ == "__main__":
    main()
