"""The one exception tree of Hotline.

Every error the project raises on purpose derives from :class:`HotlineError`::

    HotlineError
    ├── LocalError                 we (or our operator) did something wrong
    │   ├── ConfigError            bad settings, flags or environment
    │   └── UsageError             an API called out of order or with bad arguments
    ├── RemoteError                a peer or the server sent something we refuse
    │   └── ProtocolError          malformed message, unknown type or version
    └── CryptoError                any cryptographic failure; opaque on purpose
        ├── SFrameError            SFrame encrypt/decrypt (RFC 9605)
        ├── KeyMessageError        a sender-key message was rejected
        ├── AnnouncementError      a call-key announcement was rejected
        └── IdentityError          identity key file missing, unreadable or locked

Crypto errors never carry key material, plaintext or ciphertext in their message:
they carry a short, fixed ``reason`` code (see :class:`Reason`) that is safe to log
and to count, and at most a short non-secret ``detail`` (a file path, a suite
number). Callers that need to tell cases apart (for example "frame under a key not
yet known" vs "forged frame") look at ``reason``.
"""

from __future__ import annotations

import enum


class HotlineError(Exception):
    """Base of every error Hotline raises on purpose."""


class LocalError(HotlineError):
    """Our side is at fault: configuration, arguments or call order."""


class ConfigError(LocalError):
    """Settings, flags or environment values are invalid."""


class UsageError(LocalError):
    """An API was used wrongly (bad argument, wrong state)."""


class RemoteError(HotlineError):
    """Input from a peer or the server was refused."""


class ProtocolError(RemoteError):
    """A message was malformed, of an unknown type, or of an unsupported version."""


class Reason(enum.StrEnum):
    """Fixed reason codes of :class:`CryptoError`; safe to log and count."""

    # SFrame
    MALFORMED_HEADER = "malformed_header"
    TRUNCATED = "truncated"
    UNKNOWN_KID = "unknown_kid"
    AUTH_FAILED = "auth_failed"
    REPLAYED = "replayed"
    TOO_OLD = "too_old"
    COUNTER_EXHAUSTED = "counter_exhausted"
    COUNTER_REUSED = "counter_reused"
    UNSUPPORTED_SUITE = "unsupported_suite"
    BAD_KEY = "bad_key"
    # signed messages
    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    WRONG_ROOM = "wrong_room"
    WRONG_RECIPIENT = "wrong_recipient"
    UNKNOWN_SENDER = "unknown_sender"
    STALE = "stale"
    BINDING = "binding"
    POLICY = "policy"
    # identity files
    FILE = "file"
    PERMISSIONS = "permissions"
    PASSPHRASE = "passphrase"  # noqa: S105 - a reason code, not a secret
    WEAK_KEY = "weak_key"  # a non-canonical or small-order Ed25519 key


class CryptoError(HotlineError):
    """A cryptographic operation failed.

    The message is the reason code only; it never contains secrets.
    """

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)


class SFrameError(CryptoError):
    """Any SFrame failure: unknown KID, bad tag, malformed or truncated header,
    replay, counter exhausted or reused. Frames that raise this are dropped."""


class KeyMessageError(CryptoError):
    """A sender-key message failed its signature, binding, freshness or decryption."""


class AnnouncementError(CryptoError):
    """A call-key announcement failed its signature, binding or policy check."""


class IdentityError(CryptoError):
    """An identity key file could not be created, read or unlocked."""
