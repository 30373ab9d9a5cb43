"""Probes of the models, model cards, checkpoints and the training CLI: every bad input gets
a clear error that says what was expected, and nothing is lost.

Each probe is one row below and one test id; the last test prints how many there are and how
many are handled well. To extend: add a ``Probe`` to ``PROBES`` (the input-side probes of
tokens, losses, metrics, data, editing and widgets live in ``tests/test_reliability.py``).

| class | probe | handled well when |
| --- | --- | --- |
| constructor | VQVAE(code_dim=0), VQVAE(num_codes=2.5), VQVAE(image_shape=(28, 28)), VQVAE(filters=()) | ValueError naming the argument |
| constructor | VQVAE(beta=-1), VAE(kl_weight=-1), VAE(latent_dim=0), VQVAE(codebook_init="kmeans") | ValueError naming the argument |
| input | NaN / inf images to encode, NaN latents to decode | ValueError "NaN or infinite" |
| input | empty batch to encode / decode / reconstruct / measure, conv and VQ models | empty result of the right shape |
| input | (n, 28, 28) images where (n, 28, 28, 1) is expected | accepted |
| input | token grid (7, 7) float, out of range | ValueError |
| repeatability | a VAE's evaluation loss twice, and after re-seeding Keras | the same number |
| card | "sha256": null, no sha256 key, invalid JSON, a JSON list, an unknown class, a config that does not build | WeightsError naming the card file |
| card | an unknown model name | ValueError (WeightsError) listing known names |
| checkpoint | truncated archive, bit-flipped archive, empty file, old three-file format | CheckpointError naming the file and --restart |
| checkpoint | another model's checkpoint, other --limit / --epochs | CheckpointError naming what differs |
| CLI | --epochs 0, --epochs -1, --limit -5, --limit 1.5, an unknown name | argparse error, exit status 2, nothing written |
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from typing import Callable

import keras
import numpy as np
import pytest
from test_reliability import ProbeReport  # noqa: E402  (one way to print probe counts)

from vqlab import pretrained, recipes, train
from vqlab.models import VAE, VQVAE, Autoencoder


@dataclass
class Probe:
    id: str
    run: Callable  # (ctx) -> result; raises for error probes
    raises: type | None = None
    match: str | None = None
    check: Callable | None = None  # (result, ctx) -> bool, for probes that must succeed


def _nan_images():
    x = np.zeros((2, 28, 28, 1), np.float32)
    x[1, 3, 4, 0] = np.nan
    return x


TINY = "probe_tiny_vqvae"
OTHER = "probe_other_vqvae"


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    """Shipped models, a copied card folder and a real checkpoint after epoch 1 of 2."""
    root = tmp_path_factory.mktemp("probes")
    for name, filters in ((TINY, (4,)), (OTHER, (8,))):
        recipes.register(
            recipes.Recipe(
                name,
                lambda f=filters: VQVAE(8, 4, filters=f),
                "probe",
                epochs=2,
                batch_size=64,
            )
        )

    class Interrupt(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise KeyboardInterrupt

    for name in (TINY, OTHER):
        with pytest.raises(KeyboardInterrupt):
            train.train(
                name,
                root / "w",
                root / "ck",
                verbose=0,
                limit=128,
                callbacks=[Interrupt()],
            )
    c = {
        "root": root,
        "vq": pretrained.load("vqvae_mnist"),
        "vae": pretrained.load("vae_conv_bce"),
        "ae": pretrained.load("ae_dense_2d"),
    }
    yield c
    for name in (TINY, OTHER):
        del recipes.REGISTRY[name]


def _card_probe(change):
    """Copy vqvae_mnist's card and weights, change the card, load it."""

    def run(ctx):
        folder = ctx["root"] / f"cards{len(list(ctx['root'].glob('cards*')))}"
        folder.mkdir()
        for p in (
            pretrained.weights_path("vqvae_mnist"),
            pretrained.card_path("vqvae_mnist"),
        ):
            shutil.copy(p, folder / p.name)
        path = pretrained.card_path("vqvae_mnist", folder)
        path.write_text(change(json.loads(path.read_text())))
        return pretrained.load("vqvae_mnist", folder)

    return run


def _checkpoint_probe(change, name=TINY, **settings):
    """Copy the epoch-1 checkpoint of TINY, change it, and resume ``name`` from it."""

    def run(ctx):
        folder = ctx["root"] / f"ck{len(list(ctx['root'].glob('ck*')))}"
        shutil.copytree(ctx["root"] / "ck" / TINY, folder / name)
        change(folder / name / "checkpoint.npz")
        kwargs = {"verbose": 0, "limit": 128, **settings}
        return train.train(name, ctx["root"] / "w2", folder, **kwargs)

    return run


def _truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


def _old_format(path):
    path.unlink()
    (path.parent / "state.json").write_text('{"epoch": 1, "history": {}}')


