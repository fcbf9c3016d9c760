"""A malicious server forks a call with a real page in it (issue 12, item 3): the page
(web/test/roomtest.html, the browser's SignalingClient and key schedule) and a Python
SignalingClient join one room through the tampering proxy of tests/support/evil_proxy.py,
which shows each its own view with a ghost the attacker runs (tests/support/fork.py).

The page's code and the Python client's differ; when the ghost reveals a nonce other than
the one it committed to, the page refuses it and shows no code (pending), while the
Python end of the other view does the same in tests/integration/test_malicious_fork.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import pytest_asyncio

from hotline.client.signaling import SignalingClient
from hotline.crypto.codecommit import MSG_COMMIT
from hotline.crypto.identity import Identity

from ..support.evil_proxy import EvilProxy, behind_proxy
from ..support.fork import ROOM, Fork
from ..support.server import Server
from ..support.trust import accept_all
from ..support.wait import wait_until
from .support import CHROMIUM_ARGS, ROOT, browser_fixture, serve_static
from .test_web_room import PAGE, SETTLED, _check_bundle, _page, state
from .test_web_vectors import SERVED

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]


@pytest.fixture
def served() -> Iterator[str]:
    with serve_static(ROOT, SERVED) as url:
        yield url


browser = browser_fixture(CHROMIUM_ARGS, _check_bundle)


@pytest_asyncio.fixture
async def evil(tmp_path: Path) -> AsyncIterator[tuple[Server, EvilProxy]]:
    async with behind_proxy(tmp_path / "data", join_timeout=2.0) as (srv, proxy):
        yield srv, proxy


@pytest.mark.parametrize("forge_reveal", [False, True], ids=["ghosts-follow-protocol",
                                                          "ghost-reveals-ground-nonce"])
async def test_page_in_a_forked_call(evil: tuple[Server, EvilProxy], served: str,
                                     browser: Any, forge_reveal: bool) -> None:
    srv, proxy = evil
    srv.store.add_party("alice")
    srv.store.add_party("bob")
    srv.store.add_room(ROOM, ["alice", "bob"])
    # The page is connection 1, "bob": its view is {bob, G_A}, and G_A's forged reveal
    # (when asked for) goes to the page.
    alice = SignalingClient(proxy.url, Identity.generate(), grace=0.3, trust=accept_all())
    fork = Fork(proxy, forge_reveal=forge_reveal)
    proxy.tamper = fork.tamper
    page, problems = await _page(browser)
    try:
        await alice.connect()  # connection 0
        await alice.enroll(srv.store.new_enrollment_code("alice"))
        await alice.join(ROOM)
        query = {"mode": "room", "server": proxy.url, "room": ROOM, "grace": "0.3",
                 "code": srv.store.new_enrollment_code("bob")}
        await page.goto(f"{served}{PAGE}?{urlencode(query)}")  # connection 1
        await page.wait_for_function(SETTLED, timeout=20_000)
        s = await state(page)
        assert s["phase"] == "joined", s["error"]
        async def view_1_done() -> bool:
            return alice.code is not None and fork.g_b.ks.code is not None
        await wait_until(view_1_done, 10.0, "both ends of view 1 to have a code")
        assert alice.code == fork.g_b.ks.code  # the attacker knows view 1's code
        assert fork.ghost_messages[MSG_COMMIT] == 2
        if not forge_reveal:
            async def page_code() -> bool:
                return (await state(page))["code"] is not None
            await wait_until(page_code, 10.0, "a code on the page")
            s = await state(page)
            assert alice.code is not None and s["code"]["digits"] != alice.code.digits
            assert s["rejectedKeyMessages"] == 0
        else:
            async def refused() -> bool:
                return (await state(page))["rejectedKeyMessages"] >= 1
            await wait_until(refused, 10.0, "the page to refuse a key message")
            await asyncio.sleep(0.5)
            s = await state(page)
            assert fork.forged_reveals == 1
            assert s["code"] is None  # the mismatched reveal is not accepted: pending
            reasons = [e["data"]["reason"] for e in s["events"] if e["kind"] == "key_rejected"]
            assert reasons == ["binding"]
        assert not problems, "\n".join(problems)
    finally:
        fork.stop()
        await alice.close()
