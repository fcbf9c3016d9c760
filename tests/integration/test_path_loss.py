"""Path loss mid-call (issue #7): a client's media path dies for ~5 s and comes back (the
same address, or another one); the client notices, asks for a ``media_restart``, and
media flows again both ways in the same seat, with the same keys and group code (no
rejoin, no rekey). And consent loss: a participant that stops answering the SFU's ICE
consent checks is found and its connections are freed.

The path is killed in the kernel: the victim gathers its ICE candidates on 127.0.0.2
only, and two policy-routing rules (``ip rule ... blackhole``, in the test's own network
namespace; no netem on these machines) drop every datagram from or to that address;
signaling (127.0.0.1) and the other client are untouched.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from hotline.client.call import Call
from hotline.client.hotline.caller import HotlineCaller
from hotline.crypto.identity import Identity
from hotline.rtc import aiortc_adapter as adapter
from hotline.server.app import STATE
from hotline.sfu.edge import SfuParticipant

from ..support.pathkiller import PathKiller
from ..support.server import Server, start_server
from ..support.trust import accept_all, hotline_pins
from .hotline_support import HOTLINE, hotline_server, standby
from .test_resume import break_connection

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

VICTIM, MOVED = "127.0.0.2", "127.0.0.3"
OUTAGE = 5.0
RECOVERY_LIMIT = 10.0


async def two_calls(server: Server, **alice_options: Any) -> dict[str, Call]:
    idents = {n: Identity.generate() for n in ("alice", "bob")}
    codes = server.room("summit", list(idents))
    calls = {"alice": Call(server.url, idents["alice"], "summit", video_size=(160, 120),
                           **alice_options, trust_policy=accept_all()),
             "bob": Call(server.url, idents["bob"], "summit", video_size=(160, 120),
                         trust_policy=accept_all())}
    for n, c in calls.items():
        await c.start(enroll_code=codes[n])
    return calls


def frames(calls: dict[str, Call], at: str, of: str, kind: str = "video") -> int:
    return int(calls[at].stats().remote.get(of, {}).get(f"{kind}_frames_decrypted", 0))


def both_ways(calls: dict[str, Call]) -> tuple[int, int, int, int]:
    return (frames(calls, "bob", "alice"), frames(calls, "alice", "bob"),
            frames(calls, "bob", "alice", "audio"), frames(calls, "alice", "bob", "audio"))


async def flowing(calls: dict[str, Call], since: tuple[int, ...], timeout: float,
                  more: int = 10) -> float:
    """Seconds until every count of :func:`both_ways` grew by ``more`` over ``since``."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if all(now >= then + more for now, then in zip(both_ways(calls), since, strict=True)):
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    pytest.fail(f"media did not flow both ways within {timeout} s: {since} -> "
                f"{both_ways(calls)}")


