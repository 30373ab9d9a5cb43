"""The book's commands without ``make`` (Windows), and the steps the Makefile runs.

    python tools/tasks.py book      # = make book   (py tools\\tasks.py book on Windows)
    python tools/tasks.py test      # = make test
    python tools/tasks.py lab       # = make lab
    python tools/tasks.py --only book   # one step, without the steps it needs (the Makefile)

Each step runs the steps it needs first, each once (``test`` = install, data, lint, unit,
book, browser, nbval, in that order). ``make X`` runs the same steps: the Makefile orders
them and calls ``tasks.py --only STEP`` for each, so the two cannot drift apart. Only the
standard library is used here: the script creates the venv it then runs everything from
(``.venv/bin/`` on Linux and macOS, ``.venv\\Scripts\\`` on Windows).

``install`` is skipped when ``.venv/.installed`` is newer than every file it installs from
(``requirements.txt``, ``constraints.txt``, ``pyproject.toml``, ``tools/lab_overrides.json``),
as make would; ``--force`` reinstalls.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".installed"
INSTALL_INPUTS = [
    "requirements.txt",
    "constraints.txt",
    "pyproject.toml",
    "tools/lab_overrides.json",
]
UV = "uv==0.13.9"  # the locker (`lock`); installed into a throwaway venv, never into .venv
LINT_PATHS = ["lib", "tests", "tools", "benchmarks"]
WINDOWS = os.name == "nt"


def bin_dir(env: Path = VENV) -> Path:
    return env / ("Scripts" if WINDOWS else "bin")


def exe(name: str, env: Path = VENV) -> str:
    path = bin_dir(env) / (name + (".exe" if WINDOWS else ""))
    return str(path)


def py(env: Path = VENV) -> str:
    return exe("python", env)


def run(*cmd, **kwargs) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    proc = subprocess.run(
        [str(c) for c in cmd], check=False, cwd=kwargs.pop("cwd", ROOT), **kwargs
    )
    if proc.returncode:
        raise SystemExit(
            f"tasks.py: {Path(str(cmd[0])).name} exited with {proc.returncode}"
        )


def environment() -> None:
    """What the Makefile exports, for every step's processes."""
    os.environ.setdefault("VQLAB_DATA", str(Path.home() / ".cache" / "vqlab"))
    os.environ["PYTHONHASHSEED"] = "0"
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"


# The steps ---------------------------------------------------------------------------


def install(force: bool = False) -> None:
    """The venv with the locked set, vqlab (editable), the kernel, the lab's settings."""
    newest = max((ROOT / f).stat().st_mtime for f in INSTALL_INPUTS)
    if not force and STAMP.exists() and STAMP.stat().st_mtime >= newest:
        print(f"tasks.py: {STAMP.relative_to(ROOT)} is up to date")
        return
    if not Path(py()).exists():
        print(f"+ {sys.executable} -m venv {VENV.name}", flush=True)
        venv.create(VENV, with_pip=True)
    pip = [py(), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    run(
        *pip, "-c", "constraints.txt", "pip"
    )  # the locked pip first: it installs the rest
    run(*pip, "-r", "requirements.txt", "-c", "constraints.txt")
    run(*pip, "--no-deps", "-e", ".")
    run(
        py(),
        "-m",
        "ipykernel",
        "install",
        "--sys-prefix",
        "--name",
        "python3",
        stdout=subprocess.DEVNULL,
    )
    settings = (
        VENV / "share" / "jupyter" / "lab" / "settings"
    )  # this venv's only, not the user's
    settings.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ROOT / "tools" / "lab_overrides.json", settings / "overrides.json")
    STAMP.touch()


def data() -> None:
    run(py(), "-m", "vqlab.data")


def book() -> None:
    run(exe("jupyter-book"), "build", ".", "-W", "-n", "--keep-going")
    print("Open _build/html/index.html")


def lint() -> None:
    """ruff (configured in pyproject.toml): the rules, then the formatting, of the code."""
    run(exe("ruff"), "check", *LINT_PATHS)
    run(exe("ruff"), "format", "--check", *LINT_PATHS)


