"""A signaling connection that breaks mid-call is resumed: the client reconnects by
itself, takes its seat back with the seat's token (``resume``), and whatever either side
sent meanwhile is delivered; no second participant appears, no key message is lost, and
media through the SFU never stops (it does not depend on the WebSocket)."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from hotline.client.call import Call
from hotline.client.signaling import SignalingClient
from hotline.crypto.identity import Identity
from hotline.server.app import STATE
from hotline.signaling import messages as m

from ..support.server import Server, start_server
from ..support.trust import accept_all
from .test_signaling import all_talk, enrolled, settle, three_in_a_room

pytestmark = pytest.mark.asyncio


def break_connection(client: SignalingClient) -> None:
    """Cut the TCP connection under the WebSocket, as a network failure would."""
    assert client._ws is not None
    sock = client._ws.get_extra_info("socket")
    sock.shutdown(socket.SHUT_RDWR)


async def next_event(client: SignalingClient, kind: str, timeout: float = 10.0) -> float:
    start = time.monotonic()
    deadline = start + timeout
    while True:
        event = await asyncio.wait_for(client.events.get(), deadline - time.monotonic())
        if event.kind == kind:
            return time.monotonic() - start


async def test_a_broken_connection_resumes_without_losing_a_key(server: Server) -> None:
    alice, bob, carol = await three_in_a_room(server)
    try:
        pid = alice.participant_id
        while not alice.events.empty():
            alice.events.get_nowait()
        break_connection(alice)
        await next_event(alice, "connection_lost", 5)
        # while Alice is away, Carol leaves: a roster change and new keys Alice must get
        await carol.leave()
        took = await next_event(alice, "resumed", 10)
        await settle([alice, bob], timeout=5)
        all_talk([alice, bob])  # both hold each other's new keys: nothing was lost
        assert alice.code == bob.code and alice.participant_id == pid and alice.resumes == 1
        live = server.app[STATE].rooms.find("summit")
        assert live is not None and sorted(live.participants.values()) == ["alice", "bob"]
        assert list(alice.schedule.members) == [bob.participant_id]  # type: ignore[union-attr]
        print(f"\nresumed {took:.2f} s after the break was noticed")
    finally:
        for c in (alice, bob, carol):
            await c.close()


async def test_a_break_during_the_resume_and_another_after_it(server: Server) -> None:
    """The connection that carries the resume breaks too (at once, while resuming): the
    next attempt resumes the seat; then a second break later is resumed again. Nothing
    is lost either time, and nobody appears twice."""
    alice, bob, carol = await three_in_a_room(server)
    try:
        pid = alice.participant_id
        opened = alice._open
        broken_while_resuming = 0

        async def open_then_break() -> None:
            nonlocal broken_while_resuming
            await opened()
            if broken_while_resuming == 0:  # the first new connection dies at once
                broken_while_resuming += 1
                asyncio.get_running_loop().call_soon(break_connection, alice)

        alice._open = open_then_break  # type: ignore[method-assign]
        while not alice.events.empty():
            alice.events.get_nowait()
        break_connection(alice)
        await next_event(alice, "connection_lost", 5)
        await carol.leave()  # a roster change and new keys while Alice is away
        await next_event(alice, "resumed", 15)
        assert broken_while_resuming == 1 and alice.resumes == 1
        await settle([alice, bob], timeout=5)
        all_talk([alice, bob])
        break_connection(alice)  # and once more, later
        await next_event(alice, "connection_lost", 5)
        await next_event(alice, "resumed", 15)
        await settle([alice, bob], timeout=5)
        all_talk([alice, bob])
        assert alice.code == bob.code and alice.participant_id == pid and alice.resumes == 2
        live = server.app[STATE].rooms.find("summit")
        assert live is not None and sorted(live.participants.values()) == ["alice", "bob"]
        assert list(alice.schedule.members) == [bob.participant_id]  # type: ignore[union-attr]
    finally:
        for c in (alice, bob, carol):
            await c.close()


async def test_a_stolen_token_or_an_expired_seat_is_refused(server: Server) -> None:
    alice, bob = [await enrolled(server, n) for n in ("alice", "bob")]
    server.store.add_room("summit", ["alice", "bob"])
    try:
        await alice.join("summit")
        await bob.join("summit")
        assert alice._seat is not None
        room, pid, token = alice._seat
        # Bob presents Alice's seat and token: not his device, refused
        other = SignalingClient(server.url, bob.identity)
        await other.connect()
        await other.authenticate()
        other.send(m.Resume(room=room, participant_id=pid, token=token, received=0))
        error = await asyncio.wait_for(other.hotline.get(), 5)
        assert isinstance(error, m.Error) and error.code == "resume_refused"
        other.send(m.Resume(room=room, participant_id=pid, token=b"\0" * 16, received=0))
        error = await asyncio.wait_for(other.hotline.get(), 5)
        assert isinstance(error, m.Error) and error.code == "resume_refused"
        await other.close()
        live = server.app[STATE].rooms.find("summit")
        assert live is not None and sorted(live.participants.values()) == ["alice", "bob"]
    finally:
        await alice.close()
        await bob.close()


async def test_a_seat_not_resumed_in_time_is_a_leave(tmp_path: Path) -> None:
    srv = await start_server(tmp_path / "data", join_timeout=2.0, resume_grace=0.5)
    try:
        alice, bob = [await enrolled(srv, n) for n in ("alice", "bob")]
        srv.store.add_room("summit", ["alice", "bob"])
        await alice.join("summit")
        await bob.join("summit")
        await settle([alice, bob])
        code = bob.code
        break_connection(alice)  # the network fails, and Alice never comes back:
        await alice.close()  # after the grace, the others rekey without her
        await asyncio.sleep(0.2)
        assert bob.schedule is not None and len(bob.schedule.members) == 1  # kept a moment
        for _ in range(50):
            if not bob.schedule.members:
                break
            await asyncio.sleep(0.1)
        assert not bob.schedule.members, "the seat was never given up"
        assert bob.code != code
        await bob.close()
    finally:
        await srv.close()


@pytest.mark.usefixtures("loopback_netns")
async def test_media_flows_on_while_signaling_is_broken(server: Server) -> None:
    idents = {n: Identity.generate() for n in ("alice", "bob")}
    codes = server.room("summit", list(idents))
    calls = {n: Call(server.url, idents[n], "summit", trust_policy=accept_all()) for n in idents}
    try:
        for n, c in calls.items():
            await c.start(enroll_code=codes[n])

        def got(n: str, frm: str) -> int:
            return int(calls[n].stats().remote.get(frm, {}).get("video_frames_decrypted", 0))

        for _ in range(100):
            if got("bob", "alice") > 10 and got("alice", "bob") > 10:
                break
            await asyncio.sleep(0.1)
        before = (got("bob", "alice"), got("alice", "bob"))
        break_connection(calls["alice"].signaling)
        await asyncio.sleep(1.5)
        during = (got("bob", "alice"), got("alice", "bob"))
        assert during[0] > before[0] + 10 and during[1] > before[1] + 10, (before, during)
        for _ in range(100):
            if calls["alice"].signaling.resumes:
                break
            await asyncio.sleep(0.1)
        assert calls["alice"].signaling.resumes == 1
        await asyncio.sleep(1.0)
        after = (got("bob", "alice"), got("alice", "bob"))
        assert after[0] > during[0] + 10 and after[1] > during[1] + 10, (during, after)
    finally:
        for c in calls.values():
            await c.close()


async def test_no_resume_when_what_was_missed_is_no_longer_kept(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """More was sent to a broken seat than the server keeps: the resume is refused (the
    client then has to join again) rather than carrying on with messages lost."""
    from hotline.server import connection
    monkeypatch.setattr(connection, "REPLAY", 4)
    alice, bob = [await enrolled(server, n) for n in ("alice", "bob")]
    server.store.add_room("summit", ["alice", "bob"])
    try:
        await alice.join("summit")
        await bob.join("summit")
        await settle([alice, bob])
        while not alice.events.empty():
            alice.events.get_nowait()
        break_connection(alice)
        await next_event(alice, "connection_lost", 5)
        for i in range(10):  # ten member_media messages to Alice's seat while she is away
            bob.set_media(audio=i % 2 == 0, video=True)
        await next_event(alice, "closed", 15)
        assert alice.resumes == 0
    finally:
        await alice.close()
        await bob.close()
