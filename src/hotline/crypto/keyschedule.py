"""The per-participant group key schedule, sans-I/O.

Feed it events (:class:`Joined`, :class:`MemberJoined`, :class:`MemberLeft`,
:class:`PhaseChanged`, :class:`TimerFired`, :class:`KeyMessageReceived`) with
:meth:`KeySchedule.handle` (and :class:`PeerAccepted` when the user accepts a device it
had not verified); it returns actions (:class:`SendKeyMessage`,
:class:`InstallEncryptionKey`, :class:`InstallDecryptionKey`, :class:`RetireKeys`,
:class:`GroupCodeChanged`, :class:`MemberRejected`) for the caller to carry out, and
:meth:`KeySchedule.next_deadline` tells when to feed the next :class:`TimerFired`.
Time (``now``, seconds) and randomness are passed in; there is no I/O.

Rules (docs/PROTOCOL.md, "Key schedule"):

* The server orders roster events and numbers them with the group ``epoch``; after my
  join every event must carry exactly the current epoch + 1, and a leave must name a
  member of my view (anything else is refused: a server cannot skip or invent epochs).
* A new sender key (next ``generation``, fresh random base key) on my join, every
  join, every leave, every phase change, and every ``rekey_interval`` seconds. It is
  sealed to each other verified member and used for sending at once; the previous
  sending key is never used again.
* Trust is the client's, not the server's: ``trusted`` (a callback given to the schedule)
  decides for each roster member whether this device has verified it (a hotline pin, a
  device the user accepted: :mod:`hotline.client.trust`). An untrusted member stays in
  the roster and in the group code (an inserted member changes the code), but nothing
  is sealed to it and no key of its is installed, until :class:`PeerAccepted` marks it
  trusted; that rekeys, so the accepted device gets a fresh key.
* A sender's previous key stays installed for ``grace`` seconds after its new one
  arrives (frames in flight), then is retired. A leaver's keys are retired
  ``grace`` seconds after the leave. After every epoch change each peer owes a key of
  the new epoch within ``rekey_deadline`` seconds; if it is late, its current keys are
  retired anyway (fail closed: a leaver, who knows them, cannot keep using them).
* A member whose call key cannot be sealed to is rejected, not allowed to stop the
  rekey of everyone else.
* Key messages are accepted once, in the current epoch, with a generation above the
  last one accepted from that sender; messages for a later epoch wait (bounded) until
  that epoch arrives; anything else is rejected with :class:`KeyMessageError`.
* The group code covers the room, the epoch, every verified member's identity and call
  key, and one fresh nonce per member (:mod:`hotline.crypto.coderound`): at every epoch
  each member sends the others a signed commitment to its nonce, reveals the nonce once
  it holds everyone's commitment, and the code is known (:class:`GroupCodeChanged`) once
  all reveals match; until then it is pending (:class:`GroupCodePending`). Media keys
  never wait for this.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from hotline.crypto.callkey import CallKeyAnnouncement, CallKeyPair, Kem
from hotline.crypto.codecommit import MSG_COMMIT, MSG_REVEAL, NONCE_SIZE, CodeMessage
from hotline.crypto.coderound import CodeRound
from hotline.crypto.groupcode import GroupCode, epoch_code, group_code
from hotline.crypto.identity import Identity
from hotline.crypto.keymessage import BASE_KEY_SIZE, KeyMessage
from hotline.crypto.kid import kids_for
from hotline.crypto.suites import DEFAULT_SUITE, CipherSuite
from hotline.errors import (
    AnnouncementError,
    CryptoError,
    KeyMessageError,
    ProtocolError,
    Reason,
    UsageError,
)

# -- configuration ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyScheduleConfig:
    room_id: str
    cipher_suite: CipherSuite = DEFAULT_SUITE
    rekey_interval: float = 600.0
    grace: float = 1.0
    allowed_kems: frozenset[Kem] = frozenset(Kem)
    rekey_deadline: float = 5.0
    max_pending: int = 256

    def __post_init__(self) -> None:
        if self.rekey_interval <= 0 or not 0 <= self.grace <= self.rekey_interval:
            raise UsageError("need rekey_interval > 0 and 0 <= grace <= rekey_interval")
        if self.rekey_deadline < self.grace:
            raise UsageError("rekey_deadline must be at least the grace period")
        if not self.allowed_kems:
            raise UsageError("a call must allow at least one KEM")
        if self.max_pending < 1:
            raise UsageError("max_pending must be at least 1")


# -- events (inputs) -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Member:
    """A roster entry from the server: id, identity key, encoded announcement, and the
    party the server says it belongs to (checked by the client's trust decision)."""

    participant_id: int
    identity_key: bytes
    announcement: bytes
    party: str = ""


@dataclass(frozen=True, slots=True)
class Joined:
    now: float
    epoch: int
    participant_id: int
    members: tuple[Member, ...]  # everyone else already in the call


@dataclass(frozen=True, slots=True)
class MemberJoined:
    now: float
    epoch: int
    member: Member


@dataclass(frozen=True, slots=True)
class MemberLeft:
    now: float
    epoch: int
    participant_id: int


@dataclass(frozen=True, slots=True)
class PhaseChanged:
    now: float
    epoch: int
    phase: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    now: float


@dataclass(frozen=True, slots=True)
class KeyMessageReceived:
    now: float
    data: bytes


@dataclass(frozen=True, slots=True)
class PeerAccepted:
    """The user verified this member's device: seal to it from now on (a rekey)."""

    now: float
    participant_id: int


Event = (Joined | MemberJoined | MemberLeft | PhaseChanged | TimerFired | KeyMessageReceived
         | PeerAccepted)

# -- actions (outputs) -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendKeyMessage:
    recipient: int
    data: bytes


@dataclass(frozen=True, slots=True, repr=False)
class InstallEncryptionKey:
    """Send from now on with ``base_key`` under ``kids`` (one per slot)."""

    generation: int
    kids: tuple[int, ...]
    base_key: bytes

    def __repr__(self) -> str:
        return f"InstallEncryptionKey(generation={self.generation}, kids={self.kids})"


@dataclass(frozen=True, slots=True, repr=False)
class InstallDecryptionKey:
    sender: int
    generation: int
    kids: tuple[int, ...]
    base_key: bytes

    def __repr__(self) -> str:
        return (f"InstallDecryptionKey(sender={self.sender}, generation={self.generation}, "
                f"kids={self.kids})")


@dataclass(frozen=True, slots=True)
class RetireKeys:
    """Remove these KIDs (``sending``: from the encryption side)."""

    kids: tuple[int, ...]
    sending: bool = False


@dataclass(frozen=True, slots=True)
class GroupCodeChanged:
    epoch: int
    code: GroupCode
    members: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class GroupCodePending:
    """A new epoch: its code is not known yet (show "verifying", never the old code)."""

    epoch: int


@dataclass(frozen=True, slots=True)
class MemberRejected:
    participant_id: int
    reason: Reason


Action = (SendKeyMessage | InstallEncryptionKey | InstallDecryptionKey | RetireKeys
          | GroupCodeChanged | GroupCodePending | MemberRejected)

# -- state -----------------------------------------------------------------------------


@dataclass
class _Peer:
    participant_id: int
    identity_key: bytes
    announcement: CallKeyAnnouncement
    generation: int = -1  # last generation accepted from this peer
    kids: tuple[int, ...] = ()
    trusted: bool = True  # verified by this device: keys are sealed to it and taken from it
    held: bytes = b""  # its last key message while untrusted (opened if it is accepted)


@dataclass(order=True)
class _Deadline:
    at: float
    kids: tuple[int, ...] = field(compare=False)


_U32 = (1 << 32) - 1
#: Key messages may come at most this many epochs ahead of ours (and wait for it).
MAX_EPOCHS_AHEAD = 8
#: Decides whether this device trusts a roster member (see the module docstring).
TrustDecision = Callable[[Member], bool]


def trust_everyone(member: Member) -> bool:
    """The schedule's own default, for tests of the schedule alone: the SDK
    (:class:`hotline.client.signaling.SignalingClient`) always passes its own decision,
    which trusts no device it has not verified."""
    return True


class KeySchedule:
    """Sender-key state machine of one participant in one call."""

    def __init__(self, identity: Identity, call_key: CallKeyPair, config: KeyScheduleConfig,
                 *, random: Callable[[int], bytes] = os.urandom,
                 trusted: TrustDecision = trust_everyone) -> None:
        self.identity = identity
        self._trusted = trusted
        self.call_key = call_key
        self.config = config
        self._random = random
        if call_key.public.kem not in config.allowed_kems:
            raise UsageError(f"this call does not allow KEM {call_key.public.kem.name}")
        self.participant_id: int | None = None
        self.epoch = -1
        self.generation = -1
        self._peers: dict[int, _Peer] = {}
        self._sending_kids: tuple[int, ...] = ()
        self._retire: list[_Deadline] = []
        self._next_rekey: float | None = None
        self._pending: list[tuple[int, bytes]] = []  # (epoch, data) for later epochs
        # After an epoch change every peer owes a key of the new epoch: by this time,
        # or its current keys are retired (so a leaver cannot keep using them).
        self._owed: dict[int, tuple[float, int]] = {}  # pid -> (deadline, generation)
        self.code: GroupCode | None = None
        self._roster: set[int] = set()  # every id the server listed, rejected ones too
        self._round: CodeRound | None = None  # this epoch's code commit/reveal
        self._code_ids: tuple[int, ...] | None = None  # whom self.code covers

    # -- public API --------------------------------------------------------------------

    def announcement(self, participant_id: int, epoch: int) -> CallKeyAnnouncement:
        """My signed call-key announcement, to send before or with my join."""
        return CallKeyAnnouncement.create(self.identity, self.config.room_id, participant_id,
                                          epoch, self.call_key.public)

    @property
    def members(self) -> tuple[int, ...]:
        """Participants other than me whose announcement verified (trusted or not)."""
        return tuple(sorted(self._peers))

    @property
    def untrusted(self) -> tuple[int, ...]:
        """Members this device has not verified: nothing is sealed to them."""
        return tuple(sorted(pid for pid, p in self._peers.items() if not p.trusted))

    def is_trusted(self, participant_id: int) -> bool:
        peer = self._peers.get(participant_id)
        return peer is not None and peer.trusted

    def next_deadline(self) -> float | None:
        times = [d.at for d in self._retire] + [at for at, _ in self._owed.values()]
        if self._next_rekey is not None:
            times.append(self._next_rekey)
        return min(times) if times else None

    def handle(self, event: Event) -> list[Action]:
        """Apply one event. Remote input that is refused raises a
        :class:`~hotline.errors.HotlineError` subclass and leaves the state unchanged."""
        match event:
            case Joined():
                return self._joined(event)
            case MemberJoined():
                return self._member_joined(event)
            case MemberLeft():
                return self._member_left(event)
            case PhaseChanged():
                return self._new_epoch(event.now, event.epoch)
            case TimerFired():
                return self._timer(event.now)
            case KeyMessageReceived():
                return self._key_message(event.now, event.data)
            case PeerAccepted():
                return self._accepted(event)
        raise UsageError(f"unknown event {event!r}")

    # -- roster events -----------------------------------------------------------------

    def _require_joined(self) -> int:
        if self.participant_id is None:
            raise UsageError("event before Joined")
        return self.participant_id

    def _check_epoch(self, epoch: int) -> None:
        if not 0 <= epoch <= _U32:
            raise ProtocolError("roster epoch out of range")
        if self.epoch >= 0 and epoch != self.epoch + 1:
            raise ProtocolError(f"roster epoch {epoch} does not follow epoch {self.epoch}")

    def _verify(self, m: Member, joined_epoch: int | None, epoch: int) -> _Peer:
        """Parse and verify a roster entry's announcement (raises AnnouncementError).

        A member joining now must announce the epoch of its join; one already in the
        call must have announced an earlier epoch. This keeps an old announcement from
        being replayed into a later join.
        """
        ann = CallKeyAnnouncement.decode(m.announcement)
        ann.verify(room_id=self.config.room_id, participant_id=m.participant_id,
                   identity_key=m.identity_key, allowed_kems=self.config.allowed_kems)
        fits = ann.epoch == joined_epoch if joined_epoch is not None else ann.epoch < epoch
        if not fits:
            raise AnnouncementError(Reason.STALE, "announcement epoch does not fit the roster")
        return _Peer(m.participant_id, m.identity_key, ann, trusted=bool(self._trusted(m)))

    def _admit(self, members: tuple[Member, ...], me: int, *, joined_epoch: int | None = None,
               epoch: int = 0) -> list[Action]:
        ids = [m.participant_id for m in members]
        if not all(0 <= i <= _U32 for i in [*ids, me]):
            raise ProtocolError("participant id out of range")
        if len(set(ids)) != len(ids) or me in ids or any(i in self._roster for i in ids):
            raise ProtocolError("roster has duplicate participant ids")
        self._roster.update(ids)
        actions: list[Action] = []
        for m in members:
            try:
                self._peers[m.participant_id] = self._verify(m, joined_epoch, epoch)
            except AnnouncementError as exc:
                actions.append(MemberRejected(m.participant_id, exc.reason))
        return actions

    def _joined(self, ev: Joined) -> list[Action]:
        if self.participant_id is not None:
            raise UsageError("already joined")
        self._check_epoch(ev.epoch)
        actions = self._admit(ev.members, ev.participant_id, epoch=ev.epoch)
        self.participant_id = ev.participant_id
        return actions + self._new_epoch(ev.now, ev.epoch)

    def _member_joined(self, ev: MemberJoined) -> list[Action]:
        me = self._require_joined()
        self._check_epoch(ev.epoch)
        actions = self._admit((ev.member,), me, joined_epoch=ev.epoch)
        return actions + self._new_epoch(ev.now, ev.epoch)

    def _member_left(self, ev: MemberLeft) -> list[Action]:
        self._require_joined()
        self._check_epoch(ev.epoch)
        if ev.participant_id not in self._roster:
            raise ProtocolError(f"participant {ev.participant_id} left but was never here")
        self._roster.discard(ev.participant_id)
        peer = self._peers.pop(ev.participant_id, None)
        self._owed.pop(ev.participant_id, None)
        if peer is not None and peer.kids:
            self._retire.append(_Deadline(ev.now + self.config.grace, peer.kids))
        return self._new_epoch(ev.now, ev.epoch)

    def _new_epoch(self, now: float, epoch: int) -> list[Action]:
        self._require_joined()
        self._check_epoch(epoch)
        self.epoch = epoch
        actions = self._rekey(now)  # may reject members whose call key fails
        actions += self._start_code_round()
        due = now + self.config.rekey_deadline
        # A peer already owing a key keeps its earlier deadline: a stream of roster
        # events cannot keep an old key alive.
        self._owed = {pid: (min(due, self._owed.get(pid, (due, 0))[0]), p.generation)
                      for pid, p in self._peers.items() if p.kids}
        # Key messages that arrived early for this epoch can be used now.
        ready = [d for e, d in self._pending if e == epoch]
        self._pending = [(e, d) for e, d in self._pending if e > epoch]
        for data in ready:
            try:
                actions += self._key_message(now, data)
            except KeyMessageError:
                continue
        return actions + self._code_progress()

    # -- the group code: commit, reveal, then the code ---------------------------------

    def _start_code_round(self) -> list[Action]:
        """A fresh nonce for the new epoch; my commitment to it goes to every member the
        roster lists (trusted or not, and also those I rejected: their code covers me)."""
        self._round = CodeRound(self.identity, self.config.room_id, self._require_joined(),
                                self.epoch, self._random(NONCE_SIZE))
        self.code, self._code_ids = None, None
        actions: list[Action] = [GroupCodePending(self.epoch)]
        actions += [SendKeyMessage(pid, data)
                    for pid, data in self._round.commitments(self._roster)]
        return actions

    def _code_progress(self) -> list[Action]:
        """My reveal once every peer committed; the code once every reveal matched."""
        r = self._round
        if r is None:
            return []
        actions: list[Action] = [SendKeyMessage(pid, data)
                                 for pid, data in r.reveals_due(self._peers, self._roster)]
        nonces = r.nonces({pid: p.identity_key for pid, p in self._peers.items()},
                          self.identity.public_key)
        ids = tuple(sorted([self._require_joined(), *self._peers]))
        if nonces is None or ids == self._code_ids:
            return actions
        entries = [(self.identity.public_key, self.call_key.public)] + [
            (p.identity_key, p.announcement.call_key) for p in self._peers.values()
        ]
        roster = group_code(self.config.room_id, self.epoch, entries,
                            cipher_suite=self.config.cipher_suite,
                            kems=self.config.allowed_kems)
        self.code, self._code_ids = epoch_code(roster, nonces), ids
        actions.append(GroupCodeChanged(self.epoch, self.code, ids))
        return actions

    def _check_addressed(self, msg: KeyMessage | CodeMessage) -> None:
        """A key or code message must be for this room and for me."""
        if msg.room_id != self.config.room_id:
            raise KeyMessageError(Reason.WRONG_ROOM)
        if msg.recipient != self._require_joined():
            raise KeyMessageError(Reason.WRONG_RECIPIENT)

    def _code_message(self, data: bytes) -> list[Action]:
        self._require_joined()
        msg = CodeMessage.decode(data)
        self._check_addressed(msg)
        if msg.epoch > self.epoch:
            return self._hold(msg.epoch, data)
        if msg.epoch < self.epoch or self._round is None:
            raise KeyMessageError(Reason.STALE, "code message of an earlier epoch")
        peer = self._peers.get(msg.sender)
        if peer is None:
            raise KeyMessageError(Reason.UNKNOWN_SENDER)
        self._round.receive(msg, peer.identity_key)
        return self._code_progress()

    def _hold(self, epoch: int, data: bytes) -> list[Action]:
        """Keep a message for a later epoch (bounded) until that epoch arrives."""
        if epoch > self.epoch + MAX_EPOCHS_AHEAD:
            raise KeyMessageError(Reason.STALE, "message too far ahead")
        if len(self._pending) >= self.config.max_pending:
            self._pending.pop(0)  # the oldest goes; unsigned junk cannot block it
        self._pending.append((epoch, data))
        return []

    # -- my sending key ----------------------------------------------------------------

    def _rekey(self, now: float) -> list[Action]:
        """New sending key, sealed to every peer. Everything is computed first and the
        state changed last, so a failure cannot leave a half-done rekey behind; a peer
        whose call key cannot be sealed to is rejected rather than aborting the rekey."""
        me = self._require_joined()
        generation = self.generation + 1
        base_key = self._random(BASE_KEY_SIZE)
        messages: list[Action] = []
        rejected: list[Action] = []
        for pid, peer in sorted(self._peers.items()):
            if not peer.trusted:
                continue  # not verified by this device: nothing is sealed to it
            try:
                msg = KeyMessage.seal(
                    self.identity, peer.announcement.call_key, room_id=self.config.room_id,
                    sender=me, recipient=pid, epoch=self.epoch, generation=generation,
                    cipher_suite=self.config.cipher_suite, base_key=base_key)
            except CryptoError as exc:
                rejected.append(MemberRejected(pid, exc.reason))
                continue
            messages.append(SendKeyMessage(pid, msg.encode()))
        kids = kids_for(me, generation)
        actions: list[Action] = list(rejected)
        # The new key first, then the old one goes: a media thread switching between
        # the two always finds a key to encrypt with.
        actions.append(InstallEncryptionKey(generation, kids, base_key))
        if self._sending_kids:
            actions.append(RetireKeys(self._sending_kids, sending=True))
        actions += messages
        for r in rejected:
            assert isinstance(r, MemberRejected)
            self._drop_peer(now, r.participant_id)
        self.generation, self._sending_kids = generation, kids
        self._next_rekey = now + self.config.rekey_interval
        return actions

    def _drop_peer(self, now: float, pid: int) -> None:
        peer = self._peers.pop(pid, None)
        self._owed.pop(pid, None)
        if peer is not None and peer.kids:
            self._retire.append(_Deadline(now, peer.kids))

    def _timer(self, now: float) -> list[Action]:
        actions: list[Action] = []
        # Peers that did not rekey in time after an epoch change: retire their keys now.
        for pid, (at, generation) in list(self._owed.items()):
            peer = self._peers.get(pid)
            if at <= now:
                del self._owed[pid]
                if peer is not None and peer.generation == generation and peer.kids:
                    actions.append(RetireKeys(peer.kids))
                    peer.kids = ()
        due = [d for d in self._retire if d.at <= now]
        self._retire = [d for d in self._retire if d.at > now]
        live = set(self._sending_kids).union(*(p.kids for p in self._peers.values()))
        for d in sorted(due):
            kids = tuple(k for k in d.kids if k not in live)  # never retire a live key
            if kids:
                actions.append(RetireKeys(kids))
        if self._next_rekey is not None and now >= self._next_rekey:
            actions += self._rekey(now)
            if any(isinstance(a, MemberRejected) for a in actions):
                actions += self._code_progress()  # the code over those left
        return actions

    # -- incoming key messages ---------------------------------------------------------

    def _key_message(self, now: float, data: bytes) -> list[Action]:
        if data[:1] in (bytes([MSG_COMMIT]), bytes([MSG_REVEAL])):
            return self._code_message(data)
        me = self._require_joined()
        msg = KeyMessage.decode(data)
        self._check_addressed(msg)
        if msg.epoch > self.epoch:
            return self._hold(msg.epoch, data)
        peer = self._peers.get(msg.sender)
        if peer is None:
            raise KeyMessageError(Reason.UNKNOWN_SENDER)
        if not peer.trusted:
            peer.held = data  # opened only if the user accepts this device
            raise KeyMessageError(Reason.POLICY, "sender not verified by this device")
        if msg.epoch < self.epoch or msg.generation <= peer.generation:
            raise KeyMessageError(Reason.STALE, "old epoch or generation")
        if msg.cipher_suite != self.config.cipher_suite:
            raise KeyMessageError(Reason.POLICY, "cipher suite differs from the call's")
        base_key = msg.open(self.call_key, peer.identity_key, room_id=self.config.room_id,
                            recipient=me)
        actions: list[Action] = []
        if peer.kids:
            self._retire.append(_Deadline(now + self.config.grace, peer.kids))
        peer.generation = msg.generation
        peer.kids = kids_for(msg.sender, msg.generation)
        self._owed.pop(msg.sender, None)
        actions.append(InstallDecryptionKey(msg.sender, msg.generation, peer.kids, base_key))
        return actions

    # -- the user verified a device ----------------------------------------------------

    def _accepted(self, ev: PeerAccepted) -> list[Action]:
        """Trust ``participant_id`` from now on: a rekey seals a fresh key to it, and its
        key message held while it was untrusted is opened (if still current)."""
        self._require_joined()
        peer = self._peers.get(ev.participant_id)
        if peer is None:
            raise UsageError(f"no member {ev.participant_id} to accept")
        if peer.trusted:
            return []
        peer.trusted = True
        actions = self._rekey(ev.now)
        if any(isinstance(a, MemberRejected) for a in actions):
            actions += self._code_progress()  # the code over those left
        held, peer.held = peer.held, b""
        if held:
            try:
                actions += self._key_message(ev.now, held)
            except KeyMessageError:
                pass  # stale by now: its next key message will do
        return actions
