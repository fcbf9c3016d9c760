"""RTP and RTCP on raw bytes, for forwarding (RFC 3550, RFC 4585, RFC 8285). PURE.

The SFU never parses payloads: it reads and rewrites the fixed RTP header (payload
type, sequence number, timestamp, SSRC), renames one-byte header extensions, and
walks RTCP compound packets. Every reader checks lengths first; malformed input is
reported as ``None`` / skipped, never an exception, so one bad packet is just dropped.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import NamedTuple

RTP_HEADER = 12

# RTCP packet types
SR, RR, SDES, BYE, APP, RTPFB, PSFB = 200, 201, 202, 203, 204, 205, 206
FMT_NACK = 1  # RTPFB
FMT_PLI, FMT_FIR, FMT_REMB = 1, 4, 15  # PSFB
SFU_SSRC = 0x5F0F0001  # the SFU's own SSRC in the RTCP it generates


def is_rtp_or_rtcp(first_byte: int) -> bool:
    """RFC 7983 demultiplexing: RTP/RTCP start with 128..191."""
    return 127 < first_byte < 192


def is_rtcp(packet: bytes) -> bool:
    """RFC 5761: RTCP packet types 192..223 sit where RTP has marker+payload type."""
    return len(packet) > 1 and 191 < packet[1] < 224


class RtpHeader(NamedTuple):
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    header_size: int  # fixed header + CSRCs + extension block


def parse_rtp(packet: bytes) -> RtpHeader | None:
    """The header fields, or None if the packet is not well-formed RTP version 2."""
    if len(packet) < RTP_HEADER or packet[0] >> 6 != 2:
        return None
    size = RTP_HEADER + 4 * (packet[0] & 0x0F)
    if packet[0] & 0x10:
        if len(packet) < size + 4:
            return None
        size += 4 + 4 * int.from_bytes(packet[size + 2 : size + 4], "big")
    if len(packet) < size:
        return None
    if packet[0] & 0x20 and (len(packet) == size or packet[-1] == 0
                             or packet[-1] > len(packet) - size):
        return None  # padding flag with an impossible padding length
    _, pt_byte, seq, ts, ssrc = struct.unpack_from("!BBHII", packet)
    return RtpHeader(pt_byte & 0x7F, seq, ts, ssrc, size)


def unwrap_rtx(packet: bytes, header: RtpHeader, payload_type: int, ssrc: int) -> bytes | None:
    """The original packet inside an RTX retransmission (RFC 4588 §4): the first two
    payload bytes are its sequence number; padding of the RTX packet is dropped. None if
    there is no original payload (an RTX packet that is only padding, for probing)."""
    end = len(packet)
    if packet[0] & 0x20:
        end -= packet[-1]
    if end - header.header_size < 3:
        return None
    osn = packet[header.header_size : header.header_size + 2]
    b0 = packet[0] & ~0x20 & 0xFF  # no padding any more
    return (bytes([b0, (packet[1] & 0x80) | payload_type]) + osn + packet[4:8]
            + ssrc.to_bytes(4, "big") + packet[RTP_HEADER : header.header_size]
            + packet[header.header_size + 2 : end])


FIRST_WORDS = struct.Struct("!BBHI")  # V/P/X/CC, M/PT, sequence, timestamp
FIXED_HEADER = struct.Struct("!BBHII")  # ... and SSRC


def rewrite_rtp(packet: bytes, *, payload_type: int, ssrc_bytes: bytes, seq_offset: int,
                ts_offset: int, ext_map: dict[int, int] | None, spare_ext_id: int) -> bytes:
    """A copy with payload type, SSRC, sequence and timestamp rewritten.

    One-byte header extensions (RFC 8285 §4.2) are renumbered from the publisher's ids to
    the subscriber's with ``ext_map``; an element whose id is not in it (the publisher's
    MID, or anything the subscriber did not negotiate) gets ``spare_ext_id``, an id the
    subscriber did not negotiate, so receivers ignore it and the MID never leaks.
    ``ext_map`` None leaves extensions as they are.
    """
    return rewrite_header(packet, rewritten_tail(packet, ext_map, spare_ext_id),
                          payload_type=payload_type,
                          ssrc=int.from_bytes(ssrc_bytes, "big"),
                          seq_offset=seq_offset, ts_offset=ts_offset)


def rewritten_tail(packet: bytes, ext_map: dict[int, int] | None, spare_ext_id: int) -> bytes:
    """Everything after the fixed 12-byte header, extensions renumbered as in
    :func:`rewrite_rtp`. The same for every copy with the same ``ext_map``: the SFU makes
    it once per packet and map, and only the fixed header per copy."""
    if ext_map is None or not packet[0] & 0x10:
        return packet[RTP_HEADER:]
    b = bytearray(packet)
    _remap_extensions(b, ext_map, spare_ext_id)
    return bytes(b[RTP_HEADER:])


def rewrite_header(packet: bytes, tail: bytes, *, payload_type: int, ssrc: int,
                   seq_offset: int, ts_offset: int) -> bytes:
    """A new fixed header (marker kept; payload type, sequence, timestamp, SSRC
    rewritten) in front of ``tail`` (from :func:`rewritten_tail`)."""
    b0, b1, seq, ts = FIRST_WORDS.unpack_from(packet)
    return FIXED_HEADER.pack(b0, (b1 & 0x80) | payload_type, (seq + seq_offset) & 0xFFFF,
                             (ts + ts_offset) & 0xFFFFFFFF, ssrc) + tail


def _remap_extensions(b: bytearray, ext_map: dict[int, int], spare: int) -> None:
    """Renumber one-byte header extension elements in place (other profiles untouched)."""
    pos = RTP_HEADER + 4 * (b[0] & 0x0F)
    if len(b) < pos + 4 or b[pos] != 0xBE or b[pos + 1] != 0xDE:
        return
    end = min(len(b), pos + 4 + 4 * ((b[pos + 2] << 8) | b[pos + 3]))
    pos += 4
    while pos < end:
        x = b[pos]
        if x == 0:  # padding
            pos += 1
            continue
        if x >> 4 == 15:  # reserved: stop
            return
        b[pos] = (ext_map.get(x >> 4, spare) << 4) | (x & 0x0F)
        pos += 2 + (x & 0x0F)


class RtcpPacket(NamedTuple):
    packet_type: int
    fmt: int  # reception report count / feedback message type
    data: bytes  # the whole packet, header included


def iter_rtcp(compound: bytes) -> Iterator[RtcpPacket]:
    """The packets of a compound RTCP packet; stops at the first malformed one."""
    pos = 0
    while pos + 4 <= len(compound):
        if compound[pos] >> 6 != 2:
            return
        end = pos + 4 * (int.from_bytes(compound[pos + 2 : pos + 4], "big") + 1)
        if end > len(compound):
            return
        yield RtcpPacket(compound[pos + 1], compound[pos] & 0x1F, compound[pos:end])
        pos = end


def feedback_media_ssrc(p: RtcpPacket) -> int | None:
    """The media SSRC a feedback packet (RTPFB/PSFB) is about (FIR: of its first entry)."""
    if p.packet_type == PSFB and p.fmt == FMT_FIR:
        return int.from_bytes(p.data[12:16], "big") if len(p.data) >= 20 else None
    return int.from_bytes(p.data[8:12], "big") if len(p.data) >= 12 else None


def nack_sequences(p: RtcpPacket) -> list[int]:
    """Sequence numbers a generic NACK (RFC 4585 §6.2.1) asks for."""
    out = []
    for i in range(12, len(p.data) - 3, 4):
        pid, blp = struct.unpack_from("!HH", p.data, i)
        out.append(pid)
        out.extend((pid + k + 1) & 0xFFFF for k in range(16) if blp >> k & 1)
    return out


def nack(sender_ssrc: int, media_ssrc: int, sequences: list[int]) -> bytes:
    """A generic NACK (RFC 4585 §6.2.1) asking for ``sequences``."""
    fci = b""
    todo = sorted({s & 0xFFFF for s in sequences})
    while todo:
        pid, blp, rest = todo[0], 0, []
        for s in todo[1:]:
            d = (s - pid) & 0xFFFF
            if 1 <= d <= 16:
                blp |= 1 << (d - 1)
            else:
                rest.append(s)
        fci += struct.pack("!HH", pid, blp)
        todo = rest
    return struct.pack("!BBHII", 0x80 | FMT_NACK, RTPFB, 2 + len(fci) // 4, sender_ssrc,
                       media_ssrc) + fci


def pli(sender_ssrc: int, media_ssrc: int) -> bytes:
    """A Picture Loss Indication (RFC 4585 §6.3.1)."""
    return struct.pack("!BBHII", 0x80 | FMT_PLI, PSFB, 2, sender_ssrc, media_ssrc)


def remb(sender_ssrc: int, bitrate: int, ssrcs: list[int]) -> bytes:
    """A REMB message (draft-alvestrand-rmcat-remb) for ``bitrate`` bit/s."""
    exp = 0
    mantissa = max(0, bitrate)
    while mantissa > 0x3FFFF:
        mantissa >>= 1
        exp += 1
    fci = b"REMB" + struct.pack("!B", len(ssrcs)) + struct.pack(
        "!BH", (exp << 2) | (mantissa >> 16), mantissa & 0xFFFF)
    fci += b"".join(s.to_bytes(4, "big") for s in ssrcs)
    length = (12 + len(fci)) // 4 - 1
    return struct.pack("!BBHII", 0x80 | FMT_REMB, PSFB, length, sender_ssrc, 0) + fci


def remb_bitrate(p: RtcpPacket) -> tuple[int, list[int]] | None:
    """(bitrate, ssrcs) of a REMB packet, or None if it is not one."""
    d = p.data
    if p.packet_type != PSFB or p.fmt != FMT_REMB or len(d) < 20 or d[12:16] != b"REMB":
        return None
    count = d[16]
    if len(d) < 20 + 4 * count:
        return None
    exp, mantissa = d[17] >> 2, ((d[17] & 0x03) << 16) | (d[18] << 8) | d[19]
    ssrcs = [int.from_bytes(d[20 + 4 * i : 24 + 4 * i], "big") for i in range(count)]
    return mantissa << exp, ssrcs


def sender_report_for(sr: bytes, ssrc_bytes: bytes, ts_offset: int) -> bytes | None:
    """A subscriber's copy of a publisher's SR: its own SSRC, no report blocks."""
    if len(sr) < 28:
        return None
    b = bytearray(sr[:28])
    b[0] = 0x80
    b[2:4] = b"\x00\x06"
    b[4:8] = ssrc_bytes
    if ts_offset:
        struct.pack_into("!I", b, 16, (int.from_bytes(b[16:20], "big") + ts_offset) & 0xFFFFFFFF)
    return bytes(b)


def receiver_report(sender_ssrc: int, source_ssrc: int, *, fraction_lost: int, lost: int,
                    highest_sequence: int, jitter: int, lsr: int, dlsr: int) -> bytes:
    """A Receiver Report with one report block (RFC 3550 §6.4.2)."""
    lost = max(-0x800000, min(0x7FFFFF, lost)) & 0xFFFFFF
    return struct.pack("!BBHII", 0x81, RR, 7, sender_ssrc, source_ssrc) + struct.pack(
        "!IIIII", (fraction_lost & 0xFF) << 24 | lost, highest_sequence & 0xFFFFFFFF,
        jitter & 0xFFFFFFFF, lsr & 0xFFFFFFFF, dlsr & 0xFFFFFFFF)