def _cli(*argv):
    def run(ctx):
        with pytest.raises(SystemExit) as err:
            train.main(
                [
                    *argv,
                    "--out",
                    str(ctx["root"] / "cli"),
                    "--checkpoints",
                    str(ctx["root"] / "cli_ck"),
                ]
            )
        assert not (ctx["root"] / "cli").exists(), (
            "the CLI wrote files for a rejected command"
        )
        raise ValueError(f"exit status {err.value.code}")

    return run


PROBES = [
    # constructors
    Probe("VQVAE(code_dim=0)", lambda c: VQVAE(code_dim=0), ValueError, "code_dim"),
    Probe(
        "VQVAE(num_codes=2.5)", lambda c: VQVAE(num_codes=2.5), ValueError, "num_codes"
    ),
    Probe(
        "VQVAE(image_shape=(28, 28))",
        lambda c: VQVAE(image_shape=(28, 28)),
        ValueError,
        "image_shape",
    ),
    Probe("VQVAE(filters=())", lambda c: VQVAE(filters=()), ValueError, "filters"),
    Probe("VQVAE(beta=-1)", lambda c: VQVAE(beta=-1), ValueError, "beta"),
    Probe(
        "VQVAE(codebook_init='kmeans')",
        lambda c: VQVAE(codebook_init="kmeans"),
        ValueError,
        "codebook_init",
    ),
    Probe("VAE(kl_weight=-1)", lambda c: VAE(kl_weight=-1), ValueError, "kl_weight"),
    Probe(
        "VAE(kl_weight=nan)",
        lambda c: VAE(kl_weight=float("nan")),
        ValueError,
        "kl_weight",
    ),
    Probe("VAE(latent_dim=0)", lambda c: VAE(latent_dim=0), ValueError, "latent_dim"),
    Probe(
        "Autoencoder(image_shape=(28, 28, 0))",
        lambda c: Autoencoder(image_shape=(28, 28, 0)),
        ValueError,
        "image_shape",
    ),
    # non-finite inputs
    Probe(
        "VQ-VAE encode of a NaN image",
        lambda c: c["vq"].encode(_nan_images()),
        ValueError,
        "NaN",
    ),
    Probe(
        "VQ-VAE reconstruct of a NaN image",
        lambda c: c["vq"].reconstruct(_nan_images()),
        ValueError,
        "NaN",
    ),
    Probe(
        "VAE encode of an inf image",
        lambda c: c["vae"].encode(np.full((1, 28, 28), np.inf)),
        ValueError,
        "NaN or infinite",
    ),
    Probe(
        "VAE decode of NaN latents",
        lambda c: c["vae"].decode([[np.nan, 0.0]]),
        ValueError,
        "NaN",
    ),
    Probe(
        "VQ-VAE decode_latents of NaN",
        lambda c: c["vq"].decode_latents(np.full((1, 7, 7, 16), np.nan)),
        ValueError,
        "NaN",
    ),
    # empty batches
    Probe(
        "conv VAE encode of an empty batch",
        lambda c: c["vae"].encode(np.zeros((0, 28, 28, 1))),
        check=lambda r, c: r.shape == (0, 2),
    ),
    Probe(
        "conv VAE posterior of an empty batch",
        lambda c: c["vae"].posterior(np.zeros((0, 28, 28))),
        check=lambda r, c: r[0].shape == r[1].shape == (0, 2),
    ),
    Probe(
        "VQ-VAE encode of an empty batch",
        lambda c: c["vq"].encode(np.zeros((0, 28, 28, 1))),
        check=lambda r, c: r.shape == (0, 7, 7),
    ),
    Probe(
        "VQ-VAE decode of no token grids",
        lambda c: c["vq"].decode(np.zeros((0, 7, 7), np.int64)),
        check=lambda r, c: r.shape == (0, 28, 28, 1),
    ),
    Probe(
        "AE reconstruct of an empty batch",
        lambda c: c["ae"].reconstruct(np.zeros((0, 28, 28))),
        check=lambda r, c: r.shape == (0, 28, 28, 1),
    ),
    Probe(
        "VQ-VAE measure of an empty batch",
        lambda c: c["vq"].measure(np.zeros((0, 28, 28))),
        check=lambda r, c: np.isnan(r["mse"]) and r["counts"].sum() == 0,
    ),
    # layouts and tokens
    Probe(
        "VQ-VAE measure of (n, 28, 28) images",
        lambda c: c["vq"].measure(np.zeros((3, 28, 28))),
        check=lambda r, c: (
            r["mse"] == pytest.approx(c["vq"].measure(np.zeros((3, 28, 28, 1)))["mse"])
        ),
    ),
    Probe(
        "VQ-VAE decode of float tokens",
        lambda c: c["vq"].decode(np.zeros((1, 7, 7))),
        ValueError,
        "integers",
    ),
    Probe(
        "VQ-VAE decode of token 64",
        lambda c: c["vq"].decode(np.full((1, 7, 7), 64)),
        ValueError,
        r"\[0, 64\)",
    ),
    # repeatability
    Probe(
        "VAE evaluation loss twice",
        lambda c: [
            float(c["vae"].loss_terms(np.zeros((4, 28, 28, 1)))["loss"])
            for _ in range(2)
        ],
        check=lambda r, c: r[0] == r[1],
    ),
    Probe(
        "VAE evaluation loss after re-seeding Keras",
        lambda c: [
            (
                keras.utils.set_random_seed(s),
                float(c["vae"].loss_terms(np.full((4, 28, 28, 1), 0.5))["loss"]),
            )[1]
            for s in (0, 1)
        ],
        check=lambda r, c: r[0] == r[1],
    ),
    # model cards
    Probe(
        "card with sha256 null",
        _card_probe(lambda d: json.dumps({**d, "sha256": None})),
        pretrained.WeightsError,
        r"vqvae_mnist\.json has no valid sha256",
    ),
    Probe(
        "card without sha256",
        _card_probe(
            lambda d: json.dumps({k: v for k, v in d.items() if k != "sha256"})
        ),
        pretrained.WeightsError,
        r"vqvae_mnist\.json lacks sha256",
    ),
    Probe(
        "card that is not JSON",
        _card_probe(lambda d: "{not json"),
        pretrained.WeightsError,
        r"vqvae_mnist\.json is not valid JSON",
    ),
    Probe(
        "card that is a JSON list",
        _card_probe(lambda d: "[]"),
        pretrained.WeightsError,
        r"vqvae_mnist\.json should hold a JSON object",
    ),
    Probe(
        "card naming an unknown class",
        _card_probe(lambda d: json.dumps({**d, "class": "GAN"})),
        pretrained.WeightsError,
        r"vqvae_mnist\.json names class 'GAN'",
    ),
    Probe(
        "card whose config does not build",
        _card_probe(lambda d: json.dumps({**d, "config": {"code_dim": 0}})),
        pretrained.WeightsError,
        r"vqvae_mnist\.json: its config does not build",
    ),
    Probe(
        "card of another model's weights",
        _card_probe(
            lambda d: json.dumps(
                {**d, "sha256": pretrained.read_card("vqvae_beta0.1")["sha256"]}
            )
        ),
        pretrained.WeightsError,
        "corrupt",
    ),
    Probe(
        "unknown model name",
        lambda c: pretrained.load("vqvae_mnits"),
        ValueError,
        "no model named 'vqvae_mnits'.*vqvae_mnist",
    ),
    # checkpoints
    Probe(
        "truncated checkpoint",
        _checkpoint_probe(_truncate),
        train.CheckpointError,
        "broken.*--restart",
    ),
    Probe(
        "bit-flipped checkpoint",
        _checkpoint_probe(_flip),
        train.CheckpointError,
        "broken.*--restart",
    ),
    Probe(
        "empty checkpoint file",
        _checkpoint_probe(lambda p: p.write_bytes(b"")),
        train.CheckpointError,
        "checkpoint.npz is broken",
    ),
    Probe(
        "old three-file checkpoint",
        _checkpoint_probe(_old_format),
        train.CheckpointError,
        "old three-file",
    ),
    Probe(
        "another model's checkpoint",
        _checkpoint_probe(lambda p: None, name=OTHER),
        train.CheckpointError,
        "other settings.*model: 'probe_tiny_vqvae' in the checkpoint, 'probe_other_vqvae' now",
    ),
    Probe(
        "resume with another --limit",
        _checkpoint_probe(lambda p: None, limit=256),
        train.CheckpointError,
        "limit: 128 in the checkpoint, 256 now",
    ),
    Probe(
        "resume with another --epochs",
        _checkpoint_probe(lambda p: None, epochs=3),
        train.CheckpointError,
        "epochs: 2 in the checkpoint, 3 now",
    ),
    # CLI
    Probe("CLI --epochs 0", _cli(TINY, "--epochs", "0"), ValueError, "exit status 2"),
    Probe("CLI --epochs -1", _cli(TINY, "--epochs", "-1"), ValueError, "exit status 2"),
    Probe("CLI --limit -5", _cli(TINY, "--limit", "-5"), ValueError, "exit status 2"),
    Probe("CLI --limit 1.5", _cli(TINY, "--limit", "1.5"), ValueError, "exit status 2"),
    Probe("CLI unknown name", _cli("no_such_model"), ValueError, "exit status 2"),
    Probe(
        "train(epochs=0)",
        lambda c: train.train(TINY, c["root"] / "x", c["root"] / "xk", epochs=0),
        ValueError,
        "epochs should be a positive integer",
    ),
]


@pytest.fixture(scope="module")
def results(request):
    """Probe name -> handled well, printed at the end of the session."""
    report = ProbeReport("model, card, checkpoint and CLI probes")
    request.config.pluginmanager.register(report, "vqlab-model-probes")
    return report.seen


@pytest.mark.parametrize("probe", PROBES, ids=[p.id for p in PROBES])
def test_probe(probe, ctx, results):
    results[probe.id] = False
    if probe.raises is not None:
        with pytest.raises(probe.raises, match=probe.match):
            probe.run(ctx)
    else:
        assert probe.check(probe.run(ctx), ctx)
    results[probe.id] = True
