"""The key schedule's state machine: :class:`KeySchedule` (the rules:
:mod:`hotline.crypto.keyschedule`)."""

from __future__ import annotations

import os
from collections.abc import Callable

from hotline.crypto.callkey import CallKeyAnnouncement, CallKeyPair
from hotline.crypto.codecommit import MSG_COMMIT, MSG_REVEAL, NONCE_SIZE, CodeMessage
from hotline.crypto.coderound import CodeRound
from hotline.crypto.groupcode import GroupCode, epoch_code, group_code
from hotline.crypto.identity import Identity
from hotline.crypto.keymessage import BASE_KEY_SIZE, KeyMessage
from hotline.crypto.keyschedule.events import (
    Action,
    Event,
    GroupCodeChanged,
    GroupCodePending,
    InstallDecryptionKey,
    InstallEncryptionKey,
    Joined,
    KeyMessageReceived,
    KeyScheduleConfig,
    Member,
    MemberJoined,
    MemberLeft,
    MemberRejected,
    PeerAccepted,
    PhaseChanged,
    RetireKeys,
    SendKeyMessage,
    TimerFired,
    TrustDecision,
    trust_everyone,
)
from hotline.crypto.keyschedule.inbox import Pending, check_addressed
from hotline.crypto.keyschedule.outbox import seal_to_peers
from hotline.crypto.keyschedule.peers import Deadline, Peer, check_epoch, check_ids, verify_member
from hotline.crypto.keyschedule.phase import PhaseView, check_phase, keyed, phase_after
from hotline.crypto.kid import kids_for
from hotline.crypto.phaseproof import sign_phase
from hotline.errors import (
    AnnouncementError,
    KeyMessageError,
    ProtocolError,
    Reason,
    UsageError,
)


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
        self._peers: dict[int, Peer] = {}
        self._sending_kids: tuple[int, ...] = ()
        self._retire: list[Deadline] = []
        self._next_rekey: float | None = None
        self._pending = Pending(config.max_pending)  # messages for later epochs
        # After an epoch change every peer owes a key of the new epoch: by this time,
        # or its current keys are retired (so a leaver cannot keep using them).
        self._owed: dict[int, tuple[float, int]] = {}  # pid -> (deadline, generation)
        self.code: GroupCode | None = None
        self._roster: set[int] = set()  # every id the server listed, rejected ones too
        self._round: CodeRound | None = None  # this epoch's code commit/reveal
        self._code_ids: tuple[int, ...] | None = None  # whom self.code covers
        #: The call's phase as this schedule holds it (hotline.phases.PHASES): in the
        #: closed part nothing is sealed to a member whose signed role is shown out.
        self.phase = "open"
        #: My role in the room, as my announcement signs it (:meth:`announcement`).
        self.role = "delegate"

    # -- public API --------------------------------------------------------------------

    def announcement(self, participant_id: int, epoch: int,
                     role: str | None = None) -> CallKeyAnnouncement:
        """My signed call-key announcement, to send before or with my join, with my role
        in the room (``join_ack.role``; kept as :attr:`role`)."""
        ann = CallKeyAnnouncement.create(self.identity, self.config.room_id, participant_id,
                                         epoch, self.call_key.public, role or self.role)
        self.role = ann.role
        return ann

    def phase_proof(self, phase: str = "open") -> bytes:
        """My proof asking for ``phase`` as the next change (``set_phase.proof``): over my
        current epoch, the one before the change."""
        return sign_phase(self.identity, room_id=self.config.room_id,
                          signer=self._require_joined(), epoch=self.epoch, phase=phase)

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
                return self._phase_changed(event)
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

    def _admit(self, members: tuple[Member, ...], me: int, *, joined_epoch: int | None = None,
               epoch: int = 0) -> list[Action]:
        ids = [m.participant_id for m in members]
        check_ids(ids, me, self._roster)
        self._roster.update(ids)
        actions: list[Action] = []
        for m in members:
            try:
                self._peers[m.participant_id] = verify_member(self.config, m, joined_epoch, epoch,
                                                              self._trusted)
            except AnnouncementError as exc:
                actions.append(MemberRejected(m.participant_id, exc.reason))
        return actions

    def _joined(self, ev: Joined) -> list[Action]:
        if self.participant_id is not None:
            raise UsageError("already joined")
        check_epoch(self.epoch, ev.epoch)
        phase = check_phase(ev.phase)
        actions = self._admit(ev.members, ev.participant_id, epoch=ev.epoch)
        self.participant_id, self.phase = ev.participant_id, phase
        return actions + self._new_epoch(ev.now, ev.epoch)

    def _member_joined(self, ev: MemberJoined) -> list[Action]:
        me = self._require_joined()
        check_epoch(self.epoch, ev.epoch)
        actions = self._admit((ev.member,), me, joined_epoch=ev.epoch)
        return actions + self._new_epoch(ev.now, ev.epoch)

    def _member_left(self, ev: MemberLeft) -> list[Action]:
        self._require_joined()
        check_epoch(self.epoch, ev.epoch)
        if ev.participant_id not in self._roster:
            raise ProtocolError(f"participant {ev.participant_id} left but was never here")
        self._roster.discard(ev.participant_id)
        peer = self._peers.pop(ev.participant_id, None)
        self._owed.pop(ev.participant_id, None)
        if peer is not None and peer.kids:
            self._retire.append(Deadline(ev.now + self.config.grace, peer.kids))
        return self._new_epoch(ev.now, ev.epoch)

    def _phase_changed(self, ev: PhaseChanged) -> list[Action]:
        """Closing needs no proof and rekeys at once without the roles shown out; opening
        a closed call needs a principal's proof, else it stays closed (the epoch still
        advances) and the refusal is reported."""
        me = self._require_joined()
        check_epoch(self.epoch, ev.epoch)
        self.phase, refused = phase_after(self.phase, ev, PhaseView(
            self.config.room_id, me, self.identity.public_key, self.role, self._peers,
            self.epoch))
        return ([refused] if refused else []) + self._new_epoch(ev.now, ev.epoch)

    def _new_epoch(self, now: float, epoch: int) -> list[Action]:
        self._require_joined()
        check_epoch(self.epoch, epoch)
        self.epoch = epoch
        actions = self._rekey(now)  # may reject members whose call key fails
        actions += self._start_code_round()
        due = now + self.config.rekey_deadline
        # A peer already owing a key keeps its earlier deadline: a stream of roster
        # events cannot keep an old key alive.
        self._owed = {pid: (min(due, self._owed.get(pid, (due, 0))[0]), p.generation)
                      for pid, p in self._peers.items() if p.kids}
        # Key messages that arrived early for this epoch can be used now.
        for data in self._pending.take(epoch):
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
        roster = group_code(self.config.room_id, self.epoch, entries, phase=self.phase,
                            cipher_suite=self.config.cipher_suite,
                            kems=self.config.allowed_kems)
        self.code, self._code_ids = epoch_code(roster, nonces), ids
        actions.append(GroupCodeChanged(self.epoch, self.code, ids))
        return actions

    def _code_message(self, data: bytes) -> list[Action]:
        msg = CodeMessage.decode(data)
        check_addressed(msg, self.config.room_id, self._require_joined())
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
        self._pending.hold(self.epoch, epoch, data)
        return []

    # -- my sending key ----------------------------------------------------------------

    def _rekey(self, now: float) -> list[Action]:
        """New sending key, sealed to every peer the phase allows. Everything is computed
        first and the state changed last, so a failure cannot leave a half-done rekey
        behind; a peer whose call key cannot be sealed to is rejected rather than aborting
        the rekey."""
        me = self._require_joined()
        generation = self.generation + 1
        base_key = self._random(BASE_KEY_SIZE)
        messages, rejected = seal_to_peers(self.identity, self.config,
                                           keyed(self._peers, self.phase), me=me,
                                           epoch=self.epoch, generation=generation,
                                           base_key=base_key)
        kids = kids_for(me, generation)
        actions: list[Action] = list(rejected)
        # The new key first, then the old one goes: a media thread switching between
        # the two always finds a key to encrypt with.
        actions.append(InstallEncryptionKey(generation, kids, base_key))
        if self._sending_kids:
            actions.append(RetireKeys(self._sending_kids, sending=True))
        actions += messages
        for r in rejected:
            self._drop_peer(now, r.participant_id)
        self.generation, self._sending_kids = generation, kids
        self._next_rekey = now + self.config.rekey_interval
        return actions

    def _drop_peer(self, now: float, pid: int) -> None:
        peer = self._peers.pop(pid, None)
        self._owed.pop(pid, None)
        if peer is not None and peer.kids:
            self._retire.append(Deadline(now, peer.kids))

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
        check_addressed(msg, self.config.room_id, me)
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
            self._retire.append(Deadline(now + self.config.grace, peer.kids))
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
