"""Proofs of identity-key possession for the signaling server, bound to that server.

The server sends a fresh 32-byte challenge on every connection. The device answers
with an Ed25519 signature over a label, the challenge, its identity key, the **origin
of the server as the device knows it** (the URL it connected to), the TLS channel
binding where it has one, and, to enroll, the hash of the one-time code. So a signature
is good for one connection, one purpose and one server: a malicious server A that
relays a device's proof to server B is refused by B, whose origin is not A's.

Origin: ``scheme://host:port`` (:func:`hotline.signaling.origin.origin_of`; URL parsing
is not crypto and this package does no network-library imports), scheme ``http`` or ``https`` (a
``ws``/``wss`` URL gives the same origin as its page), host in lower case (IPv6 in
brackets, RFC 5952 form), the port always written (80/443 by default). The browser signs
the origin of the URL it opens its WebSocket to, computed the same way
(``web/src/protocol/signaling.ts``).

Channel binding: ``tls-unique:`` followed by RFC 5929's value when the connection is TLS
1.2 or older and both ends can read it (Python's ``ssl``); TLS 1.3 has no ``tls-unique``,
Python's ``ssl`` does not expose ``tls-exporter`` (RFC 9266), and browsers expose no
channel binding at all: then it is empty and only the origin binds the proof.
"""

from __future__ import annotations

import enum
import hashlib

from hotline.crypto.identity import Identity, verify

CHALLENGE_SIZE = 32
MAX_ORIGIN = 255
TLS_UNIQUE = b"tls-unique:"


class Purpose(enum.StrEnum):
    AUTH = "auth"
    ENROLL = "enroll"


def tls_unique_of(ssl_object: object) -> bytes:
    """``tls-unique:`` || RFC 5929's value for an ``ssl.SSLObject``/``SSLSocket`` on TLS 1.2
    or older, else b"" (no TLS, TLS 1.3, or unreadable). Python's ssl returns a value on
    TLS 1.3 too, but RFC 8446 §C.5 leaves tls-unique undefined there: not used."""
    version = getattr(ssl_object, "version", None)
    binding = getattr(ssl_object, "get_channel_binding", None)
    if not callable(version) or not callable(binding):
        return b""
    try:
        if version() not in ("TLSv1.2", "TLSv1.1", "TLSv1"):
            return b""
        value = binding("tls-unique")
    except (ValueError, OSError):  # ssl.SSLError is an OSError
        return b""
    return TLS_UNIQUE + value if isinstance(value, bytes) and value else b""


def _message(purpose: Purpose, challenge: bytes, identity_key: bytes, origin: str,
             channel_binding: bytes, code: str) -> bytes:
    code_hash = hashlib.sha256(code.encode("utf-8")).digest() if code else b""
    origin_bytes = origin.encode("utf-8")
    if len(origin_bytes) > MAX_ORIGIN or len(channel_binding) > 255:
        raise ValueError("origin or channel binding too long")
    return (f"hotline/v1 {purpose.value}".encode() + b"\x00" + challenge + identity_key
            + bytes([len(origin_bytes)]) + origin_bytes
            + bytes([len(channel_binding)]) + channel_binding + code_hash)


def proof_message(purpose: Purpose, challenge: bytes, identity_key: bytes, origin: str,
                  channel_binding: bytes = b"", code: str = "") -> bytes:
    """The signed bytes (docs/SIGNALING.md; tests/vectors/auth-v1.json)."""
    return _message(purpose, challenge, identity_key, origin, channel_binding, code)


def prove(identity: Identity, purpose: Purpose, challenge: bytes, code: str = "", *,
          origin: str, channel_binding: bytes = b"") -> bytes:
    """Signature proving ``identity`` answers ``challenge`` of the server at ``origin``."""
    return identity.sign(_message(purpose, challenge, identity.public_key, origin,
                                  channel_binding, code))


def check_proof(identity_key: bytes, signature: bytes, purpose: Purpose, challenge: bytes,
                code: str = "", *, origin: str, channel_binding: bytes = b"") -> bool:
    """True if ``signature`` is :func:`prove` of ``identity_key`` for this challenge,
    this server's ``origin`` and this connection's ``channel_binding``."""
    if len(challenge) != CHALLENGE_SIZE:
        return False
    try:
        message = _message(purpose, challenge, identity_key, origin, channel_binding, code)
    except ValueError:
        return False
    return verify(identity_key, signature, message)
