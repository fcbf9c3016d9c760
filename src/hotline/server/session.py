"""One signaling connection over aiohttp: the driver around :mod:`hotline.server.connection`.

Life of a connection: the server sends ``hello`` with a fresh challenge; the client
answers ``enroll`` (first time, with a one-time code) or ``auth``, each a signature
over that challenge; then it may ``join`` a room of its party, ``announce``, relay
``key`` messages and ``leave``. Which message is allowed in which state, and the error
of each refusal, is the table of :mod:`hotline.server.connection`; this module reads
frames, runs the handler of each allowed message and writes what the connection
encodes, through a bounded send queue. Repeated protocol errors, floods or a client too
slow to read close the connection.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import WSMsgType, web

from hotline.crypto.auth import Purpose, check_proof
from hotline.crypto.ed25519_checks import public_key_problem
from hotline.errors import (
    Forbidden,
    HotlineError,
    LocalError,
    NotInRoom,
    ProtocolError,
    Refused,
    RemoteError,
    ResumeRefused,
    Unauthorized,
    UsageError,
)
from hotline.logtext import safe
from hotline.roles import DEFAULT_ROLE, LISTEN_ONLY, as_role
from hotline.server import recording
from hotline.server.connection import Handlers, M, ServerConnection
from hotline.server.hotline.standby import Endpoint
from hotline.server.phases import set_phase
from hotline.server.rooms import LiveRoom
from hotline.server.state import ServerState
from hotline.signaling import messages as m

log = logging.getLogger("hotline.session")

SEND_QUEUE = 1024  # messages waiting for a slow reader before we drop the connection
CLOSE_POLICY = 4008  # WebSocket close code: policy violation (flood, errors, slow)
#: Close codes of a connection closed on purpose (normal, going away, ours): a leave.
CLEAN_CLOSE = frozenset({1000, 1001, CLOSE_POLICY})

class Session:
    """A client connection (implements :class:`hotline.server.rooms.Member` and
    :class:`hotline.server.hotline.standby.Endpoint`)."""

    def __init__(self, state: ServerState, ws: web.WebSocketResponse, *,
                 origins: frozenset[str] = frozenset(),
                 channel_binding: bytes | None = None) -> None:
        self.state = state
        self.ws = ws
        #: Where this connection arrived (hotline.server.origin), and its tls-unique.
        self.origins, self.channel_binding = origins, channel_binding
        self.conn_id = secrets.token_hex(4)
        loop = asyncio.get_running_loop()
        self.conn: ServerConnection[LiveRoom] = ServerConnection(
            os.urandom(32), rate=state.settings.max_messages_per_second, now=loop.time())
        self._queue: asyncio.Queue[str] = asyncio.Queue(SEND_QUEUE)
        self._announce: asyncio.Future[bytes] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.handlers = h = Handlers()  # one handler per message type (connection.TABLE)
        h.add(m.Enroll, self._on_enroll)
        h.add(m.Auth, self._on_auth)
        h.add(m.Ping, self._on_ping)
        h.add(m.Join, self._on_join)
        h.add(m.HotlineJoin, self._on_hotline_join)
        h.add(m.Resume, self._on_resume)
        h.add(m.Announce, self._on_announce)
        h.add(m.SendKey, self._on_key)
        h.add(m.Leave, self._on_leave)
        h.add(m.Publish, self._on_publish)
        h.add(m.SubscribeAnswer, self._on_subscribe_answer)
        h.add(m.SetMedia, self._on_media)
        h.add(m.MediaRestart, self._on_media_restart)
        h.add(m.SetChannel, self._on_set_channel)
        h.add(m.Listen, self._on_listen)
        h.add(m.DirectSignal, self._on_direct_signal)
        h.add(m.SetPhase, lambda msg: set_phase(self, self.state, msg))
        h.add(m.RecordRequest, self._in_seat(recording.record_request))
        h.add(m.RecordConsent, self._in_seat(recording.record_consent))
        h.add(m.SetRecording, self._in_seat(recording.set_recording))
        # hotlines: decided in hotline.server.hotline.service
        hotlines = self.state.hotlines
        h.add(m.StandbyRegister, self._on_standby)
        h.add(m.LinkTestRequest, self._on_linktest_request)
        h.add(m.LinkTestReport, self._to_service(hotlines.report))
        h.add(m.HotlineCall, self._on_hotline_call)
        h.add(m.RingAck, self._to_service(hotlines.ack))
        h.add(m.CallAnswer, self._to_service(hotlines.answer))
        h.add(m.Hangup, self._to_service(hotlines.hangup))
        h.add(m.HotlineStatusRequest, self._on_hotline_status)

    # -- what a room and the hotline service see of a connection -------------------------

    @property
    def party(self) -> str:
        return self.conn.party

    @property
    def identity_key(self) -> bytes:
        return self.conn.identity_key

    @property
    def device_id(self) -> int | None:
        return self.conn.device_id

    @property
    def room(self) -> LiveRoom | None:
        return self.conn.room

    def send(self, message: m.ServerMessage) -> None:
        """Queue a message; a client that does not read is disconnected, never waited on.
        From ``joined`` on, every message is also numbered and kept for a ``resume``."""
        text = self.conn.send(message)
        if self.ws.closed:
            return  # kept above for a resume; nobody reads this connection any more
        self._put(text)

    def _put(self, text: str) -> None:
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            log.warning("conn=%s send queue full; closing", self.conn_id)
            self._spawn(self._close(CLOSE_POLICY, "too slow"))

    def can_replay_after(self, received: int) -> bool:
        return self.conn.can_replay_after(received)

    async def next_announcement(self, timeout: float) -> bytes:
        self._announce = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(self._announce, timeout)
        finally:
            self._announce = None

    def hand_over(self, to: Session, room: LiveRoom) -> None:
        """``resume``: ``to`` takes this connection's seat in ``room``; this one closes."""
        to.conn.take_over(self.conn, room)
        if not self.ws.closed:
            self._spawn(self._close(CLOSE_POLICY, "resumed on another connection"))

    # -- the connection ----------------------------------------------------------------

    async def run(self) -> None:
        writer = asyncio.create_task(self._writer())
        self.send(m.Hello(challenge=self.conn.challenge,
                          server=self.state.settings.server_name))
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

    async def _writer(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return

    async def _receive(self, text: str) -> None:
        if not self.conn.frame_received(asyncio.get_running_loop().time()):
            await self._close(CLOSE_POLICY, "too many messages")
            return
        try:
            await self.handlers.dispatch(self.conn.receive(text))
        except (RemoteError, LocalError) as exc:
            await self._refuse(exc)

    async def _refuse(self, exc: HotlineError) -> None:
        log.info("refused conn=%s: %s", self.conn_id, safe(exc))
        self.send(self.conn.refused(exc))
        if self.conn.too_many_errors:
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
        if self.conn.handed_over:
            return  # the seat lives on in another connection
        grace = self.state.settings.resume_grace
        broken = self.ws.close_code not in CLEAN_CLOSE  # not closed on purpose by either side
        if broken and grace > 0 and self.room is not None and self.conn.seated:
            # the connection broke mid-call: keep the seat (media flows on) for a resume
            log.info("conn=%s broke in room=%s; seat kept %.0f s for a resume", self.conn_id,
                     self.room.name, grace)
            asyncio.get_running_loop().call_later(grace, self._expire_soon)
            return
        await self._leave_room()

    def _expire_soon(self) -> None:
        if not self.conn.handed_over:
            task = asyncio.ensure_future(self._leave_room())
            self.state.background.add(task)
            task.add_done_callback(self.state.background.discard)

    async def _leave_room(self) -> bool:
        """Leave the room (roster and media); False if we were not in one."""
        room = self.conn.left()
        return room is not None and await room.leave(self)

    # -- handlers: each runs only in the states connection.TABLE allows -------------------

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
        problem = public_key_problem(msg.identity_key)
        if problem is not None:
            raise Unauthorized(f"identity key refused: not a usable Ed25519 public key "
                               f"({problem}); make a new identity")
        binding = self._binding(msg)
        if not check_proof(msg.identity_key, msg.signature, Purpose.ENROLL, self.conn.challenge,
                           msg.code, origin=msg.origin, channel_binding=binding):
            raise Unauthorized("enrollment proof does not verify")
        try:
            device = self.state.store.enroll(msg.code, msg.identity_key, msg.label)
        except UsageError as exc:
            raise Unauthorized(str(exc)) from None
        self._authenticated(device.party, msg.identity_key, device.id)
        self.send(m.Enrolled(party=device.party, device_id=device.id))

    async def _on_auth(self, msg: m.Auth) -> None:
        binding = self._binding(msg)
        if not check_proof(msg.identity_key, msg.signature, Purpose.AUTH, self.conn.challenge,
                           origin=msg.origin, channel_binding=binding):
            raise Unauthorized("signature does not verify")
        device = self.state.store.device_by_key(msg.identity_key)
        if device is None:
            raise Unauthorized("unknown device; enroll it first")
        if device.revoked:
            raise Forbidden("this device was revoked")
        self._authenticated(device.party, msg.identity_key, device.id)
        rooms = self.state.store.rooms_of(device.party)
        roles = {r.name: role for r in rooms if (role := as_role(r.role_of(device.party)))}
        self.send(m.Welcome(party=device.party, device_id=device.id,
                            rooms=[r.name for r in rooms], roles=roles))

    def _authenticated(self, party: str, identity_key: bytes, device_id: int) -> None:
        self.conn.authenticated(party, identity_key, device_id)
        log.info("auth conn=%s party=%s device=%d", self.conn_id, party, device_id)

    async def _on_join(self, msg: m.Join) -> None:
        room = self.state.store.get_room(msg.room)
        if room is None:  # an enrolled party may learn which room names exist
            raise Forbidden(f"no room named {msg.room!r} (the operator lists them: "
                            "`hotline admin room list`)")
        if self.party not in room.members:
            raise Forbidden(f"party {self.party!r} is not a member of room {msg.room!r} "
                            "(the operator adds it: `hotline admin room member`)")
        live = self.state.rooms.get(msg.room)
        live.direct_allowed = room.direct  # the operator's settings, as of this join
        live.channels = room.channels
        self.conn.joining(live)
        self._spawn(self._join(live, as_role(room.role_of(self.party)) or DEFAULT_ROLE))

    async def _join(self, live: LiveRoom, role: m.Role = DEFAULT_ROLE) -> None:
        try:
            await live.join(self, role)
        except (RemoteError, LocalError) as exc:
            self.conn.join_failed(live)
            await self._refuse(exc)

    async def _on_announce(self, msg: m.Announce) -> None:
        if self._announce is None or self._announce.done():
            raise ProtocolError("no join waiting for an announcement")
        self._announce.set_result(msg.announcement)

    def _seat(self) -> LiveRoom:
        assert self.room is not None  # SEATED and JOINING have a room
        return self.room

    async def _on_key(self, msg: m.SendKey) -> None:
        self._seat().relay_key(self, msg.to, msg.data)

    async def _on_leave(self, msg: m.Leave) -> None:
        room = self._seat()
        if not await self._leave_room():
            raise NotInRoom("not in a room")
        self.send(m.Left(room=room.name))

    async def _on_publish(self, msg: m.Publish) -> None:
        room = self._seat()
        role = room.role_of(self)
        if role in LISTEN_ONLY:
            raise Forbidden(f"the role {role} listens only; it cannot publish")
        self._spawn(self._publish(room, msg.sdp))

    async def _publish(self, room: LiveRoom, sdp: str) -> None:
        try:
            await room.publish(self, sdp)
        except (RemoteError, LocalError) as exc:
            await self._refuse(exc)

    async def _on_subscribe_answer(self, msg: m.SubscribeAnswer) -> None:
        self._seat().subscribe_answer(self, msg.sdp)

    async def _on_media(self, msg: m.SetMedia) -> None:
        self._seat().set_media(self, msg.state)

    async def _on_set_channel(self, msg: m.SetChannel) -> None:
        self._seat().set_channel(self, msg.channel)

    async def _on_listen(self, msg: m.Listen) -> None:
        self._seat().listen(self, msg.channels)

    async def _on_media_restart(self, msg: m.MediaRestart) -> None:
        """The client's media path died: new connections in the same seat (no roster
        change, no rekey); see :meth:`LiveRoom.restart_media`."""
        await self._seat().restart_media(self, msg.reason or "-")

    async def _on_direct_signal(self, msg: m.DirectSignal) -> None:
        """A description or candidate of a direct connection to the other member: relayed
        as ``direct_from`` in a two-party room that allows it (rate-limited)."""
        if not self.conn.direct_signal_allowed(asyncio.get_running_loop().time()):
            raise Refused("too many direct signals; slow down")
        self._seat().relay_direct(self, msg)

    async def _on_resume(self, msg: m.Resume) -> None:
        """Take back a seat whose connection broke: same device, the seat's token."""
        live = self.state.rooms.find(msg.room)
        if live is None:
            raise ResumeRefused("no such seat to resume (it may have expired)")
        old = await live.resume(self, msg.participant_id, msg.token, msg.received)
        assert isinstance(old, Session)  # every member of a server's room is a Session
        old.hand_over(self, live)
        self.send(m.Resumed(room=live.name, participant_id=msg.participant_id, epoch=live.epoch,
                            received=self.conn.received,
                            ice_servers=live.ice_servers(f"p{msg.participant_id}"),
                            phase=live.phase, phase_epoch=live.phase_epoch))
        try:
            for text in self.conn.replay_after(msg.received):
                self._queue.put_nowait(text)
        except asyncio.QueueFull:
            await self._close(CLOSE_POLICY, "too much to replay")

    async def _on_ping(self, msg: m.Ping) -> None:
        self.send(m.Pong())

    def _in_seat(self, act: Callable[[LiveRoom, Session, M], None]
                 ) -> Callable[[M], Awaitable[None]]:
        """A handler that hands the message to ``act`` with this seat's room."""
        async def handle(msg: M) -> None:
            act(self._seat(), self, msg)
        return handle

    # -- hotlines: everything is decided in hotline.server.hotline.service ---------------

    def _to_service(self, act: Callable[[Endpoint, M], None]) -> Callable[[M], Awaitable[None]]:
        """A handler that hands the message to the hotline service as it is."""
        async def handle(msg: M) -> None:
            act(self, msg)
        return handle

    async def _on_standby(self, msg: m.StandbyRegister) -> None:
        self.state.hotlines.register_standby(self, msg.hotline, msg.record_length)

    async def _on_linktest_request(self, msg: m.LinkTestRequest) -> None:
        self._spawn(self._linktest(msg.hotline))

    async def _linktest(self, hotline: str) -> None:
        try:
            await self.state.hotlines.linktest_now(self, hotline)
        except (RemoteError, LocalError) as exc:
            await self._refuse(exc)

    async def _on_hotline_call(self, msg: m.HotlineCall) -> None:
        self.state.hotlines.call(self, msg.hotline)

    async def _on_hotline_join(self, msg: m.HotlineJoin) -> None:
        """Join the media room of a link test or an answered call (checks in the service);
        both ends of a hotline publish and receive."""
        live = self.state.rooms.get(self.state.hotlines.media_room(self, msg.call_id))
        live.direct_allowed = True  # a hotline call or link test: its two ends, checked
        self.conn.joining(live)
        self._spawn(self._join(live))

    async def _on_hotline_status(self, msg: m.HotlineStatusRequest) -> None:
        self.send(m.HotlineStatus(hotlines=self.state.hotlines.status(self.party, msg.last)))
