"""The forwarding graph: published streams, their forwarded copies, RTCP relay. PURE.

A :class:`PublishedStream` is one track a participant sends to the SFU (known by the
publisher's SSRC). Each subscriber that receives it has a :class:`ForwardedCopy`,
bound to one of the subscriber's m-lines: its own SSRC and payload type, plus
sequence/timestamp offsets so that the source behind an m-line can change without a
gap. Packets are decrypted from SRTP by the I/O edge, handed here as plain RTP (whose
payload is still SFrame ciphertext: the SFU cannot read it), rewritten per copy, and
given back to the edge to protect and send. No sockets, no asyncio; time is passed in.

The graph is changed only through the operations here: :meth:`Router.publish`,
:meth:`Router.subscribe` (a copy is known to its subscriber's router, for feedback),
:meth:`PublishedStream.add_copy` (the copy is forwarded to from then on: once the
subscriber's connection is up), :meth:`Router.unsubscribe`,
:meth:`Router.remove_publisher` and :meth:`Router.unsubscribe_all`.
Retransmission (:mod:`hotline.sfu.nack`), receiver reports
(:mod:`hotline.sfu.reception`) and the uplink estimate (:mod:`hotline.sfu.uplink`)
are modules of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from hotline.sfu import rtp
from hotline.sfu.nack import NackRelay, PacketCache
from hotline.sfu.reception import ReceptionStats
from hotline.sfu.uplink import UplinkEstimate, aggregate_remb

PLI_INTERVAL = 0.5  # seconds between keyframe requests to one publisher stream
SPARE_EXT_ID = 14  # an extension id never negotiated: what receivers must ignore
#: Largest plain RTP packet forwarded: anything bigger cannot have come in one Ethernet
#: frame from a WebRTC sender and would not leave in one either; dropped and counted.
MAX_RTP_BYTES = 1500
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
    nack_relay_skipped: int = 0  # asked again within NACK_RELAY_INTERVAL: not relayed
    rtx_in: int = 0  # retransmissions received from the publisher, unwrapped
    first_in: int = 0  # packets received the first time (not retransmissions)


@dataclass(eq=False)
class PublishedStream:
    """One published track: Opus or VP8 RTP from ``publisher`` with SSRC ``ssrc``."""

    publisher: int  # participant id
    kind: str  # "audio" | "video"
    ssrc: int
    payload_type: int
    ext_uris: dict[int, str]  # the publisher's one-byte extension ids -> URIs
    send_rtcp_to_publisher: SendRtp
    #: The publisher's RTX stream (RFC 4588) for this one, if it negotiated one: the
    #: SFU unwraps retransmissions and forwards the original packets.
    rtx_ssrc: int | None = None
    rtx_payload_type: int | None = None
    cache: PacketCache = field(default_factory=PacketCache)
    stats: StreamStats = field(default_factory=StreamStats)
    reception: ReceptionStats = field(default_factory=ReceptionStats)
    last_pli: float = -1e9
    #: The publisher's uplink lost many packets in the last estimate interval: its
    #: retransmissions would only compete with its media there, so none are asked for.
    uplink_congested: bool = False
    nack_relay: NackRelay = field(default_factory=NackRelay)
    _copies: list[ForwardedCopy] = field(default_factory=list, init=False, repr=False)

    @property
    def copies(self) -> tuple[ForwardedCopy, ...]:
        """The copies every packet of this stream is forwarded to."""
        return tuple(self._copies)

    def add_copy(self, copy: ForwardedCopy) -> bool:
        """Forward to ``copy`` from now on; False if it already was."""
        if copy in self._copies:
            return False
        self._copies.append(copy)
        return True

    def remove_copy(self, copy: ForwardedCopy) -> None:
        """Forward nothing more to ``copy`` (nothing happens if it was not forwarded to)."""
        if copy in self._copies:
            self._copies.remove(copy)

    def on_rtp(self, packet: bytes, header: rtp.RtpHeader) -> None:
        """A decrypted RTP packet of this stream: cache it and send every copy."""
        self.stats.packets_in += 1
        self.stats.bytes_in += len(packet)
        self.cache.put(header.sequence, packet)
        self.reception.update(header.sequence)
        # The hot loop, once per packet and copy: only the fixed header differs per copy;
        # the rest (extensions renumbered) is made once per extension map.
        b0, b1, seq, ts = rtp.FIRST_WORDS.unpack_from(packet)
        marker = b1 & 0x80
        tails: dict[object, bytes] = {}
        for copy in self._copies:
            copy.packets_out += 1
            tail = tails.get(copy.ext_key)
            if tail is None:
                tail = tails[copy.ext_key] = rtp.rewritten_tail(packet, copy.ext_map,
                                                                SPARE_EXT_ID)
            copy.out(b0, marker | copy.payload_type, (seq + copy.seq_offset) & 0xFFFF,
                     (ts + copy.ts_offset) & 0xFFFFFFFF, copy.ssrc, tail)

    def on_sender_report(self, sr: bytes, now: float) -> None:
        self.reception.on_sender_report(sr, now)
        for copy in self._copies:
            copy.forward_sender_report(sr)

    def send_receiver_report(self, now: float) -> None:
        """Tell the publisher what the SFU receives (loss, highest sequence, LSR/DLSR)."""
        report = self.reception.report(rtp.SFU_SSRC, self.ssrc, now)
        if report is not None:
            self.send_rtcp_to_publisher(report)

    def request_resend(self, sequences: list[int], now: float | None = None) -> None:
        """Relay a NACK to the publisher for packets the SFU never received; with
        ``now``, a sequence relayed less than NACK_RELAY_INTERVAL ago is not asked again."""
        if self.uplink_congested:
            self.stats.nack_relay_skipped += len(sequences)
            return
        if now is not None:
            fresh = self.nack_relay.due(sequences, now)
            self.stats.nack_relay_skipped += len(sequences) - len(fresh)
            sequences = fresh
        if not sequences:
            return
        self.stats.nack_relayed += len(sequences)
        self.send_rtcp_to_publisher(rtp.nack(rtp.SFU_SSRC, self.ssrc, sequences))

    def request_keyframe(self, now: float) -> bool:
        """Ask the publisher for a keyframe, at most once per PLI_INTERVAL."""
        if now - self.last_pli < PLI_INTERVAL:
            return False
        self.last_pli = now
        self.stats.keyframe_requests += 1
        self.send_rtcp_to_publisher(rtp.pli(rtp.SFU_SSRC, self.ssrc))
        return True

    def cached(self, sequence: int) -> bytes | None:
        return self.cache.get(sequence)


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
        first :data:`~hotline.sfu.nack.MAX_NACK_RESEND` distinct sequences asked for are
        looked at."""
        found, missing = self.stream.cache.answer(sequences, self.seq_offset)
        for packet in found:
            self.forward(packet)
        self.stream.stats.nack_resent += len(found)
        if missing:  # lost on the way in: ask the publisher, its resend reaches every copy
            self.stream.request_resend(missing, now)
        return len(found)


