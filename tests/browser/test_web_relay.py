"""The call page through a real coturn (tests/support/coturn.py): Chromium opened with
``?relay=only`` builds its RTCPeerConnections from the ``ice_servers`` of ``joined`` with
``iceTransportPolicy: "relay"``, so its media to and from the SFU goes through TURN only.
It shows "relay over UDP" in #media-path (from getStats: the selected pair's local
candidate is a relay one, and its relayProtocol), with a line in the path log; with UDP
to the TURN server blocked (kernel rules in the test's namespace) it shows "relay over
TCP". A Python participant (direct to the SFU: "via SFU") and the page decrypt each
other's media (E2EE on the relayed path as on any other). A change of path mid-call is
shown and logged; and a hotline link test between the page's standby and a Python one
covers the relay path.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from hotline.client.call import Call
from hotline.crypto.identity import Identity

from ..integration.hotline_support import standby
from ..support.coturn import LISTEN, Coturn, Firewall
from ..support.server import Server, running_server
from ..support.trust import accept_all
from ..support.wait import wait_until
from .callpage import ROOM, VIDEO, Page, join
from .support import ACCEPT_EVERY_DEVICE, MEDIA_ARGS, browser_fixture, check_app_bundle, enroll
from .test_web_hotline import LINKTESTS, page_standing_by

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

browser = browser_fixture(MEDIA_ARGS, check_app_bundle)


@pytest_asyncio.fixture
async def server(tmp_path: Path, coturn: Coturn) -> AsyncIterator[Server]:
    async with running_server(tmp_path / "data", join_timeout=5.0,
                              turn_urls=tuple(coturn.urls("udp", "tcp")),
                              turn_secret=coturn.secret) as srv:
        yield srv


async def alice_and_bob(browser: Any, server: Server, query: str,
                        **bob_options: Any) -> tuple[Any, Page, Call]:
    """Alice's page (``query`` added to its URL) and Bob's Python client in a call."""
    codes = server.room(ROOM, ["alice", "bob"])
    context = await browser.new_context(viewport={"width": 1100, "height": 900})
    await context.add_init_script(ACCEPT_EVERY_DEVICE)
    alice = Page("alice", await context.new_page(), console=False)
    await enroll(alice.page, server.url, codes["alice"], ROOM, f"?video={VIDEO}{query}")
    bob = Call(server.url, Identity.generate(), ROOM, video_size=(160, 120),
               trust_policy=accept_all(), **bob_options)
    try:
        await bob.start(enroll_code=codes["bob"])
        await join(alice)
    except BaseException:
        await bob.close()
        await context.close()
        raise
    return context, alice, bob


def labels(log: list[str]) -> list[str]:
    """The labels of the page's path log: "... Media path: X" first, then "... Media path
    changed: now X (why)"."""
    return [m.group(1) for line in log
            if (m := re.search(r"(?:Media path: |now )(.+?)(?: \(.*\))?$", line))]


def path_is(label: str) -> str:
    return f"() => document.querySelector('#media-path').textContent === '{label}'"


@pytest.mark.parametrize("blocked", ["nothing", "udp"])
async def test_page_in_a_call_through_turn_only(browser: Any, server: Server,
                                                firewall: Firewall, blocked: str) -> None:
    if blocked == "udp":
        firewall.block("to", LISTEN, "ipproto", "udp")  # no UDP to the TURN server
    expect = "relay over UDP" if blocked == "nothing" else "relay over TCP"
    context, alice, bob = await alice_and_bob(browser, server, "&relay=only")
    try:
        await alice.until(path_is(expect), 45)
        await alice.until("() => (window.hotlineApp.remotes.bob?.framesDecoded ?? 0) > 30 "
                          "&& !window.hotlineApp.remotes.bob.waitingForKeys", 45)

        async def bob_decrypts() -> bool:
            got = bob.stats().remote.get("alice", {})
            return (got.get("video_frames_decrypted", 0) > 30
                    and got.get("audio_frames_decrypted", 0) > 30)
        await wait_until(bob_decrypts, 45, "bob decrypting alice's media")
        st = await alice.state()
        assert st["path"]["localType"] == "relay" and st["path"]["label"] == expect, st["path"]
        log = await alice.page.locator("#media-path-log li").all_text_contents()
        assert labels(log) == [expect], log
        assert bob.path == "via SFU"
        assert bob.stats().remote["alice"]["decrypt_failures"] == 0
        assert alice.problems == [], alice.problems
    finally:
        await bob.close()
        await context.close()


