"""Key messages: seal/open, binding, signature, malformed input."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.callkey import CallKeyPair, Kem
from hotline.crypto.identity import Identity
from hotline.crypto.keymessage import KeyMessage
from hotline.crypto.kid import make_kid
from hotline.errors import KeyMessageError, Reason

ALICE, BOB, MALLORY = Identity.generate(), Identity.generate(), Identity.generate()
BOB_CALL = CallKeyPair.generate()
BASE = bytes(range(32))


def seal(identity: Identity = ALICE, to: CallKeyPair = BOB_CALL, **kw: object) -> KeyMessage:
    args: dict[str, object] = dict(room_id="room-1", sender=1, recipient=2, epoch=5,
                                   generation=3, cipher_suite=1, base_key=BASE)
    args.update(kw)
    return KeyMessage.seal(identity, to.public, **args)  # type: ignore[arg-type]


def open_(msg: KeyMessage, **kw: object) -> bytes:
    args: dict[str, object] = dict(room_id="room-1", recipient=2)
    args.update(kw)
    return msg.open(BOB_CALL, ALICE.public_key, **args)  # type: ignore[arg-type]


def reason_of(fn: object, *a: object, **kw: object) -> Reason:
    with pytest.raises(KeyMessageError) as err:
        fn(*a, **kw)  # type: ignore[operator]
    return err.value.reason


@pytest.mark.parametrize("kem", list(Kem))
def test_round_trip(kem: Kem) -> None:
    to = CallKeyPair.generate(kem)
    msg = seal(to=to)
    decoded = KeyMessage.decode(msg.encode())
    assert decoded == msg
    assert decoded.kid == make_kid(1, 3)
    assert decoded.open(to, ALICE.public_key, room_id="room-1", recipient=2) == BASE


def test_rejections() -> None:
    msg = seal()
    assert reason_of(open_, msg, room_id="room-2") is Reason.WRONG_ROOM
    assert reason_of(open_, msg, recipient=3) is Reason.WRONG_RECIPIENT
    forged = seal(identity=MALLORY)  # claims sender 1 but signed by someone else
    assert reason_of(open_, forged) is Reason.BAD_SIGNATURE
    other = CallKeyPair.generate()
    assert reason_of(msg.open, other, ALICE.public_key, room_id="room-1",
                     recipient=2) is Reason.AUTH_FAILED


def test_every_bound_field_is_covered() -> None:
    """Changing any field breaks the signature; re-signing breaks the HPKE binding."""
    msg = seal()
    for field, value in [("room_id", "room-9"), ("sender", 7), ("recipient", 9), ("epoch", 6),
                         ("generation", 4), ("kid", make_kid(1, 4)), ("cipher_suite", 4)]:
        changed = replace(msg, **{field: value})
        assert reason_of(changed.open, BOB_CALL, ALICE.public_key, room_id=changed.room_id,
                         recipient=changed.recipient) is Reason.BAD_SIGNATURE
        resigned = replace(changed, signature=ALICE.sign(changed._signed()))
        assert reason_of(resigned.open, BOB_CALL, ALICE.public_key, room_id=resigned.room_id,
                         recipient=resigned.recipient) in {Reason.AUTH_FAILED, Reason.BINDING}


def test_kid_must_match_sender_and_generation() -> None:
    msg = replace(seal(), kid=make_kid(9, 3))
    msg = replace(msg, signature=ALICE.sign(msg._signed()))
    assert reason_of(open_, msg) is Reason.BINDING


def test_base_key_size_is_checked() -> None:
    assert reason_of(seal, base_key=b"short") is Reason.BAD_KEY


def test_every_flipped_byte_is_rejected() -> None:
    data = seal().encode()
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x40
        with pytest.raises(KeyMessageError):
            open_(KeyMessage.decode(bytes(bad)))


def test_malformed() -> None:
    data = seal().encode()
    for bad in (b"", data[:-1], data + b"\x00", b"\x01" + data[1:], data[:1] + b"\x09" + data[2:]):
        assert reason_of(KeyMessage.decode, bad) is Reason.MALFORMED


@given(st.binary(max_size=300))
def test_decode_of_junk_raises_only_key_message_error(junk: bytes) -> None:
    with contextlib.suppress(KeyMessageError):
        KeyMessage.decode(junk)
