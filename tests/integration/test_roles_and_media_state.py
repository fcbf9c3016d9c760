"""Roles on the roster and what each participant sends (mute, camera, screen), over a
real WebSocket: every member sees every other's role and media state; a listen-only
role cannot publish or claim to send; a bad state message changes nobody's state."""

from __future__ import annotations

import asyncio
import time

import pytest

from hotline.client.signaling import SignalingClient
from hotline.errors import Forbidden
from hotline.signaling import messages as m

from ..support.server import Server
from .test_signaling import enrolled, settle

pytestmark = pytest.mark.asyncio


async def _next_event(client: SignalingClient, kind: str,
                      timeout: float = 3.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        event = await asyncio.wait_for(client.events.get(), deadline - time.monotonic())
        if event.kind == kind:
            return event.data


async def test_roles_and_media_state_reach_every_member(server: Server) -> None:
    alice, bob, carol = [await enrolled(server, n) for n in ("alice", "bob", "carol")]
    server.store.add_room("summit", ["alice", "bob", "carol"],
                          {"alice": "principal", "carol": "aide"})
    try:
        await alice.join("summit")
        alice.set_media(audio=False, video=True)  # joins muted
        await asyncio.sleep(0.1)
        await bob.join("summit")
        await carol.join("summit")
        await settle([alice, bob, carol])
        assert alice.role == "principal" and bob.role == "delegate" and carol.role == "aide"
        by_party = {bob.names[p]: (r, bob.media[p]) for p, r in bob.roles.items() if p in bob.media}
        assert by_party["alice"] == ("principal", m.MediaState(audio=False, video=True))
        assert by_party["carol"] == ("aide", m.MediaState(audio=False, video=False))
        assert carol.roles[alice.participant_id] == "principal"  # type: ignore[index]

        # camera off and screen share on, seen by the others; not an epoch change
        code = bob.code
        bob.set_media(audio=True, video=False, screen=True)
        data = await _next_event(alice, "member_media")
        assert data == {"participant_id": bob.participant_id, "audio": True, "video": False,
                        "screen": True}
        await _next_event(carol, "member_media")
        assert carol.media[bob.participant_id] == m.MediaState(  # type: ignore[index]
            audio=True, video=False, screen=True)
        assert alice.code == code == carol.code

        # a listen-only role cannot publish, nor claim to send
        with pytest.raises(Forbidden) as err:
            await carol.publish("v=0\r\n")
        assert err.value.code == "forbidden" and "listens only" in str(err.value)
        while not carol.events.empty():  # the publish refusal was an "error" event too
            carol.events.get_nowait()
        carol.set_media(audio=True, video=False)
        error = await _next_event(carol, "error")
        assert error["code"] == "bad_request"
        await asyncio.sleep(0.2)
        assert alice.media[carol.participant_id] == m.MediaState(  # type: ignore[index]
            audio=False, video=False)
    finally:
        for c in (alice, bob, carol):
            await c.close()


async def test_media_state_before_joining_is_refused(server: Server) -> None:
    alice = await enrolled(server, "alice")
    try:
        alice.set_media(audio=False, video=False)
        error = await _next_event(alice, "error")
        assert error["code"] == "not_in_room"
    finally:
        await alice.close()
