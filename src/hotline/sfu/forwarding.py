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
#: A sequence asked of the publisher again only after this long: every subscriber NACKs
#: every missing packet, again and again, and on a congested uplink relaying them all
#: made the publisher retransmit more than it could send (a retransmission storm).
NACK_RELAY_INTERVAL = 0.3
#: Loss-based uplink estimate (after GCC's loss-based controller,
#: draft-ietf-rmcat-gcc-02 §6): over each interval of at least ESTIMATE_INTERVAL, loss
#: above LOSS_HIGH cuts the estimate to the video rate received times (1 - loss / 2);
#: loss below LOSS_LOW raises it by ESTIMATE_GROWTH a second (GCC: 1.05; faster here, so
#: that video is back within 10 s after congestion ends); in between it holds.
ESTIMATE_INTERVAL = 0.5
LOSS_HIGH = 0.10
LOSS_LOW = 0.02
ESTIMATE_GROWTH = 1.25
#: Random loss (a lossy link, not a full one) is told apart from congestion: the loss
#: of intervals that were not congested is averaged (this weight per interval), and
#: LOSS_HIGH and LOSS_LOW count above that average.
BASELINE_WEIGHT = 0.2
#: After a cut, the video rate that overflowed the uplink is remembered as its ceiling
#: for CEILING_MEMORY seconds without loss; near it (above CEILING_NEAR of it) the
#: estimate grows by CEILING_GROWTH only, so that it does not probe into loss (and cost
#: audio) every other second. (GCC does the same with its "near max" additive increase.)
CEILING_MEMORY = 3.0
CEILING_NEAR = 0.7
CEILING_GROWTH = 1.02
MIN_VIDEO_BITRATE = 50_000
MAX_VIDEO_BITRATE = 1_500_000  # above this the estimate no longer limits anything

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
    nack_relay_skipped: int = 0  # asked again within NACK_RELAY_INTERVAL: not relayed
    rtx_in: int = 0  # retransmissions received from the publisher, unwrapped
    first_in: int = 0  # packets received the first time (not retransmissions)


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
    #: The publisher's uplink lost many packets in the last estimate interval: its
    #: retransmissions would only compete with its media there, so none are asked for.
    uplink_congested: bool = False
    #: sequence -> when it was last asked of the publisher
    _relayed: dict[int, float] = field(default_factory=dict)

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

    def request_resend(self, sequences: list[int], now: float | None = None) -> None:
        """Relay a NACK to the publisher for packets the SFU never received; with
        ``now``, a sequence relayed less than NACK_RELAY_INTERVAL ago is not asked again."""
        if self.uplink_congested:
            self.stats.nack_relay_skipped += len(sequences)
            return
        if now is not None:
            if len(self._relayed) > CACHE_SIZE:
                self._relayed = {q: t for q, t in self._relayed.items()
                                 if now - t < NACK_RELAY_INTERVAL}
            fresh = [q for q in sequences
                     if now - self._relayed.get(q, -1e9) >= NACK_RELAY_INTERVAL]
            self.stats.nack_relay_skipped += len(sequences) - len(fresh)
            for q in fresh:
                self._relayed[q] = now
            sequences = fresh
        if not sequences:
            return
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

    def resend(self, sequences: list[int], now: float | None = None) -> int:
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
            self.stream.request_resend(missing, now)
        return sent


class Router:
    """Streams by publisher SSRC and copies by subscriber SSRC, for one participant's
    connection(s). The SFU holds one per participant; RTCP from a participant is
    applied through its router."""

    def __init__(self, participant_id: int) -> None:
        self.participant_id = participant_id
        self.uplink = UplinkEstimate()
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
        else:
            stream.stats.first_in += 1
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
                copy.resend(rtp.nack_sequences(p), now)
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


class UplinkEstimate:
    """What a publisher's uplink carries, estimated by the SFU from the loss it sees on
    the publisher's streams (all of them: audio and video share the uplink) and the video
    bitrate it receives. ``bitrate`` (for the video) is None while loss has never been
    high, or once it grew past MAX_VIDEO_BITRATE: no limit."""

    def __init__(self) -> None:
        self.bitrate: float | None = None
        self.loss = 0.0  # over the last interval
        self.video_rate = 0.0  # bit/s received, over the last interval
        self.baseline = 0.0  # average loss of the intervals without congestion
        self.ceiling: float | None = None  # the video rate at the last overflow
        self._quiet = 0.0  # seconds since the loss was last high
        self._at: float | None = None
        self._expected = 0
        self._received = 0
        self._video_bytes = 0

    def update(self, streams: list[PublishedStream], now: float) -> float | None:
        """Call often; the estimate moves once per ESTIMATE_INTERVAL."""
        expected = sum(s.reception.cycles + s.reception.highest - s.reception.base + 1
                       for s in streams if s.reception.base >= 0)
        received = sum(s.stats.first_in for s in streams)
        video_bytes = sum(s.stats.bytes_in for s in streams if s.kind == "video")
        if self._at is None:
            self._at, self._expected, self._received = now, expected, received
            self._video_bytes = video_bytes
            return self.bitrate
        elapsed = now - self._at
        if elapsed < ESTIMATE_INTERVAL:
            return self.bitrate
        n_expected = expected - self._expected
        n_lost = n_expected - (received - self._received)
        self.loss = max(0.0, n_lost / n_expected) if n_expected > 0 else 0.0
        self.video_rate = (video_bytes - self._video_bytes) * 8 / elapsed
        self._at, self._expected, self._received = now, expected, received
        self._video_bytes = video_bytes
        # Loss well above the link's usual (random) loss is congestion; the usual loss
        # itself is not: a lossy radio link must not drive the video down to nothing.
        congested = self.loss > LOSS_HIGH + self.baseline
        for s in streams:
            s.uplink_congested = congested
        if congested:
            cut = max(MIN_VIDEO_BITRATE, self.video_rate * (1 - self.loss / 2))
            self.bitrate = cut if self.bitrate is None else min(self.bitrate, cut)
            self.ceiling = self.video_rate
            self._quiet = 0.0
            return self.bitrate
        self.baseline += BASELINE_WEIGHT * (self.loss - self.baseline)
        self._quiet += elapsed
        if self.ceiling is not None and self._quiet >= CEILING_MEMORY:
            self.ceiling = None
        if self.loss < LOSS_LOW + self.baseline and self.bitrate is not None:
            near = self.ceiling is not None and self.bitrate >= CEILING_NEAR * self.ceiling
            self.bitrate *= (CEILING_GROWTH if near else ESTIMATE_GROWTH) ** elapsed
            if self.bitrate > MAX_VIDEO_BITRATE:
                self.bitrate = None
        return self.bitrate


def aggregate_remb(streams: list[PublishedStream], limit: float | None) -> bytes | None:
    """The REMB for a publisher of these video streams: ``limit``, the SFU's own estimate
    of the publisher's uplink (None: no REMB).

    Subscribers' REMBs are kept (``ForwardedCopy.remb``) but no longer passed on. An
    aiortc subscriber estimates the whole path from the publisher (abs-send-time is the
    publisher's), so its REMB also fell when the publisher's uplink was congested, and
    after the congestion it grew back additively (about 28 kbit/s per second): relayed,
    it held the publisher's video down for 20 s and more. The SFU estimates the uplink
    itself and raises its estimate by 25 % a second once loss is gone."""
    if limit is None or not streams:
        return None
    return rtp.remb(SFU_SSRC, int(limit), [s.ssrc for s in streams])
