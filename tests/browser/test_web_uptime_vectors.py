"""tests/vectors/uptime-v1.json in Chromium: the TypeScript twin (web/src/crypto/
linkreport.ts, uptimelog.ts, chainwatch.ts) makes the same signed link-test reports byte
for byte as Python, refuses the same malformed ones, hashes record entries alike, and
follows (or refuses) the same record histories as a Python standby."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from .support import CHROMIUM, CHROMIUM_ARGS, ROOT, WEB, serve_static

BUNDLE = WEB / "dist" / "test" / "uptime.js"
VECTORS = ROOT / "tests" / "vectors" / "uptime-v1.json"
SERVED = ("/web/test/", "/web/dist/test/", "/tests/vectors/")


def _run_page(url: str) -> tuple[dict[str, Any], list[str]]:
    from playwright.sync_api import sync_playwright
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.goto(url + "/web/test/uptime.html")
            page.wait_for_function("() => window.hotlineUptimeVectors?.done === true",
                                   timeout=60_000)
            summary: dict[str, Any] = page.evaluate("() => window.hotlineUptimeVectors")
        finally:
            browser.close()
    return summary, problems


@pytest.fixture
def served_repo() -> Iterator[str]:
    with serve_static(ROOT, SERVED) as url:
        yield url


def test_uptime_vectors_in_chromium(loopback_netns: None, served_repo: str) -> None:
    if not BUNDLE.exists():
        pytest.fail(f"{BUNDLE.relative_to(ROOT)} is missing: run `make web`")
    summary, problems = _run_page(served_repo)
    assert summary["failed"] == 0, "\n".join(summary["failures"][:50])
    assert not problems, "\n".join(problems)
    doc: dict[str, Any] = json.loads(VECTORS.read_text())
    expected = {group: len(doc[group]) for group in ("reports", "invalid_reports", "entries",
                                                     "follow")}
    assert summary["counts"] == expected, "the page did not run every case"
    assert summary["passed"] == sum(expected.values()) >= 25
