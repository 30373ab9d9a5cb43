"""Every built page is free of the flaws a reader sees (``tools/check_pages.py``), and the
checker finds each kind of flaw on a small seeded page that has it.

The whole-book test reads ``_build/html`` (or ``$VQLAB_BOOK_HTML``) and is skipped, with the
reason, where the book is not built or a page is older than its source; `make test` runs it
after the book build (the ``browser`` step).
"""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import check_pages  # noqa: E402
from nbval_chapters import toc_files  # noqa: E402

HTML = Path(os.environ.get("VQLAB_BOOK_HTML", ROOT / "_build" / "html"))
PAGES = toc_files()


def page(body: str, header: str = "") -> str:
    """A page shaped like the built book's: header buttons, then a main with cells."""
    return (
        f"<html><body><div class='header-article'>{header}</div>"
        f"<main><article>{body}</article></main></body></html>"
    )


def cell(source: str, output: str = "", output_class: str = "output stream") -> str:
    out = (
        (
            f"<div class='cell_output docutils container'><div class='{output_class}'>"
            f"<div class='highlight'><pre>{output}</pre></div></div></div>"
        )
        if output
        else ""
    )
    return (
        f"<div class='cell docutils container'><div class='cell_input docutils container'>"
        f"<div class='highlight-ipython3'><div class='highlight'><pre>{source}</pre></div></div></div>"
        f"{out}</div>"
    )


CLEAN = page(
    "<p>MNIST has <span class='pasted-text'>60,000</span> training images, "
    "a cost of <span class='pasted-inline'><span>68.8</span></span> bits.</p>"
    "<table><tr><td>a</td></tr></table>"
    + cell("x = 1\nprint(x)", "1\nloss 0.25 | kl 3.0")
    + "<pre>a prose code block may mention np.float64(1.0)</pre>",
    "<a class='btn' href='../_sources/book/x.md' download>.md</a>",
)

# One seeded page per kind of flaw: (kind, page). Each must be found, and only its kind.
SEEDED = {
    "quoted glue": page(
        "<p>Keras <span class='pasted-text'>‘3.15.1’</span> on "
        "<span class='pasted-inline'><span class='pre'>'60,000'</span></span></p>"
    ),
    "quoted glue in prose": page("<p>the photos hold ‘384,899’ pixels</p>"),
    "pipe table": page(
        cell(
            "print(markdown_table(rows))",
            "| model | bits |\n| --- | --- |\n| PixelCNN | 68.8 |",
        )
    ),
    "numpy repr": page("<p>the top border costs np.float64(68.8) bits</p>"),
    "numpy repr in an output": page(
        cell("cost", "[np.float64(203.8), np.float64(232.1)]")
    ),
    "traceback": page(
        cell(
            "1 / 0", "Traceback (most recent call last):\n  File ...\nZeroDivisionError"
        )
    ),
    "traceback (stderr output)": page(cell("x", "oops", "output stderr")),
    "warning": page(
        cell("fit()", "/lib/x.py:3: UserWarning: the input is empty\n  warnings.warn(")
    ),
    "wide code": page(
        cell(
            "rows.append({'a': 1, 'b': 2, 'c': 3, 'd': 4, 'e': 5, 'f': 6, 'g': 7, "
            "'h': 8, 'i': 9, 'j': 10, 'k': 11})"
        )
    ),
    "placeholder link": page(
        "", "<a href='https://mybinder.org/v2/gh/YOUR-ORG/vqlab/main'>Binder</a>"
    ),
    "placeholder link (empty)": page(
        "", "<div class='dropdown-launch-buttons'><a href=''>Colab</a></div>"
    ),
    "placeholder link (missing download)": page(
        "", "<a href='../_sources/book/missing.ipynb' download>.ipynb</a>"
    ),
}


def test_clean_page_has_no_findings(tmp_path):
    (tmp_path / "_sources" / "book").mkdir(parents=True)
    (tmp_path / "_sources" / "book" / "x.md").write_text("x")
    (tmp_path / "book").mkdir()
    path = tmp_path / "book" / "clean.html"
    path.write_text(CLEAN)
    assert check_pages.check_page(path) == []


@pytest.mark.parametrize("name", SEEDED)
def test_checker_finds_the_seeded_flaw(tmp_path, name):
    (tmp_path / "book").mkdir()
    path = tmp_path / "book" / "seeded.html"
    path.write_text(SEEDED[name])
    findings = check_pages.check_page(path)
    kind = name.split(" (")[0].split(" in ")[0]
    assert findings, f"the checker missed a seeded {name}"
    assert all(f.startswith(kind) for f in findings), findings


def test_wide_code_is_measured_at_88_columns():
    assert check_pages.COLUMNS == 88
    assert check_pages.check_html(page(cell("x" * 88))) == []
    assert check_pages.check_html(page(cell("x" * 89)))
    # outputs wrap (_static/code.css): a long printed line is no flaw here
    assert check_pages.check_html(page(cell("print(s)", "x" * 200))) == []
    assert "white-space: pre-wrap" in (ROOT / "_static" / "code.css").read_text()


@pytest.mark.skipif(
    not all((HTML / f"{p}.html").exists() for p in PAGES),
    reason=f"the HTML book is not built in {HTML}: run `make book` first",
)
@pytest.mark.parametrize("name", PAGES)
def test_built_page_has_no_flaws(name):
    page, source = HTML / f"{name}.html", ROOT / f"{name}.md"
    if source.exists() and page.stat().st_mtime < source.stat().st_mtime:
        pytest.skip(
            f"{page} is older than {source.name}: run `make book` (make test runs "
            "this after the build)"
        )
    findings = check_pages.check_page(page)
    assert findings == [], f"{name}: {len(findings)} findings:\n" + "\n".join(
        findings[:20]
    )
