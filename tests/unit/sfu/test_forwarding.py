"""Forwarding logic without sockets: copies, NACK from the cache, PLI rate limit,
SR relay, REMB, and random payloads passed through untouched (the SFU never reads them)."""

from __future__ import annotations

import os
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.sfu import rtp
from hotline.sfu.forwarding import ForwardedCopy, PublishedStream, Router
from hotline.sfu.nack import CACHE_SIZE, NACK_RELAY_INTERVAL
from hotline.sfu.uplink import CEILING_GROWTH, ESTIMATE_GROWTH, MIN_VIDEO_BITRATE, aggregate_remb
from tests.unit.sfu.test_rtp import packet


def setup() -> tuple[Router, Router, PublishedStream, list[bytes], list[bytes]]:
    to_publisher: list[bytes] = []
    to_subscriber: list[bytes] = []
    pub, sub = Router(1), Router(2)
    stream = PublishedStream(1, "video", 0x11223344, 97, {}, to_publisher.append)
    pub.publish(stream)
    copy = ForwardedCopy(stream, 2, 0x55667788, 100, to_subscriber.append)
    sub.subscribe(copy)
    stream.add_copy(copy)
    return pub, sub, stream, to_publisher, to_subscriber


@given(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=20))
def test_payloads_pass_through_unread(payloads: list[bytes]) -> None:
    pub, _, _, _, out = setup()
    for i, payload in enumerate(payloads):
        pub.on_rtp(packet(seq=i, payload=payload))
    assert len(out) == len(payloads)
    for sent, payload in zip(out, payloads, strict=True):
        h = rtp.parse_rtp(sent)
        assert h is not None and h.ssrc == 0x55667788 and h.payload_type == 100
        assert sent[h.header_size:] == payload


def test_unknown_and_malformed_packets_are_dropped() -> None:
    pub, _, _, _, out = setup()
    pub.on_rtp(packet(ssrc=1))
    pub.on_rtp(b"\x80\x01")
    assert out == [] and pub.dropped == 2


def test_nack_is_answered_from_the_cache() -> None:
    pub, sub, stream, _, out = setup()
    for seq in range(10):
        pub.on_rtp(packet(seq=seq, payload=bytes([seq]) * 10))
    out.clear()
    data = bytes([0x81, rtp.RTPFB, 0, 3]) + (2).to_bytes(4, "big") + \
        (0x55667788).to_bytes(4, "big") + (3).to_bytes(2, "big") + (0b1).to_bytes(2, "big")
    sub.on_rtcp(data, now=0.0)
    assert [rtp.parse_rtp(p).sequence for p in out] == [3, 4]  # type: ignore[union-attr]
    assert stream.stats.nack_resent == 2
    out.clear()
    old = bytes([0x81, rtp.RTPFB, 0, 3]) + (2).to_bytes(4, "big") + \
        (0x55667788).to_bytes(4, "big") + (CACHE_SIZE + 3).to_bytes(2, "big") + b"\x00\x00"
    sub.on_rtcp(old, now=0.0)  # not in the cache: nothing resent
    assert out == []


def test_pli_is_relayed_with_a_rate_limit() -> None:
    _, sub, stream, to_publisher, _ = setup()
    pli = rtp.pli(2, 0x55667788)
    sub.on_rtcp(pli, now=10.0)
    sub.on_rtcp(pli, now=10.1)
    sub.on_rtcp(pli, now=10.6)
    assert len(to_publisher) == 2 and stream.stats.keyframe_requests == 2
    (p,) = rtp.iter_rtcp(to_publisher[0])
    assert rtp.feedback_media_ssrc(p) == 0x11223344  # the publisher's own SSRC


def test_feedback_about_unknown_ssrc_changes_nothing() -> None:
    _, sub, _, to_publisher, _ = setup()
    sub.on_rtcp(rtp.pli(2, 0xDEAD), now=1.0)
    assert to_publisher == [] and sub.dropped == 1


def test_sender_reports_are_relayed_per_copy() -> None:
    pub, _, _, _, out = setup()
    sr = bytes([0x80, rtp.SR, 0, 6]) + (0x11223344).to_bytes(4, "big") + os.urandom(20)
    pub.on_rtcp(sr, now=0.0)
    assert len(out) == 1 and int.from_bytes(out[0][4:8], "big") == 0x55667788


def test_remb_is_the_sfu_estimate_and_subscriber_rembs_are_only_kept() -> None:
    _, sub, stream, _, _ = setup()
    sub.on_rtcp(rtp.remb(2, 800_000, [0x55667788]), now=0.0)
    copy = sub.copies[0x55667788]
    assert copy.remb is not None and abs(copy.remb - 800_000) < 1000
    assert aggregate_remb([stream.ssrc], None) is None  # no estimate: no REMB
    data = aggregate_remb([stream.ssrc], 300_000)
    assert data is not None
    (p,) = rtp.iter_rtcp(data)
    parsed = rtp.remb_bitrate(p)
    assert parsed is not None and abs(parsed[0] - 300_000) < 1000 and parsed[1] == [0x11223344]
    assert aggregate_remb([], 300_000) is None


def _feed(pub: Router, seqs: range, lost: set[int], size: int = 1000) -> None:
    for seq in seqs:
        if seq not in lost:
            pub.on_rtp(packet(seq=seq, payload=bytes(size)))


