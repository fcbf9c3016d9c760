"""Retransmission parts on their own: the packet cache and its NACK answer, and the
relay's once-per-interval rule."""

from __future__ import annotations

from hotline.sfu.nack import (
    CACHE_SIZE,
    MAX_NACK_RESEND,
    NACK_RELAY_INTERVAL,
    NackRelay,
    PacketCache,
)
from tests.unit.sfu.test_rtp import packet


def test_the_cache_keeps_a_packet_until_its_slot_is_reused() -> None:
    cache = PacketCache()
    cache.put(7, packet(seq=7))
    assert cache.get(7) == packet(seq=7)
    assert cache.get(8) is None
    assert cache.get(7 + CACHE_SIZE) is None  # the slot holds another sequence
    cache.put(7 + CACHE_SIZE, packet(seq=7 + CACHE_SIZE))
    assert cache.get(7) is None and cache.get(7 + CACHE_SIZE) is not None


def test_an_answer_maps_the_subscriber_numbers_to_the_publisher_ones() -> None:
    cache = PacketCache()
    for seq in (65534, 65535, 0, 2):
        cache.put(seq, packet(seq=seq))
    # The subscriber's numbers are 10 ahead; 1 was never received (and 3 neither).
    found, missing = cache.answer([8, 9, 10, 11, 12, 13, 10], seq_offset=10)
    assert [int.from_bytes(p[2:4], "big") for p in found] == [65534, 65535, 0, 2]
    assert missing == [1, 3]  # the publisher's numbers, each once


def test_an_answer_looks_at_a_bounded_number_of_sequences() -> None:
    cache = PacketCache()
    for seq in range(CACHE_SIZE):
        cache.put(seq, packet(seq=seq))
    found, missing = cache.answer([*range(CACHE_SIZE), CACHE_SIZE + 5], seq_offset=0)
    assert len(found) == MAX_NACK_RESEND and missing == []


def test_a_sequence_is_due_once_per_interval() -> None:
    relay = NackRelay()
    assert relay.due([1, 2, 3], now=10.0) == [1, 2, 3]
    assert relay.due([2, 3, 4], now=10.1) == [4]
    assert relay.due([1, 4], now=10.0 + NACK_RELAY_INTERVAL) == [1]
    assert relay.due([4], now=10.1 + NACK_RELAY_INTERVAL) == [4]


def test_the_relay_forgets_old_sequences_when_it_holds_many() -> None:
    relay = NackRelay()
    assert len(relay.due(list(range(CACHE_SIZE + 1)), now=1.0)) == CACHE_SIZE + 1
    assert relay.due([0, CACHE_SIZE + 5], now=1.1) == [CACHE_SIZE + 5]  # 0: too recent
    assert relay.due([0, 1], now=5.0) == [0, 1]
    assert len(relay._asked) <= 3  # the expired ones were dropped on the way
