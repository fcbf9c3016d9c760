"""Retransmission through the SFU (RFC 4585 generic NACK). PURE.

A subscriber's NACK is answered from the stream's :class:`PacketCache` where it can be
(the packet was lost between the SFU and that subscriber); what is not in the cache was
lost on the way in, and is asked of the publisher, through :class:`NackRelay`, whose
retransmission then reaches every subscriber. (Pion's NACK responder and generator
interceptors split it the same way.)
"""

from __future__ import annotations

CACHE_SIZE = 1024  # packets kept per stream for NACK (about 3 s of video)
#: Packets one NACK may get resent: a feedback packet naming the whole cache must not
#: make the SFU send a thousand packets for one small datagram.
MAX_NACK_RESEND = 64
#: A sequence asked of the publisher again only after this long: every subscriber NACKs
#: every missing packet, again and again, and on a congested uplink relaying them all
#: made the publisher retransmit more than it could send (a retransmission storm).
NACK_RELAY_INTERVAL = 0.3


class PacketCache:
    """The last CACHE_SIZE packets of one stream (plain RTP), by sequence number."""

    def __init__(self) -> None:
        self._slots: list[bytes | None] = [None] * CACHE_SIZE

    def put(self, sequence: int, packet: bytes) -> None:
        self._slots[sequence % CACHE_SIZE] = packet

    def get(self, sequence: int) -> bytes | None:
        packet = self._slots[sequence % CACHE_SIZE]
        if packet is not None and int.from_bytes(packet[2:4], "big") == sequence:
            return packet
        return None

    def answer(self, sequences: list[int], seq_offset: int) -> tuple[list[bytes], list[int]]:
        """A subscriber's NACK, whose sequence numbers are ``seq_offset`` ahead of the
        publisher's: the cached packets to resend, and the publisher's sequence numbers
        of those not in the cache. Only the first MAX_NACK_RESEND distinct sequences
        asked for are looked at."""
        found: list[bytes] = []
        missing: list[int] = []
        for seq in list(dict.fromkeys(sequences))[:MAX_NACK_RESEND]:
            original = (seq - seq_offset) & 0xFFFF
            packet = self.get(original)
            if packet is not None:
                found.append(packet)
            else:
                missing.append(original)
        return found, missing


class NackRelay:
    """Which of the sequences the subscribers miss to ask of the publisher now: not one
    asked less than NACK_RELAY_INTERVAL ago."""

    def __init__(self) -> None:
        self._asked: dict[int, float] = {}  # sequence -> when it was last asked

    def due(self, sequences: list[int], now: float) -> list[int]:
        """The sequences to ask for at ``now`` (remembered as asked)."""
        if len(self._asked) > CACHE_SIZE:
            self._asked = {q: t for q, t in self._asked.items()
                           if now - t < NACK_RELAY_INTERVAL}
        fresh = [q for q in sequences if now - self._asked.get(q, -1e9) >= NACK_RELAY_INTERVAL]
        for q in fresh:
            self._asked[q] = now
        return fresh