class Router:
    """One participant's part of the graph: the streams it publishes (by publisher
    SSRC) and the copies it subscribes to (by their SSRC, for its feedback). The SFU
    holds one per participant; RTP and RTCP from a participant go through its router."""

    def __init__(self, participant_id: int) -> None:
        self.participant_id = participant_id
        self.uplink = UplinkEstimate()
        self._published: dict[int, PublishedStream] = {}
        self._rtx: dict[int, PublishedStream] = {}  # by the RTX SSRC
        self._copies: dict[int, ForwardedCopy] = {}
        self._subscriptions: dict[PublishedStream, ForwardedCopy] = {}
        self.dropped = 0  # malformed or unknown packets
        self.oversized = 0  # RTP packets over MAX_RTP_BYTES (also counted in dropped)
        self.rtcp_malformed = 0  # compound RTCP with a bad version or length
        #: Nothing is forwarded to this participant for now (a press seat in the closed
        #: part of a call): its copies are off every stream and its NACKs get nothing.
        self.held = False

    # -- the graph -----------------------------------------------------------------------

    @property
    def published(self) -> Mapping[int, PublishedStream]:
        """The streams this participant publishes, by SSRC (read-only)."""
        return MappingProxyType(self._published)

    @property
    def copies(self) -> Mapping[int, ForwardedCopy]:
        """The copies this participant receives, by their SSRC (read-only)."""
        return MappingProxyType(self._copies)

    @property
    def subscriptions(self) -> Mapping[PublishedStream, ForwardedCopy]:
        """The copy this participant has of each stream it subscribed to (read-only)."""
        return MappingProxyType(self._subscriptions)

    def publish(self, stream: PublishedStream) -> None:
        self._published[stream.ssrc] = stream
        if stream.rtx_ssrc is not None and stream.rtx_ssrc not in self._published:
            self._rtx[stream.rtx_ssrc] = stream

    def publishes(self, stream: PublishedStream) -> bool:
        return self._published.get(stream.ssrc) is stream

    def subscribe(self, copy: ForwardedCopy) -> None:
        """This participant receives ``copy`` (of ``copy.stream``): its feedback about
        the copy's SSRC goes to that stream. Forwarding starts with
        :meth:`PublishedStream.add_copy`."""
        self.unsubscribe(copy.stream)
        self._subscriptions[copy.stream] = copy
        self._copies[copy.ssrc] = copy

    def unsubscribe(self, stream: PublishedStream) -> None:
        """This participant gets nothing more of ``stream``."""
        copy = self._subscriptions.pop(stream, None)
        if copy is not None:
            self._copies.pop(copy.ssrc, None)
            stream.remove_copy(copy)

    def remove_publisher(self, publisher: int) -> None:
        """This participant gets nothing more of ``publisher`` (which left or lost its
        media)."""
        for stream in [s for s in self._subscriptions if s.publisher == publisher]:
            self.unsubscribe(stream)

    def unsubscribe_all(self) -> None:
        """Nothing more is forwarded to this participant."""
        for stream in list(self._subscriptions):
            self.unsubscribe(stream)
        self._copies.clear()

    # -- packets -------------------------------------------------------------------------

    def on_rtp(self, packet: bytes) -> None:
        if len(packet) > MAX_RTP_BYTES:
            self.oversized += 1
            self.dropped += 1
            return
        header = rtp.parse_rtp(packet)
        if header is None:
            self.dropped += 1
            return
        stream = self._published.get(header.ssrc)
        if stream is None:
            stream = self._rtx.get(header.ssrc)
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

    def drop_rtp(self, packet: bytes) -> None:
        """RTP where none may come (a subscribe connection): dropped and counted."""
        self.dropped += 1

    def on_rtcp(self, compound: bytes, now: float) -> None:
        """RTCP from this participant: SRs of what it publishes, feedback about what it
        receives. RR, SDES and BYE end here. A compound that is not well-formed to its
        last byte is counted in ``rtcp_malformed`` (its well-formed head is still used)."""
        walked = 0
        for p in rtp.iter_rtcp(compound):
            walked += len(p.data)
            if p.packet_type == rtp.SR and len(p.data) >= 8:
                stream = self._published.get(int.from_bytes(p.data[4:8], "big"))
                if stream is not None:
                    stream.on_sender_report(p.data, now)
                continue
            if p.packet_type == rtp.PSFB and p.fmt == rtp.FMT_REMB:
                self._on_remb(p, now)
                continue
            if p.packet_type not in (rtp.RTPFB, rtp.PSFB):
                continue
            media = rtp.feedback_media_ssrc(p)
            copy = self._copies.get(media) if media is not None else None
            if copy is None or self.held:
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
            copy = self._copies.get(ssrc)
            if copy is not None:
                copy.remb = bitrate

    # -- reports to the publisher ----------------------------------------------------------

    def send_receiver_reports(self, now: float) -> None:
        """A receiver report to this participant for each stream it publishes."""
        for stream in self._published.values():
            stream.send_receiver_report(now)

    def update_uplink(self, now: float) -> float | None:
        """Feed the uplink estimate what this participant's streams brought so far (call
        often); its streams ask for no retransmission while it says congested."""
        streams = list(self._published.values())
        limit = self.uplink.update(sum(s.reception.expected for s in streams),
                                   sum(s.stats.first_in for s in streams),
                                   sum(s.stats.bytes_in for s in streams if s.kind == "video"),
                                   now)
        for s in streams:
            s.uplink_congested = self.uplink.congested
        return limit

    def uplink_remb(self, now: float) -> bytes | None:
        """The uplink estimate updated, as a REMB for this participant's video (None: no
        limit, or no video)."""
        limit = self.update_uplink(now)
        return aggregate_remb([s.ssrc for s in self._published.values() if s.kind == "video"],
                              limit)
