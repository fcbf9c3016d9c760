"""A held subscriber (a press seat in the closed part of a call, REQUIREMENTS L3) gets
nothing: its copy is off the stream, and its NACKs and PLIs get nothing from the cache or
the publisher. Released, it gets the stream again."""

from __future__ import annotations

from hotline.sfu import rtp
from tests.unit.sfu.test_forwarding import setup
from tests.unit.sfu.test_rtp import packet


def test_a_held_subscriber_gets_nothing_not_even_resends() -> None:
    pub, sub, stream, to_publisher, out = setup()
    for seq in range(5):
        pub.on_rtp(packet(seq=seq, payload=bytes([seq]) * 10))
    assert len(out) == 5
    (copy,) = stream.copies
    stream.remove_copy(copy)  # what Sfu.hold does with each of the seat's copies
    sub.held = True
    out.clear()
    for seq in range(5, 10):
        pub.on_rtp(packet(seq=seq, payload=bytes([seq]) * 10))
    nack = bytes([0x81, rtp.RTPFB, 0, 3]) + (2).to_bytes(4, "big") + \
        (0x55667788).to_bytes(4, "big") + (5).to_bytes(2, "big") + (0b1111).to_bytes(2, "big")
    sub.on_rtcp(nack, now=0.0)  # packets 5-9 are in the cache
    sub.on_rtcp(rtp.pli(2, 0x55667788), now=0.0)
    assert out == [] and to_publisher == [] and stream.stats.nack_resent == 0
    sub.held = False
    stream.add_copy(copy)
    pub.on_rtp(packet(seq=10, payload=b"x" * 10))
    sub.on_rtcp(nack, now=1.0)
    assert len(out) == 1 + 5  # the new packet, then the resends
