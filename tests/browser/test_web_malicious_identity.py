"""A malicious server against a real page (issue #12 items 7, 8): the page refuses a
small-order "member" key (0 keys sealed to it) and its login relayed by another server is
refused. The server is the real one behind the tampering proxy of
tests/support/evil_proxy.py; the page is web/test/roomtest.html (the product's
SignalingClient and KeySchedule) in Chromium, with two Python clients in the room.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio

from hotline.client.signaling import SignalingClient
from hotline.crypto.callkey import CallKeyAnnouncement, CallKeyPair
from hotline.signaling import messages as m
from hotline.signaling.origin import origin_of

from ..support.evil_proxy import EvilProxy, behind_proxy, is_sealed_key
from ..support.server import Server
from ..support.wait import wait_until
from .test_web_room import PAGE, SETTLED, _page, browser, served, state

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]
__all__ = ["browser", "served"]  # fixtures used here
IDENTITY_POINT = (1).to_bytes(32, "little")
UNIVERSAL = IDENTITY_POINT + bytes(32)  # R = identity, S = 0: OpenSSL/WebCrypto accept it


@pytest_asyncio.fixture
async def evil(tmp_path: Path) -> AsyncIterator[tuple[Server, EvilProxy]]:
    async with behind_proxy(tmp_path / "data", join_timeout=3.0) as (srv, proxy):
        yield srv, proxy


async def test_the_page_seals_nothing_to_a_small_order_member(
        evil: tuple[Server, EvilProxy], served: str, browser: Any) -> None:
    srv, proxy = evil
    clients = []
    for name in ("alice", "bob", "carol"):
        srv.store.add_party(name)
    srv.store.add_room("summit", ["alice", "bob", "carol"])
    page, problems = await _page(browser)
    try:
        for name in ("alice", "bob"):
            from hotline.crypto.identity import Identity
            c = SignalingClient(proxy.url, Identity.generate(), grace=0.3)
            await c.connect()
            await c.enroll(srv.store.new_enrollment_code(name))
            await c.join("summit")
            clients.append(c)
        query = {"mode": "room", "server": proxy.url, "room": "summit", "grace": "0.3",
                 "code": srv.store.new_enrollment_code("carol")}
        await page.goto(f"{served}{PAGE}?{urlencode(query)}")
        await page.wait_for_function(SETTLED, timeout=20_000)
        s = await state(page)
        assert s["phase"] == "joined", s["error"]

        async def two_members() -> bool:
            return len((await state(page))["members"]) == 2 and all(
                c.schedule is not None and len(c.schedule.members) == 2 for c in clients)
        await wait_until(two_members, 5.0, "everyone sees the two others")

        epoch = max([(await state(page))["epoch"]]
                    + [c.schedule.epoch for c in clients if c.schedule]) + 1
        body = CallKeyAnnouncement._body("summit", 91, epoch, CallKeyPair.generate().public,
                                         IDENTITY_POINT)
        member = {"participant_id": 91, "party": "alice",
                  "identity_key": m.b64encode(IDENTITY_POINT),
                  "announcement": m.b64encode(body + UNIVERSAL), "role": "delegate",
                  "media": {"audio": True, "video": True, "screen": False}}
        for i in range(3):  # to the two Python clients and to the page (connection 2)
            await proxy.inject(i, {"v": 1, "type": "member_joined", "epoch": epoch,
                                   "member": member})

        async def moved() -> bool:
            return (await state(page))["epoch"] == epoch
        await wait_until(moved, 5.0, "the page took the roster event")
        await asyncio.sleep(0.5)  # any key message it would send is out by now
        s = await state(page)
        assert 91 not in s["members"] and len(s["members"]) == 2
        page_conn = proxy.from_clients[2]
        assert any(d.get("type") == "enroll" for d in page_conn)  # it is the page's
        sealed = [d for d in page_conn if is_sealed_key(d, 91)]
        honest = [d for d in page_conn if is_sealed_key(d) and d.get("to") != 91]
        assert sealed == [] and honest  # 0 to the forged member; the page still rekeys
        assert not [c for c in clients if c.schedule and 91 in c.schedule.members]
        print(f"keys the page sealed to the small-order member: {len(sealed)}; "
              f"to honest members: {len(honest)}")
        assert not problems, "\n".join(problems)
    finally:
        for c in clients:
            await c.close()


async def test_a_login_of_the_page_relayed_by_another_server_is_refused(
        evil: tuple[Server, EvilProxy], served: str, browser: Any) -> None:
    srv, _ = evil
    srv.store.add_party("carol")
    srv.store.add_room("summit", ["carol"])
    relay = EvilProxy(srv.url)  # server A: relays to the real server, which does not know it
    await relay.start()
    page, _problems = await _page(browser)
    try:
        query = {"mode": "room", "server": srv.url, "room": "summit", "db": "carol",
                 "code": srv.store.new_enrollment_code("carol")}
        await page.goto(f"{served}{PAGE}?{urlencode(query)}")  # enrolled at the real server
        await page.wait_for_function(SETTLED, timeout=20_000)
        assert (await state(page))["phase"] == "joined"
        await page.evaluate("() => window.hotlineRoomApi.close()")
        query = {"mode": "room", "server": relay.url, "room": "summit", "db": "carol"}
        await page.goto(f"{served}{PAGE}?{urlencode(query)}")  # the same identity, via A
        await page.wait_for_function(SETTLED, timeout=20_000)
        s = await state(page)
        assert s["phase"] == "failed" and "unauthorized" in (s["error"] or ""), s
        relayed = [d for d in relay.from_clients[0] if d.get("type") == "auth"]
        assert len(relayed) == 1 and relayed[0]["origin"] == origin_of(relay.url)
        print(f"relayed page logins accepted: 0 of 1 ({s['error']})")
    finally:
        await relay.close()
