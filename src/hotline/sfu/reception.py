"""What the SFU receives of one published stream, and its receiver reports. PURE.

The SFU is the receiver of every publisher's streams: it tells each publisher what
arrives (RFC 3550 §6.4.2 receiver reports: loss, extended highest sequence, LSR/DLSR),
so that the publisher's own congestion control and RTT measurement work through it.
The counting is RFC 3550 A.1 and A.3; jitter is not measured and reported as 0.
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.sfu import rtp


@dataclass
class ReceptionStats:
    """Sequence numbers received of one stream, and the last sender report's time."""

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

    @property
    def expected(self) -> int:
        """Packets expected so far: from the first sequence to the (extended) highest."""
        if self.base < 0:
            return 0
        return self.cycles + self.highest - self.base + 1

    def on_sender_report(self, sr: bytes, now: float) -> None:
        """A sender report of the stream (whole RTCP packet): remembered for LSR/DLSR."""
        if len(sr) >= 16:
            self.last_sr = int.from_bytes(sr[10:14], "big")
            self.last_sr_at = now

    def report(self, sender_ssrc: int, source_ssrc: int, now: float) -> bytes | None:
        """A receiver report about ``source_ssrc``, covering what arrived since the last
        one; None before anything arrived."""
        if self.base < 0:
            return None
        expected = self.expected
        expected_interval = expected - self.expected_prior
        received_interval = self.received - self.received_prior
        self.expected_prior, self.received_prior = expected, self.received
        lost_interval = expected_interval - received_interval
        fraction = (lost_interval << 8) // expected_interval if (
            expected_interval > 0 and lost_interval > 0) else 0
        dlsr = int((now - self.last_sr_at) * 65536) if self.last_sr_at is not None else 0
        return rtp.receiver_report(sender_ssrc, source_ssrc, fraction_lost=fraction,
                                   lost=expected - self.received,
                                   highest_sequence=self.cycles + self.highest,
                                   jitter=0, lsr=self.last_sr, dlsr=dlsr)
