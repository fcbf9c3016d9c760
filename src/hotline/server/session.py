"""One signaling connection: authentication, a table of handlers, a bounded send queue.

Life of a connection: the server sends ``hello`` with a fresh challenge; the client
answers ``enroll`` (first time, with a one-time code) or ``auth``, each a signature
over that challenge; then it may ``join`` a room of its party, ``announce``, relay
``key`` messages and ``leave``. Every refused request gets one ``error`` message;
repeated protocol errors, floods or a client too slow to read close the connection.
Errors map to codes in :func:`error_for`, through the one table (hotline.errors).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, cast

from aiohttp import WSMsgType, web

from hotline.crypto.auth import Purpose, check_proof
from hotline.crypto.ed25519_checks import public_key_problem
from hotline.errors import (
    Forbidden,
    HotlineError,
    LocalError,
    NotInRoom,
    ProtocolError,
    RemoteError,
    ResumeRefused,
    Unauthorized,
    UsageError,
    to_wire,
)
from hotline.logtext import safe
from hotline.server.rooms import LiveRoom
from hotline.signaling import messages as m

if TYPE_CHECKING:
    from hotline.server.app import ServerState

log = logging.getLogger("hotline.session")

SEND_QUEUE = 1024  # messages waiting for a slow reader before we drop the connection
REPLAY = 1024  # messages kept after ``joined`` for a ``resume`` to replay
MAX_ERRORS = 20  # refused requests before the connection is closed
CLOSE_POLICY = 4008  # WebSocket close code: policy violation (flood, errors, slow)
#: Close codes of a connection closed on purpose (normal, going away, ours): a leave.
CLEAN_CLOSE = frozenset({1000, 1001, CLOSE_POLICY})


def error_for(exc: HotlineError) -> m.Error:
    """What a client sees of a refusal: the code from the one table (hotline.errors)."""
    code, message = to_wire(exc)
    return m.Error(code=code, message=message)


class Session:
    """A client connection (implements :class:`hotline.server.rooms.Member`)."""

    def __init__(self, state: ServerState, ws: web.WebSocketResponse, *,
                 origins: frozenset[str] = frozenset(),
                 channel_binding: bytes | None = None) -> None:
        self.state = state
        self.ws = ws
        #: Where this connection arrived (hotline.server.origin), and its tls-unique.
        self.origins, self.channel_binding = origins, channel_binding
        self.conn_id = secrets.token_hex(4)
        self.challenge = os.urandom(32)
        self.party = ""
        self.identity_key = b""
        self.device_id: int | None = None
        self.room: LiveRoom | None = None
        self._queue: asyncio.Queue[str] = asyncio.Queue(SEND_QUEUE)
        # After ``joined``: what we sent, numbered (for a ``resume`` to replay), and how
        # many messages we received; None before a join.
        self._sent: deque[tuple[int, str]] | None = None
        self._sent_seq = 0
        self._received = 0
        self._resumed = False  # another connection took this one's seat
        self._announce: asyncio.Future[bytes] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._errors = 0
        rate = state.settings.max_messages_per_second
        self._tokens, self._rate, self._burst = 2 * rate, rate, 2 * rate
        self._last = asyncio.get_running_loop().time()
        self._handlers: dict[type, Callable[[m.ClientMessage], Awaitable[None]]] = {
            m.Enroll: self._on_enroll,  # type: ignore[dict-item]
            m.Auth: self._on_auth,  # type: ignore[dict-item]
            m.Join: self._on_join,  # type: ignore[dict-item]
            m.Announce: self._on_announce,  # type: ignore[dict-item]
            m.SendKey: self._on_key,  # type: ignore[dict-item]
            m.Leave: self._on_leave,  # type: ignore[dict-item]
            m.Publish: self._on_publish,  # type: ignore[dict-item]
            m.SubscribeAnswer: self._on_subscribe_answer,  # type: ignore[dict-item]
            m.Ping: self._on_ping,  # type: ignore[dict-item]
            m.Resume: self._on_resume,  # type: ignore[dict-item]
            m.SetMedia: self._on_media,  # type: ignore[dict-item]
            m.MediaRestart: self._on_media_restart,  # type: ignore[dict-item]
        }
        self._handlers.update({  # hotlines: decided in hotline.server.hotlines
            m.StandbyRegister: self._on_standby,  # type: ignore[dict-item]
            m.LinkTestRequest: self._on_linktest_request,  # type: ignore[dict-item]
            m.LinkTestReport: self._on_linktest_report,  # type: ignore[dict-item]
            m.HotlineCall: self._on_hotline_call,  # type: ignore[dict-item]
            m.RingAck: self._on_ring_ack,  # type: ignore[dict-item]
            m.CallAnswer: self._on_call_answer,  # type: ignore[dict-item]
            m.Hangup: self._on_hangup,  # type: ignore[dict-item]
            m.HotlineJoin: self._on_hotline_join,  # type: ignore[dict-item]
            m.HotlineStatusRequest: self._on_hotline_status,  # type: ignore[dict-item]
        })

    # -- sending ---------------------------------------------------------------------

    def send(self, message: m.ServerMessage) -> None:
        """Queue a message; a client that does not read is disconnected, never waited on.
        From ``joined`` on, every message is also numbered and kept for a ``resume``."""
        text = m.encode(message)
        if isinstance(message, m.Joined):
            self._sent, self._sent_seq, self._received = deque(maxlen=REPLAY), 0, 0
        elif self._sent is not None and not isinstance(message, m.Resumed):
            self._sent_seq += 1
            self._sent.append((self._sent_seq, text))
        if self.ws.closed:
            return  # kept above for a resume; nobody reads this connection any more
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("conn=%s send queue full; closing", self.conn_id)
            self._spawn(self._close(CLOSE_POLICY, "too slow"))

    async def _writer(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    def can_replay_after(self, received: int) -> bool:
        """Whether every message after the first ``received`` since ``joined`` is kept."""
        if self._sent is None or received > self._sent_seq:
            return False
        return not self._sent or self._sent[0][0] <= received + 1

    async def next_announcement(self, timeout: float) -> bytes:
        self._announce = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(self._announce, timeout)
        finally:
            self._announce = None

    # -- the connection ----------------------------------------------------------------

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer())
        self.send(m.Hello(challenge=self.challenge, server=self.state.settings.server_name))
        log.info("open conn=%s", self.conn_id)
        try:
            async for msg in self.ws:
                if msg.type is WSMsgType.TEXT:
                    await self._receive(msg.data)
                elif msg.type is WSMsgType.BINARY:
                    await self._refuse(ProtocolError("binary frames are not used"))
                else:
                    break
                if self.ws.closed:
                    break
        finally:
            await self._cleanup()
            writer.cancel()
            log.info("close conn=%s party=%s", self.conn_id, safe(self.party or "-"))

    async def _receive(self, text: str) -> None:
        if self._sent is not None:
            self._received += 1
        if not self._take_token():
            await self._close(CLOSE_POLICY, "too many messages")
            return
        try:
            message = m.parse_client(text)
            await self._handlers[type(message)](message)
        except (RemoteError, LocalError) as exc:
            await self._refuse(exc)

    def _take_token(self) -> bool:
        now = asyncio.get_running_loop().time()
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True

    async def _refuse(self, exc: HotlineError) -> None:
        self._errors += 1
        log.info("refused conn=%s: %s", self.conn_id, safe(exc))
        self.send(error_for(exc))
        if self._errors >= MAX_ERRORS:
            await self._close(CLOSE_POLICY, "too many errors")

    async def _close(self, code: int, reason: str) -> None:
        if not self.ws.closed:
            await self.ws.close(code=code, message=reason.encode())

    def _spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _cleanup(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._announce is not None and not self._announce.done():
            self._announce.cancel()
        if self.device_id is not None:
            self.state.hotlines.disconnected(self)
        if self._resumed:
            return  # the seat lives on in another connection
        grace = self.state.settings.resume_grace
        broken = self.ws.close_code not in CLEAN_CLOSE  # not closed on purpose by either side
        if (broken and grace > 0 and self.room is not None
                and self.room.participant_id(self) is not None):
            # the connection broke mid-call: keep the seat (media flows on) for a resume
            log.info("conn=%s broke in room=%s; seat kept %.0f s for a resume", self.conn_id,
                     self.room.name, grace)
            asyncio.get_running_loop().call_later(grace, self._expire_soon)
            return
        await self._leave_room()

    def _expire_soon(self) -> None:
        if not self._resumed:
            task = asyncio.ensure_future(self._leave_room())
            self.state.background.add(task)
            task.add_done_callback(self.state.background.discard)

    async def _leave_room(self) -> bool:
        """Leave the room (roster and media); False if we were not in one."""
        room, self.room = self.room, None
        if room is None:
            return False
        pid = room.participant_id(self)
        left = await room.leave(self)
        if pid is not None:
            await self.state.sfu.remove(room.name, pid)
        return left

    # -- handlers --------------------------------------------------------------------

    def _require_auth(self) -> None:
        if self.device_id is None:
            raise Unauthorized("authenticate first")

    def _binding(self, msg: m.Enroll | m.Auth) -> bytes:
        """The origin and channel binding a proof must be for, checked against ours: a
        proof made for another server (relayed by it) is refused here."""
        accepted = self.origins | self.state.public_origins
        if msg.origin not in accepted:
            public = ", ".join(sorted(self.state.public_origins)) or "none"
            raise Unauthorized(  # (the arrival address is not echoed: it may be internal)
                f"this proof is for the server {msg.origin}, not for this server: it "
                f"accepts the address a connection arrives at and its public URLs "
                f"({public}; an operator sets them with hotline serve --public-url)")
        if msg.channel_binding == "tls-unique":
            if self.channel_binding is None:
                raise Unauthorized("this connection has no tls-unique channel binding")
            return self.channel_binding
        return b""

    async def _on_enroll(self, msg: m.Enroll) -> None:
        if self.device_id is not None:
            raise ProtocolError("already authenticated")
        problem = public_key_problem(msg.identity_key)
        if problem is not None:
            raise Unauthorized(f"identity key refused: not a usable Ed25519 public key "
                               f"({problem}); make a new identity")
        binding = self._binding(msg)
        if not check_proof(msg.identity_key, msg.signature, Purpose.ENROLL, self.challenge,
                           msg.code, origin=msg.origin, channel_binding=binding):
            raise Unauthorized("enrollment proof does not verify")
        try:
            device = self.state.store.enroll(msg.code, msg.identity_key, msg.label)
        except UsageError as exc:
            raise Unauthorized(str(exc)) from None
        self._authenticated(device.party, msg.identity_key, device.id)
        self.send(m.Enrolled(party=device.party, device_id=device.id))

    async def _on_auth(self, msg: m.Auth) -> None:
        if self.device_id is not None:
            raise ProtocolError("already authenticated")
        binding = self._binding(msg)
        if not check_proof(msg.identity_key, msg.signature, Purpose.AUTH, self.challenge,
                           origin=msg.origin, channel_binding=binding):
            raise Unauthorized("signature does not verify")
        device = self.state.store.device_by_key(msg.identity_key)
        if device is None:
            raise Unauthorized("unknown device; enroll it first")
        if device.revoked:
            raise Forbidden("this device was revoked")
        self._authenticated(device.party, msg.identity_key, device.id)
        rooms = self.state.store.rooms_of(device.party)
        roles = {r.name: role for r in rooms if (role := r.role_of(device.party)) in m.ROLES}
        self.send(m.Welcome(party=device.party, device_id=device.id, rooms=[r.name for r in rooms],
                            roles=cast(dict[str, m.Role], roles)))

    def _authenticated(self, party: str, identity_key: bytes, device_id: int) -> None:
        self.party, self.identity_key, self.device_id = party, identity_key, device_id
        self.challenge = b""  # one use only
        log.info("auth conn=%s party=%s device=%d", self.conn_id, party, device_id)

    async def _on_join(self, msg: m.Join) -> None:
        self._require_auth()
        if self.room is not None:
            raise ProtocolError("already in a room; leave first")
        room = self.state.store.get_room(msg.room)
        if room is None or self.party not in room.members:
            raise Forbidden(f"not a member of room {msg.room!r}")
        live = self.state.rooms.get(msg.room)
        self.room = live
        role = room.role_of(self.party)
        self._spawn(self._join(live, cast(m.Role, role) if role in m.ROLES else m.DEFAULT_ROLE))

    async def _join(self, live: LiveRoom, role: m.Role) -> None:
        try:
            await live.join(self, role)
        except (RemoteError, LocalError) as exc:
            if self.room is live and live.participant_id(self) is None:
                self.room = None
            await self._refuse(exc)
            return
        pid = live.participant_id(self)
        if role in m.LISTEN_ONLY and pid is not None:
            # nothing to publish: the SFU offers it the others' streams at once
            self.state.sfu.participant(live.name, pid)
            self.state.sfu.sync_room(live.name)

    async def _on_announce(self, msg: m.Announce) -> None:
        if self._announce is None or self._announce.done():
            raise ProtocolError("no join waiting for an announcement")
        self._announce.set_result(msg.announcement)

    async def _on_key(self, msg: m.SendKey) -> None:
        self._require_auth()
        if self.room is None:
            raise NotInRoom("join a room first")
        self.room.relay_key(self, msg.to, msg.data)

    async def _on_leave(self, msg: m.Leave) -> None:
        self._require_auth()
        room = self.room
        if room is None or not await self._leave_room():
            raise NotInRoom("not in a room")
        self.send(m.Left(room=room.name))

    def _joined_seat(self) -> tuple[LiveRoom, int]:
        self._require_auth()
        pid = self.room.participant_id(self) if self.room is not None else None
        if self.room is None or pid is None:
            raise NotInRoom("join a room first")
        return self.room, pid

    async def _on_publish(self, msg: m.Publish) -> None:
        room, pid = self._joined_seat()
        role = room.role_of(self)
        if role in m.LISTEN_ONLY:
            raise Forbidden(f"the role {role} listens only; it cannot publish")
        self._spawn(self._publish(room, pid, msg.sdp))

    async def _publish(self, room: LiveRoom, pid: int, sdp: str) -> None:
        try:
            answer = await self.state.sfu.publish(room.name, pid, sdp)
        except (RemoteError, LocalError) as exc:
            await self._refuse(exc)
            return
        self.send(m.PublishAnswer(sdp=answer))
        self.state.sfu.sync_room(room.name)

    async def _on_subscribe_answer(self, msg: m.SubscribeAnswer) -> None:
        room, pid = self._joined_seat()
        self.state.sfu.subscribe_answer(room.name, pid, msg.sdp)

    async def _on_media(self, msg: m.SetMedia) -> None:
        room, _ = self._joined_seat()
        room.set_media(self, msg.state)

    async def _on_media_restart(self, msg: m.MediaRestart) -> None:
        """The client's media path died: new connections in the same seat (no roster
        change, no rekey). ``media_restarted`` comes before any offer of the new
        subscribe connection; what the client sent before it is for the old ones."""
        room, pid = self._joined_seat()
        log.info("conn=%s room=%s participant=%d media restart: %s", self.conn_id,
                 safe(room.name), pid, safe(msg.reason or "-"))
        await self.state.sfu.restart(room.name, pid)
        self.send(m.MediaRestarted())
        self.state.sfu.sync_room(room.name)  # the others' streams, on a new connection

    async def _on_resume(self, msg: m.Resume) -> None:
        """Take back a seat whose connection broke: same device, the seat's token."""
        self._require_auth()
        if self.room is not None:
            raise ProtocolError("already in a room")
        live = self.state.rooms.find(msg.room)
        if live is None:
            raise ResumeRefused("no such seat to resume (it may have expired)")
        old = await live.resume(self, msg.participant_id, msg.token, msg.received)
        if isinstance(old, Session):
            old._resumed = True
            self._sent, self._sent_seq = old._sent, old._sent_seq
            self._received = old._received
            old.room = None
            if not old.ws.closed:
                old._spawn(old._close(CLOSE_POLICY, "resumed on another connection"))
        self.room = live
        self.send(m.Resumed(room=live.name, participant_id=msg.participant_id, epoch=live.epoch,
                            received=self._received))
        try:
            for seq, text in list(self._sent or ()):
                if seq > msg.received:
                    self._queue.put_nowait(text)
        except asyncio.QueueFull:
            await self._close(CLOSE_POLICY, "too much to replay")

    async def _on_ping(self, msg: m.Ping) -> None:
        self.send(m.Pong())

    # -- hotlines: everything is decided in hotline.server.hotlines -------------------------

    async def _on_standby(self, msg: m.StandbyRegister) -> None:
        self._require_auth()
        self.state.hotlines.register_standby(self, msg.hotline, msg.record_length)

    async def _on_linktest_request(self, msg: m.LinkTestRequest) -> None:
        self._require_auth()
        self._spawn(self._linktest(msg.hotline))

    async def _linktest(self, hotline: str) -> None:
        try:
            await self.state.hotlines.linktest_now(self, hotline)
        except (RemoteError, LocalError) as exc:
            await self._refuse(exc)

    async def _on_linktest_report(self, msg: m.LinkTestReport) -> None:
        self._require_auth()
        self.state.hotlines.report(self, msg)

    async def _on_hotline_call(self, msg: m.HotlineCall) -> None:
        self._require_auth()
        self.state.hotlines.call(self, msg.hotline)

    async def _on_ring_ack(self, msg: m.RingAck) -> None:
        self._require_auth()
        self.state.hotlines.ack(self, msg)

    async def _on_call_answer(self, msg: m.CallAnswer) -> None:
        self._require_auth()
        self.state.hotlines.answer(self, msg)

    async def _on_hangup(self, msg: m.Hangup) -> None:
        self._require_auth()
        self.state.hotlines.hangup(self, msg)

    async def _on_hotline_join(self, msg: m.HotlineJoin) -> None:
        """Join the media room of a link test or an answered call (checks in the service)."""
        self._require_auth()
        if self.room is not None:
            raise ProtocolError("already in a room; leave first")
        live = self.state.rooms.get(self.state.hotlines.media_room(self, msg.call_id))
        self.room = live
        self._spawn(self._hotline_join(live))

    async def _hotline_join(self, live: LiveRoom) -> None:
        try:
            await live.join(self)  # both ends of a hotline publish and receive
        except (RemoteError, LocalError) as exc:
            if self.room is live and live.participant_id(self) is None:
                self.room = None
            await self._refuse(exc)

    async def _on_hotline_status(self, msg: m.HotlineStatusRequest) -> None:
        self._require_auth()
        self.send(m.HotlineStatus(hotlines=self.state.hotlines.status(self.party, msg.last)))
