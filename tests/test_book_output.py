"""The built book (``make book``) links to no placeholder, shows launch buttons only when the
build was given a repository (``VQLAB_REPOSITORY``, tools/book_launch.py), and offers each
chapter's notebook with its install cell and the wheel that cell installs. Runs after the
book build (``make browser``); skips where there is no built book.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
sys.path.insert(0, str(ROOT / "tools"))

import book_launch  # noqa: E402
from nbval_chapters import toc_files  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (HTML / "index.html").exists(), reason="no built book: run make book"
)


def pages():
    return sorted(HTML.rglob("*.html"))


def test_no_page_links_to_the_placeholder():
    hits = [
        p.relative_to(HTML)
        for p in pages()
        if "YOUR-ORG" in p.read_text(errors="replace")
    ]
    assert not hits, hits


def test_launch_buttons_and_repository_link_follow_the_setting():
    s = json.loads(
        (HTML.parent / "book_launch.json").read_text()
    )  # the build's settings
    for page in pages():
        html = page.read_text(errors="replace")
        has_launch = "dropdown-launch-buttons" in html
        has_repo = "btn-source-repository-button" in html
        if not s["repository"]:
            assert not has_launch and not has_repo, page.relative_to(HTML)
            assert "mybinder.org" not in html, page.relative_to(HTML)
        elif (
            s["repository"]
            and (
                HTML / "_sources" / page.relative_to(HTML).with_suffix(".ipynb")
            ).exists()
        ):
            assert has_repo and (
                has_launch or not (s["binderhub"] or s["jupyterhub"])
            ), page.relative_to(HTML)


def test_each_chapter_notebook_downloads_with_its_install_cell_first():
    chapters = [
        f
        for f in toc_files()
        if (ROOT / f"{f}.md").read_text().lstrip().startswith("---\njupytext")
    ]
    assert chapters
    for name in chapters:
        html = (HTML / f"{name}.html").read_text()
        assert f'href="../_sources/{name}.ipynb"' in html, (
            f"{name}.html offers no .ipynb download"
        )
        nb = json.loads((HTML / "_sources" / f"{name}.ipynb").read_text())
        first = nb["cells"][0]
        assert book_launch.CELL_TAG in first["metadata"]["tags"], name
        source = "".join(first["source"])
        assert book_launch.wheel_name() in source
        assert (
            sum(
                book_launch.CELL_TAG in c["metadata"].get("tags", [])
                for c in nb["cells"]
            )
            == 1
        )
        executed = json.loads(
            (HTML.parent / "jupyter_execute" / f"{name}.ipynb").read_text()
        )
        assert nb["cells"][1:] == executed["cells"], (
            f"{name}: not the executed notebook (outputs)"
        )


def test_the_book_serves_the_wheel_with_its_weights_and_the_lock():
    wheel = HTML / "_static" / book_launch.wheel_name()
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in (ROOT / "lib" / "vqlab" / "weights").iterdir():
        if not f.name.startswith(
            "dalle_dvae"
        ):  # the optional DALL-E weights are not shipped
            assert f"vqlab/weights/{f.name}" in names, f.name
    assert (HTML / "_static" / "constraints.txt").read_text() == (
        ROOT / "constraints.txt"
    ).read_text()
    book_url = json.loads((HTML.parent / "book_launch.json").read_text())["book_url"]
    notebook = (HTML / "_sources" / "book" / "kl_divergence.ipynb").read_text()
    assert (
        (book_url + "_static/") in notebook
        if book_url
        else "VQLAB_BOOK_URL" in notebook
    )
