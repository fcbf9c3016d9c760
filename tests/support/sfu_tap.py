"""Watch what the SFU forwards: every RTP packet of every copy, as it leaves the
router (plain RTP, before SRTP), with the stream it belongs to."""

from __future__ import annotations

import time

import pytest

from hotline.sfu import rtp
from hotline.sfu.forwarding import ForwardedCopy, PublishedStream


class Tap:
    """``packets``: (monotonic time, stream, packet) for each forwarded copy, NACK
    resends included, from copies made after the tap is set."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.packets: list[tuple[float, PublishedStream, bytes]] = []
        #: (monotonic time, subscriber's participant id) of each of those packets
        self.sent_to: list[tuple[float, int]] = []
        original = ForwardedCopy.__post_init__
        packets, sent_to = self.packets, self.sent_to

        def post_init(copy: ForwardedCopy) -> None:
            original(copy)
            out = copy.out

            def tapped(b0: int, b1: int, seq: int, ts: int, ssrc: int, tail: bytes) -> None:
                now = time.monotonic()
                packets.append((now, copy.stream,
                                rtp.FIXED_HEADER.pack(b0, b1, seq, ts, ssrc) + tail))
                sent_to.append((now, copy.subscriber))
                out(b0, b1, seq, ts, ssrc, tail)

            copy.out = tapped

        monkeypatch.setattr(ForwardedCopy, "__post_init__", post_init)
