"""Code commitments and reveals: each member's fresh nonce for the group code of an epoch.

The group code of an epoch covers, besides the roster (:mod:`hotline.crypto.groupcode`),
one fresh 32-byte nonce per member. A member first sends every other member of its view
a signed *commitment* to its nonce and reveals the nonce only once it holds the
commitments of all of them (ZRTP's hash commitment, for a group). A member run by the
server therefore fixes its nonce before it has seen any honest one, and the code of
each view is uniformly random to it: a forged match between two forked views is one
guess of 64 bits per epoch, not a birthday search.

::

    commitment = SHA-256("hotline/v1 code commitment" 0x00 || bytes8 room_id
                         || u32 sender || u32 epoch || nonce)
    body       = u8 type || u8 version || bytes8 room_id || u32 sender || u32 recipient
                 || u32 epoch || value (32: the commitment, or the nonce)
    message    = body || signature (Ed25519 over "hotline/v1 code message" 0x00 || body)

with ``type`` 0x03 (commitment) or 0x04 (reveal). Both travel in the key relay like
key messages (:mod:`hotline.crypto.keymessage`, type 0x02). Whether a message fits the
receiver's state (epoch, sender, order) is checked by
:class:`hotline.crypto.keyschedule.KeySchedule`. Byte layout: docs/PROTOCOL.md.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from hotline.crypto.callkey import PROTOCOL_VERSION, room_id_bytes
from hotline.crypto.identity import SIGNATURE_SIZE, Identity, verify
from hotline.crypto.keymessage import MSG_KEY, KeyMessage
from hotline.crypto.wire import Reader, Writer
from hotline.errors import KeyMessageError, Reason

MSG_COMMIT = 0x03
MSG_REVEAL = 0x04
NONCE_SIZE = 32
_COMMIT_LABEL = b"hotline/v1 code commitment\x00"
_SIGN_LABEL = b"hotline/v1 code message\x00"


def commitment(room_id: str, sender: int, epoch: int, nonce: bytes) -> bytes:
    """The hash a member commits to before revealing ``nonce``."""
    if len(nonce) != NONCE_SIZE:
        raise KeyMessageError(Reason.MALFORMED, "nonce must be 32 bytes")
    w = Writer().bytes8(room_id_bytes(room_id, KeyMessageError)).u32(sender).u32(epoch)
    return hashlib.sha256(_COMMIT_LABEL + bytes(w) + nonce).digest()


@dataclass(frozen=True, slots=True)
class CodeMessage:
    """A commitment (``kind`` MSG_COMMIT, ``value`` the hash) or a reveal (MSG_REVEAL,
    ``value`` the nonce)."""

    kind: int
    room_id: str
    sender: int
    recipient: int
    epoch: int
    value: bytes
    signature: bytes = b""

    def body(self) -> bytes:
        return bytes(Writer().u8(self.kind).u8(PROTOCOL_VERSION)
                     .bytes8(room_id_bytes(self.room_id, KeyMessageError))
                     .u32(self.sender).u32(self.recipient).u32(self.epoch).raw(self.value))

    @classmethod
    def sign(cls, identity: Identity, kind: int, *, room_id: str, sender: int, recipient: int,
             epoch: int, value: bytes) -> CodeMessage:
        if kind not in (MSG_COMMIT, MSG_REVEAL) or len(value) != NONCE_SIZE:
            raise KeyMessageError(Reason.MALFORMED, "bad code message")
        msg = cls(kind, room_id, sender, recipient, epoch, value)
        return cls(kind, room_id, sender, recipient, epoch, value,
                   identity.sign(_SIGN_LABEL + msg.body()))

    def encode(self) -> bytes:
        return self.body() + self.signature

    @classmethod
    def decode(cls, data: bytes) -> CodeMessage:
        """Parse (does not verify)."""
        kind = data[0] if data else -1
        if kind not in (MSG_COMMIT, MSG_REVEAL):
            raise KeyMessageError(Reason.MALFORMED, "not a code message")
        r = Reader(data, KeyMessageError)
        room_id = r.message_start(kind, PROTOCOL_VERSION, "code message")
        sender, recipient, epoch = r.u32(), r.u32(), r.u32()
        value = r.raw(NONCE_SIZE)
        signature = r.raw(SIGNATURE_SIZE)
        r.end()
        return cls(kind, room_id, sender, recipient, epoch, value, signature)

    def verify(self, sender_identity: bytes) -> None:
        if not verify(sender_identity, self.signature, _SIGN_LABEL + self.body()):
            raise KeyMessageError(Reason.BAD_SIGNATURE)

    def opens(self, commitment_hash: bytes) -> bool:
        """True if this reveal's nonce is the one committed to in ``commitment_hash``."""
        return hmac.compare_digest(
            commitment(self.room_id, self.sender, self.epoch, self.value), commitment_hash)


def relayed_header(data: bytes) -> tuple[str, int, int]:
    """(room, sender, recipient) of anything the key relay carries: a key message or a
    code message. Raises KeyMessageError for anything else."""
    if data[:1] == bytes([MSG_KEY]):
        k = KeyMessage.decode(data)
        return k.room_id, k.sender, k.recipient
    c = CodeMessage.decode(data)
    return c.room_id, c.sender, c.recipient
