"""Flaws a reader sees on a built page, found in its HTML (``tests/test_pages.py`` runs this).

Each check returns a list of findings, ``"kind: excerpt"``; a page is clean when all are
empty. The kinds:

* ``quoted glue``: a glued value rendered with quotes around it (a ``str`` glued with
  ``{glue:}`` shows its repr, ``'60,000'``; Sphinx then turns the quotes into ‘ ’);
* ``pipe table``: a Markdown table row printed as text inside a cell's output, where a
  rendered table belongs (glue the table as ``Markdown``);
* ``numpy repr``: ``np.float64(68.8)`` and the like in the prose or in an output
  (``round`` of a NumPy scalar keeps its type, and NumPy 2 prints the type);
* ``traceback`` / ``warning``: an error's traceback or a warning's text in an output;
* ``wide code``: a line of a cell's source longer than ``COLUMNS`` characters, which
  scrolls sideways at the book's default width (``_static/code.css`` sets the code font so
  that 88 characters fit the content column at 1280 px, and wraps outputs instead;
  ``tests/test_browser.py`` measures every block's scroll width in Chromium);
* ``placeholder link``: a link whose address is a placeholder (``YOUR-ORG``,
  ``example.com``, an empty address) or a download link to a file missing from the build.

``python tools/check_pages.py [_build/html]`` prints every finding and exits 1 if any.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

from bs4 import BeautifulSoup

COLUMNS = 88
QUOTES = "'\"‘’“”"
QUOTED = re.compile(rf"^\s*[{QUOTES}].*[{QUOTES}]\s*$", re.S)
QUOTED_NUMBER = re.compile(r"[‘'][-+]?[\d,.]*\d[\d,.%]*[’']")  # ‘60,000’ in prose
PIPE_ROW = re.compile(r"^\s*\|.*\|.*\|\s*$")  # | a | b |
PIPE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*\|")  # |---|---|
NUMPY_REPR = re.compile(
    r"\bnp\.(?:float|int|uint|complex|bool)\w*\(|\bnp\.(?:True|False)_\b|"
    r"\bnumpy\.(?:float|int)\d+\b|\barray\(\["
)
TRACEBACK = re.compile(
    r"Traceback \(most recent call last\)|^-{20,}\s*\n\w+(Error|Exception)", re.M
)
WARNING = re.compile(r"\b\w*Warning\b:|^\s*warnings\.warn\(|^WARNING:", re.M)
PLACEHOLDER = re.compile(
    r"YOUR[-_]|\bexample\.(com|org|edu)\b|\bCHANGEME\b|\bTODO\b|\bXXX\b", re.I
)


def _excerpt(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _main(soup):
    return soup.find("main") or soup.find("article") or soup.body or soup


def _code_blocks(main, where: str):
    """``pre`` elements of cell sources (``where="input"``) or outputs (``"output"``)."""
    for cell in main.select(f"div.cell_{where}"):
        yield from cell.find_all("pre")


def _prose_text(main) -> str:
    """The page's text outside code blocks, scripts and cell sources."""
    parts = []
    for node in main.find_all(string=True):
        if node.find_parent(["pre", "script", "style", "code"]) or node.find_parent(
            class_="cell_input"
        ):
            continue
        parts.append(str(node))
    return "".join(parts)


def quoted_glue(main) -> list[str]:
    found = [
        f"quoted glue: {_excerpt(el.get_text())}"
        for el in main.select('[class*="pasted"]')
        if el.name in ("span", "code") and QUOTED.match(el.get_text() or "")
    ]
    for m in QUOTED_NUMBER.finditer(_prose_text(main)):
        found.append(f"quoted glue: {m.group(0)}")
    return list(dict.fromkeys(found))


def pipe_tables(main) -> list[str]:
    found = []
    for pre in _code_blocks(main, "output"):
        for line in pre.get_text().splitlines():
            if PIPE_ROW.match(line) or PIPE_RULE.match(line):
                found.append(f"pipe table: {_excerpt(line)}")
    return found


def numpy_reprs(main) -> list[str]:
    texts = [_prose_text(main)] + [
        pre.get_text() for pre in _code_blocks(main, "output")
    ]
    return [
        f"numpy repr: {_excerpt(t[max(0, m.start() - 20) : m.end() + 20])}"
        for t in texts
        for m in NUMPY_REPR.finditer(t)
    ]


def errors_in_outputs(main) -> list[str]:
    found = []
    for out in main.select("div.cell_output"):
        text = out.get_text("\n")
        if out.select(".stderr, .traceback") or TRACEBACK.search(text):
            found.append(f"traceback: {_excerpt(text)}")
        for m in WARNING.finditer(text):
            line = text[
                text.rfind("\n", 0, m.start()) + 1 : text.find("\n", m.end())
                % (len(text) + 1)
            ]
            found.append(f"warning: {_excerpt(line)}")
    return found


def wide_code(main, columns: int = COLUMNS) -> list[str]:
    """Source lines over ``columns`` (outputs wrap: ``_static/code.css``)."""
    found = []
    for pre in _code_blocks(main, "input"):
        for line in pre.get_text().splitlines():
            if len(line.rstrip()) > columns:
                found.append(
                    f"wide code ({len(line.rstrip())} > {columns}): {_excerpt(line)}"
                )
    return found


def placeholder_links(soup, page: Path | None = None) -> list[str]:
    found = []
    for a in soup.find_all("a"):
        href = a.get("href")
        label = _excerpt(
            a.get_text() or a.get("title") or a.get("aria-label") or "", 30
        )
        if href is None:
            continue
        if href.strip() in ("", "#") and a.find_parent(
            class_=re.compile("dropdown|header|launch|download")
        ):
            found.append(f"placeholder link: {label!r} -> {href!r}")
        elif PLACEHOLDER.search(unquote(href)):
            found.append(f"placeholder link: {label!r} -> {href}")
        elif page is not None and a.get("download") is not None:
            url = urlparse(href)
            if (
                not url.scheme
                and url.path
                and not (page.parent / unquote(url.path)).exists()
            ):
                found.append(
                    f"placeholder link: {label!r} -> {href} (no such file in the build)"
                )
    return found


def check_html(
    html: str, page: Path | None = None, columns: int = COLUMNS
) -> list[str]:
    """Every finding on one page's HTML (``page``, its path, resolves download links)."""
    soup = BeautifulSoup(html, "html.parser")
    main = _main(soup)
    return (
        quoted_glue(main)
        + pipe_tables(main)
        + numpy_reprs(main)
        + errors_in_outputs(main)
        + wide_code(main, columns)
        + placeholder_links(soup, page)
    )


def check_page(path: Path, columns: int = COLUMNS) -> list[str]:
    return check_html(Path(path).read_text(encoding="utf-8"), Path(path), columns)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = (
        Path(argv[0])
        if argv
        else Path(__file__).resolve().parent.parent / "_build" / "html"
    )
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from nbval_chapters import toc_files

    total = 0
    for name in toc_files():
        findings = check_page(root / f"{name}.html")
        total += len(findings)
        for f in findings:
            print(f"{name}: {f}")
    print(f"{total} findings")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
