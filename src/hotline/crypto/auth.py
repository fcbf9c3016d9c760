"""Proofs of identity-key possession for the signaling server.

The server sends a fresh 32-byte challenge on every connection. The device answers
with an Ed25519 signature over a label, the challenge and its identity key (and, to
enroll, the hash of the one-time code), so a signature is good for one connection
and one purpose only.
"""

from __future__ import annotations

import enum
import hashlib

from hotline.crypto.identity import Identity, verify

CHALLENGE_SIZE = 32


class Purpose(enum.StrEnum):
    AUTH = "auth"
    ENROLL = "enroll"


def _message(purpose: Purpose, challenge: bytes, identity_key: bytes, code: str) -> bytes:
    code_hash = hashlib.sha256(code.encode("utf-8")).digest() if code else b""
    return (f"hotline/v1 {purpose.value}".encode() + b"\x00" + challenge + identity_key
            + code_hash)


def prove(identity: Identity, purpose: Purpose, challenge: bytes, code: str = "") -> bytes:
    """Signature proving ``identity`` answers ``challenge`` for ``purpose``."""
    return identity.sign(_message(purpose, challenge, identity.public_key, code))


def check_proof(identity_key: bytes, signature: bytes, purpose: Purpose, challenge: bytes,
                code: str = "") -> bool:
    """True if ``signature`` is :func:`prove` of ``identity_key`` for this challenge."""
    if len(challenge) != CHALLENGE_SIZE:
        return False
    return verify(identity_key, signature, _message(purpose, challenge, identity_key, code))
