"""Live rooms: who is in a call, the roster epoch, and ordered roster events.

Each live room also owns its media in the SFU: a seat's publish, subscribe answers and
media restart go through the room, and a leave (or an expired seat) removes the
participant from the SFU in the same step, so the roster and the SFU's participants
cannot drift apart. The SFU sits behind :class:`Media` (:class:`hotline.sfu.edge.Sfu`).

The server orders every roster change of a room (join, leave) under the room's lock
and numbers it with the next epoch, so all members see the same sequence. A join is
two steps: the server gives the joiner its participant id and the epoch of its join
(``join_ack``), the joiner signs its call-key announcement for them (``announce``),
and only then is the join committed and announced to the others. The server checks
announcements and key-message headers so it can refuse garbage early, but it never
holds a key that opens anything.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hotline.crypto.callkey import CallKeyAnnouncement
from hotline.crypto.codecommit import relayed_header
from hotline.crypto.phaseproof import verify_phase
from hotline.errors import (
    CryptoError,
    Forbidden,
    NotInRoom,
    ProtocolError,
    Refused,
    ResumeRefused,
)
from hotline.logtext import safe
from hotline.phases import CLOSED_OUT, Phase
from hotline.roles import DEFAULT_ROLE, LISTEN_ONLY, Role
from hotline.server.turn import no_turn
from hotline.signaling import messages as m
from hotline.signaling.channels import describe, unknown_channels

log = logging.getLogger("hotline.rooms")
#: One line per join and leave (party, room, participant; never a key or token): shown by
#: ``hotline serve`` even without ``-v``.
presence = logging.getLogger("hotline.presence")
#: The TURN servers and credentials for a participant (hotline.server.turn).
IceServersFor = Callable[[str], list[m.IceServer]]
#: Where joins and leaves are recorded: ``audit(kind, room=..., party=..., **detail)``.
AuditSink = Callable[..., None]
_U32 = 2**32 - 1


class Peer(Protocol):
    """A signaling connection as the rooms and the hotline service see it."""

    conn_id: str

    @property
    def party(self) -> str: ...
    @property
    def identity_key(self) -> bytes: ...
    def send(self, message: m.ServerMessage) -> None: ...


class Member(Peer, Protocol):
    """What a room needs from a connected participant (a signaling session)."""

    async def next_announcement(self, timeout: float) -> bytes: ...
    def can_replay_after(self, received: int) -> bool: ...


class Media(Protocol):
    """What a room needs from the SFU; every call names the room and a seat of it. The
    SFU offers each participant the others' streams by itself (when a stream appears)."""

    def listen(self, room: str, participant_id: int) -> object: ...
    async def publish(self, room: str, participant_id: int, offer_sdp: str) -> str: ...
    def subscribe_answer(self, room: str, participant_id: int, sdp: str) -> None: ...
    async def restart(self, room: str, participant_id: int) -> object: ...
    async def remove(self, room: str, participant_id: int) -> None: ...
    def hold(self, room: str, participant_id: int, held: bool) -> None: ...
    def set_channels(self, room: str, participant_id: int, *, channel: str | None = None,
                     listening: frozenset[str] | None = None) -> object: ...


@dataclass
class _Seat:
    session: Member
    participant_id: int
    announcement: bytes
    role: Role
    media: m.MediaState
    token: bytes = b""  # for ``resume`` (never logged)
    channel: str = ""  # an interpreter's: the channel its audio is in ("": floor)
    listening: frozenset[str] = frozenset()  # the channels it gets besides the floor
    recording: bool = False  # it says it records (L4; hotline.server.recording)

    def info(self) -> m.MemberInfo:
        return m.MemberInfo(participant_id=self.participant_id, party=self.session.party,
                            identity_key=self.session.identity_key,
                            announcement=self.announcement, role=self.role, media=self.media,
                            channel=self.channel, recording=self.recording)


