"""A malicious server rewrites the uptime record under a browser standby (Chromium) and a
Python one: after an honest link test, the server changes that test's figures and signs
the whole record again with its own node key. At the next link test, the page (which
keeps the record head it saw in IndexedDB) and the Python standby both find that the
history was rewritten, raise an alarm, and the test fails; `hotline log verify` names
the entry whose figures are not the ones the ends signed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hotline.crypto.identity import fingerprint
from hotline.crypto.recordaudit import FAILED, audit
from hotline.server.hotline.uptime import UptimeRecord, node_identity
from tests.support.record_tamper import rewrite

from ..integration.hotline_support import standby
from ..support.server import Server, server_fixture
from .support import MEDIA_ARGS, check_app_bundle, chromium
from .test_web_hotline import LINKTESTS, page_standing_by

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]
HOTLINE = "red"
#: One path per round, so that each link test is one entry: the subject here is the
#: record's history (the rounds over several paths: test_web_hotline.py).
server = server_fixture(**LINKTESTS, linktest_paths=("sfu",))


def _better_figures(view: list[dict[str, Any]]) -> list[dict[str, Any]]:
    test = next(r for r in view if r["kind"] == "linktest")
    test["data"]["ends"]["moscow"]["rtt_ms"] = 1.0
    return view


async def test_page_and_python_standby_detect_a_rewritten_record(server: Server,
                                                                 tmp_path: Path) -> None:
    srv = server
    data = Path(srv.store.data_dir)
    async with chromium(MEDIA_ARGS, check_app_bundle) as browser:
        page = await (await browser.new_context()).new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        card, moscow = await page_standing_by(srv, page)
        far = await standby(srv, moscow, record_file=tmp_path / "moscow.key.record.json")
        notice = page.locator("#hotline-notice")
        done = ("() => /Link test of red: (?!running)/.test("
                "document.getElementById('hotline-notice').textContent)")
        try:
            await card.get_by_role("button", name="Run a link test now").click()
            await page.wait_for_function(done, timeout=40_000)
            assert await notice.inner_text() == "Link test of red: ok"
            await page.wait_for_function(
                "() => window.hotlineApp.hotlines.record.red?.length === 1")

            rewrite(srv.store, node_identity(data), HOTLINE, _better_figures)  # the attack
            await card.get_by_role("button", name="Run a link test now").click()
            await page.wait_for_function(done, timeout=40_000)
            second = await notice.inner_text()
            alarm = await page.evaluate("() => window.hotlineApp.hotlines.record.red.alarm")
            shown = await card.locator(".record-alarm").inner_text()
            python_alarm = await far.next("alarm", timeout=10)
        finally:
            await far.stop()
    entries = UptimeRecord(srv.store, node_identity(data)).entries(HOTLINE)
    hotline = srv.store.get_hotline(HOTLINE)
    assert hotline is not None
    pins = {p: {fingerprint(k) for k in ks} for p, ks in hotline.pins.items()}
    found = audit(entries, [node_identity(data).public_key], pins)
    # its one path failed: "unreachable (every path failed: path sfu: ... rewritten ...)"
    assert "unreachable" in second and "path sfu" in second and "rewritten" in second, second
    assert "changed since this endpoint saw it" in alarm, alarm
    assert shown.startswith("ALARM (this browser): uptime record of") and alarm in shown
    assert "rewritten or forked" in str(python_alarm.data["message"])
    assert any("ALARM standby hotline=red" in e for e in errors), errors
    assert found.findings[0].status == FAILED
    assert "not the ones it signed" in "; ".join(found.findings[0].reasons)
