"""DALL·E's discrete VAE (Ramesh et al. 2021) in Keras 3, equal to OpenAI's PyTorch reference.

The reference is the ``dall-e==0.1`` package (``dall_e/encoder.py``, ``decoder.py``,
``utils.py``); this module mirrors it layer for layer, in channels-last layout:

    encoder: x (n, 256, 256, 3) in [0, 1] -> map_pixels -> 7x7 conv (n_hid)
             -> 4 groups of ``n_blk_per_group`` residual blocks, a 2x2 max-pool after the
                first three (widths n_hid, 2 n_hid, 4 n_hid, 8 n_hid)
             -> ReLU -> 1x1 conv -> logits (n, 32, 32, vocab_size)
    tokens:  argmax over the 8192 logits (the dVAE has no codebook search)
    decoder: one-hot tokens (n, 32, 32, vocab_size) -> 1x1 conv (n_init)
             -> 4 groups of residual blocks, nearest 2x upsampling after the first three
                (widths 8 n_hid, 4 n_hid, 2 n_hid, n_hid) -> ReLU -> 1x1 conv (2 * 3 channels)
             -> sigmoid of the first 3 channels -> unmap_pixels -> image in [0, 1]

A residual block is ``id_path(x) + post_gain * res_path(x)`` with ``post_gain = 1 /
n_layers**2`` (``n_layers`` = 4 groups x blocks per group) and ``res_path`` four convolutions,
each after a ReLU, of width ``n_out / 4`` except the last: kernels 3, 3, 3, 1 in the
encoder and 1, 3, 3, 3 in the decoder; ``id_path`` is a 1x1 convolution where the width
changes. The pixel mapping squeezes [0, 1] into [ε, 1 - ε], ε = 0.1, for the logit-Laplace
likelihood the dVAE was trained with (the decoder's other 3 channels are its scales).

``from_torch_state`` converts the reference modules' ``state_dict``s; ``convert`` does it
for the released ``encoder.pkl`` and ``decoder.pkl`` (whole pickled modules: unpickling
runs code, so it refuses without ``trust=True``) and writes a model card like every
shipped model's, so ``vqlab.pretrained.load("dalle_dvae")`` loads the result. torch and
dall-e are needed only for the conversion, never to use the Keras port.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import keras
import numpy as np

from . import cards, named_weights
from .models.dalle import (  # noqa: F401  (the model's names, importable from here as before)
    DECODER_KERNELS,
    DVAE_BATCH,
    DVAE_SHAPE,
    ENCODER_KERNELS,
    GROUP_COUNT,
    LOGIT_LAPLACE_EPS,
    DalleBlock,
    DalleDecoder,
    DalleDVAE,
    DalleEncoder,
    map_pixels,
    parameter_count,
    unmap_pixels,
)

NAME = "dalle_dvae"
RELEASED = {
    "encoder": "https://cdn.openai.com/dall-e/encoder.pkl",
    "decoder": "https://cdn.openai.com/dall-e/decoder.pkl",
}
INSTALL_HINT = (
    "pip install torch==2.13.0 (a CPU build here; elsewhere: pip install torch "
    "--index-url https://download.pytorch.org/whl/cpu) and pip install --no-deps dall-e==0.1"
)


# Conversion from the PyTorch reference ----------------------------------------------------------
def _numpy(value) -> np.ndarray:
    value = value.detach().cpu().numpy() if hasattr(value, "detach") else value
    return np.asarray(value, np.float32)


def config_from_state(encoder_state: dict, decoder_state: dict) -> dict:
    """The ``DalleDVAE`` config that the two reference state_dicts describe."""
    try:
        enc_in, enc_out = (
            encoder_state["blocks.input.w"],
            encoder_state["blocks.output.conv.w"],
        )
        dec_in, dec_out = (
            decoder_state["blocks.input.w"],
            decoder_state["blocks.output.conv.w"],
        )
    except KeyError as err:
        raise ValueError(
            f"not a dall_e Encoder/Decoder state_dict: it lacks {err}"
        ) from None
    blocks = {k.split(".")[2] for k in encoder_state if k.startswith("blocks.group_1.")}
    config = {
        "n_hid": int(enc_in.shape[0]),
        "n_blk_per_group": len(blocks),
        "vocab_size": int(enc_out.shape[0]),
        "n_init": int(dec_in.shape[0]),
    }
    if (
        int(dec_out.shape[1]) != config["n_hid"]
        or int(dec_in.shape[1]) != config["vocab_size"]
        or int(enc_in.shape[1]) != 3
        or int(dec_out.shape[0]) != 6
    ):
        raise ValueError(
            f"encoder and decoder do not fit together as one RGB dVAE: encoder input "
            f"{tuple(enc_in.shape)}, output {tuple(enc_out.shape)}; decoder input "
            f"{tuple(dec_in.shape)}, output {tuple(dec_out.shape)}"
        )
    return config


def from_torch_state(
    encoder_state: dict, decoder_state: dict, image_shape=DVAE_SHAPE
) -> DalleDVAE:
    """A ``DalleDVAE`` holding the weights of the reference modules' ``state_dict()``s.

    Each reference convolution stores ``w`` (out, in, k, k) and ``b`` (out,); Keras' kernel
    is (k, k, in, out). Every key must be used exactly once: a missing or an unknown key is
    a ValueError that names it.
    """
    model = DalleDVAE(
        **config_from_state(encoder_state, decoder_state), image_shape=image_shape
    ).build_all()
    states = {"encoder": dict(encoder_state), "decoder": dict(decoder_state)}
    used = {"encoder": set(), "decoder": set()}
    for part, name, conv in model.torch_convs():
        keys = (f"{name}.w", f"{name}.b")
        missing = [k for k in keys if k not in states[part]]
        if missing:
            raise ValueError(f"the {part} state_dict lacks {', '.join(missing)}")
        w, b = (_numpy(states[part][k]) for k in keys)
        kernel = w.transpose(2, 3, 1, 0)  # (out, in, kh, kw) -> (kh, kw, in, out)
        if kernel.shape != tuple(conv.kernel.shape) or b.shape != tuple(
            conv.bias.shape
        ):
            raise ValueError(
                f"{part} {name}: weights {w.shape}, {b.shape} do not fit the port's "
                f"kernel {tuple(conv.kernel.shape)}"
            )
        conv.kernel.assign(kernel)
        conv.bias.assign(b)
        used[part].update(keys)
    for part in states:
        extra = sorted(set(states[part]) - used[part])
        if extra:
            raise ValueError(
                f"the {part} state_dict has weights the port does not know: {', '.join(extra[:5])}"
            )
    return model


def _torch():
    try:
        import dall_e  # noqa: F401  (the pickles name dall_e's classes)
        import torch
    except ImportError as err:
        raise ImportError(
            f"converting the dVAE needs torch and dall-e ({err}); install them with: "
            f"{INSTALL_HINT}"
        ) from None
    return torch


def load_pickled_module(path, trust: bool = False):
    """The ``state_dict`` of a whole pickled dall_e module (``encoder.pkl``, ``decoder.pkl``).

    Unpickling runs whatever code the file names, so this refuses unless ``trust`` is True.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist; download it from {RELEASED['encoder']} "
            f"and {RELEASED['decoder']}"
        )
    if not trust:
        from .files import sha256_file

        raise PermissionError(
            f"{path} (sha256 {sha256_file(path)}) is a pickle: loading it can run "
            f"arbitrary code. Pass --trust (trust=True) only for files you downloaded "
            f"yourself from {RELEASED['encoder']} / {RELEASED['decoder']}."
        )
    torch = _torch()
    obj = torch.load(
        path, map_location="cpu", weights_only=False
    )  # trusted above: a whole module
    return obj.state_dict() if hasattr(obj, "state_dict") else dict(obj)


