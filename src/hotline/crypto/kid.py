"""Layout of SFrame key ids (KIDs) in Hotline.

::

    KID = participant_id << 6 | (generation mod 16) << 2 | slot

* ``participant_id`` (u32): the sender's id in the room, from the server's roster
  and bound into its signed call-key announcement;
* ``generation``: the sender's key generation, +1 at every new sender key (join,
  leave, phase change, timer); only the low 4 bits are in the KID: a receiver holds
  at most the current and the previous generation of a sender, so 16 never collide;
* ``slot`` (2 bits): the media stream under that key (audio, video, screen, data),
  so each stream has its own SFrame key, salt and counter, derived from one base key.

A KID therefore names the sender and its key epoch. Small rooms get short headers:
participants 0-1023 give KIDs below 2**16 (2 bytes in the SFrame header).

A receiver binds each incoming stream to the participant the subscribe offer attributes
it to and to its media kind: :func:`stream_kid_verdict` says whether a frame's KID may be
shown in that stream (docs/PROTOCOL.md "Frames bound to their stream"; the conformance
cases are tests/vectors/kid-binding.json, run by Python and by web/src/crypto/kid.ts).
"""

from __future__ import annotations

import enum
from typing import NamedTuple

GENERATION_BITS = 4
SLOT_BITS = 2
MAX_PARTICIPANT_ID = (1 << 32) - 1


class Slot(enum.IntEnum):
    AUDIO = 0
    VIDEO = 1
    SCREEN = 2
    DATA = 3


class KidParts(NamedTuple):
    participant_id: int
    generation_low: int
    slot: Slot


def make_kid(participant_id: int, generation: int, slot: Slot = Slot.AUDIO) -> int:
    if not 0 <= participant_id <= MAX_PARTICIPANT_ID:
        raise ValueError("participant id out of range")
    if generation < 0:
        raise ValueError("generation must not be negative")
    slot = Slot(slot)  # ValueError for anything but 0-3
    low = generation & ((1 << GENERATION_BITS) - 1)
    return (participant_id << (GENERATION_BITS + SLOT_BITS)) | (low << SLOT_BITS) | int(slot)


def parse_kid(kid: int) -> KidParts:
    if not 0 <= kid < 1 << 64:
        raise ValueError("a KID is a 64-bit unsigned integer")
    return KidParts(
        participant_id=kid >> (GENERATION_BITS + SLOT_BITS),
        generation_low=(kid >> SLOT_BITS) & ((1 << GENERATION_BITS) - 1),
        slot=Slot(kid & ((1 << SLOT_BITS) - 1)),
    )


def kids_for(participant_id: int, generation: int) -> tuple[int, ...]:
    """The KIDs of every slot of one sender key."""
    return tuple(make_kid(participant_id, generation, s) for s in Slot)


#: The slot each media kind must carry: audio frames only under audio keys, video
#: frames only under video keys (no slot carries a screen share or data yet).
KIND_SLOTS: dict[str, Slot] = {"audio": Slot.AUDIO, "video": Slot.VIDEO}

#: Drop reasons of :func:`stream_kid_verdict` (also the names of their counters).
WRONG_PARTICIPANT = "wrong_participant"
WRONG_SLOT = "wrong_slot"


def stream_kid_verdict(kid: int, participant_id: int, kind: str) -> str | None:
    """None if a frame under ``kid`` may be shown in a stream of ``kind`` ("audio" or
    "video") attributed to ``participant_id``; else why it is dropped:
    :data:`WRONG_PARTICIPANT` (the KID is another sender's: the server swapped or
    relabelled streams, or a member sent under another's id) or :data:`WRONG_SLOT` (the
    KID's slot is not the kind's). The participant is checked first. Never raises for a
    KID in [0, 2**64); a participant id no member can have (e.g. -1) matches nothing."""
    if not 0 <= kid < 1 << 64:
        raise ValueError("a KID is a 64-bit unsigned integer")
    if kid >> (GENERATION_BITS + SLOT_BITS) != participant_id:
        return WRONG_PARTICIPANT
    wanted = KIND_SLOTS.get(kind)
    if wanted is None or kid & ((1 << SLOT_BITS) - 1) != wanted:
        return WRONG_SLOT
    return None