def unit() -> None:
    run(
        py(),
        "-m",
        "pytest",
        "-q",
        "tests",
        "--ignore=tests/test_browser.py",
        "--ignore=tests/test_lab_browser.py",
        "--ignore=tests/test_book_output.py",
        "--ignore=tests/test_pages.py",
    )


def browser() -> None:
    """The built book in headless Chromium, offline, and one chapter in JupyterLab (with
    jupyterlab-myst); both skip, saying why, where Chromium is missing. The built book's
    links, launch buttons and downloads (tests/test_book_output.py)."""
    run(
        py(),
        "-m",
        "pytest",
        "-q",
        "-rs",
        "-s",
        "tests/test_book_output.py",
        "tests/test_browser.py",
        "tests/test_pages.py",
        "tests/test_lab_browser.py",
    )


def nbval() -> None:
    run(py(), "tools/nbval_chapters.py")


def assignments() -> None:
    """The nbgrader course of the book (tools/assignments.py, issue 24)."""
    tool = ROOT / "tools" / "assignments.py"
    if not tool.exists():
        raise SystemExit(
            f"tasks.py: {tool.relative_to(ROOT)} is missing: the assignments step "
            "needs the nbgrader course generator (issue 24)"
        )
    run(py(), str(tool))


def lab() -> None:
    # as root (containers) Jupyter refuses to start without --allow-root: pass it there
    root = ["--allow-root"] if hasattr(os, "getuid") and os.getuid() == 0 else []
    run(exe("jupyter"), "lab", *root, "book/")


def student() -> None:
    run(py(), "tools/student.py")


def bench() -> None:
    for script in (
        "chapters",
        "load_models",
        "train_vqvae",
        "photos",
        "prior",
        "widgets",
    ):
        run(py(), f"benchmarks/{script}.py")


def weights() -> None:
    run(py(), "-m", "vqlab.train", "all")


def lock() -> None:
    """constraints.txt from requirements.txt: one lock for every platform and Python >= 3.11
    (uv's universal resolution, environment markers where the platforms differ), kept to the
    versions already locked where they still resolve. uv runs from a throwaway venv."""
    tool = ROOT / "_build" / "uv"
    if not Path(exe("uv", tool)).exists():
        venv.create(tool, with_pip=True)
        run(py(tool), "-m", "pip", "install", "-q", "--disable-pip-version-check", UV)
    run(
        exe("uv", tool),
        "pip",
        "compile",
        "--quiet",
        "--universal",
        "--python-version",
        "3.11",
        "--custom-compile-command",
        "make lock",
        "requirements.txt",
        "-o",
        "constraints.txt",
    )


def clean() -> None:
    shutil.rmtree(ROOT / "_build", ignore_errors=True)


# What each step needs, in order (the Makefile's prerequisites) --------------------------

STEPS = {
    "install": ([], install),
    "data": (["install"], data),
    "book": (["data"], book),
    "lint": (["install"], lint),
    "unit": (["data"], unit),
    "browser": (["book"], browser),
    "nbval": (["book"], nbval),
    "test": (["data", "lint", "unit", "book", "browser", "nbval"], None),
    "assignments": (["data"], assignments),
    "lab": (["data"], lab),
    "student": (["data"], student),
    "bench": (["data"], bench),
    "weights": (["data"], weights),
    "lock": ([], lock),
    "clean": ([], clean),
}


def plan(target: str) -> list[str]:
    """``target``'s steps after the steps they need, each once."""
    order: list[str] = []

    def visit(step):
        for need in STEPS[step][0]:
            visit(need)
        if step not in order:
            order.append(step)

    visit(target)
    return order


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="The book's commands (make's targets) without make."
    )
    parser.add_argument("step", choices=list(STEPS))
    parser.add_argument(
        "--only", action="store_true", help="this step alone, not the steps it needs"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="reinstall even if .venv/.installed is fresh",
    )
    args = parser.parse_args(argv)
    environment()
    for step in [args.step] if args.only else plan(args.step):
        fn = STEPS[step][1]
        if fn is install:
            install(args.force)
        elif fn is not None:
            fn()
    return 0


if __name__ == "__main__":
    sys.exit(main())
