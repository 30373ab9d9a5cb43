"""The built HTML book in headless Chromium with the network blocked (`make test` runs this
after the book build; `make browser` alone).

Driven by Playwright for Python (tools/chromium.py) against the distribution's Chromium.
Every page: nothing is requested from outside the book's folder, math is typeset, no glued
table is left as a paragraph of pipes, no code block scrolls sideways at the default width
(1280 px), no JavaScript error. Chapters 8 and 9: the live
latent explorer and token editor decode what the Python decoders decode (within 1e-4), an
update takes one frame (<= 16 ms, median), and their files add under 5 MB to the page.

The book is read from ``_build/html`` (or ``$VQLAB_BOOK_HTML``); skipped, with the reason,
where it is not built or where Chromium (Debian: chromium, chromium-driver) is missing.
"""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import chromium  # noqa: E402
from nbval_chapters import toc_files  # noqa: E402

HTML = Path(os.environ.get("VQLAB_BOOK_HTML", ROOT / "_build" / "html"))
PAGES = toc_files()
TOLERANCE = 1e-4
FRAME_MS = 16.0
PAGE_BUDGET = 5 * 2**20  # bytes the live widgets may add to a chapter page

if chromium.find_chromium() is None:
    pytest.skip(chromium.MISSING, allow_module_level=True)
if not all((HTML / f"{p}.html").exists() for p in PAGES):
    pytest.skip(
        f"the HTML book is not built in {HTML}: run `make book` first",
        allow_module_level=True,
    )
pytest.importorskip(
    "playwright",
    reason="needs playwright (requirements.txt): Playwright for Python drives Chromium",
)

# Text nodes outside code that still hold TeX delimiters, and paragraphs that are a table's
# Markdown source (a header row of pipes, then |---|).
PAGE_CHECKS = r"""(() => {
  const math = [...document.querySelectorAll(".math")];
  const untypeset = math.filter(m => !m.querySelector("mjx-container")).map(m => m.textContent.slice(0, 60));
  const walker = document.createTreeWalker(document.querySelector("main") || document.body, NodeFilter.SHOW_TEXT);
  const rawTex = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (n.parentElement.closest("pre, code, script, style, .highlight, mjx-assistive-mml")) continue;
    if (/\\\(|\\\[|\$\$/.test(n.textContent)) rawTex.push(n.textContent.trim().slice(0, 60));
  }
  const flat = [...document.querySelectorAll("main p")].map(p => p.textContent)
    .filter(t => /\|\s*:?-{3,}/.test(t)).map(t => t.slice(0, 60));
  const scrolling = [...document.querySelectorAll("div.cell pre")]
    .filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.textContent.slice(0, 60));
  return {math: math.length, untypeset, rawTex, flat, scrolling,
          tables: document.querySelectorAll("main table").length};
})()"""


@pytest.fixture(scope="module")
def browser():
    with chromium.Browser() as b:
        yield b


def open_page(browser, name):
    page = browser.page()
    page.goto((HTML / f"{name}.html").as_uri())
    page.eval(
        "window.MathJax && MathJax.startup && MathJax.startup.promise ? MathJax.startup.promise.then(() => 1) : 0"
    )
    return page


@pytest.mark.parametrize("name", PAGES)
def test_page_offline_typeset_no_errors(browser, name):
    page = open_page(browser, name)
    try:
        checks = page.eval(PAGE_CHECKS)
        outside = [
            u
            for u in page.requests
            if not (
                u.startswith(HTML.resolve().as_uri() + "/")
                or u.startswith("data:")
                or u == "about:blank"
            )
        ]
        assert outside == [], f"{name}: requests leave the book's folder: {outside}"
        assert page.blocked == [], f"{name}: network requests (blocked): {page.blocked}"
        assert page.errors == [], f"{name}: JavaScript errors: {page.errors}"
        assert checks["untypeset"] == [], (
            f"{name}: math not typeset: {checks['untypeset'][:5]}"
        )
        assert checks["rawTex"] == [], (
            f"{name}: raw TeX in the text: {checks['rawTex'][:5]}"
        )
        assert checks["flat"] == [], (
            f"{name}: tables flattened into paragraphs: {checks['flat'][:3]}"
        )
        assert checks["scrolling"] == [], (
            f"{name}: code blocks that scroll sideways at 1280 px: "
            f"{checks['scrolling'][:3]}"
        )
    finally:
        page.close()


def test_scroll_check_finds_a_block_wider_than_its_column(browser, tmp_path):
    """The scroll check of PAGE_CHECKS on a seeded page: one code block too wide, one not."""
    seeded = tmp_path / "seeded.html"
    seeded.write_text(
        "<main style='width: 600px'><div class='cell'><pre>"
        + "x" * 200
        + "</pre></div><div class='cell'><pre>short</pre></div></main>"
    )
    page = browser.page()
    try:
        page.goto(seeded.as_uri())
        assert page.eval(PAGE_CHECKS)["scrolling"] == ["x" * 60]
    finally:
        page.close()


