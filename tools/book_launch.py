"""Sphinx extension: the book's launch buttons, repository link and downloadable notebooks.

**One setting.** An instructor publishing the book sets, at build time,

    VQLAB_REPOSITORY=https://github.com/ORG/REPO[@BRANCH]   (branch: main)

and the book gets the repository button and a Binder launch button (mybinder.org; set
``VQLAB_BINDERHUB`` to the course's BinderHub, or to nothing for no Binder button), and a
JupyterHub button where ``VQLAB_JUPYTERHUB`` names a hub (which needs nbgitpuller). With
``VQLAB_REPOSITORY`` unset the book has no launch button and no repository link at all:
no reader is sent to a placeholder. ``_config.yml`` names no repository.

**Downloaded notebooks.** Each chapter's ``.ipynb`` download (with outputs) gets a first
cell that installs vqlab where it is missing (Colab, any Jupyter with or without
TensorFlow), from the wheel, weights included, that the book serves from its own
``_static/`` (built here, at book-build time, with the locked ``constraints.txt`` beside
it). The cell needs the book's address: ``VQLAB_BOOK_URL``, or for a GitHub repository its
GitHub Pages address ``https://ORG.github.io/REPO/``. A book built without either gets a
first cell that says what to install instead.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINDERHUB = "https://mybinder.org"
# What the chapters import beyond vqlab's own requirements (glue; skimage in chapter 11).
CHAPTER_EXTRAS = ["myst-nb", "scikit-image"]
CELL_TAG = "vqlab-install"


def settings(environ=os.environ) -> dict:
    """The launch and download settings from the environment (see the module's docstring)."""
    repo = environ.get("VQLAB_REPOSITORY", "").strip().rstrip("/")
    branch = "main"
    if "@" in repo.rsplit("/", 1)[-1]:
        repo, branch = repo.rsplit("@", 1)
    repo = repo.rstrip("/").removesuffix(".git")
    if repo and not re.match(r"^https://[^/\s]+/[^/\s]+/[^/\s]+$", repo):
        raise ValueError(
            f"VQLAB_REPOSITORY={repo!r}: expected https://HOST/ORG/REPO, "
            "optionally followed by @BRANCH"
        )
    if "YOUR-ORG" in repo:
        raise ValueError("VQLAB_REPOSITORY still names the placeholder YOUR-ORG")
    book_url = environ.get("VQLAB_BOOK_URL", "").strip()
    m = re.match(r"^https://github\.com/([^/]+)/([^/]+)$", repo)
    if not book_url and m:
        book_url = f"https://{m.group(1).lower()}.github.io/{m.group(2)}/"
    if book_url and not book_url.endswith("/"):
        book_url += "/"
    return {
        "repository": repo,
        "branch": branch,
        "binderhub": environ.get("VQLAB_BINDERHUB", BINDERHUB).strip() if repo else "",
        "jupyterhub": environ.get("VQLAB_JUPYTERHUB", "").strip() if repo else "",
        "book_url": book_url,
    }


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def wheel_name() -> str:
    return f"vqlab-{project()['version']}-py3-none-any.whl"


def install_cell_source(book_url: str) -> str:
    """The first cell of a downloaded chapter notebook."""
    wheel = wheel_name()
    if not book_url:
        return "\n".join(
            [
                "# This chapter needs vqlab, the book's library (with its trained weights).",
                "import importlib.util",
                "",
                'if importlib.util.find_spec("vqlab") is None:',
                "    raise ModuleNotFoundError(",
                '        "vqlab is not installed here. Download "',
                f'        "{wheel} from the _static/ folder of the book this notebook came "',
                f'        "from, then run: pip install {wheel} {" ".join(CHAPTER_EXTRAS)}. "',
                '        "(This copy of the book was built without its address, VQLAB_BOOK_URL, "',
                '        "so the notebook cannot fetch the wheel itself.)"',
                "    )",
            ]
        )
    others = [r for r in project()["dependencies"] if not r.startswith("tensorflow")]
    return "\n".join(
        [
            "# This chapter needs vqlab, the book's library, with its trained weights: installed",
            "# here if missing (Colab, any Jupyter), from the wheel the book serves. Takes a",
            "# minute or two the first time.",
            "import importlib.util",
            "import subprocess",
            "import sys",
            "",
            'if importlib.util.find_spec("vqlab") is None:',
            f'    book = "{book_url}_static/"',
            f'    wheel = book + "{wheel}"',
            '    pip = [sys.executable, "-m", "pip", "install", "-q"]',
            '    if importlib.util.find_spec("tensorflow") is None:  # the versions the book was tested with',
            f'        pip += [wheel, {", ".join(map(json.dumps, CHAPTER_EXTRAS))}, "-c", book + "constraints.txt"]',
            "    else:  # keep the TensorFlow that is here (Colab): vqlab alone, then what else it needs",
            '        subprocess.run([*pip, "--no-deps", wheel], check=True)',
            f"        pip += {json.dumps(others + CHAPTER_EXTRAS)}",
            "    subprocess.run(pip, check=True)",
            "    importlib.invalidate_caches()",
        ]
    )


def download_notebook(nb: dict, book_url: str) -> dict:
    """``nb`` (nbformat JSON) with the install cell first; an earlier one is replaced."""
    nb = copy.deepcopy(nb)
    cells = [
        c for c in nb["cells"] if CELL_TAG not in c.get("metadata", {}).get("tags", [])
    ]
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": CELL_TAG,
        "metadata": {"tags": [CELL_TAG]},
        "outputs": [],
        "source": install_cell_source(book_url),
    }
    if nb.get("nbformat_minor", 0) < 5 or nb.get("nbformat", 4) < 4:
        cell.pop("id")
    nb["cells"] = [cell, *cells]
    return nb


