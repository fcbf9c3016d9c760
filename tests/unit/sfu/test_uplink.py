"""The loss-based uplink estimate on its own, fed running totals as a router does."""

from __future__ import annotations

import itertools

import pytest

from hotline.sfu import rtp
from hotline.sfu.uplink import (
    ESTIMATE_INTERVAL,
    MAX_VIDEO_BITRATE,
    MIN_VIDEO_BITRATE,
    UplinkEstimate,
    aggregate_remb,
)


class Feed:
    """Running totals of what a publisher's streams brought, a second at a time (video
    packets of 1,000 bytes)."""

    def __init__(self) -> None:
        self.expected = self.received = self.video_bytes = 0

    def second(self, packets: int, lost: int) -> tuple[int, int, int]:
        self.expected += packets
        self.received += packets - lost
        self.video_bytes += (packets - lost) * 1000
        return self.expected, self.received, self.video_bytes


def test_no_loss_no_limit_and_the_first_call_only_starts() -> None:
    est, feed = UplinkEstimate(), Feed()
    assert est.update(*feed.second(100, 50), now=0.0) is None  # the start: no interval yet
    assert est.update(*feed.second(100, 0), now=1.0) is None
    assert est.loss == 0 and not est.congested
    assert est.video_rate == pytest.approx(800_000)


def test_congestion_cuts_and_the_estimate_moves_once_per_interval() -> None:
    est, feed = UplinkEstimate(), Feed()
    est.update(*feed.second(0, 0), now=0.0)
    cut = est.update(*feed.second(100, 40), now=1.0)
    assert est.congested and est.loss == pytest.approx(0.4)
    assert cut == pytest.approx(60 * 8000 * (1 - 0.2))
    assert est.update(*feed.second(100, 90), now=1.0 + ESTIMATE_INTERVAL / 2) == cut
    assert est.congested  # unchanged within the interval


def test_the_cut_has_a_floor() -> None:
    est, feed = UplinkEstimate(), Feed()
    est.update(*feed.second(0, 0), now=0.0)
    assert est.update(*feed.second(10, 9), now=1.0) == MIN_VIDEO_BITRATE


def test_growth_ends_in_no_limit() -> None:
    est, feed = UplinkEstimate(), Feed()
    est.update(*feed.second(0, 0), now=0.0)
    est.update(*feed.second(100, 50), now=1.0)
    rates = [est.update(*feed.second(100, 0), now=float(t)) for t in range(2, 40)]
    assert not est.congested
    assert all(b > a for a, b in itertools.pairwise(rates) if b is not None)
    assert rates[-1] is None and max(r for r in rates if r is not None) <= MAX_VIDEO_BITRATE


def test_the_remb_carries_the_limit_for_the_video_streams() -> None:
    assert aggregate_remb([0x11], None) is None
    assert aggregate_remb([], 300_000) is None
    data = aggregate_remb([0x11, 0x22], 300_000.7)
    assert data is not None
    (p,) = rtp.iter_rtcp(data)
    parsed = rtp.remb_bitrate(p)
    assert parsed is not None and parsed[1] == [0x11, 0x22]
    assert abs(parsed[0] - 300_000) < 1000
    assert int.from_bytes(p.data[4:8], "big") == rtp.SFU_SSRC