SFU_MEDIA = "127.0.0.30"  # the SFU's media address, apart from the page's 127.0.0.1
BOB = "127.0.0.6"


async def test_page_shows_the_change_to_the_relay_when_udp_is_blocked(
        browser: Any, tmp_path: Path, coturn: Coturn, firewall: Firewall) -> None:
    """The page starts "via SFU" (TURN offered, not forced); then UDP between the page
    (127.0.0.1) and the SFU, and to the TURN server, is blocked: the page restarts its
    media, its new connections go through TURN over TCP, #media-path says so and the path
    log has one line per change."""
    async with running_server(tmp_path / "data", join_timeout=5.0, media_host=SFU_MEDIA,
                              turn_urls=tuple(coturn.urls("udp", "tcp")),
                              turn_secret=coturn.secret) as server:
        context, alice, bob = await alice_and_bob(browser, server, "", host_addresses=[BOB])
        try:
            await alice.until(path_is("via SFU"), 45)
            await alice.until("() => (window.hotlineApp.remotes.bob?.framesDecoded ?? 0) > 30",
                              45)
            for a, b in (("127.0.0.1", SFU_MEDIA), (SFU_MEDIA, "127.0.0.1")):
                firewall.block("from", a, "to", b, "ipproto", "udp")
            firewall.block("to", LISTEN, "ipproto", "udp")
            decoded = (await alice.remote("bob"))["framesDecoded"]
            blocked_at = time.monotonic()
            await alice.until(path_is("relay over TCP"), 60)
            shown = time.monotonic() - blocked_at
            await alice.until("() => window.hotlineApp.remotes.bob.framesDecoded > "
                              f"{decoded + 30}", 45)
            got = bob.stats().remote["alice"]["video_frames_decrypted"]

            async def bob_decrypts_again() -> bool:
                return bool(bob.stats().remote["alice"]["video_frames_decrypted"] > got + 30)
            await wait_until(bob_decrypts_again, 45, "bob decrypting alice over the relay")
            print(f"relay over TCP shown {shown:.1f} s after UDP was blocked; media both "
                  f"ways again after {time.monotonic() - blocked_at:.1f} s")
            log = await alice.page.locator("#media-path-log li").all_text_contents()
            assert labels(log) == ["via SFU", "relay over TCP"], log
            assert bob.path == "via SFU"
        finally:
            await bob.close()
            await context.close()


async def test_page_standby_link_test_covers_the_relay_path(
        browser: Any, tmp_path: Path, coturn: Coturn) -> None:
    """A hotline link test between the page's standby and a Python standby, over the path
    through the SFU and the path through the TURN relay (the page joins that one with
    ``iceTransportPolicy: "relay"``): both ok, each shown in the hotline's card."""
    async with running_server(tmp_path / "data", **LINKTESTS,
                              linktest_paths=("sfu", "relay"),
                              turn_urls=tuple(coturn.urls("udp", "tcp")),
                              turn_secret=coturn.secret) as srv:
        context = await browser.new_context(viewport={"width": 1100, "height": 900})
        page = await context.new_page()
        card, moscow = await page_standing_by(srv, page)
        far = await standby(srv, moscow)
        try:
            await card.get_by_role("button", name="Run a link test now").click()
            await page.wait_for_function(
                "() => /Link test of red: (?!running)/.test("
                "document.getElementById('hotline-notice').textContent)", timeout=60_000)
            notice = await page.locator("#hotline-notice").inner_text()
            assert notice == "Link test of red: ok", notice
            for path in ("sfu", "relay"):
                shown = await card.locator(f".paths li[data-path={path}]").inner_text()
                assert ": ok · set-up " in shown, shown
        finally:
            await far.stop()
            await context.close()
