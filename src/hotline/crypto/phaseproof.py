"""The phase proof (REQUIREMENTS L3): a member's Ed25519 signature asking to change the
call's phase. Reopening a closed call needs one by a principal: the server alone cannot
let the press back in.

Signed bytes: ``"hotline/v1 phase change" 0x00 || bytes8 room_id || u32 signer
participant_id || u32 epoch (the signer's epoch before the change) || u8 phase``
(:data:`hotline.phases.PHASE_CODES`).
"""

from __future__ import annotations

from hotline.crypto.identity import Identity, verify
from hotline.crypto.wire import Writer
from hotline.phases import PHASE_CODES

CONTEXT = b"hotline/v1 phase change\x00"


def phase_message(room_id: str, participant_id: int, epoch: int, phase: str) -> bytes:
    """The bytes a phase proof signs."""
    return CONTEXT + bytes(Writer().bytes8(room_id.encode()).u32(participant_id).u32(epoch)
                           .u8(PHASE_CODES[phase]))


def sign_phase(identity: Identity, *, room_id: str, signer: int, epoch: int,
               phase: str) -> bytes:
    return identity.sign(phase_message(room_id, signer, epoch, phase))


def verify_phase(identity_key: bytes, proof: bytes, *, room_id: str, signer: int, epoch: int,
                 phase: str) -> bool:
    """True if ``proof`` is ``identity_key``'s signature of this phase change."""
    if phase not in PHASE_CODES or not 0 <= signer < 2**32 or not 0 <= epoch < 2**32:
        return False
    return verify(identity_key, proof, phase_message(room_id, signer, epoch, phase))
