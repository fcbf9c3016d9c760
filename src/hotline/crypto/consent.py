"""A principal's consent to a recording (REQUIREMENTS L4): its Ed25519 signature over
who may record which phase of which call. ::

    consent = Ed25519( "hotline/v1 recording consent" 0x00 || bytes8 room_id
                       || u32 principal participant_id || u32 recorder participant_id
                       || [32] recorder identity key || u8 phase || u32 phase_epoch
                       || u8 granted )

The recorder keeps every principal's consent and records only while it holds a granted
one of each principal of its view for the current phase and ``phase_epoch`` (the epoch
the phase began in): a phase change ends every consent, and a consent names the
recorder's identity key, so the server cannot hand one recorder's consent to another,
nor make one (it holds no principal's key). ``granted`` 0 is a signed refusal. Byte
layout: docs/PROTOCOL.md, "Recording consent"; the TypeScript twin is
web/src/crypto/consent.ts, the shared vector tests/vectors/consent-v1.json.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.crypto.callkey import room_id_bytes
from hotline.crypto.identity import Identity, verify
from hotline.crypto.wire import Writer
from hotline.errors import KeyMessageError, Reason
from hotline.phases import PHASE_CODES

LABEL = b"hotline/v1 recording consent\x00"
KEY_SIZE = 32


@dataclass(frozen=True, slots=True)
class Consent:
    """What a consent signature covers."""

    room_id: str
    principal: int
    recorder: int
    recorder_key: bytes
    phase: str
    phase_epoch: int
    granted: bool

    def message(self) -> bytes:
        """The signed bytes; KeyMessageError(MALFORMED) for fields out of range."""
        if self.phase not in PHASE_CODES:
            raise KeyMessageError(Reason.MALFORMED, f"unknown phase {self.phase!r}")
        if len(self.recorder_key) != KEY_SIZE:
            raise KeyMessageError(Reason.MALFORMED, "a recorder identity key is 32 bytes")
        try:
            w = (Writer().bytes8(room_id_bytes(self.room_id, KeyMessageError))
                 .u32(self.principal).u32(self.recorder).raw(self.recorder_key)
                 .u8(PHASE_CODES[self.phase]).u32(self.phase_epoch).u8(int(self.granted)))
        except ValueError:
            raise KeyMessageError(Reason.MALFORMED, "a consent field is out of range") from None
        return LABEL + bytes(w)


def sign_consent(identity: Identity, consent: Consent) -> bytes:
    """The principal's signature (64 bytes) over ``consent``."""
    return identity.sign(consent.message())


def verify_consent(identity_key: bytes, signature: bytes, consent: Consent) -> bool:
    """True if ``signature`` is the valid (strict Ed25519) signature of ``consent`` by the
    principal whose identity key is ``identity_key``; False for anything else."""
    try:
        message = consent.message()
    except KeyMessageError:
        return False
    return verify(identity_key, signature, message)
