"""Format the code cells of MyST chapters with ruff at 88 columns; Markdown is left alone.

    python tools/format_chapters.py book/photos.md [...]   # needs `ruff` on PATH (or $RUFF)

Each chapter goes through its notebook form (jupytext), so that ruff formats it as a
notebook: a trailing semicolon that hides a cell's value keeps its meaning, and the cells'
tags stay where they are. Ruff does not split long strings or comments; the script lists
the code lines still longer than 88 characters, to split by hand (`tests/test_pages.py`
fails on them in the built book).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jupytext
import nbformat

COLUMNS = 88


def format_chapter(md: Path, ruff: str) -> list[str]:
    """Format ``md`` in place; return its code lines longer than ``COLUMNS``."""
    nb = jupytext.read(md)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / (md.stem + ".ipynb")
        nbformat.write(nb, path)
        subprocess.run(
            [ruff, "format", "--isolated", "--line-length", str(COLUMNS), str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        formatted = nbformat.read(path, as_version=4)
    for cell, new in zip(nb.cells, formatted.cells):
        if cell.cell_type == "code":
            cell.source = new.source
    text = jupytext.writes(nb, fmt="md:myst")
    # jupytext stamps its own version into the header; the chapters do not carry it
    text = "".join(
        line
        for line in text.splitlines(keepends=True)
        if not line.startswith("    jupytext_version: ")
    )
    md.write_text(text)
    return [
        f"{md}: cell {i}: {len(line)} columns: {line.strip()[:60]}"
        for i, cell in enumerate(nb.cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > COLUMNS
    ]


def main(argv) -> int:
    ruff = os.environ.get("RUFF") or shutil.which("ruff")
    if ruff is None:
        print("ruff not found: install it (pip install ruff) or set RUFF=/path/to/ruff")
        return 2
    long_lines = []
    for name in argv:
        long_lines += format_chapter(Path(name), ruff)
    print("\n".join(long_lines) or "every code line within 88 columns")
    return 1 if long_lines else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
