"""A normal (non-editable) install ships the weights: build the wheel, install it with
--no-deps into a folder outside the checkout, and load every shipped model from there."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LOAD_ALL = """
import json, sys
sys.path.insert(0, sys.argv[1])
import vqlab
from vqlab import pretrained
assert vqlab.__file__.startswith(sys.argv[1]), vqlab.__file__
loaded = {}
for name in pretrained.names():
    model = pretrained.load(name)
    loaded[name] = type(model).__name__
print(json.dumps({"file": vqlab.__file__, "version": vqlab.__version__, "loaded": loaded}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    (path,) = out.glob("vqlab-*.whl")
    return path


def test_wheel_contains_the_photo_corpus_records(wheel):
    assert "vqlab/corpus_photos.json" in zipfile.ZipFile(wheel).namelist()


def test_wheel_contains_every_weights_file_and_card(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = sorted((ROOT / "lib" / "vqlab" / "weights").iterdir())
    assert shipped
    for f in shipped:
        assert f"vqlab/weights/{f.name}" in names, f"{f.name} is not in the wheel"


def test_installed_wheel_loads_every_shipped_model(wheel, tmp_path):
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            "--target",
            str(target),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    proc = subprocess.run(
        [sys.executable, "-c", LOAD_ALL, str(target)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    cards = sorted(p.stem for p in (ROOT / "lib" / "vqlab" / "weights").glob("*.json"))
    assert sorted(result["loaded"]) == cards
    assert result["file"].startswith(str(target))
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert (
        result["version"] == version
    )  # one version number, read from the package's metadata