class LiveRoom:
    """One room's call state. All roster changes happen under ``self._lock``."""

    def __init__(self, name: str, *, join_timeout: float, audit: AuditSink,
                 media: Media, ice_servers: IceServersFor = no_turn) -> None:
        self.name = name
        #: TURN servers and credentials for a participant (``joined``, ``resumed``).
        self.ice_servers = ice_servers
        self._join_timeout = join_timeout
        self._audit = audit
        self._media = media
        self._lock = asyncio.Lock()
        self._seats: dict[int, _Seat] = {}
        self._by_conn: dict[str, int] = {}
        self.epoch = 0
        self._next_pid = 1
        #: Whether its two members may connect directly (``direct_signal``): a hotline
        #: call or link test, or a room its operator marked (set by each join).
        self.direct_allowed = False
        #: The call's phase and the epoch it began in (L3; docs/SIGNALING.md "Phases").
        self.phase: Phase = "open"
        self.phase_epoch = 0
        #: Its interpretation channels (the operator's setting, as of the latest join).
        self.channels: tuple[str, ...] = ()

    @property
    def participants(self) -> dict[int, str]:
        return {pid: seat.session.party for pid, seat in self._seats.items()}

    def participant_id(self, session: Member) -> int | None:
        return self._by_conn.get(session.conn_id)

    def _next_epoch(self) -> int:
        # A new call starts at the wall clock (seconds), so epochs keep growing across
        # calls and server restarts; within a call they grow by one per event.
        if not self._seats:
            return min(_U32, max(self.epoch + 1, int(time.time())))
        if self.epoch >= _U32:
            raise ProtocolError("room epoch exhausted")
        return self.epoch + 1

    def role_of(self, session: Member) -> Role | None:
        pid = self._by_conn.get(session.conn_id)
        return None if pid is None else self._seats[pid].role

    async def join(self, session: Member, role: Role = DEFAULT_ROLE) -> None:
        """Run the two-step join; raises RemoteError on a bad or late announcement. A
        listen-only member is offered the others' streams at once (it publishes none)."""
        if session.conn_id in self._by_conn:
            raise ProtocolError("already in this room")
        async with self._lock:
            pid, epoch = self._next_pid, self._next_epoch()
            self._next_pid += 1
            session.send(m.JoinAck(room=self.name, participant_id=pid, epoch=epoch, role=role))
            try:
                raw = await session.next_announcement(self._join_timeout)
            except TimeoutError:
                raise ProtocolError("no announcement in time; join cancelled") from None
            try:
                ann = CallKeyAnnouncement.decode(raw)
                ann.verify(room_id=self.name, participant_id=pid,
                           identity_key=session.identity_key, role=role)
            except CryptoError as exc:
                raise ProtocolError(f"announcement refused: {exc.reason}") from None
            if ann.epoch != epoch:
                raise ProtocolError("announcement is for another epoch")
            others = list(self._seats.values())
            if not others:  # a new call begins open
                self.phase, self.phase_epoch = "open", epoch
            media = m.MediaState(audio=role not in LISTEN_ONLY, video=role not in LISTEN_ONLY)
            seat = _Seat(session, pid, raw, role, media, secrets.token_bytes(16))
            self._seats[pid] = seat
            self._by_conn[session.conn_id] = pid
            self.epoch = epoch
            session.send(m.Joined(room=self.name, participant_id=pid, epoch=epoch,
                                  members=[o.info() for o in others], role=role,
                                  resume_token=seat.token, direct=self.direct_allowed,
                                  channels=list(self.channels),
                                  ice_servers=self.ice_servers(f"p{pid}"),
                                  phase=self.phase, phase_epoch=self.phase_epoch))
            for other in others:
                other.session.send(m.MemberJoined(epoch=epoch, member=seat.info()))
        presence.info("join party=%s room=%s participant=%d conn=%s epoch=%d",
                 safe(session.party), self.name, pid, session.conn_id, epoch)
        self._audit("join", room=self.name, party=session.party, participant=pid)
        if role in CLOSED_OUT and self.phase == "closed":
            self._media.hold(self.name, pid, True)  # before anything is forwarded to it
        if role in LISTEN_ONLY:
            self._media.listen(self.name, pid)

    async def leave(self, session: Member) -> bool:
        """Remove ``session`` if it is in the room, its media too; tell the others. True
        if it was."""
        async with self._lock:
            pid = self._by_conn.pop(session.conn_id, None)
            if pid is None:
                return False
            del self._seats[pid]
            self.epoch = min(_U32, self.epoch + 1)
            for other in self._seats.values():
                other.session.send(m.MemberLeft(epoch=self.epoch, participant_id=pid))
        presence.info("leave party=%s room=%s participant=%d conn=%s epoch=%d",
                 safe(session.party), self.name, pid, session.conn_id, self.epoch)
        self._audit("leave", room=self.name, party=session.party, participant=pid)
        await self._media.remove(self.name, pid)
        return True

    async def resume(self, session: Member, participant_id: int, token: bytes,
                     received: int) -> Member:
        """Give seat ``participant_id`` to ``session`` (a new connection of the same
        device with the seat's token); returns the session that had it. Refused too when
        the messages the client missed are no longer all kept (it must join again)."""
        async with self._lock:
            seat = self._seats.get(participant_id)
            if (seat is None or not hmac.compare_digest(seat.token, token)
                    or seat.session.identity_key != session.identity_key):
                raise ResumeRefused("no such seat to resume (it may have expired)")
            if not seat.session.can_replay_after(received):
                raise ResumeRefused("too much was missed to resume; join again")
            old = seat.session
            self._by_conn.pop(old.conn_id, None)
            self._by_conn[session.conn_id] = participant_id
            seat.session = session
        log.info("resume room=%s participant=%d conn=%s (was %s)", self.name, participant_id,
                 session.conn_id, old.conn_id)
        return old

    async def set_phase(self, by: int, phase: Phase, proof: bytes, party: str = "") -> int:
        """Change the call's phase for member ``by`` (0: an operator outside the call),
        whose right to ask was checked by the caller: a roster event (epoch + 1) to every
        member, and the SFU forwards nothing to the press in the closed part. Reopening
        needs ``by``'s proof (checked here too, so garbage stops early; every client
        checks it again). Returns the new epoch."""
        async with self._lock:
            if not self._seats:
                raise NotInRoom(f"no call in room {self.name!r} now")
            if phase == self.phase:
                raise ProtocolError(f"the call is {phase} already")
            if phase == "open":
                seat = self._seats.get(by)
                if seat is None or seat.role != "principal" or not verify_phase(
                        seat.session.identity_key, proof, room_id=self.name, signer=by,
                        epoch=self.epoch, phase=phase):
                    raise Forbidden("reopening needs the signed proof of a principal in "
                                    "the call (the page's Reopen button, Call.set_phase)")
            if self.epoch >= _U32:
                raise ProtocolError("room epoch exhausted")
            self.epoch += 1
            self.phase, self.phase_epoch = phase, self.epoch
            event = m.PhaseChanged(epoch=self.epoch, phase=phase, by=by, proof=proof)
            for seat in self._seats.values():
                seat.session.send(event)
            for pid, seat in self._seats.items():
                if seat.role in CLOSED_OUT:
                    self._media.hold(self.name, pid, phase == "closed")
        log.info("phase room=%s %s by=%d epoch=%d", self.name, phase, by, self.epoch)
        self._audit("phase", room=self.name, party=party, phase=phase, by=by)
        return self.epoch

    def set_media(self, session: Member, state: m.MediaState) -> None:
        """Record what ``session`` sends now and tell the others (no epoch: not a roster
        change). A listen-only member cannot claim to send."""
        pid = self._by_conn.get(session.conn_id)
        if pid is None:
            raise NotInRoom("join the room first")
        seat = self._seats[pid]
        if seat.role in LISTEN_ONLY and (state.audio or state.video or state.screen):
            raise ProtocolError(f"the role {seat.role} listens only")
        if state == seat.media:
            return
        seat.media = state
        for other in self._seats.values():
            if other is not seat:
                other.session.send(m.MemberMedia(participant_id=pid, state=state))

    def set_channel(self, session: Member, channel: str) -> None:
        """An interpreter's audio goes into ``channel`` ("": floor) from now on: the SFU
        forwards it accordingly at once and everyone is told (not a roster change)."""
        pid = self._seat_of(session)
        seat = self._seats[pid]
        if seat.role != "interpreter":
            raise Forbidden(f"only an interpreter publishes into a channel (your role in "
                            f"this room: {seat.role})")
        if channel and channel not in self.channels:
            raise ProtocolError(f"unknown channel {channel!r}; this room's channels: "
                                f"{describe(self.channels)}")
        seat.channel = channel
        self._media.set_channels(self.name, pid, channel=channel)
        for other in self._seats.values():
            other.session.send(m.MemberChannel(participant_id=pid, channel=channel))

    def listen(self, session: Member, channels: list[str]) -> None:
        """The channels ``session`` gets besides the floor, from now on (``listening``)."""
        pid = self._seat_of(session)
        unknown = unknown_channels(channels, self.channels)
        if unknown:
            raise ProtocolError(f"unknown channel{'s' if len(unknown) > 1 else ''} "
                                f"{', '.join(map(repr, unknown))}; this room's channels: "
                                f"{describe(self.channels)}")
        seat = self._seats[pid]
        seat.listening = frozenset(channels)
        self._media.set_channels(self.name, pid, listening=seat.listening)
        session.send(m.Listening(channels=[c for c in self.channels if c in seat.listening]))

    def _seat_of(self, session: Member) -> int:
        pid = self._by_conn.get(session.conn_id)
        if pid is None:
            raise NotInRoom("join a room first")
        return pid

    async def publish(self, session: Member, offer_sdp: str) -> None:
        """The seat's media offer: the SFU answers (``publish_answer``), then offers its
        streams to the others once they flow."""
        answer = await self._media.publish(self.name, self._seat_of(session), offer_sdp)
        session.send(m.PublishAnswer(sdp=answer))

    def subscribe_answer(self, session: Member, sdp: str) -> None:
        self._media.subscribe_answer(self.name, self._seat_of(session), sdp)

    async def restart_media(self, session: Member, reason: str) -> None:
        """``media_restart``: new media connections in the same seat (no roster change, no
        rekey). ``media_restarted`` comes before any offer of the new subscribe
        connection; what the client sent before it is for the old ones."""
        pid = self._seat_of(session)
        log.info("conn=%s room=%s participant=%d media restart: %s", session.conn_id,
                 safe(self.name), pid, safe(reason))
        await self._media.restart(self.name, pid)
        session.send(m.MediaRestarted())

    def seat_of(self, session: Member) -> _Seat:
        """The seat of ``session``; NotInRoom if it has none."""
        return self._seats[self._seat_of(session)]

    def broadcast(self, message: m.ServerMessage) -> None:
        """``message`` to every member of the call."""
        for seat in self._seats.values():
            seat.session.send(message)

    def send_to(self, participant_id: int, message: m.ServerMessage) -> None:
        seat = self._seats.get(participant_id)
        if seat is not None:
            seat.session.send(message)

    def relay_key(self, session: Member, to: int, data: bytes) -> None:
        """Forward a key message after checking its (public) header fits the sender."""
        pid = self._by_conn.get(session.conn_id)
        if pid is None:
            raise NotInRoom("join the room first")
        try:  # a key message, or a group-code commitment or reveal
            room_id, sender, recipient = relayed_header(data)
        except CryptoError as exc:
            raise ProtocolError(f"key message refused: {exc.reason}") from None
        if sender != pid or recipient != to or room_id != self.name:
            raise ProtocolError("key message header does not match its sender or recipient")
        target = self._seats.get(to)
        if target is None and 0 < to < self._next_pid:
            # it just left (the sender had not seen the leave yet): not the sender's fault,
            # and an error here would be taken as the answer to its next request
            log.info("room=%s key message to participant %d, who left: dropped",
                     safe(self.name), to)
            return
        if target is None:
            raise ProtocolError(f"no participant {to} in this room")
        target.session.send(m.KeyFrom(sender=pid, data=data))


    def relay_direct(self, session: Member, msg: m.DirectSignal) -> None:
        """Relay a direct-connection signal to the other member of a two-party room that
        allows direct connections; refused otherwise (nothing is relayed)."""
        pid = self._seat_of(session)
        if not self.direct_allowed:
            raise Forbidden("this room does not allow direct connections")
        if len(self._seats) != 2:
            raise Refused("direct connections need exactly two members in the room "
                          f"(there are {len(self._seats)})")
        if msg.to == pid or msg.to not in self._seats:
            raise ProtocolError(f"no other participant {msg.to} in this room")
        if (msg.description is None) == (msg.candidate is None):
            raise ProtocolError("a direct signal has exactly one of description and candidate")
        self._seats[msg.to].session.send(m.DirectFrom(
            sender=pid, description=msg.description, candidate=msg.candidate))


class RoomRegistry:
    """The live rooms of this server, created on first join."""

    def __init__(self, *, join_timeout: float, audit: AuditSink, media: Media,
                 ice_servers: IceServersFor = no_turn) -> None:
        self._rooms: dict[str, LiveRoom] = {}
        self._ice_servers = ice_servers
        self._join_timeout = join_timeout
        self._audit = audit
        self._media = media

    def find(self, name: str) -> LiveRoom | None:
        """The live room ``name``, without creating it."""
        return self._rooms.get(name)

    def get(self, name: str) -> LiveRoom:
        room = self._rooms.get(name)
        if room is None:
            room = self._rooms[name] = LiveRoom(name, join_timeout=self._join_timeout,
                                                audit=self._audit, media=self._media,
                                                ice_servers=self._ice_servers)
        return room

    def rooms(self) -> list[LiveRoom]:
        return list(self._rooms.values())

    def discard(self, name: str) -> None:
        """Forget room ``name`` once nobody is in it (a hotline's per-call rooms)."""
        room = self._rooms.get(name)
        if room is not None and not room.participants:
            del self._rooms[name]
