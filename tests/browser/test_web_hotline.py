"""A hotline with a browser at one end (Chromium) and a Python standby at the other:

- the page lists the hotline with its state; "Stand by here" registers this browser;
- a link test requested from the page runs between the browser's standby (synthetic
  pattern, never the camera: the page's getUserMedia is never called) and the Python one,
  comes out `ok` with both directions decrypted, and shows on the dashboard with its
  figures and a dot on the chart; its record entry holds both ends' signed reports (the
  browser's made with its non-extractable WebCrypto key), which verify against the pins,
  and the page keeps the record head it saw (IndexedDB);
- the Python end calls: the page rings, acknowledges with an ETA that the caller
  receives, answers, and the call carries media both ways (the browser decodes the
  caller's video; the caller decrypts the browser's);
- the browser calls the Python standby: the page shows the ringing and the ETA the
  standby acknowledged with, and the call starts once the standby answered.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hotline.client.hotline.caller import HotlineCaller
from hotline.crypto.identity import Identity, fingerprint
from hotline.crypto.recordaudit import ENDPOINT_SIGNED, audit
from hotline.server.hotline.uptime import UptimeRecord, node_identity

from ..integration.hotline_support import enroll, standby
from ..support.server import Server, server_fixture
from ..support.trust import hotline_pins
from .support import MEDIA_ARGS, check_app_bundle, chromium

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

HOTLINE = "red"
#: Counts calls of getUserMedia: a link test must never open the camera or microphone.
COUNT_GUM = """
window.__gum = 0;
const gum = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
navigator.mediaDevices.getUserMedia = (c) => { window.__gum += 1; return gum(c); };
"""


#: Link tests only when asked for (never scheduled), short ones.
LINKTESTS = {"linktest_min_interval": 1.0, "linktest_duration": 3.0,
             "linktest_first_delay": 3600.0, "join_timeout": 5.0}
server = server_fixture(**LINKTESTS)


async def pin_in_page(page: Any, card: Any, fingerprints: list[str]) -> None:
    """Import the far party's pin in the hotline's card (the page's pin form)."""
    await card.locator("form.pin-form").wait_for()
    # one task: a re-render of the dashboard between typing and submitting cannot lose it
    await page.evaluate("""([name, text]) => {
      const form = document.querySelector(`article.hotline[data-hotline="${name}"] form.pin-form`);
      form.querySelector("input[name=fingerprints]").value = text;
      form.requestSubmit();
    }""", [HOTLINE, ", ".join(fingerprints)])
    await page.wait_for_function(
        f"() => (window.hotlineTrust.pins.{HOTLINE} || {{fingerprints: []}}).fingerprints"
        f".includes({fingerprints[0]!r})")


async def hotline_dashboard(srv: Server, page: Any, code: str) -> tuple[Any, Identity]:
    """Enroll washington's page with ``code``, enroll moscow (Python), make the hotline,
    and pin moscow's key in the page; returns the hotline's card and moscow's identity
    (test_web_firefox does the same in Firefox)."""
    await page.goto(f"{srv.url}/?video=320x240#code={code}")
    await page.wait_for_function("() => document.getElementById('code').value !== ''")
    await page.get_by_role("button", name="Enroll").click()
    await page.wait_for_function("() => window.hotlineApp.phase === 'rooms'")
    moscow = await enroll(srv, "moscow")
    srv.store.add_hotline(HOTLINE, "washington", "moscow")  # pins both enrolled keys
    await page.reload()
    card = page.locator(f'article.hotline[data-hotline="{HOTLINE}"]')
    await card.wait_for(timeout=15_000)
    assert "with moscow" in await card.locator("h3").inner_text()
    await pin_in_page(page, card, [moscow.fingerprint])  # as the operator printed it
    return card, moscow


async def linktest_ok(page: Any, card: Any) -> str:
    """Run a link test from the page (standing by, the far end too): it must come out
    `ok` without the camera, be shown on the card with its figures and a dot on the
    chart; returns the card's "last test" line."""
    await card.get_by_role("button", name="Run a link test now").click()
    notice = page.locator("#hotline-notice")
    await page.wait_for_function(
        "() => /Link test of red: (?!running)/.test("
        "document.getElementById('hotline-notice').textContent)", timeout=40_000)
    assert await notice.inner_text() == "Link test of red: ok", await notice.inner_text()
    # the page took part in one test per path of the round (sfu, direct)
    assert (await page.evaluate("() => window.hotlineApp.hotlines.linktests")) == 2
    assert await page.evaluate("() => window.__gum") == 0  # no camera for a test
    await page.wait_for_function(
        "() => window.hotlineApp.hotlines.list"
        ".some(h => h.name === 'red' && h.state === 'ok')")
    last: str = await card.locator(".last-test").inner_text()
    assert last.endswith(": ok"), last
    sfu = await card.locator(".paths li[data-path=sfu]").inner_text()
    assert sfu.startswith("via SFU: ok · set-up ") and "round trip" in sfu, sfu
    direct = await card.locator(".paths li[data-path=direct]").inner_text()
    assert direct.startswith("direct: ok · set-up "), direct  # the default's second path
    assert await card.locator("svg.chart circle.dot.ok").count() == 1
    return last


async def page_standing_by(srv: Server, page: Any) -> tuple[Any, Identity]:
    """Washington enrolled in ``page`` and standing by there for hotline red with moscow
    (enrolled here; its pin imported in the page); returns the hotline's card and moscow's
    identity."""
    srv.store.add_party("washington")
    srv.store.add_party("moscow")
    card, moscow = await hotline_dashboard(srv, page, srv.store.new_enrollment_code("washington"))
    await card.get_by_role("button", name="Stand by here").click()
    await page.wait_for_function("() => window.hotlineApp.hotlines.standby.red === true")
    return card, moscow


async def test_browser_standby_linktest_and_calls_both_ways(server: Server) -> None:
    srv = server
    srv.store.add_party("washington")
    srv.store.add_party("moscow")
    code = srv.store.new_enrollment_code("washington")
    async with chromium(MEDIA_ARGS, check_app_bundle) as browser:
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        await context.add_init_script(COUNT_GUM)
        page = await context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        card, moscow = await hotline_dashboard(srv, page, code)

        # -- stand by here, and a Python standby at the far end ------------------------------
        await card.get_by_role("button", name="Stand by here").click()
        await page.wait_for_function("() => window.hotlineApp.hotlines.standby.red === true")
        far = await standby(srv, moscow)
        try:
            # -- a link test from the page -------------------------------------------------
            await linktest_ok(page, card)
            data_dir = Path(srv.store.data_dir)
            entries = UptimeRecord(srv.store, node_identity(data_dir)).entries(HOTLINE)
            hotline = srv.store.get_hotline(HOTLINE)
            assert hotline is not None
            pins = {p: {fingerprint(k) for k in ks} for p, ks in hotline.pins.items()}
            found = audit(entries, [node_identity(data_dir).public_key], pins)
            # one entry per path of the round (sfu, direct), each signed by both ends
            assert found.ok and found.count(ENDPOINT_SIGNED) == 2, found.findings
            ends = next(e for e in entries if e.kind == "linktest").fields["ends"]
            assert {p: bool(ends[p].get("report")) for p in ends} == \
                {"washington": True, "moscow": True}
            await page.wait_for_function(
                f"() => window.hotlineApp.hotlines.record.red?.length === {len(entries)}")
            assert await page.evaluate("() => window.hotlineApp.hotlines.record.red.alarm") == ""
            # this browser's end shows the link test's group code (issue #12)
            assert "group code" in await card.locator(".linktest-code").inner_text()
            await page.screenshot(path=str(Path(srv.store.data_dir) / "dashboard.png"),
                                  full_page=True)

            # -- moscow calls: the page rings, acknowledges with an ETA, answers -----------
            caller = HotlineCaller(srv.url, moscow, HOTLINE,
                                   trust_policy=hotline_pins(srv.store, HOTLINE, moscow))
            await caller.connect()
            acks: list[str] = []
            await caller.ring()
            await page.locator("#ring-panel").wait_for(timeout=10_000)
            assert "moscow is calling" in await page.locator("#ring-title").inner_text()
            eta = page.get_by_label("Message to the caller (optional)")
            await eta.fill("principal in 10 minutes")
            await page.get_by_role("button", name="Acknowledge").click()
            answer = asyncio.ensure_future(caller.wait_answer(lambda a: acks.append(a.message),
                                                              timeout=60))
            await asyncio.sleep(0.5)
            assert acks == ["principal in 10 minutes"]
            assert not answer.done()  # no media before the answer
            await page.get_by_role("button", name="Answer").click()
            await page.get_by_role("button", name="Join now").click(timeout=15_000)
            await asyncio.wait_for(answer, 30)
            await page.wait_for_function(
                "() => (window.hotlineApp.remotes.moscow || {}).framesDecoded > 30", timeout=30_000)

            async def caller_decrypts() -> bool:
                remote = caller.call.stats().remote.get("washington", {})
                return remote.get("video_frames_decrypted", 0) > 30
            for _ in range(200):
                if await caller_decrypts():
                    break
                await asyncio.sleep(0.1)
            assert await caller_decrypts(), caller.call.stats().as_json()
            await caller.close()  # moscow hangs up: the page's call ends by itself
            await page.wait_for_function("() => window.hotlineApp.phase === 'rooms'",
                                         timeout=15_000)
            assert "The call ended" in await page.locator("#status").inner_text()

            # -- washington calls moscow's standby ----------------------------------------
            await card.get_by_role("button", name="Call moscow").click()
            ring = await far.next("ring", timeout=10)
            call_id = str(ring.data["call_id"])
            assert "Ringing moscow: 1 standby endpoint" in await page.locator(
                "#calling-text").inner_text()
            far.standby.acknowledge(call_id, "principal in 5 minutes")
            await page.wait_for_function(
                "() => window.hotlineApp.hotlines.calling?.ack === 'principal in 5 minutes'")
            assert "principal in 5 minutes" in await page.locator("#calling-text").inner_text()
            far.standby.answer(call_id)
            await page.get_by_role("button", name="Join now").click(timeout=15_000)
            await page.wait_for_function(
                "() => (window.hotlineApp.remotes.moscow || {}).framesDecoded > 30", timeout=30_000)
            await page.get_by_role("button", name="Leave").click()
            await far.next("call_ended", timeout=10)
        finally:
            await far.stop()
        assert not problems, problems
        await context.close()
