"""An in-memory room: key schedules wired together with no server and no sockets.

It plays the server's part (orders roster events, numbers epochs, relays key
messages) and each participant's media part (applies key actions to an
:class:`SFrameContext`, encrypts and decrypts frames). Used by ``hotline
selfcheck``, the key-schedule tests and the rekey benchmark; the real server and
clients drive :class:`KeySchedule` the same way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from hotline.crypto import keyschedule as sched
from hotline.crypto.callkey import CallKeyPair, Kem
from hotline.crypto.frames import Codec, protect, unprotect
from hotline.crypto.groupcode import GroupCode
from hotline.crypto.identity import Identity
from hotline.crypto.kid import Slot
from hotline.crypto.mediakeys import MediaKeys
from hotline.crypto.sframe import SFrameContext, SFrameSender
from hotline.errors import KeyMessageError, Reason


@dataclass
class LocalParticipant:
    name: str
    participant_id: int
    schedule: sched.KeySchedule
    keys: MediaKeys
    member: sched.Member
    log: list[sched.Action] = field(default_factory=list)

    @property
    def context(self) -> SFrameContext:
        return self.keys.context

    @property
    def senders(self) -> dict[Slot, SFrameSender]:
        return self.keys.senders

    @property
    def code(self) -> GroupCode | None:
        return self.keys.code

    def apply(self, actions: list[sched.Action]) -> list[sched.SendKeyMessage]:
        """Carry out key actions on the media side; return messages to relay."""
        self.log.extend(actions)
        return self.keys.apply(actions)

    def send(self, frame: bytes, codec: Codec = Codec.OPUS, slot: Slot = Slot.AUDIO) -> bytes:
        return protect(self.senders[slot], codec, frame)

    def receive(self, wire: bytes, codec: Codec = Codec.OPUS) -> bytes:
        return unprotect(self.context, codec, wire)


class LocalRoom:
    """The server's ordering and relaying, in memory. Time is simulated (``now``)."""

    def __init__(self, room_id: str = "local-room", **config: object) -> None:
        self.config = sched.KeyScheduleConfig(room_id=room_id, **config)  # type: ignore[arg-type]
        self.now = 0.0
        self.epoch = 0
        self.participants: dict[int, LocalParticipant] = {}
        self._next_id = 1
        self.delivered = 0
        self.rejected: list[tuple[int, Reason]] = []
        #: Tests set this to make the "server" withhold key messages it returns True for.
        self.withhold: Callable[[int, sched.SendKeyMessage], bool] = lambda sender, msg: False
        self.phase = "open"  # what the "server" tells joiners

    def _dispatch(self, p: LocalParticipant, event: sched.Event,
                  queue: deque[tuple[int, sched.SendKeyMessage]]) -> None:
        queue.extend((p.participant_id, m) for m in p.apply(p.schedule.handle(event)))

    def _relay(self, queue: deque[tuple[int, sched.SendKeyMessage]]) -> None:
        while queue:
            sender, msg = queue.popleft()
            if self.withhold(sender, msg):
                continue
            target = self.participants.get(msg.recipient)
            if target is None:
                continue  # recipient left meanwhile
            self.delivered += 1
            try:
                self._dispatch(target, sched.KeyMessageReceived(self.now, msg.data), queue)
            except KeyMessageError as exc:  # a real client logs and drops it
                self.rejected.append((msg.recipient, exc.reason))

    def join(self, name: str, kem: Kem = Kem.X25519, role: str = "delegate", *,
             roster_role: str | None = None) -> LocalParticipant:
        """A participant with ``role`` joins; the others' roster says ``roster_role``
        (``role`` unless a test plays a server that relabels it)."""
        identity = Identity.generate()
        schedule = sched.KeySchedule(identity, CallKeyPair.generate(kem), self.config)
        pid = self._next_id
        self._next_id += 1
        self.epoch += 1
        ann = schedule.announcement(pid, self.epoch, role).encode()
        member = sched.Member(pid, identity.public_key, ann, role=roster_role or role)
        newcomer = LocalParticipant(name, pid, schedule, MediaKeys(self.config.cipher_suite),
                                    member)
        queue: deque[tuple[int, sched.SendKeyMessage]] = deque()
        others = tuple(p.member for p in self.participants.values())
        for p in list(self.participants.values()):
            self._dispatch(p, sched.MemberJoined(self.now, self.epoch, member), queue)
        self.participants[pid] = newcomer
        self._dispatch(newcomer, sched.Joined(self.now, self.epoch, pid, others, self.phase),
                       queue)
        self._relay(queue)
        return newcomer

    def leave(self, participant_id: int) -> LocalParticipant:
        leaver = self.participants.pop(participant_id)
        self.epoch += 1
        queue: deque[tuple[int, sched.SendKeyMessage]] = deque()
        for p in list(self.participants.values()):
            self._dispatch(p, sched.MemberLeft(self.now, self.epoch, participant_id), queue)
        self._relay(queue)
        return leaver

    def change_phase(self, phase: str, by: int = 0, proof: bytes = b"") -> None:
        """Every member learns that the phase is now ``phase`` (asked by ``by`` with
        ``proof``); each schedule decides whether it believes a reopen."""
        self.epoch += 1
        self.phase = phase
        queue: deque[tuple[int, sched.SendKeyMessage]] = deque()
        for p in list(self.participants.values()):
            self._dispatch(p, sched.PhaseChanged(self.now, self.epoch, phase, by, proof), queue)
        self._relay(queue)

    def advance(self, seconds: float) -> None:
        """Move simulated time on, firing every timer that falls due on the way."""
        end = self.now + seconds
        while True:
            deadlines = [d for p in self.participants.values()
                         if (d := p.schedule.next_deadline()) is not None and d <= end]
            if not deadlines:
                break
            self.now = max(self.now, min(deadlines))
            queue: deque[tuple[int, sched.SendKeyMessage]] = deque()
            for p in list(self.participants.values()):
                d = p.schedule.next_deadline()
                if d is not None and d <= self.now:
                    self._dispatch(p, sched.TimerFired(self.now), queue)
            self._relay(queue)
        self.now = end

    def codes(self) -> set[str]:
        return {p.code.digits for p in self.participants.values() if p.code is not None}
