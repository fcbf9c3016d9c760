"""hotline.crypto.groupcode: one short verification code for a call's key state."""

from __future__ import annotations

import hashlib
import re
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.callkey import CallKeyPair, CallPublicKey, Kem
from hotline.crypto.groupcode import GroupCode, group_code
from hotline.crypto.identity import Identity
from hotline.crypto.wordlist import WORDS
from hotline.errors import AnnouncementError, Reason

DIGITS_RE = re.compile(r"^\d{5} \d{5} \d{5} \d{5}$")
HYBRID_SIZE = 1184 + 32

Member = tuple[bytes, CallPublicKey]


def fixed_member(n: int, kem: Kem = Kem.X25519) -> Member:
    size = 32 if kem is Kem.X25519 else HYBRID_SIZE
    return bytes([n]) * 32, CallPublicKey(kem, bytes([(n + 100) % 256]) * size)


MEMBERS: list[Member] = [
    fixed_member(1),
    fixed_member(2, Kem.MLKEM768_X25519),
    fixed_member(3),
]


def reference_digest(room_id: str, epoch: int, members: list[Member], suite: int = 1,
                     kems: tuple[int, ...] = (0x0020, 0x647A), phase: int = 0) -> bytes:
    """The formula from the module docstring, written out with struct and hashlib."""
    entries = sorted(
        ident + struct.pack(">HH", int(ck.kem), len(ck.key)) + ck.key for ident, ck in members
    )
    room = room_id.encode("utf-8")
    data = (
        b"hotline/v1 group code\x00"
        + struct.pack(">B", len(room)) + room
        + struct.pack(">IB", epoch, phase)
        + struct.pack(">HB", suite, len(kems)) + b"".join(struct.pack(">H", k) for k in kems)
        + struct.pack(">H", len(entries))
        + b"".join(entries)
    )
    return hashlib.sha256(data).digest()


def flip(data: bytes, index: int = 0) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


# -- fixed example --------------------------------------------------------------------


def test_fixed_example_matches_documented_formula() -> None:
    code = group_code("room-1", 42, MEMBERS)
    expected = reference_digest("room-1", 42, MEMBERS)
    assert code.digest == expected
    assert len(code.digest) == 32
    digits = " ".join(
        f"{int.from_bytes(expected[5 * i : 5 * i + 5], 'big') % 100_000:05d}" for i in range(4)
    )
    assert code.digits == digits
    assert code.words == " ".join(WORDS[b] for b in expected[:8])
    assert str(code) == digits


def test_fixed_example_spelled_out() -> None:
    """The same example with the preimage written byte by byte, no helper."""
    ident, ck = bytes([7]) * 32, CallPublicKey(Kem.X25519, bytes([9]) * 32)
    preimage = (
        b"hotline/v1 group code\x00"
        + b"\x01" + b"r"            # u8 len(room_id) || room_id
        + b"\x00\x00\x00\x05"        # u32 epoch
        + b"\x00"                    # u8 phase (open)
        + b"\x00\x01"                # u16 cipher suite (the default, 0x0001)
        + b"\x02\x00\x20\x64\x7a"    # u8 k, allowed KEMs sorted (X25519, hybrid)
        + b"\x00\x01"                # u16 n
        + bytes([7]) * 32            # identity public key
        + b"\x00\x20"                # u16 kem
        + b"\x00\x20"                # u16 len(call_key)
        + bytes([9]) * 32            # call key
    )
    assert group_code("r", 5, [(ident, ck)]).digest == hashlib.sha256(preimage).digest()


@given(
    st.text(min_size=1, max_size=30).filter(lambda s: len(s.encode()) <= 255),
    st.integers(0, 2**32 - 1),
    st.lists(
        st.tuples(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32)),
        max_size=5,
    ),
)
def test_matches_reference_for_any_input(
    room: str, epoch: int, raw: list[tuple[bytes, bytes]]
) -> None:
    members = [(i, CallPublicKey(Kem.X25519, k)) for i, k in raw]
    assert group_code(room, epoch, members).digest == reference_digest(room, epoch, members)


# -- what the code depends on -----------------------------------------------------------


@given(st.permutations(range(len(MEMBERS))))
def test_member_order_does_not_matter(order: list[int]) -> None:
    shuffled = [MEMBERS[i] for i in order]
    assert group_code("room-1", 1, shuffled) == group_code("room-1", 1, MEMBERS)


def test_members_may_be_any_iterable() -> None:
    expected = group_code("room-1", 1, MEMBERS)
    assert group_code("room-1", 1, iter(MEMBERS)) == expected
    assert group_code("room-1", 1, tuple(reversed(MEMBERS))) == expected
    assert group_code("room-1", 1, (m for m in MEMBERS)) == expected


def test_deterministic() -> None:
    assert group_code("room-1", 1, MEMBERS) == group_code("room-1", 1, list(MEMBERS))


def test_changes_with_epoch() -> None:
    codes = {group_code("room-1", epoch, MEMBERS).digest for epoch in (0, 1, 2, 2**32 - 1)}
    assert len(codes) == 4


def test_changes_with_call_settings() -> None:
    base = group_code("room-1", 42, MEMBERS)
    assert group_code("room-1", 42, MEMBERS, cipher_suite=3) != base  # a tag downgrade
    assert group_code("room-1", 42, MEMBERS, kems=frozenset({Kem.X25519})) != base
    assert group_code("room-1", 42, MEMBERS, cipher_suite=3).digest == reference_digest(
        "room-1", 42, MEMBERS, suite=3)


def test_changes_with_the_phase() -> None:
    """A server that tells members different phases splits their code."""
    opened = group_code("room-1", 42, MEMBERS)
    closed = group_code("room-1", 42, MEMBERS, phase="closed")
    assert opened == group_code("room-1", 42, MEMBERS, phase="open")
    assert closed != opened
    assert closed.digest == reference_digest("room-1", 42, MEMBERS, phase=1)


