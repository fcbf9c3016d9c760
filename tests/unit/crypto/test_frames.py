"""Wire frames: clear codec bytes, authentication of them, held frames."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.frames import Codec, FrameReceiver, clear_length, frame_kid, protect, unprotect
from hotline.crypto.sframe import SFrameContext, SFrameSender
from hotline.errors import Reason, SFrameError

KEY = b"\x01" * 32
VP8_KEY = bytes([0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0, 0x01]) + b"\xaa" * 50
VP8_DELTA = bytes([0x31, 0x05, 0x00]) + b"\xbb" * 40
OPUS = bytes([0x78]) + b"\xcc" * 60


def setup(kid: int = 4) -> tuple[SFrameSender, SFrameContext]:
    tx, rx = SFrameContext(), SFrameContext()
    tx.add_encryption_key(kid, KEY)
    rx.add_decryption_key(kid, KEY)
    return SFrameSender(tx, kid), rx


@pytest.mark.parametrize(("codec", "frame", "clear"), [
    (Codec.OPUS, OPUS, 1), (Codec.VP8, VP8_KEY, 10), (Codec.VP8, VP8_DELTA, 3),
    (Codec.VP9, b"\x82" + b"\x00" * 30, 0),
])
def test_clear_bytes_stay_and_the_rest_is_encrypted(codec: Codec, frame: bytes,
                                                    clear: int) -> None:
    sender, rx = setup()
    wire = protect(sender, codec, frame)
    assert clear_length(codec, frame) == clear
    assert wire[:clear] == frame[:clear]
    assert frame[clear:] not in wire  # payload does not appear in the clear
    assert frame_kid(codec, wire) == 4
    assert unprotect(rx, codec, wire) == frame


@pytest.mark.parametrize(("codec", "frame"), [(Codec.VP8, VP8_KEY), (Codec.OPUS, OPUS)])
def test_clear_bytes_are_authenticated(codec: Codec, frame: bytes) -> None:
    sender, rx = setup()
    wire = bytearray(protect(sender, codec, frame))
    wire[1 if codec is Codec.VP8 else 0] ^= 0x04  # change a clear byte (not VP8's P bit)
    with pytest.raises(SFrameError) as err:
        unprotect(rx, codec, bytes(wire))
    assert err.value.reason is Reason.AUTH_FAILED


def test_flipping_the_vp8_keyframe_bit_fails() -> None:
    sender, rx = setup()
    wire = bytearray(protect(sender, Codec.VP8, VP8_KEY))
    wire[0] ^= 0x01
    with pytest.raises(SFrameError):
        unprotect(rx, Codec.VP8, bytes(wire))


@pytest.mark.parametrize(("codec", "frame"), [
    (Codec.OPUS, b""), (Codec.VP8, b""), (Codec.VP8, VP8_KEY[:9]), (Codec.VP8, b"\x01\x00"),
])
def test_frames_shorter_than_their_clear_part_are_refused(codec: Codec, frame: bytes) -> None:
    sender, _ = setup()
    with pytest.raises(SFrameError) as err:
        protect(sender, codec, frame)
    assert err.value.reason is Reason.TRUNCATED


@given(st.sampled_from(list(Codec)), st.binary(max_size=80))
def test_unprotect_of_junk_raises_only_sframe_error(codec: Codec, junk: bytes) -> None:
    _, rx = setup()
    with contextlib.suppress(SFrameError):
        unprotect(rx, codec, junk)


def test_receiver_holds_frames_until_their_key_arrives() -> None:
    sender, rx = setup(kid=8)
    rx.remove_decryption_key(8)
    receiver: FrameReceiver[str] = FrameReceiver(rx, Codec.OPUS, hold_seconds=0.5)
    wires = [protect(sender, Codec.OPUS, OPUS + bytes([i])) for i in range(3)]
    assert receiver.receive(wires[0], now=0.0, tag="a") == []
    assert receiver.receive(wires[1], now=0.1, tag="b") == []
    assert receiver.held == 2
    rx.add_decryption_key(8, KEY)
    assert receiver.keys_changed(now=0.2) == [("a", OPUS + b"\x00"), ("b", OPUS + b"\x01")]
    assert receiver.receive(wires[2], now=0.3, tag="c") == [("c", OPUS + b"\x02")]
    assert receiver.stats.decrypted == 3 and receiver.held == 0


def test_receiver_drops_held_frames_after_the_hold_time() -> None:
    sender, rx = setup(kid=8)
    rx.remove_decryption_key(8)
    receiver: FrameReceiver[int] = FrameReceiver(rx, Codec.OPUS, hold_seconds=0.5, max_held=2)
    for i in range(3):
        receiver.receive(protect(sender, Codec.OPUS, OPUS), now=i * 0.01, tag=i)
    assert receiver.held == 2 and receiver.stats.dropped["held_overflow"] == 1
    assert receiver.expire(now=1.0) == 2
    rx.add_decryption_key(8, KEY)
    assert receiver.keys_changed(now=1.0) == []
    assert receiver.stats.dropped[Reason.UNKNOWN_KID] == 2


def test_receiver_counts_forged_and_replayed_frames() -> None:
    sender, rx = setup()
    receiver: FrameReceiver[int] = FrameReceiver(rx, Codec.OPUS)
    wire = protect(sender, Codec.OPUS, OPUS)
    assert receiver.receive(wire, 0.0, 1) == [(1, OPUS)]
    assert receiver.receive(wire, 0.0, 2) == []  # replay
    fresh = protect(sender, Codec.OPUS, OPUS)
    forged = fresh[:-1] + bytes([fresh[-1] ^ 1])
    assert receiver.receive(forged, 0.0, 3) == []
    assert receiver.receive(b"", 0.0, 4) == []
    assert receiver.stats.dropped == {"replayed": 1, "auth_failed": 1, "truncated": 1}
