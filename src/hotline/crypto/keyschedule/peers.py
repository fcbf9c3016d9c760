"""Membership: the peers a key schedule keeps, and the checks of roster events (epochs that
follow each other, participant ids, announcements that fit the roster)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hotline.crypto.callkey import CallKeyAnnouncement
from hotline.crypto.keyschedule.events import KeyScheduleConfig, Member, TrustDecision
from hotline.errors import AnnouncementError, ProtocolError, Reason

U32 = (1 << 32) - 1


@dataclass
class Peer:
    participant_id: int
    identity_key: bytes
    announcement: CallKeyAnnouncement
    generation: int = -1  # last generation accepted from this peer
    kids: tuple[int, ...] = ()
    trusted: bool = True  # verified by this device: keys are sealed to it and taken from it
    held: bytes = b""  # its last key message while untrusted (opened if it is accepted)
    role: str = "delegate"  # signed in its announcement, and the roster's


@dataclass(order=True)
class Deadline:
    """Keys to retire at ``at``."""

    at: float
    kids: tuple[int, ...] = field(compare=False)


def check_epoch(current: int, epoch: int) -> None:
    """A roster event's epoch: in range, and after my join exactly ``current`` + 1."""
    if not 0 <= epoch <= U32:
        raise ProtocolError("roster epoch out of range")
    if current >= 0 and epoch != current + 1:
        raise ProtocolError(f"roster epoch {epoch} does not follow epoch {current}")


def check_ids(ids: list[int], me: int, roster: set[int]) -> None:
    """New roster ids: in range, distinct, neither me nor anyone already listed."""
    if not all(0 <= i <= U32 for i in [*ids, me]):
        raise ProtocolError("participant id out of range")
    if len(set(ids)) != len(ids) or me in ids or any(i in roster for i in ids):
        raise ProtocolError("roster has duplicate participant ids")


def verify_member(config: KeyScheduleConfig, m: Member, joined_epoch: int | None, epoch: int,
                  trusted: TrustDecision) -> Peer:
    """Parse and verify a roster entry's announcement (raises AnnouncementError).

    A member joining now must announce the epoch of its join; one already in the
    call must have announced an earlier epoch. This keeps an old announcement from
    being replayed into a later join.
    """
    ann = CallKeyAnnouncement.decode(m.announcement)
    ann.verify(room_id=config.room_id, participant_id=m.participant_id,
               identity_key=m.identity_key, allowed_kems=config.allowed_kems, role=m.role)
    fits = ann.epoch == joined_epoch if joined_epoch is not None else ann.epoch < epoch
    if not fits:
        raise AnnouncementError(Reason.STALE, "announcement epoch does not fit the roster")
    return Peer(m.participant_id, m.identity_key, ann, trusted=bool(trusted(m)), role=ann.role)
