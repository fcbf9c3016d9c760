"""What the SFU counts of a stream it receives, and the receiver reports made of it."""

from __future__ import annotations

from hotline.sfu import rtp
from hotline.sfu.reception import ReceptionStats


def block(report: bytes | None) -> bytes:
    assert report is not None
    (rr,) = rtp.iter_rtcp(report)
    assert rr.packet_type == rtp.RR and rr.fmt == 1
    assert int.from_bytes(rr.data[4:8], "big") == 0xAA  # the sender: the SFU
    assert int.from_bytes(rr.data[8:12], "big") == 0xBB  # the source reported on
    return rr.data[8:]


def test_nothing_received_nothing_reported() -> None:
    stats = ReceptionStats()
    assert stats.expected == 0
    assert stats.report(0xAA, 0xBB, now=1.0) is None


def test_sequences_wrap_and_late_packets_do_not_move_the_highest() -> None:
    stats = ReceptionStats()
    for seq in (65534, 65535, 1, 0, 65533, 3):
        stats.update(seq)
    assert (stats.base, stats.cycles, stats.highest) == (65534, 1 << 16, 3)
    assert stats.expected == 6 and stats.received == 6  # 65533 came late: not expected


def test_each_report_covers_the_interval_since_the_last() -> None:
    stats = ReceptionStats()
    for seq in range(0, 10, 2):  # 5 of 9
        stats.update(seq)
    b = block(stats.report(0xAA, 0xBB, now=1.0))
    assert b[4] == (4 << 8) // 9 and int.from_bytes(b[5:8], "big") == 4
    assert int.from_bytes(b[8:12], "big") == 8
    assert int.from_bytes(b[16:24], "big") == 0  # no SR yet: no LSR, no DLSR
    for seq in range(9, 13):  # nothing lost since
        stats.update(seq)
    b = block(stats.report(0xAA, 0xBB, now=2.0))
    assert b[4] == 0 and int.from_bytes(b[5:8], "big") == 4  # cumulative loss stays


def test_the_last_sender_report_is_echoed_with_its_age() -> None:
    stats = ReceptionStats()
    stats.update(1)
    stats.on_sender_report(b"\x80\xc8\x00\x06" + b"\x00" * 4, now=5.0)  # too short
    assert stats.last_sr_at is None
    sr = bytes([0x80, rtp.SR, 0, 6]) + (0xBB).to_bytes(4, "big") + \
        bytes.fromhex("00001234 56780000") + b"\x00" * 12
    stats.on_sender_report(sr, now=5.0)
    b = block(stats.report(0xAA, 0xBB, now=5.25))
    assert int.from_bytes(b[16:20], "big") == 0x12345678
    assert int.from_bytes(b[20:24], "big") == 65536 // 4
