"""Watch what the SFU forwards: every RTP packet of every copy, as it leaves the
router (plain RTP, before SRTP), with the stream it belongs to."""

from __future__ import annotations

import time

import pytest

from hotline.crypto.frames import Codec, unprotect
from hotline.crypto.keyschedule import InstallDecryptionKey
from hotline.crypto.mediakeys import MediaKeys
from hotline.crypto.sframe import SFrameContext
from hotline.errors import SFrameError
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


def remember_keys(keys: MediaKeys) -> list[InstallDecryptionKey]:
    """Every decryption key ``keys`` (a client's) installs from now on: what that member
    could open with."""
    held: list[InstallDecryptionKey] = []
    original = keys.apply

    def remember(actions):  # type: ignore[no-untyped-def]
        held.extend(x for x in actions if isinstance(x, InstallDecryptionKey))
        return original(actions)

    keys.apply = remember  # type: ignore[method-assign]
    return held


def opened_by(held: list[InstallDecryptionKey], opus: list[bytes]) -> int:
    """How many of the Opus RTP packets ``opus`` (as tapped) the keys ``held`` open."""
    context = SFrameContext()
    for action in held:
        for kid in action.kids:
            context.add_decryption_key(kid, action.base_key)
    opened = 0
    for packet in opus:
        header = rtp.parse_rtp(packet)
        assert header is not None
        try:
            unprotect(context, Codec.OPUS, packet[header.header_size:])
            opened += 1
        except SFrameError:
            pass
    return opened
