"""The signaling protocol of one connection, without I/O (in the manner of h11 and websockets).

A connection is in one :class:`State` at a time; :data:`TABLE` says, for every client
message in every state, whether it goes to its handler or is refused, and with which
error (so which wire code, :func:`error_for`). :class:`ServerConnection` holds the state
and what goes with it (who is authenticated, the room, the numbered messages kept for a
``resume``, the flood and error budgets); the aiohttp driver
(:class:`hotline.server.session.Session`) reads frames, runs the handlers and writes what
this object encodes. Time is passed in; nothing here touches a socket or an event loop.

States::

    GREETED --enroll/auth--> READY --join/hotline_join--> JOINING --joined--> SEATED
                               ^  <--join refused, leave----'                   |
                               |  <--------------- leave -----------------------'
                               '--resume (a seat from a broken connection)----> SEATED
    SEATED --another connection resumed the seat--> HANDED_OVER (closing)
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from hotline.errors import (
    HotlineError,
    NotInRoom,
    ProtocolError,
    RemoteError,
    Unauthorized,
    to_wire,
)
from hotline.signaling import messages as m

REPLAY = 1024  # messages kept after ``joined`` for a ``resume`` to replay
MAX_ERRORS = 20  # refused requests before the connection is closed
#: ``direct_signal`` budget of one connection: a burst (an offer or answer and a browser's
#: trickled candidates), then a few per second (an ICE restart now and then).
DIRECT_BURST, DIRECT_RATE = 40, 2.0


def error_for(exc: HotlineError) -> m.Error:
    """What a client sees of a refusal: the code from the one table (hotline.errors)."""
    code, message = to_wire(exc)
    return m.Error(code=code, message=message)


class State(enum.Enum):
    GREETED = "greeted"  # ``hello`` sent; the peer is nobody yet
    READY = "ready"  # authenticated, in no room
    JOINING = "joining"  # a join or hotline_join under way: a room, no seat yet
    SEATED = "seated"  # a seat in a room (``joined`` or ``resumed`` sent)
    HANDED_OVER = "handed_over"  # another connection resumed this one's seat; closing


@dataclass(frozen=True, slots=True)
class Refusal:
    """A message refused in a state: the error it raises (and so its wire code)."""

    error: type[RemoteError]
    text: str

    def exception(self) -> RemoteError:
        return self.error(self.text)


ALLOW = None
_AUTH_FIRST = Refusal(Unauthorized, "authenticate first")
_AUTHENTICATED = Refusal(ProtocolError, "already authenticated")
_IN_ROOM = Refusal(ProtocolError, "already in a room; leave first")
_NO_SEAT = Refusal(NotInRoom, "join a room first")
_NO_ANNOUNCE = Refusal(ProtocolError, "no join waiting for an announcement")
_HANDED_OVER = Refusal(ProtocolError, "this connection's seat was resumed on another one")

#: Which message goes to its handler (ALLOW) in which state, or why it is refused.
#: A handler may still refuse for what the state does not say (a bad proof, a room
#: the party is not a member of, a hotline it is not an end of).
#:
#:   message type:           GREETED      READY        JOINING      SEATED       HANDED_OVER
TABLE: dict[type[m.ClientMessage], tuple[Refusal | None, ...]] = {
    m.Enroll: (ALLOW, _AUTHENTICATED, _AUTHENTICATED, _AUTHENTICATED, _AUTHENTICATED),
    m.Auth: (ALLOW, _AUTHENTICATED, _AUTHENTICATED, _AUTHENTICATED, _AUTHENTICATED),
    m.Ping: (ALLOW, ALLOW, ALLOW, ALLOW, ALLOW),
    m.Join: (_AUTH_FIRST, ALLOW, _IN_ROOM, _IN_ROOM, _HANDED_OVER),
    m.HotlineJoin: (_AUTH_FIRST, ALLOW, _IN_ROOM, _IN_ROOM, _HANDED_OVER),
    m.Resume: (_AUTH_FIRST, ALLOW, Refusal(ProtocolError, "already in a room"),
               Refusal(ProtocolError, "already in a room"), _HANDED_OVER),
    # the join's second step (hotline.server.rooms), once the join holds the room's lock
    m.Announce: (_NO_ANNOUNCE, _NO_ANNOUNCE, ALLOW, _NO_ANNOUNCE, _NO_ANNOUNCE),
    m.SendKey: (_AUTH_FIRST, _NO_SEAT, Refusal(NotInRoom, "join the room first"), ALLOW,
                _HANDED_OVER),
    # a leave while joining gives the room up (the join is refused) and is refused itself
    m.Leave: (_AUTH_FIRST, Refusal(NotInRoom, "not in a room"), ALLOW, ALLOW, _HANDED_OVER),
    m.Publish: (_AUTH_FIRST, _NO_SEAT, _NO_SEAT, ALLOW, _HANDED_OVER),
    m.SubscribeAnswer: (_AUTH_FIRST, _NO_SEAT, _NO_SEAT, ALLOW, _HANDED_OVER),
    m.SetMedia: (_AUTH_FIRST, _NO_SEAT, _NO_SEAT, ALLOW, _HANDED_OVER),
    m.MediaRestart: (_AUTH_FIRST, _NO_SEAT, _NO_SEAT, ALLOW, _HANDED_OVER),
    # interpretation channels: checked against the room and the role (hotline.server.rooms)
    m.SetChannel: (_AUTH_FIRST, _NO_SEAT, _NO_SEAT, ALLOW, _HANDED_OVER),
    m.Listen: (_AUTH_FIRST, _NO_SEAT, _NO_SEAT, ALLOW, _HANDED_OVER),
    # relayed only in a two-party room that allows it (hotline.server.rooms.relay_direct)
    m.DirectSignal: (_AUTH_FIRST, _NO_SEAT, _NO_SEAT, ALLOW, _HANDED_OVER),
    # from a member of the call, or from outside it (hotline.server.phases decides)
    m.SetPhase: (_AUTH_FIRST, ALLOW, ALLOW, ALLOW, _HANDED_OVER),
    # recording (L4): relayed by hotline.server.recording, which checks the roles
    m.RecordRequest: (_AUTH_FIRST, _NO_SEAT, _NO_SEAT, ALLOW, _HANDED_OVER),
    m.RecordConsent: (_AUTH_FIRST, _NO_SEAT, _NO_SEAT, ALLOW, _HANDED_OVER),
    m.SetRecording: (_AUTH_FIRST, _NO_SEAT, _NO_SEAT, ALLOW, _HANDED_OVER),
    # hotlines: every action is checked again by hotline.server.hotline.service
    m.StandbyRegister: (_AUTH_FIRST, ALLOW, ALLOW, ALLOW, _HANDED_OVER),
    m.LinkTestRequest: (_AUTH_FIRST, ALLOW, ALLOW, ALLOW, _HANDED_OVER),
    m.LinkTestReport: (_AUTH_FIRST, ALLOW, ALLOW, ALLOW, _HANDED_OVER),
    m.HotlineCall: (_AUTH_FIRST, ALLOW, ALLOW, ALLOW, _HANDED_OVER),
    m.RingAck: (_AUTH_FIRST, ALLOW, ALLOW, ALLOW, _HANDED_OVER),
    m.CallAnswer: (_AUTH_FIRST, ALLOW, ALLOW, ALLOW, _HANDED_OVER),
    m.Hangup: (_AUTH_FIRST, ALLOW, ALLOW, ALLOW, _HANDED_OVER),
    m.HotlineStatusRequest: (_AUTH_FIRST, ALLOW, ALLOW, ALLOW, _HANDED_OVER),
}
_COLUMN = {state: i for i, state in enumerate(State)}


def rule(state: State, kind: type[m.ClientMessage]) -> Refusal | None:
    """What :data:`TABLE` says of a message of type ``kind`` in ``state``."""
    return TABLE[kind][_COLUMN[state]]


M = TypeVar("M")  # a client message type


class Handlers:
    """Message type -> handler of the driver (one per row of :data:`TABLE`); :meth:`add`
    checks, for mypy, that a handler takes the type it is added for."""

    def __init__(self) -> None:
        self._table: dict[type, Callable[[Any], Awaitable[None]]] = {}

    def add(self, kind: type[M], handler: Callable[[M], Awaitable[None]]) -> None:
        self._table[kind] = handler

    def kinds(self) -> frozenset[type]:
        return frozenset(self._table)

    async def dispatch(self, message: m.ClientMessage) -> None:
        await self._table[type(message)](message)


class LocalProtocolError(RuntimeError):
    """The server itself broke the state machine: a bug, like a failed assertion (never
    the client's doing, so not in the tree of hotline.errors)."""


class TokenBucket:
    """At most ``burst`` at once, refilled at ``rate`` per second (time passed in)."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        self._tokens, self._rate, self._burst, self._last = burst, rate, burst, now

    def take(self, now: float) -> bool:
        self._tokens = min(self._burst, self._tokens + (now - self._last) * self._rate)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


R = TypeVar("R")  # the room type (hotline.server.rooms.LiveRoom; anything in tests)


class ServerConnection(Generic[R]):
    """The protocol state of one signaling connection (sans-I/O)."""

    def __init__(self, challenge: bytes, *, rate: float, now: float) -> None:
        self.state = State.GREETED
        #: The ``hello`` challenge, until a proof used it (one use only).
        self.challenge = challenge
        self.party = ""
        self.identity_key = b""
        self.device_id: int | None = None
        self.room: R | None = None
        self.errors = 0
        # After ``joined``: what we sent, numbered (for a ``resume`` to replay), and how
        # many messages we received; None before a join.
        self._sent: deque[tuple[int, str]] | None = None
        self._sent_seq = 0
        self.received = 0
        self._frames = TokenBucket(rate, 2 * rate, now)
        self._direct = TokenBucket(DIRECT_RATE, DIRECT_BURST, now)

    # -- events from the client --------------------------------------------------------

    def frame_received(self, now: float) -> bool:
        """Count a frame from the client; False if it is over its message budget (a
        flood: the connection closes)."""
        if self._sent is not None:
            self.received += 1
        return self._frames.take(now)

    def direct_signal_allowed(self, now: float) -> bool:
        """Count a ``direct_signal``; False if over its own budget (refused, not relayed)."""
        return self._direct.take(now)

    def receive(self, text: str) -> m.ClientMessage:
        """A text frame from the client, parsed and allowed in this state; raises the
        RemoteError to refuse it with."""
        message = m.parse_client(text)
        refusal = rule(self.state, type(message))
        if refusal is not None:
            raise refusal.exception()
        return message

    def refused(self, exc: HotlineError) -> m.Error:
        """Count a refused request; the ``error`` to send for it."""
        self.errors += 1
        return error_for(exc)

    @property
    def too_many_errors(self) -> bool:
        return self.errors >= MAX_ERRORS

    # -- events to the client ----------------------------------------------------------

    def send(self, message: m.ServerMessage) -> str:
        """Encode ``message``. ``joined`` seats a joining connection; from it on every
        message is also numbered and kept for a ``resume``."""
        text = m.encode(message)
        if isinstance(message, m.Joined):
            self._sent, self._sent_seq, self.received = deque(maxlen=REPLAY), 0, 0
            if self.state is State.JOINING:
                self.state = State.SEATED
        elif self._sent is not None and not isinstance(message, m.Resumed):
            self._sent_seq += 1
            self._sent.append((self._sent_seq, text))
        return text

    def can_replay_after(self, received: int) -> bool:
        """Whether every message after the first ``received`` since ``joined`` is kept."""
        if self._sent is None or received > self._sent_seq:
            return False
        return not self._sent or self._sent[0][0] <= received + 1

    def replay_after(self, received: int) -> list[str]:
        """The kept messages after the first ``received`` since ``joined``."""
        return [text for seq, text in self._sent or () if seq > received]

    # -- transitions the handlers make -------------------------------------------------

    def _expect(self, *states: State) -> None:
        if self.state not in states:
            raise LocalProtocolError(f"not allowed in state {self.state.value}")

    def authenticated(self, party: str, identity_key: bytes, device_id: int) -> None:
        self._expect(State.GREETED)
        self.party, self.identity_key, self.device_id = party, identity_key, device_id
        self.challenge = b""  # one use only
        self.state = State.READY

    def joining(self, room: R) -> None:
        """A join of ``room`` starts; ``joined`` (:meth:`send`) seats it."""
        self._expect(State.READY)
        self.room, self.state = room, State.JOINING

    def join_failed(self, room: R) -> None:
        """The join of ``room`` was refused: back to no room (unless it was left already)."""
        if self.state is State.JOINING and self.room is room:
            self.room, self.state = None, State.READY

    def left(self) -> R | None:
        """The room is given up (a leave, or the end of the connection); it is returned."""
        room, self.room = self.room, None
        if self.state in (State.JOINING, State.SEATED):
            self.state = State.READY
        return room

    def take_over(self, old: ServerConnection[R], room: R) -> None:
        """``resume``: this connection takes the seat ``old`` had in ``room``, with its
        numbered messages (the caller sends ``resumed``, then :meth:`replay_after`)."""
        self._expect(State.READY)
        self._sent, self._sent_seq, self.received = old._sent, old._sent_seq, old.received
        self.room, self.state = room, State.SEATED
        old.room, old.state = None, State.HANDED_OVER

    @property
    def seated(self) -> bool:
        return self.state is State.SEATED

    @property
    def handed_over(self) -> bool:
        return self.state is State.HANDED_OVER
