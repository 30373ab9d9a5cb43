"""DALL·E's path, executed: with a converted dVAE present, chapter 11 and the conclusion run.

A reader who converts the released weights gets a ``dalle_dvae`` card; chapter 11 then adds
a dVAE column to every comparison and the conclusion lists the card. This test converts
seeded random-weight reference modules (``dall-e==0.1``, a reduced configuration so that it
runs in minutes) with the same converter the reader uses, into a temporary folder named in
``$VQLAB_WEIGHTS``, then executes both chapters top to bottom and fails on any error. It
needs the optional extra (torch and dall-e, installed by CI) and skips without it.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
torch = pytest.importorskip(
    "torch", reason="needs the optional extra torch + dall-e (README)"
)
dall_e = pytest.importorskip(
    "dall_e", reason="needs the optional extra torch + dall-e (README)"
)

from vqlab import dalle, pretrained  # noqa: E402

SMALL = {"n_hid": 32, "n_blk_per_group": 1, "vocab_size": 512}
CHAPTERS = ("book/photos.md", "book/conclusion.md")


@pytest.fixture(scope="module")
def weights_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    enc = dall_e.Encoder(**SMALL)
    dec = dall_e.Decoder(**SMALL)
    model = dalle.from_torch_state(enc.state_dict(), dec.state_dict())
    sources = {
        "encoder": {"file": "random (seed 0)"},
        "decoder": {"file": "random (seed 0)"},
    }
    dalle.save_dvae(model, root, dalle.NAME, sources)
    return root


def test_the_converted_card_loads_and_has_what_every_card_has(
    weights_root, monkeypatch
):
    monkeypatch.setenv("VQLAB_WEIGHTS", str(weights_root))
    assert dalle.NAME in pretrained.names()
    card = pretrained.read_card(dalle.NAME)
    for key in ("epochs", "data", "description", "command", "trained_with"):
        assert key in card
    assert pretrained.load(dalle.NAME).num_codes == SMALL["vocab_size"]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_runs_with_the_dvae_present(chapter, weights_root, tmp_path):
    notebook = tmp_path / (Path(chapter).stem + ".ipynb")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "jupytext",
            "--to",
            "ipynb",
            "-o",
            str(notebook),
            str(ROOT / chapter),
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "VQLAB_WEIGHTS": str(weights_root)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter",
            "nbconvert",
            "--to",
            "notebook",
            "--execute",
            "--ExecutePreprocessor.timeout=900",
            "--output",
            str(notebook),
            str(notebook),
        ],
        cwd=ROOT / "book",
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, (
        f"{chapter} failed with a dVAE present:\n{run.stderr[-4000:]}"
    )
    text = notebook.read_text()
    assert "dVAE" in text and "Traceback" not in text
