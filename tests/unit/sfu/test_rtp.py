"""RTP/RTCP helpers of the SFU: parsing, rewriting, feedback; fuzzed with junk."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from hotline.sfu import rtp


def packet(*, pt: int = 97, seq: int = 1000, ts: int = 5000, ssrc: int = 0x11223344,
           ext: bytes = b"", payload: bytes = b"\x90\x80payload", marker: bool = False,
           csrcs: int = 0, padding: int = 0) -> bytes:
    b0 = 0x80 | (0x10 if ext else 0) | (0x20 if padding else 0) | csrcs
    head = struct.pack("!BBHII", b0, (0x80 if marker else 0) | pt, seq, ts, ssrc)
    head += b"\x00\x00\x00\x01" * csrcs
    if ext:
        head += b"\xbe\xde" + struct.pack("!H", len(ext) // 4) + ext
    tail = (b"\x00" * (padding - 1) + bytes([padding])) if padding else b""
    return head + payload + tail


def test_parse() -> None:
    ext = bytes([0x10, 0x05, 0x00, 0x00])  # id 1, len 1, value 5, padding
    h = rtp.parse_rtp(packet(ext=ext, csrcs=2))
    assert h == rtp.RtpHeader(97, 1000, 5000, 0x11223344, 12 + 8 + 4 + 4)


def test_parse_refuses_malformed() -> None:
    good = packet(ext=b"\x10\x05\x00\x00")
    assert rtp.parse_rtp(good[:11]) is None
    assert rtp.parse_rtp(b"\x40" + good[1:]) is None  # version 1
    assert rtp.parse_rtp(good[:14]) is None  # extension header cut
    assert rtp.parse_rtp(packet(csrcs=15)[:40]) is None  # CSRCs cut
    bad_pad = bytearray(packet(padding=4))
    bad_pad[-1] = 200
    assert rtp.parse_rtp(bytes(bad_pad)) is None
    assert rtp.parse_rtp(packet(padding=4)) is not None


def test_rewrite_keeps_payload_and_marker() -> None:
    original = packet(ext=bytes([0x10, 0x07, 0x00, 0x00]), marker=True, seq=65535,
                      ts=0xFFFFFFF0)
    out = rtp.rewrite_rtp(original, payload_type=100, ssrc_bytes=b"\xaa\xbb\xcc\xdd",
                          seq_offset=2, ts_offset=0x20, ext_map={}, spare_ext_id=14)
    h = rtp.parse_rtp(out)
    assert h is not None
    assert (h.payload_type, h.sequence, h.timestamp, h.ssrc) == (100, 1, 0x10, 0xAABBCCDD)
    assert out[1] & 0x80  # marker kept
    assert out[16] >> 4 == 14  # the MID element renamed
    assert out[h.header_size:] == original[h.header_size:]


def test_extensions_are_renumbered_for_the_subscriber() -> None:
    # publisher: id 1 = MID (len 1), id 3 = audio level (len 1), id 5 = unknown to the subscriber
    ext = bytes([0x10, 0x07, 0x30, 0x55, 0x50, 0x01, 0x00, 0x00])
    out = rtp.rewrite_rtp(packet(ext=ext), payload_type=96, ssrc_bytes=b"\x00" * 4,
                          seq_offset=0, ts_offset=0, ext_map={3: 2}, spare_ext_id=14)
    assert [out[16] >> 4, out[18] >> 4, out[20] >> 4] == [14, 2, 14]
    assert [out[17], out[19], out[21]] == [0x07, 0x55, 0x01]  # values untouched


def test_rtcp_walk_and_feedback() -> None:
    pli = rtp.pli(1, 0xABCDEF01)
    nack = struct.pack("!BBHIIHH", 0x81, rtp.RTPFB, 3, 1, 0x12345678, 100, 0b101)
    compound = pli + nack
    packets = list(rtp.iter_rtcp(compound))
    assert [(p.packet_type, p.fmt) for p in packets] == [(206, 1), (205, 1)]
    assert rtp.feedback_media_ssrc(packets[0]) == 0xABCDEF01
    assert rtp.nack_sequences(packets[1]) == [100, 101, 103]


def test_remb_round_trip() -> None:
    data = rtp.remb(1, 1_500_000, [5, 6])
    (p,) = rtp.iter_rtcp(data)
    parsed = rtp.remb_bitrate(p)
    assert parsed is not None
    bitrate, ssrcs = parsed
    assert ssrcs == [5, 6] and abs(bitrate - 1_500_000) < 1_500_000 / 1000


def test_sender_report_copy() -> None:
    sr = struct.pack("!BBHIIIIII", 0x81, rtp.SR, 12, 0x1111, 1, 2, 3000, 4, 5) + b"\x00" * 24
    out = rtp.sender_report_for(sr, b"\x00\x00\x00\x09", 10)
    assert out is not None and len(out) == 28
    assert out[0] == 0x80 and int.from_bytes(out[4:8], "big") == 9
    assert int.from_bytes(out[16:20], "big") == 3010
    assert rtp.sender_report_for(sr[:20], b"\x00" * 4, 0) is None


@given(st.binary(max_size=200))
def test_fuzz_parsers_never_raise(junk: bytes) -> None:
    rtp.parse_rtp(junk)
    for p in rtp.iter_rtcp(junk):
        rtp.feedback_media_ssrc(p)
        rtp.nack_sequences(p)
        rtp.remb_bitrate(p)
    rtp.sender_report_for(junk, b"\x00" * 4, 1)
    if rtp.parse_rtp(junk) is not None:
        rtp.rewrite_rtp(junk, payload_type=1, ssrc_bytes=b"\x00" * 4, seq_offset=1,
                        ts_offset=1, ext_map={1: 3}, spare_ext_id=14)
