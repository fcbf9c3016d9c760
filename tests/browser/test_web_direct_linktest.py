"""The page's link test of the direct path (web/src/app/linktest.ts, ``linktest_start``
with ``path: "direct"``): two Chromium standbys of one hotline whose server tests the
direct path only (``--linktest-path direct``; by default it tests it after the SFU path,
tests/browser/test_web_hotline.py). Both pages join the test's room as for any link test (keys,
group code) but send and receive only on a direct connection: the test comes out ok with
both directions decrypted, the figures are the direct connection's, and the SFU forwards
nothing (its tap).

Needs ``make web`` and the loopback-only namespace.
"""

from __future__ import annotations

from typing import Any

import pytest

from hotline.server.hotline.uptime import UptimeRecord, node_identity

from ..support.server import Server, server_fixture
from ..support.sfu_tap import Tap
from .support import MEDIA_ARGS, check_app_bundle, chromium
from .test_web_hotline import HOTLINE, LINKTESTS, pin_in_page

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

server = server_fixture(**LINKTESTS, linktest_paths=("direct",))


async def standing_by(browser: Any, srv: Server, party: str, code: str) -> Any:
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    page = await context.new_page()
    await page.goto(f"{srv.url}/?video=320x240#code={code}")
    await page.wait_for_function("() => document.getElementById('code').value !== ''")
    await page.get_by_role("button", name="Enroll").click()
    await page.wait_for_function("() => window.hotlineApp.phase === 'rooms'")
    return page


async def test_a_link_test_of_the_direct_path_between_two_pages(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    srv = server
    tap = Tap(monkeypatch)
    parties = ("washington", "moscow")
    for p in parties:
        srv.store.add_party(p)
    async with chromium(MEDIA_ARGS, check_app_bundle) as browser:
        pages = {p: await standing_by(browser, srv, p, srv.store.new_enrollment_code(p))
                 for p in parties}
        prints = {p: await pages[p].evaluate("() => window.hotlineApp.fingerprint")
                  for p in parties}
        srv.store.add_hotline(HOTLINE, *parties)  # pins both enrolled keys
        problems: list[str] = []
        for p, far in zip(parties, reversed(parties), strict=True):
            page = pages[p]
            page.on("pageerror", lambda e: problems.append(str(e)))
            await page.reload()
            card = page.locator(f'article.hotline[data-hotline="{HOTLINE}"]')
            await card.wait_for(timeout=15_000)
            await pin_in_page(page, card, [prints[far]])
            await card.get_by_role("button", name="Stand by here").click()
            await page.wait_for_function(
                "() => window.hotlineApp.hotlines.standby.red === true")
        page = pages["washington"]
        card = page.locator(f'article.hotline[data-hotline="{HOTLINE}"]')
        await card.get_by_role("button", name="Run a link test now").click()
        await page.wait_for_function(
            "() => /Link test of red: (?!running)/.test("
            "document.getElementById('hotline-notice').textContent)", timeout=40_000)
        notice = await page.locator("#hotline-notice").inner_text()
        entries = UptimeRecord(srv.store, node_identity(srv.store.data_dir)).entries(HOTLINE)
        test = next(e for e in entries if e.kind == "linktest").fields
        assert notice == "Link test of red: ok", (notice, test)
        assert test["path"] == "direct", test
        assert test["both_directions_decrypted"], test
        for p in parties:
            figures = test["ends"][p]
            assert figures["video_frames"] > 10 and figures["audio_frames"] > 10, figures
            assert figures["setup_ms"] is not None and figures["rtt_ms"] is not None, figures
            assert figures["decrypt_failures"] == 0, figures
        assert not tap.packets, f"the SFU forwarded {len(tap.packets)} packets in a direct test"
        assert not problems, problems
        print(f"direct link test: {test['ends']}")
