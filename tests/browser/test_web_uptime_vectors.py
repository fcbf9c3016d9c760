"""tests/vectors/uptime-v1.json in Chromium: the TypeScript twin (web/src/crypto/
linkreport.ts, uptimelog.ts, chainwatch.ts) makes the same signed link-test reports byte
for byte as Python, refuses the same malformed ones, hashes record entries alike, and
follows (or refuses) the same record histories as a Python standby."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from .support import ROOT, WEB, check_built, run_page, serve_static

BUNDLE = WEB / "dist" / "test" / "uptime.js"
VECTORS = ROOT / "tests" / "vectors" / "uptime-v1.json"
SERVED = ("/web/test/", "/web/dist/test/", "/tests/vectors/")


@pytest.fixture
def served_repo() -> Iterator[str]:
    with serve_static(ROOT, SERVED) as url:
        yield url


def test_uptime_vectors_in_chromium(loopback_netns: None, served_repo: str) -> None:
    check_built([BUNDLE], ())
    summary, problems = run_page(served_repo + "/web/test/uptime.html", "hotlineUptimeVectors",
                                 60_000)
    assert summary["failed"] == 0, "\n".join(summary["failures"][:50])
    assert not problems, "\n".join(problems)
    doc: dict[str, Any] = json.loads(VECTORS.read_text())
    expected = {group: len(doc[group]) for group in ("reports", "invalid_reports", "entries",
                                                     "follow")}
    assert summary["counts"] == expected, "the page did not run every case"
    assert summary["passed"] == sum(expected.values()) >= 25
