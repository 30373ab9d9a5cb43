"""The pinned set resolves where students are: pip's resolver, asked for each platform's
wheels (``--only-binary=:all: --platform ... --python-version ...``), installs
``-r requirements.txt -c constraints.txt`` on Linux x86-64 and aarch64, macOS on Apple
silicon and Windows x86-64, for Python 3.11, 3.12 and 3.13: twelve dry runs, in parallel.

pip's ``--platform`` changes which wheels it accepts, not how it evaluates environment
markers (it reads those from the Python it runs on), so each run goes through
``tools/pip_for_platform.py``, which gives pip's marker evaluation the target's values
(``sys_platform``, ``platform_machine``, ``python_full_version``, ...). The report pip
writes is then checked for the package that the markers choose there (``tensorflow-cpu``
on Linux and Windows x86-64, ``tensorflow`` on the others).

Needs the package index: skips, saying so, where it cannot be reached. With PEP 658
metadata pip reads each wheel's METADATA file and downloads no wheel (a dry run).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from pip_for_platform import PLATFORMS, PYTHONS  # noqa: E402

INDEX = os.environ.get("PIP_INDEX_URL", "https://pypi.org/simple").rstrip("/")
TIMEOUT = 900  # seconds for each resolution (all twelve run at once; a few minutes on a quiet machine)


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _index_reachable() -> str | None:
    try:
        with urllib.request.urlopen(f"{INDEX}/pip/", timeout=15) as reply:
            reply.read(1)
    except OSError as err:
        return f"package index {INDEX} unreachable ({err}): the per-platform resolution needs it"
    return None


def _resolve(platform: str, python: str, tmp: Path) -> dict:
    report = tmp / f"{platform}-{python}.json"
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "tools" / "pip_for_platform.py"),
            platform,
            python,
            "--use-feature=fast-deps",  # metadata by HTTP range requests where the index has no PEP 658 files
            "--report",
            str(report),
            "--target",
            str(tmp / f"{platform}-{python}"),
            "-r",
            str(ROOT / "requirements.txt"),
            "-c",
            str(ROOT / "constraints.txt"),
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=ROOT,
    )
    seconds = time.monotonic() - start
    installed = {}
    if proc.returncode == 0:
        for item in json.loads(report.read_text())["install"]:
            installed[_name(item["metadata"]["name"])] = item["metadata"]["version"]
    return {
        "platform": platform,
        "python": python,
        "rc": proc.returncode,
        "seconds": seconds,
        "installed": installed,
        "stderr": proc.stderr[-2500:],
    }


@pytest.fixture(scope="module")
def resolutions(tmp_path_factory):
    reason = _index_reachable()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("platforms")
    pairs = [(p, v) for p in PLATFORMS for v in PYTHONS]
    start = time.monotonic()
    with ThreadPoolExecutor(
        max_workers=len(pairs)
    ) as pool:  # network-bound: all at once
        results = list(pool.map(lambda pv: _resolve(*pv, tmp), pairs))
    wall = time.monotonic() - start
    print(f"\n{len(pairs)} resolutions in {wall:.0f} s wall time, run at once:")
    for r in results:
        print(
            f"  {r['platform']:<14} {r['python']:<7} {'resolves' if r['rc'] == 0 else 'FAILS'} "
            f"{len(r['installed'])} packages, {r['seconds']:.0f} s"
        )
    return results


def test_every_platform_and_python_resolves(resolutions):
    failed = [r for r in resolutions if r["rc"] != 0]
    assert not failed, "\n\n".join(
        f"{r['platform']} Python {r['python']}:\n{r['stderr']}" for r in failed
    )


def test_each_platform_gets_the_tensorflow_its_markers_choose(resolutions):
    locked = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line[:1].isalnum() and "==" in line:
            name, version = line.split(";")[0].strip().split("==")
            locked.setdefault(_name(name.strip()), set()).add(version)
    for r in resolutions:
        cpu = PLATFORMS[r["platform"]]["tensorflow-cpu"]
        wanted, other = (
            ("tensorflow-cpu", "tensorflow")
            if cpu
            else ("tensorflow", "tensorflow-cpu")
        )
        assert wanted in r["installed"] and other not in r["installed"], (
            r["platform"],
            r["python"],
        )
        for name, version in r[
            "installed"
        ].items():  # the lock holds: every version is a locked one
            if name in locked:
                assert version in locked[name], (
                    r["platform"],
                    r["python"],
                    name,
                    version,
                )
        for name in (
            "numpy",
            "keras",
            "jupyterlab-myst",
            "nbgrader",
            "ruff",
            "playwright",
        ):
            assert name in r["installed"], (r["platform"], r["python"], name)


def test_environment_yml_installs_the_same_locked_set():
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    (pip_section,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_section == ["-r requirements.txt", "-c constraints.txt", "-e ."]
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    python = [d for d in conda if d.startswith("python")]
    assert python and python[0].split("=")[1] in {v.rsplit(".", 1)[0] for v in PYTHONS}
    assert all(d.split("=")[0].split()[0] in ("python", "pip") for d in conda), (
        conda
    )  # the rest is pip's


def test_the_requirements_choose_tensorflow_by_platform_as_pyproject_does():
    import tomllib

    from packaging.markers import default_environment
    from packaging.requirements import Requirement
    from pip_for_platform import environment

    pyproject = [
        Requirement(r)
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
            "dependencies"
        ]
    ]
    reqs = [
        Requirement(line.split("#")[0])
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for platform, facts in PLATFORMS.items():
        env = {**default_environment(), **environment(platform, PYTHONS[0])}
        for chosen in (
            [
                r.name
                for r in pyproject
                if r.name.startswith("tensorflow") and r.marker.evaluate(env)
            ],
            [
                r.name
                for r in reqs
                if r.name.startswith("tensorflow") and r.marker.evaluate(env)
            ],
        ):
            assert chosen == [
                "tensorflow-cpu" if facts["tensorflow-cpu"] else "tensorflow"
            ], (platform, chosen)
