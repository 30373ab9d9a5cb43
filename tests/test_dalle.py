"""DALL·E's dVAE in Keras (vqlab.dalle) against OpenAI's PyTorch reference (dall-e==0.1).

Without the released weights: the reference modules are built with seeded random weights
(biases too, which the reference starts at zero), their state is converted to the Keras
port, and logits, argmax tokens and decoded images must agree on real photos. The fast
checks use a reduced dVAE (n_hid 64, one block per group, 512 codes) on 64x64 photos;
one check runs the released architecture (n_hid 256, two blocks per group, 8192 codes,
~54 M parameters in all) on one 256x256 photo.
"""

import subprocess
import sys

import numpy as np
import pytest

from vqlab import dalle, photos, pretrained
from vqlab.files import sha256_file

try:
    import dall_e
    import torch
    import torch.nn.functional as F
except ImportError:
    torch = dall_e = None

needs_reference = pytest.mark.skipif(
    torch is None,
    reason=f"needs the optional extra torch + dall-e: {dalle.INSTALL_HINT}",
)
TOLERANCE = 1e-4
SMALL = {"n_hid": 64, "n_blk_per_group": 1, "vocab_size": 512}


def reference_modules(n_hid, n_blk_per_group, vocab_size, seed=0):
    """dall_e's Encoder and Decoder with seeded random weights and random (non-zero) biases."""
    torch.manual_seed(seed)
    enc = dall_e.Encoder(
        n_hid=n_hid, n_blk_per_group=n_blk_per_group, vocab_size=vocab_size
    )
    dec = dall_e.Decoder(
        n_hid=n_hid, n_blk_per_group=n_blk_per_group, vocab_size=vocab_size
    )
    with torch.no_grad():
        for module in (enc, dec):
            for key, p in module.named_parameters():
                if key.endswith(".b"):
                    p.normal_(std=0.1)
    return enc, dec


def reference_outputs(enc, dec, x):
    """The reference's usage (DALL·E's notebook): logits, argmax tokens, decoded images; channels last."""
    with torch.no_grad():
        logits = enc(
            dall_e.map_pixels(torch.from_numpy(x.transpose(0, 3, 1, 2).copy()))
        )
        tokens = torch.argmax(logits, dim=1)
        one_hot = (
            F.one_hot(tokens, num_classes=enc.vocab_size).permute(0, 3, 1, 2).float()
        )
        images = dall_e.unmap_pixels(torch.sigmoid(dec(one_hot).float()[:, :3]))
    return (
        logits.numpy().transpose(0, 2, 3, 1),
        tokens.numpy(),
        images.numpy().transpose(0, 2, 3, 1),
    )


@pytest.fixture(scope="module")
def small():
    enc, dec = reference_modules(**SMALL)
    x = photos.held_out(64)  # the four held-out photos at 64x64
    model = dalle.from_torch_state(
        enc.state_dict(), dec.state_dict(), image_shape=(64, 64, 3)
    )
    return enc, dec, model, x, reference_outputs(enc, dec, x)


def test_pixel_mapping_squeezes_into_eps_interval():
    x = np.array([0.0, 0.5, 1.0], np.float32)
    np.testing.assert_allclose(dalle.map_pixels(x), [0.1, 0.5, 0.9], atol=1e-7)
    np.testing.assert_allclose(
        np.asarray(dalle.unmap_pixels(dalle.map_pixels(x))), x, atol=1e-6
    )
    np.testing.assert_array_equal(
        np.asarray(dalle.unmap_pixels(np.array([0.0, 1.0], np.float32))), [0.0, 1.0]
    )


@needs_reference
def test_port_equals_reference_on_photos(small):
    enc, dec, model, x, (logits, tokens, images) = small
    assert np.abs(model.logits(x) - logits).max() <= TOLERANCE
    np.testing.assert_array_equal(model.encode(x), tokens)
    decoded = model.decode(tokens)
    assert decoded.shape == x.shape
    assert np.abs(decoded - images).max() <= TOLERANCE
    # the decoder reads one-hot vectors; decode(tokens) looks rows up instead: the same images
    one_hot = np.eye(SMALL["vocab_size"], dtype=np.float32)[tokens]
    assert np.abs(model.decode_one_hot(one_hot) - images).max() <= TOLERANCE


