"""The weights-format migration (positional -> keyed by variable path) changed no model.

``tests/data/shipped_reference.npz`` was written by ``tools/shipped_reference.py`` with the
loader of the old format, before the migration: for every shipped model, a fixed input,
the model's output on it, and the sha256 of each weight (float16 bytes). Every shipped
model, loaded by today's loader from today's files, must hold the same weights (compared
exactly, as a multiset of digests: machine-independent) and compute the same output
(bit for bit on the machine that recorded it; within float32 round-off elsewhere, since
oneDNN picks kernels per CPU).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vqlab import pretrained

sys_path = Path(__file__).resolve().parents[1] / "tools"
REFERENCE = Path(__file__).parent / "data" / "shipped_reference.npz"


def _reference():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "shipped_reference", sys_path / "shipped_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Retrained after the migration (issue 21: on the photo corpus), so their weights differ from
# the recorded ones by design; their cards must say so, or the exclusion would hide a change.
RETRAINED_SINCE = {"photo_f4", "photo_f8"}
# Trained after the migration (issue 21), in the named format from the start: no old file.
ADDED_SINCE = {"photo_dvae_f8", "photo_f8_large", "prior_photo_f8"}
MIGRATED = sorted(
    set(pretrained.names()) - {"dalle_dvae"} - RETRAINED_SINCE - ADDED_SINCE
)


def test_models_left_out_were_retrained_on_the_corpus():
    for name in RETRAINED_SINCE:
        assert pretrained.read_card(name)["data"].startswith("corpus_crops"), name


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def test_every_shipped_model_has_a_reference(reference):
    recorded = {k.split("/")[0] for k in reference if "/" in k}
    assert recorded == set(pretrained.names()) - {"dalle_dvae"} - ADDED_SINCE


def test_models_added_since_were_trained_in_the_named_format():
    from vqlab import named_weights

    for name in ADDED_SINCE & set(pretrained.names()):
        card = pretrained.read_card(name)
        assert card["weights_format"] == named_weights.FORMAT, name
        assert "steps" in card, name  # written by the trainer of this tree


@pytest.mark.parametrize("name", MIGRATED)
def test_migrated_model_is_unchanged(name, reference):
    ref = _reference()
    model = pretrained.load(name)
    assert sorted(ref.weight_digests(model)) == sorted(
        reference[f"{name}/weights"].tolist()
    )
    out = ref.outputs(model, reference[f"{name}/input"])
    expected = reference[f"{name}/output"]
    assert out.shape == expected.shape
    if str(reference["machine"]) == ref.machine():
        np.testing.assert_array_equal(out, expected)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