def test_an_unknown_phase_has_no_code() -> None:
    with pytest.raises(AnnouncementError) as err:
        group_code("room-1", 42, MEMBERS, phase="recess")
    assert err.value.reason is Reason.MALFORMED


def test_changes_with_room() -> None:
    rooms = ["room-1", "room-2", "Room-1", "room-1 ", "r"]
    assert len({group_code(r, 1, MEMBERS).digest for r in rooms}) == len(rooms)


@pytest.mark.parametrize("who", range(len(MEMBERS)))
def test_changes_with_any_identity_key(who: int) -> None:
    base = group_code("room-1", 1, MEMBERS)
    for index in (0, 31):
        members = list(MEMBERS)
        ident, ck = members[who]
        members[who] = (flip(ident, index), ck)
        assert group_code("room-1", 1, members) != base


@pytest.mark.parametrize("who", range(len(MEMBERS)))
def test_changes_with_any_call_key(who: int) -> None:
    base = group_code("room-1", 1, MEMBERS)
    ident, ck = MEMBERS[who]
    for index in (0, len(ck.key) - 1):
        members = list(MEMBERS)
        members[who] = (ident, CallPublicKey(ck.kem, flip(ck.key, index)))
        assert group_code("room-1", 1, members) != base


def test_changes_with_real_fresh_call_key() -> None:
    alice, bob = Identity.generate(), Identity.generate()
    a1, a2, b = CallKeyPair.generate(), CallKeyPair.generate(), CallKeyPair.generate()
    before = group_code("r", 1, [(alice.public_key, a1.public), (bob.public_key, b.public)])
    after = group_code("r", 1, [(alice.public_key, a2.public), (bob.public_key, b.public)])
    assert before != after


def test_changes_with_swapped_call_keys() -> None:
    (i1, c1), (i2, c2) = MEMBERS[0], MEMBERS[2]
    assert group_code("r", 1, [(i1, c1), (i2, c2)]) != group_code("r", 1, [(i1, c2), (i2, c1)])


def test_changes_when_a_member_joins_or_leaves() -> None:
    base = group_code("room-1", 1, MEMBERS)
    joined = group_code("room-1", 1, [*MEMBERS, fixed_member(4)])
    assert joined != base
    for leaver in range(len(MEMBERS)):
        remaining = MEMBERS[:leaver] + MEMBERS[leaver + 1 :]
        assert group_code("room-1", 1, remaining) != base
    assert group_code("room-1", 1, []) != base


def test_all_distinct_subsets_give_distinct_codes() -> None:
    pool = [fixed_member(n) for n in range(5)]
    codes = set()
    for mask in range(1 << len(pool)):
        subset = [m for bit, m in enumerate(pool) if mask >> bit & 1]
        codes.add(group_code("room-1", 1, subset).digest)
    assert len(codes) == 1 << len(pool)


def test_empty_room_has_a_code() -> None:
    code = group_code("room-1", 1, [])
    assert code.digest == reference_digest("room-1", 1, [])
    assert DIGITS_RE.match(code.digits)


# -- presentation ------------------------------------------------------------------------


@given(st.binary(min_size=32, max_size=32))
def test_digits_format(digest: bytes) -> None:
    code = GroupCode(digest)
    assert DIGITS_RE.match(code.digits)
    groups = [int(g) for g in code.digits.split(" ")]
    assert groups == [int.from_bytes(digest[5 * i : 5 * i + 5], "big") % 100_000
                      for i in range(4)]
    assert str(code) == code.digits


@given(st.binary(min_size=32, max_size=32))
def test_words_format(digest: bytes) -> None:
    words = GroupCode(digest).words.split(" ")
    assert len(words) == 8
    assert all(w in WORDS for w in words)
    assert words == [WORDS[b] for b in digest[:8]]


def test_digits_keep_leading_zeros() -> None:
    assert GroupCode(bytes(32)).digits == "00000 00000 00000 00000"
    assert GroupCode(bytes(32)).words == " ".join([WORDS[0]] * 8)
    # 100000 mod 100000 is 0 too: u40 value 100000 = 0x0186A0
    digest = (b"\x00\x00\x01\x86\xa0" + b"\x00\x00\x00\x00\x07") + bytes(22)
    assert GroupCode(digest).digits == "00000 00007 00000 00000"
    assert GroupCode(b"\xff" * 32).words == " ".join([WORDS[255]] * 8)


def test_word_list_has_one_word_per_byte() -> None:
    assert len(WORDS) == 256
    assert len(set(WORDS)) == 256
    assert all(w.isascii() and w.isalpha() and w.islower() and " " not in w for w in WORDS)


def test_group_code_is_frozen() -> None:
    code = group_code("room-1", 1, MEMBERS)
    with pytest.raises(AttributeError):
        code.digest = b""  # type: ignore[misc]


# -- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 31, 33])
def test_identity_key_must_be_32_bytes(size: int) -> None:
    members = [(b"\x01" * size, MEMBERS[0][1])]
    with pytest.raises(ValueError):
        group_code("room-1", 1, members)


@pytest.mark.parametrize("room", ["", "x" * 256])
def test_room_id_length_is_checked(room: str) -> None:
    with pytest.raises(AnnouncementError) as err:
        group_code(room, 1, MEMBERS)
    assert err.value.reason is Reason.MALFORMED


@pytest.mark.parametrize("epoch", [-1, 2**32])
def test_epoch_must_fit_u32(epoch: int) -> None:
    with pytest.raises(ValueError):
        group_code("room-1", epoch, MEMBERS)
