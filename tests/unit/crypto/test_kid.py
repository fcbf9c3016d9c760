"""hotline.crypto.kid: KID = participant_id << 6 | (generation mod 16) << 2 | slot."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.kid import (
    GENERATION_BITS,
    MAX_PARTICIPANT_ID,
    SLOT_BITS,
    KidParts,
    Slot,
    kids_for,
    make_kid,
    parse_kid,
)

PARTICIPANT = st.integers(0, MAX_PARTICIPANT_ID)
GENERATION = st.integers(0, 2**40)
SLOT = st.sampled_from(list(Slot))


def test_layout_constants() -> None:
    assert GENERATION_BITS == 4
    assert SLOT_BITS == 2
    assert MAX_PARTICIPANT_ID == 2**32 - 1
    assert [int(s) for s in Slot] == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("participant", "generation", "slot", "kid"),
    [
        (0, 0, Slot.AUDIO, 0),
        (0, 0, Slot.DATA, 3),
        (0, 1, Slot.AUDIO, 0b100),
        (1, 0, Slot.AUDIO, 0b1000000),
        (1, 3, Slot.VIDEO, 0b1001101),
        (5, 15, Slot.SCREEN, (5 << 6) | (15 << 2) | 2),
        (MAX_PARTICIPANT_ID, 15, Slot.DATA, 2**38 - 1),
    ],
)
def test_known_kids(participant: int, generation: int, slot: Slot, kid: int) -> None:
    assert make_kid(participant, generation, slot) == kid
    assert parse_kid(kid) == KidParts(participant, generation, slot)


def test_default_slot_is_audio() -> None:
    assert make_kid(7, 2) == make_kid(7, 2, Slot.AUDIO)
    assert parse_kid(make_kid(7, 2)).slot is Slot.AUDIO


def test_parse_returns_slot_enum() -> None:
    parts = parse_kid(make_kid(9, 4, Slot.SCREEN))
    assert isinstance(parts, KidParts)
    assert parts.slot is Slot.SCREEN
    assert parts.participant_id == 9
    assert parts.generation_low == 4


@given(PARTICIPANT, GENERATION, SLOT)
def test_round_trip(participant: int, generation: int, slot: Slot) -> None:
    kid = make_kid(participant, generation, slot)
    assert kid >= 0
    assert kid < 2**38
    assert parse_kid(kid) == KidParts(participant, generation % 16, slot)


@given(st.integers(0, 2**38 - 1))
def test_parse_then_make_is_identity(kid: int) -> None:
    parts = parse_kid(kid)
    assert make_kid(parts.participant_id, parts.generation_low, parts.slot) == kid


@given(PARTICIPANT, GENERATION, SLOT)
def test_generation_wraps_mod_16(participant: int, generation: int, slot: Slot) -> None:
    assert make_kid(participant, generation, slot) == make_kid(participant, generation + 16, slot)
    assert make_kid(participant, generation, slot) == make_kid(participant, generation % 16, slot)
    # consecutive generations never collide (a receiver holds current and previous)
    assert make_kid(participant, generation, slot) != make_kid(participant, generation + 1, slot)


def test_generation_wraps_explicit() -> None:
    assert make_kid(3, 16) == make_kid(3, 0)
    assert make_kid(3, 17, Slot.VIDEO) == make_kid(3, 1, Slot.VIDEO)
    assert parse_kid(make_kid(3, 31)).generation_low == 15
    kids = {make_kid(3, g) for g in range(16)}
    assert len(kids) == 16


@given(PARTICIPANT, GENERATION)
def test_kids_for_gives_one_distinct_kid_per_slot(participant: int, generation: int) -> None:
    kids = kids_for(participant, generation)
    assert len(kids) == 4
    assert len(set(kids)) == 4
    assert kids == tuple(make_kid(participant, generation, s) for s in Slot)
    for kid, slot in zip(kids, Slot, strict=True):
        assert parse_kid(kid) == KidParts(participant, generation % 16, slot)


@given(PARTICIPANT, PARTICIPANT, GENERATION, GENERATION)
def test_different_participants_never_share_kids(
    a: int, b: int, gen_a: int, gen_b: int
) -> None:
    if a != b:
        assert not set(kids_for(a, gen_a)) & set(kids_for(b, gen_b))


@given(st.integers(0, 1023), GENERATION, SLOT)
def test_small_rooms_get_two_byte_kids(participant: int, generation: int, slot: Slot) -> None:
    assert make_kid(participant, generation, slot) < 2**16


def test_small_room_boundary() -> None:
    assert max(kids_for(1023, 15)) == 2**16 - 1
    assert min(kids_for(1024, 0)) == 2**16
    assert all(k < 2**16 for p in range(1024) for k in kids_for(p, 15))


@pytest.mark.parametrize("participant", [-1, -(2**40), MAX_PARTICIPANT_ID + 1, 2**64])
def test_participant_out_of_range(participant: int) -> None:
    with pytest.raises(ValueError, match="participant"):
        make_kid(participant, 0)
    with pytest.raises(ValueError):
        kids_for(participant, 0)


@pytest.mark.parametrize("generation", [-1, -16, -(2**40)])
def test_negative_generation(generation: int) -> None:
    with pytest.raises(ValueError, match="generation"):
        make_kid(0, generation)
    with pytest.raises(ValueError):
        kids_for(0, generation)


def test_boundaries_accepted() -> None:
    make_kid(0, 0)
    make_kid(MAX_PARTICIPANT_ID, 2**64)