def drain(calls: dict[str, Call]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for n, c in calls.items():
        q = c.signaling.events
        out[n] = []
        while not q.empty():
            out[n].append(q.get_nowait().kind)
    return out


ROSTER_OR_KEYS = {"member_joined", "member_left", "keys_rotated", "group_code", "joined",
                  "closed"}


@pytest.mark.parametrize("comes_back", ["same address", "new address"])
async def test_media_resumes_after_the_path_dies_and_comes_back(
        server: Server, path_killer: PathKiller, comes_back: str) -> None:
    calls = await two_calls(server, host_addresses=[VICTIM])
    alice, bob = calls["alice"], calls["bob"]
    try:
        await flowing(calls, (0, 0, 0, 0), 20)
        pid, code = alice.signaling.participant_id, alice.signaling.code
        bob_pid = bob.signaling.participant_id
        assert pid is not None and bob_pid is not None
        assert code is not None and bob.signaling.code == code
        drain(calls)
        loop = asyncio.get_running_loop()
        killed = loop.time()
        path_killer.kill(VICTIM)
        await asyncio.sleep(OUTAGE)
        assert alice.media_restarts, "the dead path was not noticed"
        noticed = alice.media_restarts[0]["requested_at"] - killed
        if comes_back == "same address":
            path_killer.restore(VICTIM)
        else:  # the old address stays dead; the client now has another one
            alice.set_host_addresses([MOVED])
        back = loop.time()
        since = both_ways(calls)
        took = await flowing(calls, since, RECOVERY_LIMIT)
        # the same seat, the same keys: no roster change, no rekey, the same code
        assert alice.signaling.participant_id == pid
        assert alice.signaling.code == code and bob.signaling.code == code
        events = drain(calls)
        assert not ROSTER_OR_KEYS & set(events["alice"] + events["bob"]), events
        assert "media_restart" in events["alice"]
        live = server.app[STATE].rooms.find("summit")
        assert live is not None and sorted(live.participants.values()) == ["alice", "bob"]
        sfu = server.app[STATE].sfu
        assert sorted(sfu.participants("summit")) == sorted([pid, bob_pid])
        publishers = {s.publisher for s in sfu.streams("summit")}
        assert publishers == {pid, bob_pid}
        # Bob gets Alice's new streams only (the old ones were dropped at the SFU)
        bob_sfu = sfu.participants("summit")[bob_pid]
        assert {s.publisher for s in bob_sfu.subscribed} == {pid}
        assert len(bob_sfu.subscribed) == 2
        restored = [r for r in alice.media_restarts if r["connected_at"] is not None]
        assert restored
        print(f"\n{comes_back}: noticed {noticed:.2f} s after the path died; "
              f"{len(alice.media_restarts)} restart(s); media both ways again "
              f"{took:.2f} s after the path came back "
              f"(connected {restored[-1]['connected_at'] - back:.2f} s after)")
    finally:
        for c in calls.values():
            await c.close()


async def test_a_listener_alone_waits_and_a_listener_path_loss_is_restarted(
        server: Server, path_killer: PathKiller) -> None:
    """An aide (listen-only: no publish connection) alone in the room has nothing to
    watch and does not restart; once Alice publishes, losing the aide's path for 5 s is
    noticed on its subscribe connection and its media comes back."""
    idents = {n: Identity.generate() for n in ("alice", "bob")}
    for n in idents:
        server.store.add_party(n)
    server.store.add_room("summit", list(idents), {"bob": "aide"})
    bob = Call(server.url, idents["bob"], "summit", video_size=(160, 120),
               host_addresses=[VICTIM], trust_policy=accept_all())
    alice = Call(server.url, idents["alice"], "summit", video_size=(160, 120),
                 trust_policy=accept_all())
    calls = {"alice": alice, "bob": bob}
    try:
        await bob.start(enroll_code=server.store.new_enrollment_code("bob"))
        await asyncio.sleep(9.0)  # longer than the setup timeout: nothing to watch, no restart
        assert bob.media_restarts == [] and bob.publish_pc is None
        await alice.start(enroll_code=server.store.new_enrollment_code("alice"))

        def got() -> int:
            return frames(calls, "bob", "alice") + frames(calls, "bob", "alice", "audio")

        for _ in range(200):
            if frames(calls, "bob", "alice") > 10:
                break
            await asyncio.sleep(0.05)
        assert frames(calls, "bob", "alice") > 10
        path_killer.kill(VICTIM)
        await asyncio.sleep(OUTAGE + 2)  # a listener waits 6 s of silence
        assert bob.media_restarts, "the listener's dead path was not noticed"
        path_killer.restore(VICTIM)
        before = (frames(calls, "bob", "alice"), frames(calls, "bob", "alice", "audio"))
        start = time.monotonic()
        while (frames(calls, "bob", "alice") < before[0] + 10
               or frames(calls, "bob", "alice", "audio") < before[1] + 10):
            assert time.monotonic() - start < RECOVERY_LIMIT, "no media to the listener"
            await asyncio.sleep(0.05)
        assert bob.publish_pc is None and got() > 0
        print(f"\nlistener: media again {time.monotonic() - start:.2f} s after the path "
              f"came back ({bob.media_restarts[0]['reason']})")
    finally:
        for c in calls.values():
            await c.close()


def drop_consent_requests(call: Call) -> list[int]:
    """From now on, ``call``'s current connections do not answer STUN requests (ICE
    consent checks): they are dropped as they arrive. Media and everything else pass."""
    dropped = [0]
    for pc in (call.publish_pc, call.subscribe_pc):
        assert pc is not None
        conn = adapter.dtls_transport(pc).transport._connection
        for proto in conn._protocols:
            original = proto.datagram_received

            def datagram_received(data: bytes, addr: Any, original: Any = original) -> None:
                if len(data) >= 20 and data[0:2] == b"\x00\x01":  # a Binding request
                    dropped[0] += 1
                    return
                original(data, addr)

            proto.datagram_received = datagram_received  # type: ignore[method-assign, assignment]
    return dropped


async def test_consent_loss_is_detected_and_the_connection_freed(tmp_path: Path) -> None:
    # Consent checked every 2 s, lost after 5 misses (the default is about 30 s).
    server = await start_server(tmp_path / "data", join_timeout=2.0, consent_interval=2.0,
                                consent_failures=5)
    try:
        await consent_loss(server)
    finally:
        await server.close()


async def consent_loss(server: Server) -> None:
    calls = await two_calls(server)
    alice, bob = calls["alice"], calls["bob"]
    try:
        await flowing(calls, (0, 0, 0, 0), 20)
        sfu = server.app[STATE].sfu
        pid, bob_pid = alice.signaling.participant_id, bob.signaling.participant_id
        assert pid is not None and bob_pid is not None
        old: SfuParticipant = sfu.participants("summit")[pid]
        old_pcs = [old.publish_pc, old.subscribe_pc]
        old_streams = list(old.router.published.values())
        dropped = drop_consent_requests(alice)
        start = time.monotonic()
        while old.lost is None:
            assert time.monotonic() - start < 30, "consent loss not detected within 30 s"
            await asyncio.sleep(0.1)
        detected = time.monotonic() - start
        assert dropped[0] > 0
        # freed: its connections are closed, nothing of it is forwarded, nothing to it
        for _ in range(50):
            if all(pc is not None and pc.connectionState == "closed" for pc in old_pcs):
                break
            await asyncio.sleep(0.1)
        assert all(pc is not None and pc.connectionState == "closed" for pc in old_pcs)
        assert all(not s.copies for s in old_streams)
        assert not old.subscribed and not old.publish_path.attached
        bob_sfu = sfu.participants("summit")[bob_pid]
        assert all(s.publisher != pid for s in bob_sfu.subscribed) or (
            sfu.participants("summit")[pid] is not old)
        # and the client notices and restarts its media by itself (same seat)
        since = both_ways(calls)
        took = await flowing(calls, since, 15)
        assert alice.media_restarts and alice.signaling.participant_id == pid
        print(f"\nconsent loss detected by the SFU {detected:.2f} s after the client stopped "
              f"answering; media both ways again {took:.2f} s later "
              f"({alice.media_restarts[0]['reason']})")
    finally:
        for c in calls.values():
            await c.close()


async def test_media_restart_out_of_place_gets_a_clear_error(server: Server) -> None:
    from hotline.signaling import messages as m

    from .test_signaling import enrolled

    alice = await enrolled(server, "alice")
    try:
        alice.send(m.MediaRestart(reason="x"))  # not in a room
        error = await asyncio.wait_for(alice.hotline.get(), 5)
        assert isinstance(error, m.Error) and error.code == "not_in_room"
        assert alice._ws is not None
        await alice._ws.send_str('{"v": 1, "type": "media_restart", "reason": "'
                                 + "x" * 201 + '"}')
        error = await asyncio.wait_for(alice.hotline.get(), 5)
        assert isinstance(error, m.Error) and error.code == "bad_request"
        assert "reason" in error.message
    finally:
        await alice.close()


async def test_path_loss_and_a_signaling_break_at_once(
        server: Server, path_killer: PathKiller) -> None:
    """The media path dies and the signaling connection breaks at the same moment: the
    client resumes its seat, restarts its media over the resumed connection, and media
    flows both ways again once the path is back, in the same seat with the same keys."""
    calls = await two_calls(server, host_addresses=[VICTIM])
    alice, bob = calls["alice"], calls["bob"]
    try:
        await flowing(calls, (0, 0, 0, 0), 20)
        pid, code = alice.signaling.participant_id, alice.signaling.code
        drain(calls)
        path_killer.kill(VICTIM)
        break_connection(alice.signaling)
        await asyncio.sleep(OUTAGE)
        assert alice.signaling.resumes == 1, "the signaling connection was not resumed"
        assert alice.media_restarts, "the dead path was not noticed"
        path_killer.restore(VICTIM)
        took = await flowing(calls, both_ways(calls), RECOVERY_LIMIT)
        assert alice.signaling.participant_id == pid
        assert alice.signaling.code == code and bob.signaling.code == code
        events = drain(calls)
        assert not ROSTER_OR_KEYS & set(events["alice"] + events["bob"]), events
        assert {"connection_lost", "resumed", "media_restart"} <= set(events["alice"]), events
        live = server.app[STATE].rooms.find("summit")
        assert live is not None and sorted(live.participants.values()) == ["alice", "bob"]
        print(f"\npath loss + signaling break: resumed, {len(alice.media_restarts)} media "
              f"restart(s); media both ways {took:.2f} s after the path came back")
    finally:
        for c in calls.values():
            await c.close()


async def test_a_hotline_call_survives_a_path_loss(tmp_path: Path,
                                                   path_killer: PathKiller) -> None:
    """A hotline call (caller and answering standby): the caller's media path dies for
    5 s; its media restarts and flows both ways again within 10 s of the path coming
    back, in the same call with the same code."""
    async with hotline_server(tmp_path / "data") as (srv, alice, bob):
        callee = await standby(srv, bob)
        caller = HotlineCaller(srv.url, alice, HOTLINE,
                               trust_policy=hotline_pins(srv.store, HOTLINE, alice))
        caller.call.set_host_addresses([VICTIM])  # before the call: nothing to restart
        try:
            await caller.connect()
            call_id = await caller.ring()
            await callee.next("ring", where=lambda e: e.data["call_id"] == call_id)
            callee.standby.answer(call_id)
            await asyncio.wait_for(caller.wait_answer(lambda ack: None, timeout=30), 30)
            await callee.next("call_started")
            far = callee.standby.call
            assert far is not None
            calls = {"alice": caller.call, "bob": far}
            await flowing(calls, (0, 0, 0, 0), 20)
            code = caller.call.signaling.code
            path_killer.kill(VICTIM)
            await asyncio.sleep(OUTAGE)
            assert caller.call.media_restarts, "the dead path was not noticed"
            path_killer.restore(VICTIM)
            took = await flowing(calls, both_ways(calls), RECOVERY_LIMIT)
            assert caller.call.signaling.code == code and far.signaling.code == code
            assert srv.app[STATE].hotlines.calls.active() == 1
            print(f"\nhotline call: media both ways {took:.2f} s after the path came back")
        finally:
            await caller.close()
            await callee.stop()
