"""The key schedule's configuration, the events it takes and the actions it returns
(the rules: :mod:`hotline.crypto.keyschedule`). Plain data, no behaviour beyond checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from hotline.crypto.callkey import Kem
from hotline.crypto.groupcode import GroupCode
from hotline.crypto.suites import DEFAULT_SUITE, CipherSuite
from hotline.errors import Reason, UsageError

__all__ = [
    "Action",
    "Event",
    "GroupCodeChanged",
    "GroupCodePending",
    "InstallDecryptionKey",
    "InstallEncryptionKey",
    "Joined",
    "KeyMessageReceived",
    "KeyScheduleConfig",
    "Member",
    "MemberJoined",
    "MemberLeft",
    "MemberRejected",
    "PeerAccepted",
    "PhaseChanged",
    "PhaseRefused",
    "RetireKeys",
    "SendKeyMessage",
    "TimerFired",
    "TrustDecision",
    "trust_everyone",
]

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
    """A roster entry from the server: id, identity key, encoded announcement, the party
    the server says it belongs to (checked by the client's trust decision) and its role
    in the room (checked against the role its announcement signs: ``role_mismatch``)."""

    participant_id: int
    identity_key: bytes
    announcement: bytes
    party: str = ""
    role: str = "delegate"


@dataclass(frozen=True, slots=True)
class Joined:
    now: float
    epoch: int
    participant_id: int
    members: tuple[Member, ...]  # everyone else already in the call
    phase: str = "open"  # the call's phase at my join (hotline.phases.PHASES)


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
    """The call's phase is now ``phase`` (a roster event). A change from closed to open
    needs ``proof`` (:func:`hotline.crypto.phaseproof.sign_phase`) by member ``by`` of my
    view whose signed role is principal (0: the operator outside the call, who can only
    close)."""

    now: float
    epoch: int
    phase: str
    by: int = 0
    proof: bytes = b""


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


@dataclass(frozen=True, slots=True)
class PhaseRefused:
    """A change to ``phase`` at ``epoch`` asked by ``by`` was refused (``phase_unproven``:
    a reopen without a valid proof of a principal): the schedule stayed in its phase.
    Raise an alarm: the server claimed a reopen nobody entitled asked for."""

    epoch: int
    phase: str
    by: int
    reason: Reason


Action = (SendKeyMessage | InstallEncryptionKey | InstallDecryptionKey | RetireKeys
          | GroupCodeChanged | GroupCodePending | MemberRejected | PhaseRefused)


#: Decides whether this device trusts a roster member (see :mod:`hotline.crypto.keyschedule`).
TrustDecision = Callable[[Member], bool]


def trust_everyone(member: Member) -> bool:
    """The schedule's own default, for tests of the schedule alone: the SDK
    (:class:`hotline.client.signaling.SignalingClient`) always passes its own decision,
    which trusts no device it has not verified."""
    return True
