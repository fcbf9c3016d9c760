"""Signaling end to end over a real WebSocket on loopback (no media): enrollment,
authentication, rooms, roster order, key relay and the group code."""

from __future__ import annotations

import asyncio
import json
import time

import aiohttp
import pytest

from hotline.client.signaling import SignalingClient
from hotline.crypto.auth import Purpose, prove
from hotline.crypto.frames import Codec, protect, unprotect
from hotline.crypto.identity import Identity
from hotline.crypto.kid import Slot
from hotline.errors import Forbidden, SFrameError, Unauthorized
from hotline.signaling import messages as m
from hotline.signaling.origin import origin_of

from ..support.server import Server
from ..support.trust import accept_all

pytestmark = pytest.mark.asyncio
FRAME = b"\x78" + b"opus payload" * 5


async def enrolled(server: Server, name: str, room_members: list[str] | None = None
                   ) -> SignalingClient:
    ident, code = server.party(name)
    client = SignalingClient(server.url, ident, grace=0.3, trust=accept_all())
    await client.connect()
    await client.enroll(code)
    return client


async def settle(clients: list[SignalingClient], timeout: float = 3.0) -> None:
    """Wait until every client has a decryption key for every other's current key and
    shows a group code (the code comes one commit/reveal round after the keys)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all_talk(clients, check_only=True) and all(c.code for c in clients):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("keys did not settle")


def all_talk(clients: list[SignalingClient], check_only: bool = False) -> bool:
    for a in clients:
        if Slot.AUDIO not in a.keys.senders:
            return False
        kid = a.keys.senders[Slot.AUDIO].kid
        for b in clients:
            if b is not a and not b.keys.context.has_decryption_key(kid):
                if check_only:
                    return False
                raise AssertionError("missing key")
    if not check_only:
        for a in clients:
            wire = protect(a.keys.senders[Slot.AUDIO], Codec.OPUS, FRAME)
            for b in clients:
                if b is not a:
                    assert unprotect(b.keys.context, Codec.OPUS, wire) == FRAME
    return True


async def three_in_a_room(server: Server) -> list[SignalingClient]:
    """alice, bob and carol enrolled, joined to "summit", keys settled."""
    clients = [await enrolled(server, n) for n in ("alice", "bob", "carol")]
    server.store.add_room("summit", ["alice", "bob", "carol"])
    for c in clients:
        await c.join("summit")
    await settle(clients)
    return clients


async def test_three_participants_share_one_group_code(server: Server) -> None:
    clients = await three_in_a_room(server)
    try:
        all_talk(clients)
        codes = {c.code.digits for c in clients if c.code}
        assert len(codes) == 1 and all(c.code for c in clients)
        assert sorted(clients[0].names.values()) == ["alice", "bob", "carol"]
    finally:
        for c in clients:
            await c.close()


async def test_leave_rotates_keys_within_a_second_and_locks_out_the_leaver(
        server: Server) -> None:
    a, b, c = await three_in_a_room(server)
    try:
        leaver_ctx = c.keys.context
        old_code = a.code
        start = time.monotonic()
        await c.leave()
        await settle([a, b])
        elapsed = time.monotonic() - start
        assert elapsed < 1.0, f"rekey took {elapsed:.3f} s"
        assert a.code != old_code and a.code == b.code
        for sender in (a, b):
            wire = protect(sender.keys.senders[Slot.AUDIO], Codec.OPUS, FRAME)
            with pytest.raises(SFrameError):
                unprotect(leaver_ctx, Codec.OPUS, wire)
        # the leaver can come back, with new keys
        await c.join("summit")
        await settle([a, b, c])
        all_talk([a, b, c])
    finally:
        for x in (a, b, c):
            await x.close()


async def test_disconnect_counts_as_leave(server: Server) -> None:
    a, b, c = await three_in_a_room(server)
    try:
        await c.close()
        await asyncio.wait_for(_until(lambda: len(a.schedule.members) == 1), 3)  # type: ignore[union-attr]
        await settle([a, b])
    finally:
        await a.close()
        await b.close()


async def _until(cond: object) -> None:
    while not cond():  # type: ignore[operator]
        await asyncio.sleep(0.01)


async def test_reconnect_with_the_same_identity(server: Server) -> None:
    ident, code = server.party("alice")
    server.store.add_room("r", ["alice"])
    async with SignalingClient(server.url, ident) as first:
        await first.enroll(code)
    async with SignalingClient(server.url, ident, trust=accept_all()) as again:
        assert await again.authenticate() == ["r"]
        await again.join("r")
        assert again.code is not None


async def test_non_member_cannot_join(server: Server) -> None:
    a = await enrolled(server, "alice")
    server.party("bob")
    server.store.add_room("bobs-room", ["bob"])
    try:
        with pytest.raises(Forbidden) as err:
            await a.join("bobs-room")
        assert err.value.code == "forbidden"
        with pytest.raises(Forbidden):
            await a.join("no-such-room")
    finally:
        await a.close()


async def test_used_enrollment_code_and_unknown_device_are_refused(server: Server) -> None:
    ident, code = server.party("alice")
    async with SignalingClient(server.url, ident) as c:
        await c.enroll(code)
    async with SignalingClient(server.url, Identity.generate()) as thief:
        with pytest.raises(Unauthorized) as err:
            await thief.enroll(code)
        assert err.value.code == "unauthorized"
    async with SignalingClient(server.url, Identity.generate()) as stranger:
        with pytest.raises(Unauthorized) as err:
            await stranger.authenticate()
        assert err.value.code == "unauthorized"


async def test_revoked_device_is_refused(server: Server) -> None:
    ident, code = server.party("alice")
    async with SignalingClient(server.url, ident) as c:
        await c.enroll(code)
    device = server.store.device_by_key(ident.public_key)
    assert device is not None
    server.store.revoke_device(device.id)
    async with SignalingClient(server.url, ident) as c:
        with pytest.raises(Forbidden) as err:
            await c.authenticate()
        assert err.value.code == "forbidden"


# -- raw protocol abuse -----------------------------------------------------------------


async def raw(server: Server) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse,
                                       bytes]:
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(server.url + "/ws")
    hello = m.parse_server((await ws.receive()).data)
    assert isinstance(hello, m.Hello)
    return session, ws, hello.challenge


async def next_reply(ws: aiohttp.ClientWebSocketResponse) -> m.ServerMessage | None:
    msg = await asyncio.wait_for(ws.receive(), 3)
    if msg.type is not aiohttp.WSMsgType.TEXT:
        return None
    return m.parse_server(msg.data)


async def test_replayed_challenge_signature_is_refused(server: Server) -> None:
    ident, code = server.party("alice")
    async with SignalingClient(server.url, ident) as c:
        await c.enroll(code)
    s1, ws1, ch1 = await raw(server)
    origin = origin_of(server.url)
    signed = m.Auth(identity_key=ident.public_key, origin=origin,
                    signature=prove(ident, Purpose.AUTH, ch1, origin=origin))
    await ws1.send_str(m.encode(signed))
    assert isinstance(await next_reply(ws1), m.Welcome)
    s2, ws2, _ = await raw(server)
    await ws2.send_str(m.encode(signed))  # a captured proof, replayed on a new connection
    reply = await next_reply(ws2)
    assert isinstance(reply, m.Error) and reply.code == "unauthorized"
    for s, ws in ((s1, ws1), (s2, ws2)):
        await ws.close()
        await s.close()


@pytest.mark.parametrize("text", [
    "not json", "[]", "{}", '{"v": 2, "type": "ping"}', '{"v": 1, "type": "teleport"}',
    '{"v": 1, "type": "join"}', '{"v": 1, "type": "key", "to": -1, "data": ""}',
    '{"v": 1, "type": "announce", "announcement": "AAAA"}', '{"v": 1, "type": "leave"}',
    '{"v": 1, "type": "join", "room": "x"}', '{"v": 1, "type": "auth", "identity_key": "!",'
    ' "signature": ""}', json.dumps({"v": 1, "type": "key", "to": 1, "data": "A" * 100}),
])
async def test_bad_messages_get_an_error_and_the_server_stays_up(server: Server,
                                                                 text: str) -> None:
    clients = await three_in_a_room(server)
    session, ws, _ = await raw(server)
    try:
        await ws.send_str(text)
        reply = await next_reply(ws)
        assert isinstance(reply, m.Error), reply
        await ws.send_str(m.encode(m.Ping()))
        assert isinstance(await next_reply(ws), m.Pong)
        all_talk(clients)  # the call next door is unaffected
    finally:
        await ws.close()
        await session.close()
        for c in clients:
            await c.close()


async def test_forged_key_message_header_is_refused(server: Server) -> None:
    """A key message whose header names another sender or recipient is not relayed."""
    a, b, c = await three_in_a_room(server)
    try:
        a._send(m.SendKey(to=c.participant_id or 0, data=b"\x02\x01" + b"\x00" * 60))
        event = await asyncio.wait_for(_next_event(a, "error"), 3)
        assert event.data["code"] == "bad_request"
        assert c.rejected_key_messages == 0  # nothing reached c
        all_talk([a, b, c])
    finally:
        for x in (a, b, c):
            await x.close()


async def _next_event(client: SignalingClient, kind: str):  # type: ignore[no-untyped-def]
    while True:
        event = await client.events.get()
        if event.kind == kind:
            return event


async def test_oversized_message_closes_the_connection(server: Server) -> None:
    session, ws, _ = await raw(server)
    try:
        await ws.send_str("x" * (m.MAX_MESSAGE_BYTES + 10))
        msg = await asyncio.wait_for(ws.receive(), 3)
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                            aiohttp.WSMsgType.CLOSING)
    finally:
        await ws.close()
        await session.close()


async def test_flood_closes_only_the_flooder(server: Server) -> None:
    clients = await three_in_a_room(server)
    session, ws, _ = await raw(server)
    try:
        for _ in range(2000):
            if ws.closed:
                break
            await ws.send_str(m.encode(m.Ping()))
        closed = False
        for _ in range(3000):
            msg = await asyncio.wait_for(ws.receive(), 3)
            if msg.type is not aiohttp.WSMsgType.TEXT:
                closed = True
                break
        assert closed
        all_talk(clients)
    finally:
        await ws.close()
        await session.close()
        for c in clients:
            await c.close()
