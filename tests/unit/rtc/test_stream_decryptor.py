"""One incoming stream's frames decrypted (hotline.rtc.stream_decryptor): codecs, frames
released with their own timestamps, key frame requests."""

from __future__ import annotations

from aiortc.codecs import depayload, get_encoder
from aiortc.jitterbuffer import JitterFrame

from hotline.crypto.kid import Slot
from hotline.rtc import e2ee_stats
from tests.support.media_e2ee import (
    KEY0,
    KEY1,
    OPUS,
    PCMU,
    VP8,
    FakeClock,
    audio_frame,
    install_receive_key,
    receiver_side,
    sender_side,
    video_frame,
)


def test_unsupported_codec_is_never_decoded() -> None:
    receiver = receiver_side((0, KEY0))
    stream = receiver.new_stream("audio")
    assert stream.decrypt(PCMU, JitterFrame(b"\xff" * 160, 0)) == []
    assert receiver.stats().decrypt_failures == {e2ee_stats.UNSUPPORTED_CODEC: 1}


def test_released_frames_keep_their_timestamps_when_one_is_forged() -> None:
    clock = FakeClock()
    sender, _ = sender_side(1, KEY1)
    receiver = receiver_side(clock=clock)
    stream = receiver.new_stream("audio")
    encoder = sender.wrap_encoder(get_encoder(OPUS), OPUS.mimeType, Slot.AUDIO)
    wires = [encoder.encode(audio_frame(i))[0][0] for i in range(4)]
    forged = bytearray(wires[1])
    forged[-1] ^= 1
    wires[1] = bytes(forged)
    for i, wire in enumerate(wires):
        assert stream.decrypt(OPUS, JitterFrame(wire, 960 * i)) == []
    install_receive_key(receiver.context, 1, KEY1)
    released = stream.keys_changed()
    assert [frame.timestamp for _, frame in released] == [0, 1920, 2880]
    assert receiver.stats().decrypt_failures == {"auth_failed": 1}


def test_keyframe_requested_after_a_lost_video_frame() -> None:
    clock = FakeClock()
    requests = []
    sender, _ = sender_side(0, KEY0)
    receiver = receiver_side((0, KEY0), clock=clock)
    stream = receiver.new_stream("video", request_keyframe=lambda: requests.append(1))
    encoder = sender.wrap_encoder(get_encoder(VP8), VP8.mimeType, Slot.VIDEO)
    wires = [b"".join(depayload(VP8, p) for p in encoder.encode(video_frame(i))[0])
             for i in range(6)]
    assert len(stream.decrypt(VP8, JitterFrame(wires[0], 0))) == 1
    assert requests == []
    bad = bytearray(wires[1])
    bad[-1] ^= 1
    assert stream.decrypt(VP8, JitterFrame(bytes(bad), 1)) == []
    assert len(stream.decrypt(VP8, JitterFrame(wires[2], 2))) == 1
    assert requests == [1]
    stream.decrypt(VP8, JitterFrame(wires[3], 3))
    assert requests == [1]  # at most one a second
    clock.now += 1.5
    stream.decrypt(VP8, JitterFrame(wires[4], 4))
    assert requests == [1, 1]
