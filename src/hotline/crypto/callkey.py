"""Per-call HPKE key pairs and their signed announcement.

Each participant makes a fresh HPKE key pair per call (RFC 9180 base mode,
HKDF-SHA256, AES-128-GCM) with one of two KEMs:

* ``DHKEM(X25519, HKDF-SHA256)`` (0x0020), the default;
* ``MLKEM768-X25519`` (0x647A), the hybrid post-quantum KEM, when the call asks for
  it (the room's policy; see :func:`check_kem_policy`).

The public key goes out in a :class:`CallKeyAnnouncement` signed by the identity
key over (version, room id, participant id, epoch, role, KEM, call public key, identity
public key). Byte layout: docs/PROTOCOL.md, "Call-key announcement". The role
(:data:`hotline.roles.ROLE_CODES`) is the one the server gave the member for this room:
a receiver rejects a member whose signed role differs from the roster's
(``role_mismatch``), so a server cannot relabel the press as a delegate.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from hotline.crypto.ed25519_checks import public_key_problem
from hotline.crypto.identity import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, Identity, verify
from hotline.crypto.wire import Reader, Writer
from hotline.errors import AnnouncementError, CryptoError, KeyMessageError, Reason
from hotline.roles import ROLE_CODES

PROTOCOL_VERSION = 1
MSG_ANNOUNCEMENT = 0x01
_ANNOUNCEMENT_LABEL = b"hotline/v1 call-key announcement\x00"

_MLKEM768_PUBLIC_SIZE = 1184
_X25519_SIZE = 32
_ROLE_NAMES = {code: name for name, code in ROLE_CODES.items()}


def role_code(role: str) -> int:
    """The u8 code of ``role`` (AnnouncementError(MALFORMED) for a name not in ROLES)."""
    code = ROLE_CODES.get(role)
    if code is None:
        raise AnnouncementError(Reason.MALFORMED, f"unknown role {role!r}")
    return code


class Kem(enum.IntEnum):
    """HPKE KEM identifiers (RFC 9180 §7.1; draft-ietf-hpke-pq for the hybrid)."""

    X25519 = 0x0020
    MLKEM768_X25519 = 0x647A


#: KEMs that resist a quantum adversary recording today's traffic.
POST_QUANTUM = frozenset({Kem.MLKEM768_X25519})

_HPKE_KEM = {Kem.X25519: hpke.KEM.X25519, Kem.MLKEM768_X25519: hpke.KEM.MLKEM768_X25519}
_PUBLIC_SIZE = {Kem.X25519: _X25519_SIZE, Kem.MLKEM768_X25519: _MLKEM768_PUBLIC_SIZE + _X25519_SIZE}


def _suite(kem: Kem) -> hpke.Suite:
    return hpke.Suite(_HPKE_KEM[kem], hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)


def room_id_bytes(room_id: str, error: type[CryptoError]) -> bytes:
    raw = room_id.encode("utf-8")
    if not 1 <= len(raw) <= 255:
        raise error(Reason.MALFORMED, "room id must be 1-255 bytes of UTF-8")
    return raw


@dataclass(frozen=True, slots=True)
class CallPublicKey:
    """A KEM identifier and the raw public key (X25519: 32 bytes; hybrid: ML-KEM-768
    public key (1184) followed by the X25519 public key (32))."""

    kem: Kem
    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != _PUBLIC_SIZE[self.kem]:
            raise AnnouncementError(Reason.MALFORMED, "call public key has the wrong size")

    def seal(self, plaintext: bytes, info: bytes) -> bytes:
        """HPKE single-shot seal (base mode); returns enc || ciphertext."""
        try:
            return _suite(self.kem).encrypt(plaintext, self._hpke_key(), info=info)
        except ValueError:  # low-order X25519 point, ML-KEM key out of range, ...
            raise KeyMessageError(Reason.BAD_KEY, "cannot seal to this call key") from None

    def check(self) -> None:
        """Raise ``AnnouncementError(MALFORMED)`` unless one can seal to this key."""
        try:
            self.seal(b"", info=b"hotline/v1 call key check")
        except KeyMessageError:
            raise AnnouncementError(Reason.MALFORMED, "unusable call public key") from None

    def _hpke_key(self) -> x25519.X25519PublicKey | hpke.MLKEM768X25519PublicKey:
        if self.kem is Kem.X25519:
            return x25519.X25519PublicKey.from_public_bytes(self.key)
        return hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(self.key[:_MLKEM768_PUBLIC_SIZE]),
            x25519.X25519PublicKey.from_public_bytes(self.key[_MLKEM768_PUBLIC_SIZE:]),
        )


class CallKeyPair:
    """An ephemeral HPKE key pair for one call. Discard it when the call ends."""

    __slots__ = ("_private", "public")

    def __init__(
        self,
        private: x25519.X25519PrivateKey | hpke.MLKEM768X25519PrivateKey,
        public: CallPublicKey,
    ) -> None:
        self._private = private
        self.public = public

    @classmethod
    def generate(cls, kem: Kem = Kem.X25519) -> CallKeyPair:
        xk = x25519.X25519PrivateKey.generate()
        x_pub = xk.public_key().public_bytes_raw()
        if kem is Kem.X25519:
            return cls(xk, CallPublicKey(kem, x_pub))
        mk = mlkem.MLKEM768PrivateKey.generate()
        m_pub = mk.public_key().public_bytes_raw()
        return cls(hpke.MLKEM768X25519PrivateKey(mk, xk), CallPublicKey(kem, m_pub + x_pub))

    @classmethod
    def from_x25519_seed(cls, seed: bytes) -> CallKeyPair:
        """Deterministic X25519 call key from 32 bytes (test vectors only)."""
        xk = x25519.X25519PrivateKey.from_private_bytes(seed)
        return cls(xk, CallPublicKey(Kem.X25519, xk.public_key().public_bytes_raw()))

    def open(self, sealed: bytes, info: bytes) -> bytes:
        """HPKE single-shot open; any failure is ``KeyMessageError(AUTH_FAILED)``."""
        try:
            return _suite(self.public.kem).decrypt(sealed, self._private, info=info)
        except Exception:  # every HPKE failure is one opaque error
            raise KeyMessageError(Reason.AUTH_FAILED, "cannot open sealed key") from None

    def __repr__(self) -> str:
        return f"CallKeyPair(kem={self.public.kem.name})"


def check_kem_policy(kem: Kem, allowed: frozenset[Kem]) -> None:
    """Refuse a KEM the call's policy does not allow (e.g. X25519 in a PQ-only call)."""
    if kem not in allowed:
        raise AnnouncementError(Reason.POLICY, f"KEM {kem.name} not allowed in this call")


