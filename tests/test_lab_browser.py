"""The lab as students meet it: a chapter opened in JupyterLab (``make lab``) shows its MyST
rendered, not as raw text.

JupyterLab starts on a free port with a token, with the settings ``make lab`` installs
(``tools/lab_overrides.json``: a ``.md`` chapter opens as a notebook through jupytext) plus
one for the test (every cell kept in the page, not only the visible ones). Playwright drives
the distribution's Chromium (``executable_path``; no browser is downloaded) to open one
chapter. jupyterlab-myst renders its Markdown cells; the test fails if a directive
(exercise, solution, proof, admonition) or a ``{cite}``, ``{numref}`` or ``{term}`` role
shows as raw text outside inline code, or if fewer exercises, proofs or admonitions are
rendered than the chapter has. Skips where Chromium or Playwright is missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHAPTER = "kl_divergence.md"  # exercises, solutions, proofs, an admonition, every role
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
RAW = re.compile(
    r"\{(cite|cite:\w+|numref|term|ref|eq|eval|exercise|solution|prf:\w+|admonition|note|tip"
    r"|important|warning|dropdown)\}|:::\{|```\{"
)
# JavaScript: per rendered Markdown cell, its text without inline code and code blocks
RENDERED_TEXT = """() => [...document.querySelectorAll('.jp-Notebook .jp-MarkdownCell')].map(cell => {
  const out = cell.querySelector('.jp-MarkdownOutput, .jp-RenderedMarkdown, .myst');
  if (!out) return null;
  const copy = out.cloneNode(true);
  copy.querySelectorAll('code, pre').forEach(e => e.remove());
  return copy.textContent;
})"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: apt-get install chromium (or set CHROMIUM)")
    pytest.importorskip(
        "playwright", reason="playwright (Python) is in requirements.txt"
    )
    tmp = tmp_path_factory.mktemp("lab")
    settings = tmp / "settings"
    settings.mkdir()
    overrides = json.loads((ROOT / "tools" / "lab_overrides.json").read_text())
    overrides["@jupyterlab/notebook-extension:tracker"] = {"windowingMode": "none"}
    (settings / "overrides.json").write_text(json.dumps(overrides))
    port, token = _free_port(), os.urandom(12).hex()
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={ROOT / 'book'}",
        f"--LabApp.app_settings_dir={settings}",
    ]
    if hasattr(os, "getuid") and os.getuid() == 0:
        cmd.append("--allow-root")
    with open(tmp / "lab.log", "w") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    urllib.request.urlopen(
                        f"{url}/api/status?token={token}", timeout=2
                    ).read()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(
                            f"JupyterLab did not start: {(tmp / 'lab.log').read_text()[-2000:]}"
                        )
                    time.sleep(0.25)
            yield url, token
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(tmp / "runtime", ignore_errors=True)


@pytest.fixture(scope="module")
def chapter_page(lab):
    from playwright.sync_api import sync_playwright

    url, token = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{url}/lab/tree/{CHAPTER}?token={token}")
        page.wait_for_selector(".jp-Notebook .jp-MarkdownCell", timeout=120_000)
        cells = _source_markdown_cells()
        # every Markdown cell of the chapter rendered (jupyterlab-myst renders them one by one)
        page.wait_for_function(
            f"() => document.querySelectorAll('.jp-Notebook .jp-MarkdownCell .myst').length >= {len(cells)}",
            timeout=120_000,
        )
        texts = page.evaluate(RENDERED_TEXT)
        counts = {
            kind: page.locator(f".jp-Notebook .myst-{kind}").count()
            for kind in ("exercise", "proof", "admonition")
        }
        yield {
            "texts": texts,
            "counts": counts,
            "errors": errors,
            "cells": cells,
            "page": page,
        }
        browser.close()


def _source_markdown_cells() -> list[str]:
    import jupytext

    nb = jupytext.read(ROOT / "book" / CHAPTER)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def test_the_chapter_opens_as_a_notebook_with_every_markdown_cell(chapter_page):
    assert len(chapter_page["texts"]) == len(chapter_page["cells"])
    assert all(
        t is not None and t.strip() for t in chapter_page["texts"] if t is not None
    )


def test_no_directive_or_role_shows_as_raw_text(chapter_page):
    raw = [
        (i, m.group(0))
        for i, text in enumerate(chapter_page["texts"])
        if text
        for m in RAW.finditer(text)
    ]
    assert not raw, (
        f"raw MyST in the lab's rendering of {CHAPTER} (cell, text): {raw[:10]}"
    )


def test_exercises_proofs_and_admonitions_are_rendered(chapter_page):
    source = "\n".join(chapter_page["cells"])
    wanted = {
        "exercise": len(
            re.findall(r"^:{3,}\{(exercise|solution)\}", source, re.MULTILINE)
        ),
        "proof": len(re.findall(r"^(`{3,}|:{3,})\{prf:\w+\}", source, re.MULTILINE)),
        "admonition": len(
            re.findall(
                r"^(`{3,}|:{3,})\{(admonition|note|tip|important|warning)\}",
                source,
                re.MULTILINE,
            )
        ),
    }
    assert all(wanted.values()), wanted  # the chapter has each kind (else pick another)
    assert chapter_page["counts"] == wanted


def test_eval_roles_show_the_kernels_values_after_run_all(chapter_page):
    """The chapter's {eval} roles (jupyterlab-myst asks the kernel for them once the cells have
    run; the book evaluates them at build time, in its inline execution mode) show the same
    number the code cell before them prints."""
    page = chapter_page["page"]
    prose = page.locator(".jp-MarkdownCell .myst", has_text="nats but")
    assert (
        "kl_pq" in prose.inner_text()
    )  # before running: the variable's name, as glue shows
    page.click("li.lm-MenuBar-item:has-text('Run')")
    page.click("li.lm-Menu-item:has-text('Run All Cells')")
    page.wait_for_function(
        """() => [...document.querySelectorAll('.jp-MarkdownCell .myst')].some(
             e => /= \\d\\.\\d+\\s*nats but/.test(e.textContent))""",
        timeout=300_000,
    )
    shown = re.search(r"= (\d\.\d+)\s*nats but", prose.inner_text()).group(1)
    printed = page.locator(
        ".jp-OutputArea-output", has_text="KL(p || q) ="
    ).first.inner_text()
    assert re.search(r"KL\(p \|\| q\) = (\d\.\d+)", printed).group(1) == shown
