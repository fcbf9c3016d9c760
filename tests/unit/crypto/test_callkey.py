"""hotline.crypto.callkey: per-call HPKE key pairs and signed announcements.

One file (over 400 lines) on purpose: one test module per module (call keys,
announcements and their refusals)."""

from __future__ import annotations

import struct
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.callkey import (
    MSG_ANNOUNCEMENT,
    POST_QUANTUM,
    PROTOCOL_VERSION,
    CallKeyAnnouncement,
    CallKeyPair,
    CallPublicKey,
    Kem,
    check_kem_policy,
    room_id_bytes,
)
from hotline.crypto.identity import Identity, verify
from hotline.errors import AnnouncementError, KeyMessageError, Reason
from hotline.roles import ROLE_CODES

ALICE = Identity.from_seed(bytes(range(32)))
MALLORY = Identity.from_seed(bytes(range(1, 33)))
ROOM = "room-1"
PID = 7
EPOCH = 3
LABEL = b"hotline/v1 call-key announcement\x00"
PUBLIC_SIZE = {Kem.X25519: 32, Kem.MLKEM768_X25519: 1184 + 32}

# One key pair per KEM for the whole module: ML-KEM key generation is not free.
PAIRS = {kem: CallKeyPair.generate(kem) for kem in Kem}
OTHER_PAIRS = {kem: CallKeyPair.generate(kem) for kem in Kem}
KEMS = pytest.mark.parametrize("kem", list(Kem), ids=[k.name for k in Kem])


def announce(kem: Kem = Kem.X25519, identity: Identity = ALICE, room: str = ROOM,
             pid: int = PID, epoch: int = EPOCH) -> CallKeyAnnouncement:
    return CallKeyAnnouncement.create(identity, room, pid, epoch, PAIRS[kem].public)


def verify_ok(ann: CallKeyAnnouncement, **kw: object) -> None:
    args: dict[str, object] = {"room_id": ROOM, "participant_id": PID,
                               "identity_key": ALICE.public_key}
    args.update(kw)
    ann.verify(**args)  # type: ignore[arg-type]


def reason_of(fn: object, *args: object, **kw: object) -> Reason:
    with pytest.raises(AnnouncementError) as err:
        fn(*args, **kw)  # type: ignore[operator]
    return err.value.reason


def decode_reason(data: bytes) -> Reason:
    return reason_of(CallKeyAnnouncement.decode, data)


def layout(kem_id: int, key: bytes, room: bytes = ROOM.encode(), pid: int = PID,
           epoch: int = EPOCH, identity_key: bytes = ALICE.public_key,
           signature: bytes = b"\x00" * 64, msg_type: int = MSG_ANNOUNCEMENT,
           version: int = PROTOCOL_VERSION, role: int = 2) -> bytes:
    """The announcement layout rebuilt with struct, independently of wire.Writer."""
    return (
        struct.pack(">BBB", msg_type, version, len(room)) + room
        + struct.pack(">IIBHH", pid, epoch, role, kem_id, len(key)) + key + identity_key
        + signature
    )


# -- KEMs and key pairs -------------------------------------------------------------


def test_kem_identifiers() -> None:
    assert Kem.X25519 == 0x0020
    assert Kem.MLKEM768_X25519 == 0x647A
    assert frozenset({Kem.MLKEM768_X25519}) == POST_QUANTUM


@KEMS
def test_generate_public_key_size(kem: Kem) -> None:
    pair = PAIRS[kem]
    assert pair.public.kem is kem
    assert len(pair.public.key) == PUBLIC_SIZE[kem]
    assert pair.public != OTHER_PAIRS[kem].public


def test_default_kem_is_x25519() -> None:
    assert CallKeyPair.generate().public.kem is Kem.X25519


@KEMS
@pytest.mark.parametrize("plaintext", [b"", b"k" * 32, bytes(range(256)) * 4])
def test_seal_open_round_trip(kem: Kem, plaintext: bytes) -> None:
    pair = PAIRS[kem]
    sealed = pair.public.seal(plaintext, b"info")
    assert plaintext not in sealed or not plaintext
    assert pair.open(sealed, b"info") == plaintext


