"""Malicious server: the SFU swaps whose media appears under which name (issue #12, item
4), against real Python clients (hotline.client.call.Call) through the real server.

Alice and Bob publish; Carol subscribes. The attacking server is the real one with its
SFU modified inside the test process (tests/support/evil_sfu.py), two ways:

- ``relabel``: the subscribe offers to Carol attribute Alice's streams to Bob and Bob's to
  Alice (the signalled mid -> participant mapping lies);
- ``reroute``: the offers are honest, but the SFU forwards Bob's packets on the m-lines
  announced as Alice's and Alice's on Bob's.

Either way Carol's tile "alice" would show Bob. Carol binds every stream to the
participant the offer names and to its m-line's kind, and drops every frame whose KID
names someone else (docs/PROTOCOL.md "Frames bound to their stream"). Figures asserted:
frames decrypted or decoded under the wrong name 0, frames dropped and counted as
wrong_participant > 0 for both swapped names; Alice and Bob, not attacked, decode each other.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from hotline.client.call import Call
from hotline.crypto.identity import Identity

from ..support.evil_sfu import Attack, attacked  # noqa: F401 (the fixture)
from ..support.server import Server
from ..support.trust import accept_all

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]


async def _join(srv: Server, name: str) -> Call:
    call = Call(srv.url, Identity.generate(), "summit", video_size=(160, 120),
                trust_policy=accept_all())
    await call.start(enroll_code=srv.store.new_enrollment_code(name))
    return call


async def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("attacked", ["relabel", "reroute"], indirect=True)
async def test_swapped_streams_show_nothing_under_the_wrong_name(
        attacked: tuple[Server, Attack]) -> None:  # noqa: F811 (the fixture)
    srv, attack = attacked
    alice = await _join(srv, "alice")
    bob = await _join(srv, "bob")
    a_id, b_id = alice.signaling.participant_id, bob.signaling.participant_id
    assert a_id is not None and b_id is not None
    attack.swap = {a_id: b_id, b_id: a_id}
    carol = await _join(srv, "carol")
    calls = [alice, bob, carol]
    try:
        def wrong(name: str) -> int:
            r: dict[str, int] = carol.stats().remote.get(name, {})
            return r.get("wrong_stream_frames", 0)

        await _until(lambda: wrong("alice") > 60 and wrong("bob") > 60, 20,
                     "carol's drops of swapped frames")
        await asyncio.sleep(3.0)  # a few more seconds of swapped media
        # Carol was offered a stream under each name (the attack reached her) ...
        labels = {(s.participant_id, s.kind) for s in carol.streams.values()}
        assert labels == {(a_id, "audio"), (a_id, "video"), (b_id, "audio"), (b_id, "video")}
        # ... and showed nothing under the wrong name: not one frame decrypted or decoded
        stats = carol.stats().remote
        for name in ("alice", "bob"):
            r = stats[name]
            assert r["video_frames_decrypted"] == 0 and r["audio_frames_decrypted"] == 0, r
            assert r["first_frame_ms"] is None, r
        assert all(s.frames_decoded == 0 for s in carol.streams.values())
        for s in carol.streams.values():  # every drop was a swapped frame, counted
            dropped = s.decryptor.dropped()
            assert set(dropped) <= {"wrong_participant", "unknown_kid", "malformed"}, dropped
            assert dropped.get("wrong_participant", 0) > 0, dropped
        assert attack.offers_tampered + attack.copies_rerouted > 0
        # The attack is only on Carol's view: Alice and Bob decode each other.
        await _until(lambda: alice.stats().remote.get("bob", {}).get(
            "video_frames_decrypted", 0) > 30 and bob.stats().remote.get("alice", {}).get(
            "video_frames_decrypted", 0) > 30, 20, "alice and bob decoding each other")
        for c in (alice, bob):
            for r in c.stats().remote.values():
                assert r["wrong_stream_frames"] == 0, r
        print({name: stats[name] for name in ("alice", "bob")})
    finally:
        for c in calls:
            await c.close()