def live_page(browser, name, widget):
    page = open_page(browser, name)
    mounted = page.eval(
        f"document.querySelectorAll('.vqlab-live[data-widget={widget}][data-mounted]:not([hidden])').length"
    )
    assert mounted == 1, f"{name}: the live {widget} is not shown ({page.errors})"
    assert page.errors == [] and page.blocked == [], (page.errors, page.blocked)
    return page


def added_weight(page) -> int:
    live = (HTML / "_static" / "live").resolve().as_uri()
    return sum(
        Path(u.split("?")[0][len("file://") :]).stat().st_size
        for u in set(page.requests)
        if u.startswith(live)
    )


def frame_times(page, expression: str, n: int = 40) -> np.ndarray:
    """Move a control n times (``expression`` uses i) and return the page's update times."""
    return np.array(
        page.eval(f"""(() => {{
        const start = vqlabLive.timings.length;
        for (let i = 0; i < {n}; i++) {{ {expression} }}
        return vqlabLive.timings.slice(start);
    }})()""")
    )


def report(what, ms, weight):
    print(
        f"\n{what}: update median {np.median(ms):.1f} ms, 90th percentile {np.percentile(ms, 90):.1f} ms, "
        f"max {ms.max():.1f} ms over {len(ms)} updates; live files {weight / 2**20:.2f} MB"
    )


def test_latent_explorer_live(browser):
    from vqlab import pretrained, web

    page = live_page(browser, "book/experiments_vae", "latent-explorer")
    try:
        z = np.array(
            [[0, 0], [1.5, -2.2], [-3, 3], [2.9, 0.1], [-0.7, -1.3]], np.float32
        )
        got = np.array(
            page.eval(
                f"{z.tolist()}.map(z => Array.from(vqlabLive.decodeLatent('{web.LATENT_MODEL}', z)))"
            )
        )
        want = np.asarray(pretrained.load(web.LATENT_MODEL).decode(z)).reshape(
            len(z), -1
        )
        diff = float(np.abs(got - want).max())
        print(
            f"\nlatent explorer: max |page - Python| = {diff:.2e} over {len(z)} latent points"
        )
        assert diff <= TOLERANCE
        ms = frame_times(
            page,
            "const s = document.querySelector('.vqlab-live input[aria-label=z1]');"
            "s.value = (i % 60) / 10 - 3; s.dispatchEvent(new Event('input'));",
        )
        weight = added_weight(page)
        report("latent explorer", ms, weight)
        assert np.median(ms) <= FRAME_MS
        assert 0 < weight < PAGE_BUDGET
    finally:
        page.close()


def test_token_editor_live(browser):
    from vqlab import pretrained, tokens, web

    page = live_page(browser, "book/experiments_vqvae", "token-editor")
    try:
        m = page.eval(
            f"(({{original, second, background, grid_shape}}) => ({{original, second, background, grid_shape}}))"
            f"(VQLAB_LIVE_MODELS['{web.TOKEN_MODEL}'])"
        )
        a, b, bg = np.array(m["original"]), np.array(m["second"]), m["background"]
        h, w = m["grid_shape"]

        def js(expr):
            return np.array(
                page.eval(
                    f"(() => {{ const t = vqlabLive.tokens, a = {a.ravel().tolist()}, "
                    f"b = {b.ravel().tolist()}; return {expr}; }})()"
                )
            ).reshape(h, w)

        for fill in (bg, "wrap", "edge"):
            f = fill if isinstance(fill, int) else repr(fill)
            assert (
                js(f"t.shift(a, {h}, {w}, 2, -3, {f})")
                == tokens.shift(a, 2, -3, fill=fill)
            ).all(), fill
        assert (js(f"t.rotate90(a, {h}, {w}, 1)") == tokens.rotate90(a, 1)).all()
        assert (js(f"t.flip(a, {h}, {w}, 'y')") == tokens.flip(a, "y")).all()
        assert (
            js(f"t.combine(a, b, {h}, {w}, 'x', 3)") == tokens.combine(a, b, "x", 3)
        ).all()

        edited = tokens.flip(
            tokens.rotate90(
                tokens.shift(tokens.combine(a, b, "y", 4), 1, 2, fill=bg), 1
            ),
            "x",
        )
        grids = np.stack([a, np.random.default_rng(0).integers(0, 64, a.shape), edited])
        got = np.array(
            page.eval(
                f"{grids.reshape(len(grids), -1).tolist()}"
                f".map(g => Array.from(vqlabLive.decodeTokens('{web.TOKEN_MODEL}', g)))"
            )
        )
        want = np.asarray(pretrained.load(web.TOKEN_MODEL).decode(grids)).reshape(
            len(grids), -1
        )
        diff = float(np.abs(got - want).max())
        print(
            f"\ntoken editor: max |page - Python| = {diff:.2e} over {len(grids)} token grids"
        )
        assert diff <= TOLERANCE
        ms = frame_times(
            page,
            "document.querySelector('.vqlab-live button[data-action=shift]').click();",
        )
        weight = added_weight(page)
        report("token editor", ms, weight)
        assert np.median(ms) <= FRAME_MS
        assert 0 < weight < PAGE_BUDGET
    finally:
        page.close()