@KEMS
def test_seal_is_randomised(kem: Kem) -> None:
    pub = PAIRS[kem].public
    assert pub.seal(b"same", b"i") != pub.seal(b"same", b"i")


def auth_failed(pair: CallKeyPair, sealed: bytes, info: bytes) -> None:
    with pytest.raises(KeyMessageError) as err:
        pair.open(sealed, info)
    assert err.value.reason is Reason.AUTH_FAILED


@KEMS
def test_open_with_wrong_info_fails(kem: Kem) -> None:
    sealed = PAIRS[kem].public.seal(b"secret", b"info-1")
    auth_failed(PAIRS[kem], sealed, b"info-2")
    auth_failed(PAIRS[kem], sealed, b"")


@KEMS
def test_open_with_wrong_key_fails(kem: Kem) -> None:
    sealed = PAIRS[kem].public.seal(b"secret", b"info")
    auth_failed(OTHER_PAIRS[kem], sealed, b"info")


def test_open_with_other_kem_fails() -> None:
    sealed = PAIRS[Kem.X25519].public.seal(b"secret", b"info")
    auth_failed(PAIRS[Kem.MLKEM768_X25519], sealed, b"info")
    sealed = PAIRS[Kem.MLKEM768_X25519].public.seal(b"secret", b"info")
    auth_failed(PAIRS[Kem.X25519], sealed, b"info")


