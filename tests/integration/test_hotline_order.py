"""Answer before accept, whatever the order (REQUIREMENTS H8, reliability plan
"answer-before-accept"): a modified caller sends the hotline and media messages in every
wrong order while the callee's endpoint rings (acknowledge and answer its own call, enter
the media room, publish, answer a subscription, claim media, restart media, announce,
send a key, join the room by name, leave), each order twice, from the ringing connection
and from other connections of its device, and again after the call was hung up. Every one
of them is refused; no media room exists and the SFU forwards no packet before the callee
answers; the call still works once the callee answers; after the hang-up nothing is
forwarded any more.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from hotline.client.hotline.caller import HotlineCaller
from hotline.client.signaling import SignalingClient
from hotline.crypto.identity import Identity
from hotline.server.app import STATE
from hotline.signaling import messages as m

from ..support.sfu_tap import Tap
from ..support.trust import hotline_pins
from .hotline_support import HOTLINE, decrypting, hotline_server, standby

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

SDP = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"


def core(call_id: str) -> list[m._Message]:
    """What a caller must not be able to use before the answer, in the order of a call."""
    return [m.RingAck(call_id=call_id, message="me"), m.CallAnswer(call_id=call_id),
            m.HotlineJoin(call_id=call_id), m.Publish(sdp=SDP), m.SubscribeAnswer(sdp=SDP)]


def extras(call_id: str) -> list[m._Message]:
    return [m.SetMedia(state=m.MediaState()), m.MediaRestart(reason="sneaky"),
            m.Announce(announcement=b"\x01" * 64), m.SendKey(to=1, data=b"\x02" * 64),
            m.Join(room=f"hotline:{HOTLINE}:{call_id}"), m.Leave()]


def orders(call_id: str) -> list[list[m._Message]]:
    """Every order of the core messages, each with one extra message before and one
    after (rotating), and the whole sequence sent twice."""
    out = []
    more = extras(call_id)
    for i, order in enumerate(itertools.permutations(core(call_id))):
        one = [more[i % len(more)], *order, more[(i + 1) % len(more)]]
        out.append(one + one)
    return out


async def refused_all(client: SignalingClient, sent: int) -> list[str]:
    """The next ``sent`` answers on ``client``: every one must be an error."""
    codes = []
    for _ in range(sent):
        reply = await asyncio.wait_for(client.hotline.get(), 10)
        assert isinstance(reply, m.Error), f"not refused: {reply!r}"
        codes.append(reply.code)
    return codes


async def sneak(url: str, identity: Identity, sequences: list[list[m._Message]],
                codes: dict[str, int]) -> None:
    """Each sequence on a new connection of the caller's device (a connection is closed
    after 20 refused requests, and that must not be why nothing happens)."""
    for seq in sequences:
        async with SignalingClient(url, identity) as evil:
            await evil.authenticate()
            for msg in seq:
                evil.send(msg)
            for code in await refused_all(evil, len(seq)):
                codes[code] = codes.get(code, 0) + 1


async def test_no_media_before_the_answer_whatever_the_caller_sends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tap = Tap(monkeypatch)
    async with hotline_server(tmp_path / "data") as (srv, alice, bob):
        callee = await standby(srv, bob)
        caller = HotlineCaller(srv.url, alice, HOTLINE,
                               trust_policy=hotline_pins(srv.store, HOTLINE, alice))
        state = srv.app[STATE]
        try:
            await caller.connect()
            call_id = await caller.ring()
            await callee.next("ring", where=lambda e: e.data["call_id"] == call_id)
            room = f"hotline:{HOTLINE}:{call_id}"
            codes: dict[str, int] = {}
            # from the ringing connection itself: one order (under the 20-error limit)
            first = orders(call_id)[0]
            for msg in first:
                caller.signaling.send(msg)
            for code in await refused_all(caller.signaling, len(first)):
                codes[code] = codes.get(code, 0) + 1
            while not caller.signaling._replies.empty():  # answered: not for the join later
                caller.signaling._replies.get_nowait()
            # and every order from other connections of the caller's device
            await sneak(srv.url, alice, orders(call_id), codes)
            sent = len(first) + sum(len(s) for s in orders(call_id))
            assert sum(codes.values()) == sent
            assert set(codes) <= {"bad_request", "refused", "not_in_room", "forbidden"}, codes
            assert tap.packets == [], "media was forwarded before the answer"
            assert not state.sfu.participants(room)
            assert state.rooms.find(room) is None or not state.rooms.find(room).participants
            # the callee's endpoint still rings; nobody took the call
            assert state.hotlines.calls.active() == 1
            await asyncio.sleep(0.5)
            assert tap.packets == []
            answered_at = time.monotonic()
            callee.standby.answer(call_id)
            await asyncio.wait_for(caller.wait_answer(lambda ack: None, timeout=30), 30)
            if not await decrypting(caller.call, "bob"):
                pytest.fail("no media after the answer")
            assert tap.packets and min(t for t, _, _ in tap.packets) > answered_at
            await caller.close()
            await callee.next("call_ended")
            hung_up = time.monotonic()
            after: dict[str, int] = {}
            await sneak(srv.url, alice, orders(call_id)[:12], after)
            assert set(after) <= {"bad_request", "refused", "not_in_room", "forbidden"}, after
            await asyncio.sleep(1.0)
            late = [t for t, _, _ in tap.packets if t > hung_up + 0.5]
            assert not late, f"{len(late)} packets forwarded after the hang-up"
            assert not state.sfu.participants(room)
            print(f"\n{sent} messages in {len(orders(call_id)) + 1} orders before the answer, "
                  f"all refused ({codes}); {sum(after.values())} after the hang-up ({after})")
        finally:
            await caller.close()
            await callee.stop()
