"""Retransmissions through the SFU: NACKs for packets the SFU never received are relayed
to the publisher, and the publisher's RTX retransmissions (RFC 4588) are unwrapped and
forwarded as the original packets."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from hotline.sfu import rtp
from hotline.sfu.forwarding import ForwardedCopy, PublishedStream, Router
from hotline.sfu.nack import MAX_NACK_RESEND

PUB, RTX, COPY = 0x1111, 0x2222, 0x3333


def packet(seq: int, *, ssrc: int = PUB, pt: int = 96, payload: bytes = b"\x90" + b"p" * 30,
           padding: int = 0) -> bytes:
    b0 = 0x80 | (0x20 if padding else 0)
    pad = b"\x00" * (padding - 1) + bytes([padding]) if padding else b""
    return struct.pack("!BBHII", b0, pt, seq & 0xFFFF, 1000 + seq, ssrc) + payload + pad


def rtx_of(original: bytes, rtx_seq: int, padding: int = 0) -> bytes:
    """RFC 4588: same timestamp, RTX SSRC and sequence, the original sequence first."""
    rtx = packet(rtx_seq, ssrc=RTX, pt=97, payload=original[2:4] + original[12:],
                 padding=padding)
    return rtx[:4] + original[4:8] + rtx[8:]


def setup() -> tuple[Router, Router, PublishedStream, list[bytes], list[bytes]]:
    to_pub: list[bytes] = []
    to_sub: list[bytes] = []
    publisher, subscriber = Router(1), Router(2)
    stream = PublishedStream(1, "video", PUB, 96, {}, to_pub.append, rtx_ssrc=RTX,
                             rtx_payload_type=97)
    publisher.publish(stream)
    copy = ForwardedCopy(stream, 2, COPY, 100, to_sub.append, subscriber_exts={})
    subscriber.subscribe(copy)
    stream.add_copy(copy)
    return publisher, subscriber, stream, to_pub, to_sub


def nack_for(seqs: list[int]) -> bytes:
    return rtp.nack(0xAA, COPY, seqs)


def test_nack_round_trip() -> None:
    for seqs in ([1], [1, 2, 17], [65535, 0, 1], list(range(100, 140)), [5, 500, 5000]):
        p = next(rtp.iter_rtcp(rtp.nack(1, 2, seqs)))
        assert sorted(rtp.nack_sequences(p)) == sorted(seqs)
        assert rtp.feedback_media_ssrc(p) == 2


def test_a_nack_for_a_packet_the_sfu_never_got_goes_to_the_publisher() -> None:
    publisher, subscriber, stream, to_pub, to_sub = setup()
    for seq in (10, 11, 13):  # 12 lost on the way in
        publisher.on_rtp(packet(seq))
    subscriber.on_rtcp(nack_for([11, 12]), 1.0)
    assert [int.from_bytes(p[2:4], "big") for p in to_sub[3:]] == [11]  # from the cache
    relayed = next(rtp.iter_rtcp(to_pub[-1]))
    assert relayed.packet_type == rtp.RTPFB and rtp.feedback_media_ssrc(relayed) == PUB
    assert rtp.nack_sequences(relayed) == [12]
    # The publisher's RTX answer is unwrapped and forwarded as packet 12.
    publisher.on_rtp(rtx_of(packet(12), 500))
    forwarded = to_sub[-1]
    assert int.from_bytes(forwarded[2:4], "big") == 12
    assert int.from_bytes(forwarded[8:12], "big") == COPY
    assert forwarded[1] & 0x7F == 100 and forwarded[12:] == packet(12)[12:]
    assert stream.stats.rtx_in == 1 and stream.cached(12) == packet(12)


def test_relayed_nacks_are_bounded() -> None:
    publisher, subscriber, _, to_pub, _ = setup()
    publisher.on_rtp(packet(0))
    subscriber.on_rtcp(nack_for(list(range(1, 1000))), 1.0)
    assert len(rtp.nack_sequences(next(rtp.iter_rtcp(to_pub[-1])))) == MAX_NACK_RESEND


def test_rtx_padding_only_and_wrong_payload_type_are_dropped() -> None:
    publisher, _, _, _, to_sub = setup()
    publisher.on_rtp(packet(1, ssrc=RTX, pt=97, payload=b"", padding=100))  # probing
    publisher.on_rtp(packet(2, ssrc=RTX, pt=99, payload=b"\x00\x05" + b"x" * 20))
    publisher.on_rtp(packet(3, ssrc=RTX, pt=97, payload=b"\x00"))  # no OSN
    assert to_sub == [] and publisher.dropped == 3


def test_rtx_with_padding_unwraps_without_it() -> None:
    publisher, _, _, _, to_sub = setup()
    publisher.on_rtp(rtx_of(packet(7), 900, padding=8))
    assert to_sub[-1][12:] == packet(7)[12:] and not to_sub[-1][0] & 0x20


@given(st.binary(max_size=300))
def test_junk_on_the_rtx_ssrc_never_raises(junk: bytes) -> None:
    publisher, _, _, _, _ = setup()
    head = struct.pack("!BBHII", 0x80 | (junk[0] & 0x3F if junk else 0), 97, 1, 1, RTX)
    publisher.on_rtp(head + junk)