@dataclass(frozen=True, slots=True)
class CallKeyAnnouncement:
    """A participant's call public key and its role in the room, signed by its identity
    key."""

    room_id: str
    participant_id: int
    epoch: int
    call_key: CallPublicKey
    identity_key: bytes
    signature: bytes
    role: str = "delegate"

    @staticmethod
    def _body(room_id: str, participant_id: int, epoch: int, call_key: CallPublicKey,
              identity_key: bytes, role: str = "delegate") -> bytes:
        return bytes(
            Writer()
            .u8(MSG_ANNOUNCEMENT)
            .u8(PROTOCOL_VERSION)
            .bytes8(room_id_bytes(room_id, AnnouncementError))
            .u32(participant_id)
            .u32(epoch)
            .u8(role_code(role))
            .u16(call_key.kem)
            .bytes16(call_key.key)
            .raw(identity_key)
        )

    @classmethod
    def create(cls, identity: Identity, room_id: str, participant_id: int, epoch: int,
               call_key: CallPublicKey, role: str = "delegate") -> CallKeyAnnouncement:
        body = cls._body(room_id, participant_id, epoch, call_key, identity.public_key, role)
        signature = identity.sign(_ANNOUNCEMENT_LABEL + body)
        return cls(room_id, participant_id, epoch, call_key, identity.public_key, signature,
                   role)

    def _own_body(self) -> bytes:
        return self._body(self.room_id, self.participant_id, self.epoch, self.call_key,
                          self.identity_key, self.role)

    def encode(self) -> bytes:
        return self._own_body() + self.signature

    @classmethod
    def decode(cls, data: bytes) -> CallKeyAnnouncement:
        """Parse (does not verify: call :meth:`verify`)."""
        r = Reader(data, AnnouncementError)
        room_id = r.message_start(MSG_ANNOUNCEMENT, PROTOCOL_VERSION, "call-key announcement")
        participant_id, epoch, code, kem_id = r.u32(), r.u32(), r.u8(), r.u16()
        role = _ROLE_NAMES.get(code)
        if role is None:
            raise AnnouncementError(Reason.MALFORMED, f"unknown role code {code}")
        try:
            kem = Kem(kem_id)
        except ValueError:
            raise AnnouncementError(Reason.MALFORMED, f"unknown KEM {kem_id:#06x}") from None
        call_key = CallPublicKey(kem, r.bytes16())
        identity_key = r.raw(PUBLIC_KEY_SIZE)
        signature = r.raw(SIGNATURE_SIZE)
        r.end()
        return cls(room_id, participant_id, epoch, call_key, identity_key, signature, role)

    def verify(self, *, room_id: str, participant_id: int, identity_key: bytes,
               allowed_kems: frozenset[Kem] = frozenset(Kem), role: str | None = None) -> None:
        """Check signature and binding against what the roster says about the sender
        (its role too, unless ``role`` is None)."""
        body = self._own_body()
        if self.identity_key != identity_key:
            raise AnnouncementError(Reason.BINDING, "identity key differs from the roster")
        problem = public_key_problem(identity_key)
        if problem is not None:  # small order: one signature would verify for any message
            raise AnnouncementError(Reason.WEAK_KEY, problem)
        if not verify(identity_key, self.signature, _ANNOUNCEMENT_LABEL + body):
            raise AnnouncementError(Reason.BAD_SIGNATURE)
        if self.room_id != room_id:
            raise AnnouncementError(Reason.WRONG_ROOM)
        if self.participant_id != participant_id:
            raise AnnouncementError(Reason.BINDING, "participant id differs from the roster")
        if role is not None and self.role != role:
            raise AnnouncementError(Reason.ROLE_MISMATCH,
                                    f"signed role {self.role}, the roster says {role}")
        check_kem_policy(self.call_key.kem, allowed_kems)
        self.call_key.check()