def save_dvae(
    model: DalleDVAE, out: Path, name: str, sources: dict, extra: dict | None = None
) -> dict:
    """Write ``NAME.weights.npz`` (by variable path, float32: the port stays exact) and the
    card ``NAME.json``, with what every card carries (epochs 0: converted, not trained here)."""
    path = cards.weights_path(name, out)
    digest = named_weights.save(model, path, dtype=np.float32, compressed=False)
    card = {
        "name": name,
        "description": "DALL·E's discrete VAE (Ramesh et al. 2021), converted from OpenAI's released "
        "PyTorch weights to vqlab's Keras port (chapter 11). 256x256 RGB -> 32x32 tokens "
        "of 8192 codes.",
        "class": "DalleDVAE",
        "config": {
            k: v for k, v in cards.json_safe(model.get_config()).items() if k != "name"
        },
        "command": "python -m vqlab.pretrained convert-dalle ENCODER DECODER --trust",
        "data": "DALL·E's training set (not available; the weights are OpenAI's)",
        "epochs": 0,
        "trained_with": "OpenAI (Ramesh et al. 2021); converted here",
        "train_seconds": 0.0,
        "sources": sources,
        "converted_with": {
            "python": platform.python_version(),
            "keras": keras.__version__,
        },
        **(extra or {}),
        "weights_file": path.name,
        "weights_format": named_weights.FORMAT,
        "sha256": digest,
    }
    cards.write_card(name, card, out)
    return card


