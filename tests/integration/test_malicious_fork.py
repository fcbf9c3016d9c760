"""A malicious server forks a call and tries to make the forked views show one group code
(issue 12, item 3), against real SignalingClients; and it names a hotline call's room.

The fork: the real server behind a tampering proxy (tests/support/evil_proxy.py). Alice
and bob join room ``summit``; the proxy shows alice the view {alice, G_B} and bob the view
{bob, G_A}, where the ghosts G_B ("bob") and G_A ("alice") are devices the attacker runs
with real key schedules and identities of its own. It relays every message of alice's
meant for "bob" to G_B and bob's meant for "alice" to G_A, and injects the ghosts'
answers: key messages, code commitments and reveals. Everything a client receives is
well formed and signed.

What the clients achieve: each view's code is made of a nonce per member, committed to
before any is revealed. The ghosts commit before alice and bob reveal, so the two codes
are independent and differ (a match is a 2^-64 chance per epoch); a ghost that reveals
another nonce than it committed to (to steer bob's code towards alice's) is refused and
bob's code stays pending ("verifying…"): no honest client accepts a mismatched reveal.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hotline.client.hotline.caller import HotlineCaller
from hotline.client.signaling import SignalingClient
from hotline.crypto.codecommit import MSG_COMMIT
from hotline.errors import ProtocolError
from hotline.signaling import messages as m

from ..support.evil_proxy import EvilProxy
from ..support.fork import ROOM, Fork
from ..support.malicious_room import connect, until
from ..support.server import Server
from .hotline_support import HOTLINE, hotline_server, standby

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize("forge_reveal", [False, True], ids=["ghosts-follow-protocol",
                                                          "ghost-reveals-ground-nonce"])
async def test_forked_views_never_show_one_code(server: Server, proxy: EvilProxy,
                                                forge_reveal: bool) -> None:
    alice = await connect(server, proxy, "alice")
    bob = await connect(server, proxy, "bob")
    fork = Fork(proxy, forge_reveal=forge_reveal)
    proxy.tamper = fork.tamper
    server.store.add_room(ROOM, ["alice", "bob"])
    try:
        await alice.join(ROOM)
        await bob.join(ROOM)
        # Each real client sees one "other" member: the ghost.
        await until(lambda: bool(alice.schedule and alice.schedule.members
                                 and bob.schedule and bob.schedule.members))
        await until(lambda: alice.code is not None and fork.g_b.ks.code is not None)
        assert alice.code == fork.g_b.ks.code  # the attacker knows view 1's code ...
        assert fork.ghost_messages[MSG_COMMIT] == 2  # each ghost committed (to one member)
        if not forge_reveal:
            await until(lambda: bob.code is not None)
            # ... and still cannot make view 2 show it: the codes differ.
            assert alice.code is not None and bob.code is not None
            assert alice.code.digits != bob.code.digits
            assert alice.rejected_key_messages == bob.rejected_key_messages == 0
        else:
            await until(lambda: bob.rejected_key_messages >= 1)
            await asyncio.sleep(0.5)
            assert fork.forged_reveals == 1
            assert bob.code is None  # mismatched reveals accepted: 0 -- bob shows "verifying"
            assert alice.code is not None
        print(f"fork forge_reveal={forge_reveal}: alice {alice.code}, bob {bob.code}, "
              f"bob refused {bob.rejected_key_messages}")
    finally:
        fork.stop()
        await alice.close()
        await bob.close()


# -- the room of a hotline call is the clients' to derive ------------------------------------


async def test_a_server_chosen_room_for_a_hotline_call_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loopback_netns: None) -> None:
    """The server names a room of its own for the answered call (one where it could have
    prepared a roster, or a room of another call): both ends refuse to join it."""
    import hotline.server.hotline.calls as calls
    monkeypatch.setattr(calls, "hotline_room", lambda hotline, call_id: f"hotline:{hotline}:x")
    async with hotline_server(tmp_path / "data") as (srv, alice, bob):
        callee = await standby(srv, bob)
        caller = HotlineCaller(srv.url, alice, HOTLINE)
        try:
            await caller.connect()
            call_id = await caller.ring()
            await callee.next("ring", where=lambda e: e.data["call_id"] == call_id)
            waiting = asyncio.ensure_future(caller.wait_answer(lambda _: None, timeout=20))
            callee.standby.answer(call_id)
            with pytest.raises(ProtocolError, match="expected 'hotline:red:"):
                await asyncio.wait_for(waiting, 20)
            refused = await callee.next("error", where=lambda e: e.data.get("code") == "room")
            assert "refused" in str(refused.data["message"])
            assert caller.call.signaling.participant_id is None  # never joined
            assert callee.standby.call is None
        finally:
            await caller.close()
            await callee.stop()


async def test_a_join_answered_for_another_room_is_refused(server: Server,
                                                           proxy: EvilProxy) -> None:
    """A join is for the room the client asked for: a join_ack for another room is
    refused before anything is announced or sealed."""
    alice = await connect(server, proxy, "alice")
    server.store.add_room(ROOM, ["alice"])

    def rename(i: int, doc: dict[str, Any]) -> list[dict[str, Any]]:
        if doc.get("type") in ("join_ack", "joined"):
            doc["room"] = "elsewhere"
        return [doc]
    proxy.tamper = rename
    try:
        with pytest.raises(ProtocolError, match="another room"):
            await alice.join(ROOM, timeout=5)
        assert not any(d.get("type") in ("announce", "key") for d in proxy.from_clients[0])
    finally:
        await alice.close()


async def test_a_server_chosen_room_for_a_link_test_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loopback_netns: None) -> None:
    """The same for a link test: both standbys refuse the room, join nothing, and the test
    does not pass."""
    import hotline.server.hotline.linktests as linktests
    monkeypatch.setattr(linktests, "hotline_room", lambda hotline, test_id: "summit")
    async with hotline_server(tmp_path / "data") as (srv, alice, bob):
        a, b = await standby(srv, alice), await standby(srv, bob)
        try:
            async with SignalingClient(srv.url, alice) as client:
                await client.authenticate()
                client.send(m.LinkTestRequest(hotline=HOTLINE))
                for end in (a, b):
                    refused = await end.next("error", where=lambda e: e.data.get("code") == "room")
                    assert "summit" in str(refused.data["message"])
                reply = await asyncio.wait_for(client.hotline.get(), 60)
            assert isinstance(reply, m.LinkTestResult)
            assert reply.outcome != "ok"
            assert not any(e.kind == "linktest" for e in a.seen + b.seen)  # never took part
        finally:
            await a.stop()
            await b.stop()
