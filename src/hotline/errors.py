"""The one exception tree of Hotline, and the one table from error to wire code.

Every error the project raises on purpose derives from :class:`HotlineError`. The classes
are defined here; the three marked with a module are defined there (they carry that
module's data or belong to a hook that may go away with it) and are registered here by
this tree, which tests/unit/test_errors.py checks against the classes that exist::

    HotlineError
    ├── LocalError                 we (or our operator) did something wrong
    │   ├── ConfigError            bad settings, flags or environment
    │   │   ├── AiortcInternalsError   (hotline.rtc.aiortc_internals) aiortc lacks a hooked name
    │   │   └── OpusLibraryError       (hotline.rtc.opus_fec) no usable libopus
    │   └── UsageError             an API called out of order or with bad arguments
    │       └── InsecureServer     plain http(ws) to another machine, not allowed
    ├── RemoteError                a peer or the server sent something we refuse
    │   ├── ProtocolError          malformed message, unknown type or version
    │   ├── ConnectionFailed       the server cannot be reached, or closed the connection
    │   ├── UntrustedServer        the server's TLS certificate is not trusted here
    │   ├── ServerError            a request the server refused: one class per wire code
    │   │   ├── Unauthorized       "unauthorized"    authentication failed or is required
    │   │   ├── Forbidden          "forbidden"       authenticated, but not allowed
    │   │   │   └── HotlineForbidden                 not an end of the hotline, or not pinned
    │   │   ├── NotInRoom          "not_in_room"     a room request outside a room
    │   │   ├── ResumeRefused      "resume_refused"  no seat to resume, or too much missed
    │   │   ├── BadRequest         "bad_request"     (sent for a ProtocolError)
    │   │   ├── Refused            "refused"         (sent for a UsageError)
    │   │   └── InternalError      "internal"        (sent for anything else)
    │   ├── StandbyRefused         the server refused a standby endpoint for its hotline
    │   ├── CallNotConnected       a hotline call ended before it was answered
    │   └── UntrustedKey           (hotline.client.trustpolicy) a hotline's far key not pinned
    └── CryptoError                any cryptographic failure; opaque on purpose
        ├── SFrameError            SFrame encrypt/decrypt (RFC 9605)
        ├── KeyMessageError        a sender-key message was rejected
        ├── AnnouncementError      a call-key announcement was rejected
        ├── IdentityError          identity key file missing, unreadable or locked
        ├── ReportError            a signed link-test report could not be parsed
        └── LogError               an uptime-log entry could not be parsed

**Wire codes.** A request the server refuses gets one ``error`` message whose ``code`` is
looked up in :data:`WIRE_CODES` (:func:`to_wire`): a :class:`ServerError` subclass is sent
with its own code, a :class:`ProtocolError` as ``bad_request``, a :class:`UsageError` as
``refused``, anything else as ``internal`` (with no detail). The client raises the
:class:`ServerError` subclass of the code it received (:func:`from_wire`), so callers catch
``Unauthorized`` or ``Forbidden`` rather than compare strings; ``code`` is kept on the
exception, and its text is ``"<code>: <message>"``. The browser has the same classes
(web/src/errors.ts); both check protocol/conformance/errors/wire-codes.json.

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


class InsecureServer(UsageError):
    """Plain http(ws) to a server that is not on this machine, without the override."""


class ConnectionFailed(RemoteError):
    """The server could not be reached or closed the connection."""


class UntrustedServer(RemoteError):
    """The server answered with a TLS certificate this client does not trust."""


class StandbyRefused(RemoteError):
    """The server refused this endpoint for the hotline (e.g. a key that is not pinned)."""


class CallNotConnected(RemoteError):
    """The call ended before it was answered: ``reason`` is unreachable, no_answer, ..."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"call not connected: {reason}")


# -- requests the server refuses, and their wire codes --------------------------------------


class ServerError(RemoteError):
    """A request the server refused. The server raises a subclass (``message`` is what the
    client is sent); the client raises the subclass of the code it received. ``code`` is
    the wire code (:data:`WIRE_CODES`), or for a code this version does not know, that
    code on a plain :class:`ServerError`."""

    def __init__(self, message: str, code: str | None = None) -> None:
        self.message = message
        self.code = code if code is not None else wire_code(type(self))
        super().__init__(f"{self.code}: {message}")


class Unauthorized(ServerError):
    """Authentication failed or is required."""


class Forbidden(ServerError):
    """Authenticated, but not allowed (not a member, revoked device)."""


class HotlineForbidden(Forbidden):
    """Refused on a hotline: not an end, or an identity key that is not pinned."""


class NotInRoom(ServerError):
    """The request needs a joined participant."""


class ResumeRefused(ServerError):
    """No seat of this device to take back (expired, or a wrong token)."""


class BadRequest(ServerError):
    """The server found our request malformed or out of order (its ProtocolError)."""


class Refused(ServerError):
    """The server's state refuses the request: a used code, a call answered already
    (its UsageError)."""


class InternalError(ServerError):
    """The server failed; it tells no more."""


#: The one table from error class to wire code: what the server sends in ``error.code``
#: for an exception of the class (or of a subclass: the nearest class in the table wins),
#: and, through the :class:`ServerError` classes, what the client raises for the code.
WIRE_CODES: dict[type[HotlineError], str] = {
    Unauthorized: "unauthorized",
    Forbidden: "forbidden",
    NotInRoom: "not_in_room",
    ResumeRefused: "resume_refused",
    BadRequest: "bad_request",
    ProtocolError: "bad_request",
    Refused: "refused",
    UsageError: "refused",
    InternalError: "internal",
}
INTERNAL = "internal"
#: The class the client raises for each wire code.
FROM_WIRE: dict[str, type[ServerError]] = {
    code: cls for cls, code in WIRE_CODES.items() if issubclass(cls, ServerError)}


def wire_code(cls: type[BaseException]) -> str:
    """The wire code an exception of ``cls`` is sent with (``internal`` if none)."""
    for klass in cls.__mro__:
        if issubclass(klass, HotlineError) and klass in WIRE_CODES:
            return WIRE_CODES[klass]
    return INTERNAL


def to_wire(exc: HotlineError) -> tuple[str, str]:
    """``(code, message)`` of the ``error`` message the server refuses a request with:
    an internal failure is not described to the client."""
    code = wire_code(type(exc))
    if code == INTERNAL:
        return code, "internal error"
    return code, exc.message if isinstance(exc, ServerError) else str(exc)


def from_wire(code: str, message: str) -> ServerError:
    """The exception the client raises for an ``error`` message it received."""
    cls = FROM_WIRE.get(code)
    return cls(message) if cls is not None else ServerError(message, code)


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
    ROLE_MISMATCH = "role_mismatch"  # the signed role differs from the roster's
    PHASE_UNPROVEN = "phase_unproven"  # a reopen without a valid principal's proof
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


class ReportError(CryptoError):
    """A link-test report could not be parsed."""


class LogError(CryptoError):
    """An uptime-log entry could not be parsed."""
