"""The phase proof: a member's signature asking for a call's phase to change.

Reopening a closed call gives keys back to the roles shown out of the closed part
(:data:`hotline.phases.CLOSED_OUT`), so the key schedule accepts a change to ``open`` only
with the proof of a principal of its view (:mod:`hotline.crypto.keyschedule`); the server
relays the proof in ``set_phase`` and ``phase_changed`` and cannot make one. Closing needs
none (it only takes keys away). ::

    proof = Ed25519( "hotline/v1 phase change" 0x00 || bytes8 room_id
                     || u32 signer participant_id || u32 epoch || u8 phase )

``epoch`` is the signer's epoch before the change (the change itself is the next one), so
a proof is good for one change only: it cannot be replayed at a later epoch. Byte layout:
docs/PROTOCOL.md, "Phase proof".
"""

from __future__ import annotations

from hotline.crypto.callkey import room_id_bytes
from hotline.crypto.identity import Identity, verify
from hotline.crypto.wire import Writer
from hotline.errors import KeyMessageError, Reason
from hotline.phases import PHASE_CODES

_LABEL = b"hotline/v1 phase change\x00"


def _message(room_id: str, signer: int, epoch: int, phase: str) -> bytes:
    if phase not in PHASE_CODES:
        raise KeyMessageError(Reason.MALFORMED, f"unknown phase {phase!r}")
    w = Writer().bytes8(room_id_bytes(room_id, KeyMessageError)).u32(signer).u32(epoch)
    return _LABEL + bytes(w.u8(PHASE_CODES[phase]))


def sign_phase(identity: Identity, *, room_id: str, signer: int, epoch: int,
               phase: str) -> bytes:
    """The proof (64 bytes) that participant ``signer`` asks for ``phase`` after ``epoch``."""
    return identity.sign(_message(room_id, signer, epoch, phase))


def verify_phase(identity_key: bytes, proof: bytes, *, room_id: str, signer: int, epoch: int,
                 phase: str) -> bool:
    """True if ``proof`` is ``signer``'s valid signature (strict Ed25519) asking for
    ``phase`` after ``epoch`` in ``room_id``; False for anything else, ids out of range
    too."""
    try:
        message = _message(room_id, signer, epoch, phase)
    except (ValueError, KeyMessageError):
        return False
    return verify(identity_key, proof, message)
