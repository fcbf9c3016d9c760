"""Key messages: one sender's base key, sealed to one recipient, signed by the sender.

A key message carries a fresh SFrame base key from ``sender`` to ``recipient``:

* sealed with HPKE (base mode) to the recipient's announced call key, with
  ``info = label || header`` so the room, sender, recipient, epoch, generation, KID
  and cipher suite are bound into the encryption;
* signed with the sender's Ed25519 identity key over ``label || header || sealed``.

:meth:`KeyMessage.open` checks the signature, the binding (room, recipient, KID
layout) and decrypts. Freshness (epoch and generation) depends on the receiver's
state and is checked by :class:`hotline.crypto.keyschedule.KeySchedule`.
Byte layout: docs/PROTOCOL.md, "Key message".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hotline.crypto.callkey import PROTOCOL_VERSION, CallKeyPair, CallPublicKey, room_id_bytes
from hotline.crypto.identity import SIGNATURE_SIZE, Identity, verify
from hotline.crypto.kid import make_kid
from hotline.crypto.suites import PARAMS
from hotline.crypto.wire import Reader, Writer
from hotline.errors import KeyMessageError, Reason

MSG_KEY = 0x02
BASE_KEY_SIZE = 32
_LABEL = b"hotline/v1 key message\x00"
#: Largest sealed part we accept (hybrid KEM enc 1120 + key + tag, with room to spare).
_MAX_SEALED = 4096


@dataclass(frozen=True, slots=True)
class KeyMessage:
    room_id: str
    sender: int
    recipient: int
    epoch: int
    generation: int
    kid: int
    cipher_suite: int
    sealed: bytes
    signature: bytes

    def header(self) -> bytes:
        """Everything before ``sealed``: the HPKE ``info`` after the label."""
        return bytes(
            Writer()
            .u8(MSG_KEY)
            .u8(PROTOCOL_VERSION)
            .bytes8(room_id_bytes(self.room_id, KeyMessageError))
            .u32(self.sender)
            .u32(self.recipient)
            .u32(self.epoch)
            .u32(self.generation)
            .u64(self.kid)
            .u16(self.cipher_suite)
        )

    def _signed(self) -> bytes:
        return _LABEL + self.header() + bytes(Writer().bytes16(self.sealed))

    @classmethod
    def seal(
        cls, identity: Identity, to: CallPublicKey, *, room_id: str, sender: int,
        recipient: int, epoch: int, generation: int, cipher_suite: int, base_key: bytes,
    ) -> KeyMessage:
        """Seal ``base_key`` for ``recipient`` and sign the result as ``sender``."""
        if len(base_key) != BASE_KEY_SIZE:
            raise KeyMessageError(Reason.BAD_KEY, "base key must be 32 bytes")
        msg = cls(room_id, sender, recipient, epoch, generation,
                  make_kid(sender, generation), cipher_suite, b"", b"")
        msg = replace(msg, sealed=to.seal(base_key, info=_LABEL + msg.header()))
        return replace(msg, signature=identity.sign(msg._signed()))

    def encode(self) -> bytes:
        return self.header() + bytes(Writer().bytes16(self.sealed)) + self.signature

    @classmethod
    def decode(cls, data: bytes) -> KeyMessage:
        """Parse (does not verify or open)."""
        r = Reader(data, KeyMessageError)
        room_id = r.message_start(MSG_KEY, PROTOCOL_VERSION, "key message")
        sender, recipient, epoch, generation = r.u32(), r.u32(), r.u32(), r.u32()
        kid, suite = r.u64(), r.u16()
        sealed = r.bytes16()
        signature = r.raw(SIGNATURE_SIZE)
        r.end()
        if suite not in PARAMS:
            raise KeyMessageError(Reason.MALFORMED, f"unknown cipher suite {suite:#06x}")
        if not 0 < len(sealed) <= _MAX_SEALED:
            raise KeyMessageError(Reason.MALFORMED, "sealed key has a bad size")
        return cls(room_id, sender, recipient, epoch, generation, kid, suite, sealed, signature)

    def open(self, recipient_key: CallKeyPair, sender_identity: bytes, *, room_id: str,
             recipient: int) -> bytes:
        """Verify signature and binding, then return the base key."""
        if not verify(sender_identity, self.signature, self._signed()):
            raise KeyMessageError(Reason.BAD_SIGNATURE)
        if self.room_id != room_id:
            raise KeyMessageError(Reason.WRONG_ROOM)
        if self.recipient != recipient:
            raise KeyMessageError(Reason.WRONG_RECIPIENT)
        if self.kid != make_kid(self.sender, self.generation):
            raise KeyMessageError(Reason.BINDING, "kid does not match sender and generation")
        base_key = recipient_key.open(self.sealed, info=_LABEL + self.header())
        if len(base_key) != BASE_KEY_SIZE:
            raise KeyMessageError(Reason.MALFORMED, "base key has a bad size")
        return base_key