def convert(
    encoder_path, decoder_path, trust: bool = False, out=None, name: str = NAME
) -> dict:
    """Convert the released ``encoder.pkl`` and ``decoder.pkl`` into ``out/NAME.{json,weights.npz}``.

    Records both files' sha256 in the card, and checks the port on the real weights: the
    reference encoder's logits and the port's on one mapped random 64x64 image.
    """
    from .files import sha256_file

    out = cards.WEIGHTS_DIR if out is None else Path(out)
    sources = {
        part: {
            "file": Path(p).name,
            "sha256": sha256_file(p),
            "released_at": RELEASED[part],
        }
        for part, p in (("encoder", encoder_path), ("decoder", decoder_path))
        if Path(p).exists()
    }
    states = [load_pickled_module(p, trust) for p in (encoder_path, decoder_path)]
    model = from_torch_state(*states)
    torch = _torch()
    from dall_e import Encoder

    x = np.random.default_rng(0).random((1, 64, 64, 3), dtype=np.float32)
    cfg = config_from_state(*states)
    ref = Encoder(
        n_hid=cfg["n_hid"],
        n_blk_per_group=cfg["n_blk_per_group"],
        vocab_size=cfg["vocab_size"],
    )
    ref.load_state_dict(states[0])
    with torch.no_grad():
        ref_logits = (
            ref(torch.from_numpy(map_pixels(x).transpose(0, 3, 1, 2).copy()))
            .numpy()
            .transpose(0, 2, 3, 1)
        )
    port_logits = keras.ops.convert_to_numpy(model.logits_of(x))
    check = {
        "max_abs_logit_difference_64x64": float(np.abs(ref_logits - port_logits).max())
    }
    card = save_dvae(model, out, name, sources, {"check_against_reference": check})
    print(
        f"{name}: wrote {cards.weights_path(name, out)} and its card; port vs reference: {check}"
    )
    return card


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vqlab.pretrained convert-dalle",
        description="Convert DALL·E's released dVAE (encoder.pkl, decoder.pkl from "
        + RELEASED["encoder"]
        + " and "
        + RELEASED["decoder"]
        + ") into a vqlab model, loaded by "
        "vqlab.pretrained.load('"
        + NAME
        + "'). Needs torch and dall-e: "
        + INSTALL_HINT
        + ".",
    )
    parser.add_argument("encoder", type=Path, help="path of encoder.pkl")
    parser.add_argument("decoder", type=Path, help="path of decoder.pkl")
    parser.add_argument(
        "--trust",
        action="store_true",
        help="unpickle the files (a pickle can run code: only for files you fetched yourself)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the card and weights (default: vqlab's weights folder)",
    )
    parser.add_argument("--name", default=NAME)
    args = parser.parse_args(argv)
    try:
        convert(
            args.encoder, args.decoder, trust=args.trust, out=args.out, name=args.name
        )
    except (PermissionError, FileNotFoundError, ImportError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