def build_wheel(out: Path) -> Path:
    """The vqlab wheel (weights included) in ``out``, rebuilt only when its sources changed."""
    files = sorted(
        p
        for p in (ROOT / "lib" / "vqlab").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    )
    digest = hashlib.sha256()
    for p in [ROOT / "pyproject.toml", *files]:
        digest.update(str(p.relative_to(ROOT)).encode())
        digest.update(hashlib.sha256(p.read_bytes()).digest())
    stamp, wheel = out.parent / "download.sha256", out / wheel_name()
    if wheel.exists() and stamp.exists() and stamp.read_text() == digest.hexdigest():
        return wheel
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    proc = subprocess.run(
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
        check=False,
        capture_output=True,
        text=True,
    )
    if proc.returncode or not wheel.exists():
        raise RuntimeError(f"building {wheel.name} failed:\n{proc.stdout}{proc.stderr}")
    stamp.write_text(digest.hexdigest())
    return wheel


# Sphinx -------------------------------------------------------------------------------


def on_config_inited(app, config):
    s = settings()
    theme = config.html_theme_options
    theme.pop("repository_url", None)
    theme.pop("repository_branch", None)
    theme["use_repository_button"] = bool(s["repository"])
    theme["launch_buttons"] = {}
    if s["repository"]:
        theme["repository_url"], theme["repository_branch"] = (
            s["repository"],
            s["branch"],
        )
        theme["launch_buttons"] = {
            "notebook_interface": "jupyterlab",
            "binderhub_url": s["binderhub"],
            "jupyterhub_url": s["jupyterhub"],
        }
    if s["book_url"] and not config.html_baseurl:
        config.html_baseurl = s["book_url"]
    app.vqlab_launch = s


def on_builder_inited(app):
    if app.builder.format != "html":
        return
    out = Path(app.outdir).parent / "download"
    build_wheel(out)
    shutil.copyfile(ROOT / "constraints.txt", out / "constraints.txt")
    app.config.html_static_path.append(str(out))
    app.vqlab_notebooks = set()


def on_page_context(app, pagename, templatename, context, doctree):
    """A notebook page offers its ``.ipynb`` download with or without launch buttons."""
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if doctree is None or not executed.exists():
        return
    context["ipynb_source"] = f"{pagename}.ipynb"
    app.vqlab_notebooks.add(pagename)


def on_build_finished(app, exception):
    """Write the downloads last: the theme's launch buttons copy the plain notebook there."""
    if exception is not None or app.builder.format != "html":
        return
    # what this build was given, for tests/test_book_output.py
    (Path(app.outdir).parent / "book_launch.json").write_text(
        json.dumps(app.vqlab_launch, indent=1)
    )
    for pagename in sorted(getattr(app, "vqlab_notebooks", ())):
        executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
        target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
        target.parent.mkdir(parents=True, exist_ok=True)
        nb = download_notebook(
            json.loads(executed.read_text()), app.vqlab_launch["book_url"]
        )
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n")


def setup(app):
    app.connect("config-inited", on_config_inited)
    app.connect("builder-inited", on_builder_inited)
    app.connect(
        "html-page-context", on_page_context, priority=400
    )  # before the theme's buttons
    app.connect("build-finished", on_build_finished)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