def test_uplink_estimate_cuts_on_loss_then_grows_back() -> None:
    pub, _, stream, _, _ = setup()
    est = pub.uplink
    _feed(pub, range(0, 100), set())
    assert pub.update_uplink(0.0) is None
    _feed(pub, range(100, 200), set())
    assert pub.update_uplink(1.0) is None  # no loss: no limit
    _feed(pub, range(200, 300), set(range(200, 300, 3)))  # a third lost
    cut = pub.update_uplink(2.0)
    assert est.loss == pytest.approx(0.33, abs=0.01)
    # video received: 67 packets of about 1,012 bytes in 1 s; times (1 - loss / 2)
    assert cut is not None and cut == pytest.approx(67 * 1012 * 8 * (1 - est.loss / 2), rel=0.02)
    assert stream.uplink_congested  # no NACK is relayed to the publisher meanwhile
    _feed(pub, range(300, 400), set(range(300, 400, 20)))  # 5 %: hold
    assert pub.update_uplink(3.0) == cut
    assert not stream.uplink_congested
    assert pub.update_uplink(3.2) == cut  # under ESTIMATE_INTERVAL: unchanged
    rates = []
    for i in range(4, 30):
        _feed(pub, range(i * 100, i * 100 + 100), set())
        rates.append(pub.update_uplink(float(i)))
    # Near the rate that overflowed (for CEILING_MEMORY seconds): slow growth; then fast.
    assert rates[0] == pytest.approx(cut * CEILING_GROWTH ** 1.0)
    assert rates[2] == pytest.approx(rates[1] * ESTIMATE_GROWTH)
    assert rates[-1] is None  # past MAX_VIDEO_BITRATE: no limit any more
    assert MIN_VIDEO_BITRATE <= cut


def test_random_loss_is_not_taken_for_congestion() -> None:
    """A link that loses 10 % at random is lossy, not full: the estimate must not drive
    the video down, nor stop NACKs from being relayed."""
    pub, _, stream, _, _ = setup()
    rng = random.Random(1)
    est = pub.uplink
    congested = 0
    for i in range(60):  # 30 s, 150 packets a second
        _feed(pub, range(i * 75, i * 75 + 75), {q for q in range(i * 75, i * 75 + 75)
                                                 if rng.random() < 0.10})
        pub.update_uplink(i * 0.5)
        congested += stream.uplink_congested
    assert est.baseline == pytest.approx(0.10, abs=0.04)
    assert congested <= 6, congested  # at most while the usual loss is being learnt
    assert est.bitrate is None or est.bitrate > 500_000  # video at its rate (~600 kbit/s)


def test_nacks_are_not_relayed_while_the_uplink_is_congested() -> None:
    pub, sub, stream, to_publisher, _ = setup()
    _feed(pub, range(0, 5), {3})
    stream.uplink_congested = True
    nack = bytes([0x81, rtp.RTPFB, 0, 3]) + (2).to_bytes(4, "big") + \
        (0x55667788).to_bytes(4, "big") + (3).to_bytes(2, "big") + (0).to_bytes(2, "big")
    sub.on_rtcp(nack, now=1.0)
    assert to_publisher == [] and stream.stats.nack_relay_skipped == 1


def test_a_sequence_is_asked_of_the_publisher_once_per_interval() -> None:
    pub, sub, stream, to_publisher, _ = setup()
    _feed(pub, range(0, 5), {3})
    nack = bytes([0x81, rtp.RTPFB, 0, 3]) + (2).to_bytes(4, "big") + \
        (0x55667788).to_bytes(4, "big") + (3).to_bytes(2, "big") + (0).to_bytes(2, "big")
    sub.on_rtcp(nack, now=10.0)
    sub.on_rtcp(nack, now=10.1)  # every subscriber NACKs again and again
    assert stream.stats.nack_relayed == 1 and stream.stats.nack_relay_skipped == 1
    assert len(to_publisher) == 1
    sub.on_rtcp(nack, now=10.0 + NACK_RELAY_INTERVAL)
    assert stream.stats.nack_relayed == 2 and len(to_publisher) == 2


@given(st.binary(max_size=300))
def test_fuzz_rtcp_from_a_participant(junk: bytes) -> None:
    pub, sub, _, _, _ = setup()
    sub.on_rtcp(junk, now=0.0)
    pub.on_rtcp(junk, now=0.0)
    pub.on_rtp(junk)


def test_receiver_reports_count_loss_and_echo_the_last_sender_report() -> None:
    pub, _, stream, to_publisher, _ = setup()
    for seq in [65530, 65531, 65533, 65534, 65535, 0, 1, 3]:  # 2 lost, one wrap
        pub.on_rtp(packet(seq=seq))
    sr = bytes([0x80, rtp.SR, 0, 6]) + (0x11223344).to_bytes(4, "big") + \
        bytes.fromhex("0000aaaa bbbb0000 00000000") + b"\x00" * 8
    pub.on_rtcp(sr, now=100.0)
    stream.send_receiver_report(now=100.5)
    (rr,) = rtp.iter_rtcp(to_publisher[-1])
    assert rr.packet_type == rtp.RR and rr.fmt == 1
    block = rr.data[8:]
    assert int.from_bytes(block[0:4], "big") == 0x11223344
    assert block[4] == (2 << 8) // 10  # fraction lost: 2 of 10 expected
    assert int.from_bytes(block[5:8], "big") == 2
    assert int.from_bytes(block[8:12], "big") == (1 << 16) + 3  # extended highest
    assert int.from_bytes(block[16:20], "big") == 0xAAAABBBB  # LSR
    assert int.from_bytes(block[20:24], "big") == 32768  # 0.5 s in 1/65536 s
    stream.send_receiver_report(now=101.0)  # nothing new: fraction 0
    (rr2,) = rtp.iter_rtcp(to_publisher[-1])
    assert rr2.data[12] == 0