@needs_reference
def test_released_architecture_equals_reference_on_a_photo():
    enc, dec = reference_modules(256, 2, 8192)
    assert (
        sum(p.numel() for p in enc.parameters())
        + sum(p.numel() for p in dec.parameters())
        > 50_000_000
    )
    x = photos.held_out(256)[:1]
    logits, tokens, images = reference_outputs(enc, dec, x)
    model = dalle.from_torch_state(enc.state_dict(), dec.state_dict())
    assert model.grid_shape == (32, 32) and model.num_codes == 8192
    assert np.abs(model.logits(x) - logits).max() <= TOLERANCE
    np.testing.assert_array_equal(model.encode(x), tokens)
    assert np.abs(model.decode(tokens) - images).max() <= TOLERANCE


@needs_reference
def test_state_conversion_names_missing_and_unknown_keys(small):
    enc, dec, *_ = small
    state = dict(enc.state_dict())
    del state["blocks.group_2.block_1.id_path.w"]
    with pytest.raises(ValueError, match="id_path.w"):
        dalle.from_torch_state(state, dec.state_dict(), image_shape=(64, 64, 3))
    state = {**enc.state_dict(), "blocks.extra.w": torch.zeros(1)}
    with pytest.raises(ValueError, match="blocks.extra.w"):
        dalle.from_torch_state(state, dec.state_dict(), image_shape=(64, 64, 3))


def test_parameter_count_without_building():
    model = dalle.DalleDVAE(**SMALL, image_shape=(64, 64, 3)).build_all()
    assert dalle.parameter_count(**SMALL) == model.count_params()
    assert (
        dalle.parameter_count() == 97_616_006
    )  # the released dVAE (counted once by building it)


def test_tokens_are_checked():
    model = dalle.DalleDVAE(**SMALL, image_shape=(64, 64, 3)).build_all()
    with pytest.raises(ValueError, match=r"\[0, 512\)"):
        model.decode(np.full((1, 8, 8), 512))
    with pytest.raises(ValueError, match="integers"):
        model.decode(np.zeros((1, 8, 8), np.float32))
    with pytest.raises(ValueError, match="divisible by 8"):
        dalle.DalleDVAE(**SMALL, image_shape=(60, 60, 3))


class Marker:
    """Unpickling this object creates a file: the proof that a pickle ran code."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        from pathlib import Path

        return Path.touch, (Path(self.path),)


def test_converter_refuses_to_unpickle_without_trust(tmp_path):
    import pickle

    marker = tmp_path / "code_ran"
    evil = tmp_path / "encoder.pkl"
    evil.write_bytes(pickle.dumps(Marker(str(marker))))
    with pytest.raises(PermissionError, match="--trust"):
        dalle.load_pickled_module(evil)
    assert not marker.exists()
    assert (
        pretrained.main(["convert-dalle", str(evil), str(evil), "--out", str(tmp_path)])
        == 2
    )
    assert not marker.exists() and not (tmp_path / "dalle_dvae.json").exists()


@needs_reference
def test_convert_writes_a_card_that_loads(small, tmp_path):
    enc, dec, _, x, (logits, tokens, images) = small
    paths = [tmp_path / "encoder.pkl", tmp_path / "decoder.pkl"]
    for module, path in zip((enc, dec), paths):
        torch.save(module, path)  # whole pickled modules, like the released files
    assert (
        pretrained.main(
            ["convert-dalle", *map(str, paths), "--trust", "--out", str(tmp_path)]
        )
        == 0
    )
    card = pretrained.read_card("dalle_dvae", tmp_path)
    assert card["sources"]["encoder"]["sha256"] == sha256_file(paths[0])
    assert card["sources"]["decoder"]["sha256"] == sha256_file(paths[1])
    assert (
        card["check_against_reference"]["max_abs_logit_difference_64x64"] <= TOLERANCE
    )
    model = pretrained.load("dalle_dvae", tmp_path)  # 256x256 like the released model
    x256 = photos.held_out(256)[:1]
    ref_logits, ref_tokens, ref_images = reference_outputs(enc, dec, x256)
    assert np.abs(model.logits(x256) - ref_logits).max() <= TOLERANCE
    assert np.abs(model.decode(ref_tokens) - ref_images).max() <= TOLERANCE


def test_loading_shipped_weights_imports_neither_torch_nor_training():
    code = (
        "import sys, vqlab.pretrained, vqlab.dalle; "
        "print(sorted(m for m in ('torch', 'dall_e', 'vqlab.recipes', 'vqlab.train') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
