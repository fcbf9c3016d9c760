"""Forwarding logic: published streams, their forwarded copies, RTCP relay. PURE.

A :class:`PublishedStream` is one track a participant sends to the SFU (known by the
publisher's SSRC). Each subscriber that receives it has a :class:`ForwardedCopy`,
bound to one of the subscriber's m-lines: its own SSRC and payload type, plus
sequence/timestamp offsets so that the source behind an m-line can change without a
gap. Packets are decrypted from SRTP by the I/O edge, handed here as plain RTP (whose
payload is still SFrame ciphertext: the SFU cannot read it), rewritten per copy, and
given back to the edge to protect and send. No sockets, no asyncio; time is passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hotline.sfu import rtp

CACHE_SIZE = 1024  # packets kept per stream for NACK (about 3 s of video)
PLI_INTERVAL = 0.5  # seconds between keyframe requests to one publisher stream
REMB_INTERVAL = 1.0
SFU_SSRC = 0x5F0F0001  # the SFU's own SSRC in the RTCP it generates
SPARE_EXT_ID = 14  # an extension id never negotiated: what receivers must ignore
#: Largest plain RTP packet forwarded: anything bigger cannot have come in one Ethernet
#: frame from a WebRTC sender and would not leave in one either; dropped and counted.
MAX_RTP_BYTES = 1500
#: Packets one NACK may get resent: a feedback packet naming the whole cache must not
#: make the SFU send a thousand packets for one small datagram.
MAX_NACK_RESEND = 64
MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid"

SendRtp = Callable[[bytes], None]  # takes plain RTP/RTCP; the edge protects and sends
#: Takes one plain RTP packet as its fixed-header fields (first byte, marker|payload type,
#: sequence, timestamp, SSRC) and the rest of the packet; the edge writes them straight
#: into its SRTP buffer, protects and sends (no packet is assembled in Python).
SendRtpParts = Callable[[int, int, int, int, int, bytes], None]


@dataclass
class StreamStats:
    packets_in: int = 0
    bytes_in: int = 0
    keyframe_requests: int = 0
    nack_resent: int = 0
    nack_relayed: int = 0  # sequences asked of the publisher (not in the cache)
    rtx_in: int = 0  # retransmissions received from the publisher, unwrapped


@dataclass
class ReceptionStats:
    """What the SFU receives of one stream, for its receiver reports (RFC 3550 A.1, A.3;
    jitter is not measured and reported as 0)."""

    base: int = -1
    highest: int = 0
    cycles: int = 0
    received: int = 0
    expected_prior: int = 0
    received_prior: int = 0
    last_sr: int = 0  # middle 32 bits of the NTP time of the last SR
    last_sr_at: float | None = None

    def update(self, sequence: int) -> None:
        if self.base < 0:
            self.base = self.highest = sequence
        elif (sequence - self.highest) & 0xFFFF < 0x8000:
            if sequence < self.highest:
                self.cycles += 1 << 16
            self.highest = sequence
        self.received += 1

    def report(self, sender_ssrc: int, source_ssrc: int, now: float) -> bytes | None:
        if self.base < 0:
            return None
        extended = self.cycles + self.highest
        expected = extended - self.base + 1
        expected_interval = expected - self.expected_prior
        received_interval = self.received - self.received_prior
        self.expected_prior, self.received_prior = expected, self.received
        lost_interval = expected_interval - received_interval
        fraction = (lost_interval << 8) // expected_interval if (
            expected_interval > 0 and lost_interval > 0) else 0
        dlsr = int((now - self.last_sr_at) * 65536) if self.last_sr_at is not None else 0
        return rtp.receiver_report(sender_ssrc, source_ssrc, fraction_lost=fraction,
                                   lost=expected - self.received, highest_sequence=extended,
                                   jitter=0, lsr=self.last_sr, dlsr=dlsr)


@dataclass(eq=False)
class PublishedStream:
    """One published track: Opus or VP8 RTP from ``publisher`` with SSRC ``ssrc``."""

    publisher: int  # participant id
    kind: str  # "audio" | "video"
    ssrc: int
    payload_type: int
    ext_uris: dict[int, str]  # the publisher's one-byte extension ids -> URIs
    send_rtcp_to_publisher: SendRtp
    copies: list[ForwardedCopy] = field(default_factory=list)
    #: The publisher's RTX stream (RFC 4588) for this one, if it negotiated one: the
    #: SFU unwraps retransmissions and forwards the original packets.
    rtx_ssrc: int | None = None
    rtx_payload_type: int | None = None
    cache: list[bytes | None] = field(default_factory=lambda: [None] * CACHE_SIZE)
    stats: StreamStats = field(default_factory=StreamStats)
    reception: ReceptionStats = field(default_factory=ReceptionStats)
    last_pli: float = -1e9

    def on_rtp(self, packet: bytes, header: rtp.RtpHeader) -> None:
        """A decrypted RTP packet of this stream: cache it and send every copy."""
        self.stats.packets_in += 1
        self.stats.bytes_in += len(packet)
        self.cache[header.sequence % CACHE_SIZE] = packet
        self.reception.update(header.sequence)
        # The hot loop, once per packet and copy: only the fixed header differs per copy;
        # the rest (extensions renumbered) is made once per extension map.
        b0, b1, seq, ts = rtp.FIRST_WORDS.unpack_from(packet)
        marker = b1 & 0x80
        tails: dict[object, bytes] = {}
        for copy in self.copies:
            copy.packets_out += 1
            tail = tails.get(copy.ext_key)
            if tail is None:
                tail = tails[copy.ext_key] = rtp.rewritten_tail(packet, copy.ext_map,
                                                                SPARE_EXT_ID)
            copy.out(b0, marker | copy.payload_type, (seq + copy.seq_offset) & 0xFFFF,
                            (ts + copy.ts_offset) & 0xFFFFFFFF, copy.ssrc, tail)

    def on_sender_report(self, sr: bytes, now: float) -> None:
        if len(sr) >= 16:
            self.reception.last_sr = int.from_bytes(sr[10:14], "big")
            self.reception.last_sr_at = now
        for copy in self.copies:
            copy.forward_sender_report(sr)

    def send_receiver_report(self, now: float) -> None:
        """Tell the publisher what the SFU receives (loss, highest sequence, LSR/DLSR)."""
        report = self.reception.report(SFU_SSRC, self.ssrc, now)
        if report is not None:
            self.send_rtcp_to_publisher(report)

    def request_resend(self, sequences: list[int]) -> None:
        """Relay a NACK to the publisher for packets the SFU never received."""
        self.stats.nack_relayed += len(sequences)
        self.send_rtcp_to_publisher(rtp.nack(SFU_SSRC, self.ssrc, sequences))

    def request_keyframe(self, now: float) -> bool:
        """Ask the publisher for a keyframe, at most once per PLI_INTERVAL."""
        if now - self.last_pli < PLI_INTERVAL:
            return False
        self.last_pli = now
        self.stats.keyframe_requests += 1
        self.send_rtcp_to_publisher(rtp.pli(SFU_SSRC, self.ssrc))
        return True

    def cached(self, sequence: int) -> bytes | None:
        packet = self.cache[sequence % CACHE_SIZE]
        if packet is not None and int.from_bytes(packet[2:4], "big") == sequence:
            return packet
        return None


@dataclass(eq=False)
class ForwardedCopy:
    """``stream`` as one subscriber receives it, on one of its m-lines."""

    stream: PublishedStream
    subscriber: int  # participant id
    ssrc: int
    payload_type: int
    send: SendRtp
    seq_offset: int = 0
    ts_offset: int = 0
    remb: int | None = None
    packets_out: int = 0
    #: URIs -> ids the subscriber negotiated on this m-line (None: forward ids as they are)
    subscriber_exts: dict[str, int] | None = None
    #: How RTP goes out in parts (the edge's fast path); None: assembled and given to send.
    send_parts: SendRtpParts | None = None

    def __post_init__(self) -> None:
        self._ssrc_bytes = self.ssrc.to_bytes(4, "big")
        exts = self.subscriber_exts or {}
        #: The publisher's extension ids -> this subscriber's, and that map as a key:
        #: copies with equal keys share one rewritten packet tail.
        self.ext_map = {pub_id: exts[uri] for pub_id, uri in self.stream.ext_uris.items()
                        if uri != MID_URI and uri in exts}
        self.ext_key = tuple(sorted(self.ext_map.items()))
        #: Where this copy's RTP goes, in parts.
        self.out: SendRtpParts = self.send_parts or self._assemble_and_send

    def _assemble_and_send(self, b0: int, b1: int, seq: int, ts: int, ssrc: int,
                           tail: bytes) -> None:
        self.send(rtp.FIXED_HEADER.pack(b0, b1, seq, ts, ssrc) + tail)

    def forward(self, packet: bytes) -> None:
        """Send ``packet`` (plain RTP of the stream) rewritten for this subscriber."""
        self.packets_out += 1
        b0, b1, seq, ts = rtp.FIRST_WORDS.unpack_from(packet)
        self.out(b0, (b1 & 0x80) | self.payload_type,
                        (seq + self.seq_offset) & 0xFFFF, (ts + self.ts_offset) & 0xFFFFFFFF,
                        self.ssrc, rtp.rewritten_tail(packet, self.ext_map, SPARE_EXT_ID))

    def forward_sender_report(self, sr: bytes) -> None:
        report = rtp.sender_report_for(sr, self._ssrc_bytes, self.ts_offset)
        if report is not None:
            self.send(report)

    def resend(self, sequences: list[int]) -> int:
        """Answer a NACK from the cache; returns how many packets were resent. Only the
        first :data:`MAX_NACK_RESEND` distinct sequences asked for are looked at."""
        sent = 0
        missing = []
        for seq in list(dict.fromkeys(sequences))[:MAX_NACK_RESEND]:
            packet = self.stream.cached((seq - self.seq_offset) & 0xFFFF)
            if packet is not None:
                self.forward(packet)
                sent += 1
            else:
                missing.append((seq - self.seq_offset) & 0xFFFF)
        self.stream.stats.nack_resent += sent
        if missing:  # lost on the way in: ask the publisher, its resend reaches every copy
            self.stream.request_resend(missing)
        return sent


class Router:
    """Streams by publisher SSRC and copies by subscriber SSRC, for one participant's
    connection(s). The SFU holds one per participant; RTCP from a participant is
    applied through its router."""

    def __init__(self, participant_id: int) -> None:
        self.participant_id = participant_id
        self.published: dict[int, PublishedStream] = {}
        self.rtx: dict[int, PublishedStream] = {}  # by the RTX SSRC
        self.copies: dict[int, ForwardedCopy] = {}
        self.dropped = 0  # malformed or unknown packets
        self.oversized = 0  # RTP packets over MAX_RTP_BYTES (also counted in dropped)
        self.rtcp_malformed = 0  # compound RTCP with a bad version or length

    def on_rtp(self, packet: bytes) -> None:
        if len(packet) > MAX_RTP_BYTES:
            self.oversized += 1
            self.dropped += 1
            return
        header = rtp.parse_rtp(packet)
        if header is None:
            self.dropped += 1
            return
        stream = self.published.get(header.ssrc)
        if stream is None:
            stream = self.rtx.get(header.ssrc)
            if stream is None or header.payload_type != stream.rtx_payload_type:
                self.dropped += 1
                return
            original = rtp.unwrap_rtx(packet, header, stream.payload_type, stream.ssrc)
            header = rtp.parse_rtp(original) if original is not None else None
            if original is None or header is None:
                self.dropped += 1  # padding only (bandwidth probing), or malformed
                return
            stream.stats.rtx_in += 1
            packet = original
        stream.on_rtp(packet, header)

    def publish(self, stream: PublishedStream) -> None:
        self.published[stream.ssrc] = stream
        if stream.rtx_ssrc is not None and stream.rtx_ssrc not in self.published:
            self.rtx[stream.rtx_ssrc] = stream

    def on_rtcp(self, compound: bytes, now: float) -> None:
        """RTCP from this participant: SRs of what it publishes, feedback about what it
        receives. RR, SDES and BYE end here. A compound that is not well-formed to its
        last byte is counted in ``rtcp_malformed`` (its well-formed head is still used)."""
        walked = 0
        for p in rtp.iter_rtcp(compound):
            walked += len(p.data)
            if p.packet_type == rtp.SR and len(p.data) >= 8:
                stream = self.published.get(int.from_bytes(p.data[4:8], "big"))
                if stream is not None:
                    stream.on_sender_report(p.data, now)
                continue
            if p.packet_type == rtp.PSFB and p.fmt == rtp.FMT_REMB:
                self._on_remb(p, now)
                continue
            if p.packet_type not in (rtp.RTPFB, rtp.PSFB):
                continue
            media = rtp.feedback_media_ssrc(p)
            copy = self.copies.get(media) if media is not None else None
            if copy is None:
                self.dropped += 1
                continue
            if p.packet_type == rtp.PSFB and p.fmt in (rtp.FMT_PLI, rtp.FMT_FIR):
                copy.stream.request_keyframe(now)
            elif p.packet_type == rtp.RTPFB and p.fmt == rtp.FMT_NACK:
                copy.resend(rtp.nack_sequences(p))
        if walked != len(compound):
            self.rtcp_malformed += 1

    def _on_remb(self, p: rtp.RtcpPacket, now: float) -> None:
        parsed = rtp.remb_bitrate(p)
        if parsed is None:
            return
        bitrate, ssrcs = parsed
        for ssrc in ssrcs:
            copy = self.copies.get(ssrc)
            if copy is not None:
                copy.remb = bitrate


def aggregate_remb(streams: list[PublishedStream]) -> bytes | None:
    """The smallest bitrate any subscriber of these video streams asked for, as one REMB
    for the publisher, or None if no subscriber said anything."""
    rates = [c.remb for s in streams for c in s.copies if c.remb]
    if not rates:
        return None
    return rtp.remb(SFU_SSRC, min(rates), [s.ssrc for s in streams])