@KEMS
def test_open_tampered_or_truncated_fails(kem: Kem) -> None:
    pair = PAIRS[kem]
    sealed = pair.public.seal(b"secret", b"info")
    for index in (0, len(sealed) // 2, len(sealed) - 1):
        bad = bytearray(sealed)
        bad[index] ^= 0x01
        auth_failed(pair, bytes(bad), b"info")
    for cut in (0, 1, len(sealed) - 1):
        auth_failed(pair, sealed[:cut], b"info")
    auth_failed(pair, sealed + b"\x00", b"info")


def test_from_x25519_seed_is_deterministic_and_works() -> None:
    seed = bytes(range(50, 82))
    a, b = CallKeyPair.from_x25519_seed(seed), CallKeyPair.from_x25519_seed(seed)
    assert a.public == b.public
    assert a.public.kem is Kem.X25519
    assert b.open(a.public.seal(b"x", b"i"), b"i") == b"x"


def test_key_pair_repr_hides_private_key() -> None:
    seed = bytes(range(50, 82))
    pair = CallKeyPair.from_x25519_seed(seed)
    text = repr(pair)
    assert "X25519" in text
    assert seed.hex() not in text
    assert repr(seed) not in text
    assert not hasattr(pair, "__dict__")


@KEMS
@pytest.mark.parametrize("delta", [-1, 1])
def test_call_public_key_wrong_size_is_malformed(kem: Kem, delta: int) -> None:
    assert reason_of(CallPublicKey, kem, b"\x01" * (PUBLIC_SIZE[kem] + delta)) is Reason.MALFORMED
    assert reason_of(CallPublicKey, kem, b"") is Reason.MALFORMED


def test_check_kem_policy() -> None:
    check_kem_policy(Kem.X25519, frozenset(Kem))
    check_kem_policy(Kem.MLKEM768_X25519, POST_QUANTUM)
    assert reason_of(check_kem_policy, Kem.X25519, POST_QUANTUM) is Reason.POLICY
    assert reason_of(check_kem_policy, Kem.MLKEM768_X25519, frozenset()) is Reason.POLICY


def test_room_id_bytes() -> None:
    assert room_id_bytes("r", AnnouncementError) == b"r"
    assert room_id_bytes("é" * 127, AnnouncementError) == "é".encode() * 127
    with pytest.raises(KeyMessageError) as err:
        room_id_bytes("", KeyMessageError)
    assert err.value.reason is Reason.MALFORMED
    assert reason_of(room_id_bytes, "x" * 256, AnnouncementError) is Reason.MALFORMED
    assert reason_of(room_id_bytes, "é" * 128, AnnouncementError) is Reason.MALFORMED


# -- announcements: create, encode, decode, verify ------------------------------------


@KEMS
def test_announcement_round_trip(kem: Kem) -> None:
    ann = announce(kem)
    assert ann.room_id == ROOM
    assert ann.participant_id == PID
    assert ann.epoch == EPOCH
    assert ann.call_key == PAIRS[kem].public
    assert ann.identity_key == ALICE.public_key
    data = ann.encode()
    decoded = CallKeyAnnouncement.decode(data)
    assert decoded == ann
    assert decoded.encode() == data
    verify_ok(decoded)
    verify_ok(decoded, allowed_kems=frozenset({kem}))


@KEMS
def test_encoding_matches_documented_layout(kem: Kem) -> None:
    ann = announce(kem)
    key = PAIRS[kem].public.key
    expected = layout(int(kem), key, signature=ann.signature)
    assert ann.encode() == expected
    # the signature covers the label and every field before it
    body = expected[:-64]
    assert verify(ALICE.public_key, ann.signature, LABEL + body)
    assert not verify(ALICE.public_key, ann.signature, body)


def test_unicode_room_and_extreme_numbers_round_trip() -> None:
    for room, pid, epoch in [("ü" * 127, 0, 0), ("x" * 255, 2**32 - 1, 2**32 - 1), ("é", 1, 1)]:
        ann = CallKeyAnnouncement.create(ALICE, room, pid, epoch, PAIRS[Kem.X25519].public)
        decoded = CallKeyAnnouncement.decode(ann.encode())
        assert decoded == ann
        decoded.verify(room_id=room, participant_id=pid, identity_key=ALICE.public_key)


def test_create_refuses_bad_room_id() -> None:
    pub = PAIRS[Kem.X25519].public
    assert reason_of(CallKeyAnnouncement.create, ALICE, "", PID, EPOCH, pub) is Reason.MALFORMED
    assert reason_of(
        CallKeyAnnouncement.create, ALICE, "x" * 256, PID, EPOCH, pub
    ) is Reason.MALFORMED


def test_tampered_signature_is_bad_signature() -> None:
    ann = announce()
    for index in (0, 31, 32, 63):
        sig = bytearray(ann.signature)
        sig[index] ^= 0x01
        assert reason_of(verify_ok, replace(ann, signature=bytes(sig))) is Reason.BAD_SIGNATURE
    assert reason_of(verify_ok, replace(ann, signature=b"\x00" * 64)) is Reason.BAD_SIGNATURE


@KEMS
def test_changed_fields_break_the_signature(kem: Kem) -> None:
    ann = announce(kem)
    forged = [
        replace(ann, epoch=EPOCH + 1),
        replace(ann, call_key=OTHER_PAIRS[kem].public),
        # fields that also bind to the roster: room and participant id are changed in
        # the message *and* in the expectation, so only the signature can catch it
        replace(ann, room_id="room-2"),
        replace(ann, participant_id=PID + 1),
    ]
    expectations = [{}, {}, {"room_id": "room-2"}, {"participant_id": PID + 1}]
    for bad, kw in zip(forged, expectations, strict=True):
        assert reason_of(verify_ok, bad, **kw) is Reason.BAD_SIGNATURE


def test_signature_by_someone_else_is_bad_signature() -> None:
    # Mallory signs an announcement and claims to be Alice.
    ann = replace(announce(identity=MALLORY), identity_key=ALICE.public_key)
    assert reason_of(verify_ok, ann) is Reason.BAD_SIGNATURE


def test_wrong_room() -> None:
    assert reason_of(verify_ok, announce(), room_id="room-2") is Reason.WRONG_ROOM


def test_wrong_participant_id_is_binding() -> None:
    assert reason_of(verify_ok, announce(), participant_id=PID + 1) is Reason.BINDING
    assert reason_of(verify_ok, announce(pid=PID + 1)) is Reason.BINDING


def test_identity_key_differs_from_roster_is_binding() -> None:
    # validly signed by Mallory, but the roster says this participant is Alice
    ann = announce(identity=MALLORY)
    ann.verify(room_id=ROOM, participant_id=PID, identity_key=MALLORY.public_key)
    assert reason_of(verify_ok, ann) is Reason.BINDING
    assert reason_of(verify_ok, announce(), identity_key=MALLORY.public_key) is Reason.BINDING


def test_policy_excluding_the_kem() -> None:
    ann = announce(Kem.X25519)
    assert reason_of(verify_ok, ann, allowed_kems=POST_QUANTUM) is Reason.POLICY
    assert reason_of(verify_ok, ann, allowed_kems=frozenset()) is Reason.POLICY
    pq = announce(Kem.MLKEM768_X25519)
    verify_ok(pq, allowed_kems=POST_QUANTUM)
    assert reason_of(
        verify_ok, pq, allowed_kems=frozenset({Kem.X25519})
    ) is Reason.POLICY


def test_default_policy_allows_every_kem() -> None:
    for kem in Kem:
        verify_ok(announce(kem))


@KEMS
def test_every_single_flipped_byte_is_rejected(kem: Kem) -> None:
    data = announce(kem).encode()
    for index in range(len(data)):
        for mask in (0x01, 0x80):
            bad = bytearray(data)
            bad[index] ^= mask
            with pytest.raises(AnnouncementError):
                verify_ok(CallKeyAnnouncement.decode(bytes(bad)))


@given(st.data())
def test_any_flipped_byte_is_rejected_property(data: st.DataObject) -> None:
    encoded = announce(Kem.X25519).encode()
    index = data.draw(st.integers(0, len(encoded) - 1))
    mask = data.draw(st.integers(1, 255))
    bad = bytearray(encoded)
    bad[index] ^= mask
    with pytest.raises(AnnouncementError):
        verify_ok(CallKeyAnnouncement.decode(bytes(bad)))


# -- decode: malformed input ----------------------------------------------------------


@KEMS
def test_every_truncation_is_malformed(kem: Kem) -> None:
    data = announce(kem).encode()
    for cut in range(len(data)):
        assert decode_reason(data[:cut]) is Reason.MALFORMED


@pytest.mark.parametrize("extra", [b"\x00", b"\xff" * 10])
def test_trailing_bytes_are_malformed(extra: bytes) -> None:
    assert decode_reason(announce().encode() + extra) is Reason.MALFORMED


@pytest.mark.parametrize("kem_id", [0x0000, 0x0010, 0x0021, 0x0041, 0x647B, 0xFFFF])
def test_unknown_kem_is_malformed(kem_id: int) -> None:
    data = layout(kem_id, b"\x01" * 32)
    assert decode_reason(data) is Reason.MALFORMED


def test_unknown_kem_patched_into_real_announcement() -> None:
    data = bytearray(announce().encode())
    offset = 3 + len(ROOM) + 8 + 1  # after the role
    assert data[offset : offset + 2] == b"\x00\x20"
    data[offset : offset + 2] = b"\x12\x34"
    assert decode_reason(bytes(data)) is Reason.MALFORMED


@pytest.mark.parametrize("version", [0, 2, 0xFF])
def test_wrong_version_is_malformed(version: int) -> None:
    data = bytearray(announce().encode())
    data[1] = version
    assert decode_reason(bytes(data)) is Reason.MALFORMED


@pytest.mark.parametrize("msg_type", [0x00, 0x02, 0xFF])
def test_wrong_type_byte_is_malformed(msg_type: int) -> None:
    data = bytearray(announce().encode())
    data[0] = msg_type
    assert decode_reason(bytes(data)) is Reason.MALFORMED


@pytest.mark.parametrize("role", sorted(ROLE_CODES))
def test_the_role_is_signed_after_the_epoch(role: str) -> None:
    ann = CallKeyAnnouncement.create(ALICE, ROOM, PID, EPOCH, PAIRS[Kem.X25519].public, role)
    key = PAIRS[Kem.X25519].public.key
    assert ann.encode() == layout(0x0020, key, signature=ann.signature, role=ROLE_CODES[role])
    decoded = CallKeyAnnouncement.decode(ann.encode())
    assert decoded.role == role
    verify_ok(decoded, role=role)


def test_a_role_other_than_the_rosters_is_a_role_mismatch() -> None:
    press = CallKeyAnnouncement.create(ALICE, ROOM, PID, EPOCH, PAIRS[Kem.X25519].public, "press")
    assert reason_of(verify_ok, press, role="delegate") is Reason.ROLE_MISMATCH
    assert reason_of(verify_ok, announce(), role="principal") is Reason.ROLE_MISMATCH
    # relabelling the signed byte breaks the signature
    data = bytearray(press.encode())
    data[3 + len(ROOM) + 8] = ROLE_CODES["delegate"]
    assert reason_of(verify_ok, CallKeyAnnouncement.decode(bytes(data)),
                     role="delegate") is Reason.BAD_SIGNATURE


@pytest.mark.parametrize("code", [0, 9, 0xFF])
def test_an_unknown_role_code_is_malformed(code: int) -> None:
    assert decode_reason(layout(0x0020, b"\x01" * 32, role=code)) is Reason.MALFORMED


def test_an_unknown_role_cannot_be_announced() -> None:
    assert reason_of(CallKeyAnnouncement.create, ALICE, ROOM, PID, EPOCH,
                     PAIRS[Kem.X25519].public, "king") is Reason.MALFORMED


def test_layout_helper_decodes() -> None:
    # sanity: the independent layout is accepted, so the cases below fail for their reason
    decoded = CallKeyAnnouncement.decode(layout(0x0020, b"\x01" * 32))
    assert decoded.call_key == CallPublicKey(Kem.X25519, b"\x01" * 32)


@pytest.mark.parametrize(
    "data",
    [
        layout(0x0020, b"\x01" * 32, room=b""),
        layout(0x0020, b"\x01" * 32, room=b"\xff\xfe"),
        layout(0x0020, b"\x01" * 32, room=b"\xed\xa0\x80"),  # UTF-8 encoded surrogate
        layout(0x0020, b"\x01" * 31),
        layout(0x0020, b"\x01" * 33),
        layout(0x0020, b"\x01" * 1216),
        layout(0x647A, b"\x01" * 32),
        layout(0x647A, b"\x01" * 1215),
        b"",
        bytes([MSG_ANNOUNCEMENT]),
        bytes([MSG_ANNOUNCEMENT, PROTOCOL_VERSION]),
    ],
    ids=["empty-room", "non-utf8-room", "surrogate-room", "x25519-short", "x25519-long",
         "x25519-with-hybrid-size", "hybrid-with-x25519-size", "hybrid-short", "empty",
         "type-only", "type-version-only"],
)
def test_malformed_layouts(data: bytes) -> None:
    assert decode_reason(data) is Reason.MALFORMED


def decode_only_announcement_error(data: bytes) -> None:
    try:
        ann = CallKeyAnnouncement.decode(data)
    except AnnouncementError:
        return
    assert isinstance(ann, CallKeyAnnouncement)
    assert ann.encode() == data  # whatever decodes, re-encodes to the same bytes


@given(st.binary(max_size=400))
def test_decode_arbitrary_bytes(data: bytes) -> None:
    decode_only_announcement_error(data)


@given(
    st.binary(min_size=1, max_size=40),
    st.integers(0, 2**32 - 1),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0x0020, 0x647A, 0x0021, 0]),
    st.integers(0, 40),
    st.binary(min_size=0, max_size=120),
)
def test_decode_near_valid_bytes(room: bytes, pid: int, epoch: int, kem_id: int,
                                 key_len: int, tail: bytes) -> None:
    """Structured input that reaches past the header checks."""
    data = layout(kem_id, b"\x02" * key_len, room=room, pid=pid, epoch=epoch)
    decode_only_announcement_error(data[: len(data) - 96] + tail)


@given(st.data())
def test_decode_mutated_announcement(data: st.DataObject) -> None:
    encoded = bytearray(announce(Kem.X25519).encode())
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(encoded) - 1))
        encoded[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(encoded) + 1))
    decode_only_announcement_error(bytes(encoded[:cut]))
