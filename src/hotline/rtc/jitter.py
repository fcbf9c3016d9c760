"""A jitter buffer that gives up on a lost packet after a bounded wait.

aiortc 1.16.0's :class:`~aiortc.jitterbuffer.JitterBuffer` hands out frames only from a
contiguous run of sequence numbers starting at its origin. A packet that never arrives
(lost, and not recovered by a NACK) blocks it until ``capacity`` newer packets are
buffered: 16 packets for audio (then it also keeps a 15-frame backlog and throws frames
away to make room, so each lost packet costs several frames) and 512 for video (about
8 s of 160x120 video, frozen). Measured through the SFU with 5 % loss each way: 45 % of
the audio frames and 8 s video freezes (docs/reliability.md).

:class:`SkippingJitterBuffer` keeps aiortc's behaviour while nothing is missing; when
a packet is missing and enough newer media waits behind it, it gives the hole up. Audio
(one Opus frame per packet) plays the oldest buffered packet as soon as ``prefetch``
packets wait behind it, skipping holes before it. Video waits ``VIDEO_WAIT`` (0.5 s) of
RTP time (time for a NACK to be answered through the SFU), then skips the hole and the
frame it broke, and asks for a keyframe (the decoder needs one after a lost frame). A
frame that is still incomplete after a skip fails SFrame authentication and is dropped
and counted, never decoded.
"""

from __future__ import annotations

from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtp import RtpPacket

VIDEO_CLOCK = 90_000
VIDEO_WAIT = 0.5  # seconds of media buffered behind a hole before the hole is given up


class SkippingJitterBuffer(JitterBuffer):
    def __init__(self, capacity: int, prefetch: int = 0, is_video: bool = False) -> None:
        super().__init__(capacity, prefetch=prefetch, is_video=is_video)
        self.skipped = 0  # holes given up

    def _slots(self) -> list[RtpPacket | None]:
        assert self._origin is not None
        return [self._packets[(self._origin + i) % self._capacity]
                for i in range(self._capacity)]

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        if self._is_video:
            return super()._remove_frame(sequence_number)
        # Audio: one Opus frame per packet. The oldest buffered packet plays as soon as
        # ``prefetch`` packets wait behind it, whatever holes lie before or after it.
        slots = self._slots()
        present = [i for i, p in enumerate(slots) if p is not None]
        if len(present) <= self._prefetch:
            return None
        first = present[0]
        if first:
            self.skipped += 1
        packet = slots[first]
        assert packet is not None
        self.remove(first + 1)
        return JitterFrame(data=packet._data, timestamp=packet.timestamp)  # type: ignore[attr-defined]

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        pli, frame = super().add(packet)
        if frame is None and self._is_video and self._skip_video_hole(packet):
            self.skipped += 1
            pli = True  # a frame was given up: the decoder needs a keyframe
            frame = super()._remove_frame(packet.sequence_number)
        return pli, frame

    def _skip_video_hole(self, newest: RtpPacket) -> bool:
        """Give up the frame broken by the first hole once VIDEO_WAIT seconds of newer
        media are buffered behind the oldest packet (a NACK had time to be answered)."""
        slots = self._slots()
        present = [i for i, p in enumerate(slots) if p is not None]
        if not present:
            return False
        oldest = slots[present[0]]
        assert oldest is not None
        waited = (newest.timestamp - oldest.timestamp) & 0xFFFFFFFF
        if waited >= 0x80000000 or waited < VIDEO_WAIT * VIDEO_CLOCK:
            return False
        hole = next((i for i in range(present[0], present[-1]) if slots[i] is None), None)
        if hole is None:
            return False
        after = next(i for i in range(hole, len(slots)) if slots[i] is not None)
        resume = after
        head = slots[after]
        assert head is not None
        if not _starts_vp8_frame(head):  # the rest of a broken frame: skip it too
            resume = next((i for i in range(after, present[-1] + 1) if slots[i] is not None
                           and slots[i].timestamp != head.timestamp), -1)  # type: ignore[union-attr]
            if resume < 0:
                return False  # the next frame has not started yet: try again later
        self.remove(resume)
        return True


def _starts_vp8_frame(packet: RtpPacket) -> bool:
    """RFC 7741 §4.2: S bit set and partition index 0 in the payload descriptor."""
    payload = packet.payload
    return bool(payload) and payload[0] & 0x17 == 0x10


def for_receiver(kind: str) -> SkippingJitterBuffer:
    """The buffer for an aiortc receiver of ``kind``, sized as aiortc sizes its own."""
    if kind == "audio":
        return SkippingJitterBuffer(capacity=16, prefetch=4)
    return SkippingJitterBuffer(capacity=512, is_video=True)
