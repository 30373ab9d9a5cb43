"""tools/chromium.py: Playwright driving the distribution's Chromium with the network blocked."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
import chromium  # noqa: E402

if chromium.find_chromium() is None:
    pytest.skip(chromium.MISSING, allow_module_level=True)
pytest.importorskip("playwright", reason="needs playwright (requirements.txt)")


def test_a_page_runs_offline_and_reports_requests_and_errors(tmp_path):
    page_file = tmp_path / "p.html"
    page_file.write_text(
        '<html><body><img src="https://example.com/x.png">'
        '<script>window.answer = 41 + 1; console.error("boom");</script></body></html>'
    )
    with chromium.Browser() as browser:
        page = browser.page()
        page.goto(page_file.as_uri())
        assert page.eval("window.answer") == 42
        assert page.eval("Promise.resolve(7)") == 7
        assert page.blocked == ["https://example.com/x.png"]
        assert page.requests[0] == page_file.as_uri()
        assert page.errors == ["console.error: boom"]
        shot = page.screenshot(tmp_path / "p.png", width=400)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        page.close()
