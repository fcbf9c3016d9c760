"""The sending side of media E2EE (hotline.rtc.e2ee_sender): frames protected between
aiortc's encoders and packetizers, nothing sent in the clear, VP8 rate control."""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc.codecs import depayload, get_encoder
from aiortc.codecs.vpx import Vp8Encoder

from hotline.crypto.kid import Slot
from hotline.crypto.sframe import SFrameContext
from hotline.rtc import e2ee_sender, e2ee_stats
from hotline.rtc.e2ee_sender import SendKeys
from hotline.rtc.media_e2ee import MediaE2ee
from tests.support.media_e2ee import (
    KEY0,
    KEY1,
    OPUS,
    PCMU,
    VP8,
    RecordingKeys,
    audio_frame,
    install_send_key,
    sender_side,
    video_frame,
    windows,
)

# --------------------------------------------------------------------------- VP8


def test_vp8_packets_are_aiortc_packetization_of_the_wire_frame() -> None:
    sender, _ = sender_side()
    encoder = sender.wrap_encoder(get_encoder(VP8), VP8.mimeType, Slot.VIDEO)
    inner = encoder.inner
    assert isinstance(inner, Vp8Encoder)
    picture_id = inner.picture_id
    payloads, _ = encoder.encode(video_frame(0))
    wire = b"".join(depayload(VP8, p) for p in payloads)
    assert payloads == Vp8Encoder._packetize(wire, picture_id)


def test_vp8_without_the_packetizer_hook_sends_nothing() -> None:
    """If aiortc stopped packetizing through _packetize, plaintext would come out: the
    encoder notices the payloads are not its own and drops them."""
    sender, _ = sender_side()
    encoder = sender.wrap_encoder(get_encoder(VP8), VP8.mimeType, Slot.VIDEO)
    del encoder.inner._packetize  # type: ignore[attr-defined]
    payloads, _ = encoder.encode(video_frame(0))
    assert payloads == []
    assert sender.stats().encrypt_failures == {e2ee_stats.NOT_PROTECTED: 1}


def test_first_vp8_frame_after_a_gap_in_keys_is_a_key_frame() -> None:
    keys = RecordingKeys()
    e2ee = MediaE2ee(SFrameContext(), keys)
    encoder = e2ee.wrap_encoder(get_encoder(VP8), VP8.mimeType, Slot.VIDEO)
    install_send_key(e2ee, 0, KEY0)
    for i in range(3):
        encoder.encode(video_frame(i))
    keys.set(Slot.VIDEO, None)
    assert encoder.encode(video_frame(3))[0] == []
    install_send_key(e2ee, 1, KEY1)
    encoder.encode(video_frame(4))
    assert [f[0] & 1 for f in keys.frames] == [0, 1, 1, 0]


# --------------------------------------------------------------------------- no plaintext, no key


def test_opus_payloads_carry_no_plaintext() -> None:
    sender, _ = sender_side()
    encoder = sender.wrap_encoder(get_encoder(OPUS), OPUS.mimeType, Slot.AUDIO)
    sent = []
    for i in range(5):
        sent += encoder.encode(audio_frame(i))[0]
    keys = sender.send_keys
    assert isinstance(keys, RecordingKeys)
    wire = b"".join(sent)
    for frame, payload in zip(keys.frames, sent, strict=True):
        assert payload[:1] == frame[:1]  # TOC byte in the clear
        assert len(frame) > 40
        assert not [w for w in windows(frame[1:], 8, 3) if w in wire]


def test_unsupported_codec_and_missing_key_send_nothing() -> None:
    ctx = SFrameContext()
    e2ee = MediaE2ee(ctx, SendKeys())
    pcmu = e2ee.wrap_encoder(get_encoder(PCMU), PCMU.mimeType, Slot.AUDIO)
    vp8 = e2ee.wrap_encoder(get_encoder(VP8), VP8.mimeType, Slot.VIDEO)
    assert pcmu.encode(audio_frame(0)) == ([], 0)
    assert vp8.encode(video_frame(0)) == ([], 0)  # no key yet: not even encoded
    failures = e2ee.stats().encrypt_failures
    assert failures == {e2ee_stats.UNSUPPORTED_CODEC: 1, "unknown_kid": 1}


# --------------------------------------------------------------------------- bitrate


def test_encoder_passes_bitrate_changes_to_vp8_only() -> None:
    e2ee, _ = sender_side()
    vp8 = e2ee.wrap_encoder(get_encoder(VP8), VP8.mimeType, Slot.VIDEO)
    opus = e2ee.wrap_encoder(get_encoder(OPUS), OPUS.mimeType, Slot.AUDIO)
    vp8.target_bitrate = 800_000  # what RTCRtpSender does on REMB
    assert vp8.target_bitrate == 800_000
    vp8.target_bitrate = 100_000  # below aiortc's floor (250 kbit/s): kept
    assert vp8.target_bitrate == 100_000
    vp8.target_bitrate = 1
    assert vp8.target_bitrate == e2ee_sender.VP8_MIN_BITRATE
    assert not hasattr(opus, "target_bitrate")


def test_vp8_rate_follows_a_low_target_and_keeps_its_context() -> None:
    from hotline.client.synthetic import PatternTrack

    async def frames(n: int) -> list[Any]:
        track = PatternTrack("video", (320, 240))
        track._start = -1e9  # not paced
        return [await track.recv() for _ in range(n)]

    video = asyncio.run(frames(90))
    e2ee, _ = sender_side()

    def kbps(target: int, changes: list[int] | None = None) -> tuple[float, int]:
        vp8 = e2ee.wrap_encoder(get_encoder(VP8), VP8.mimeType, Slot.VIDEO)
        vp8.target_bitrate = target
        size = 0
        for i, frame in enumerate(video):
            if changes and i % 10 == 5:
                vp8.target_bitrate = changes[i // 10 % len(changes)]
            payloads, _ = vp8.encode(frame)
            size += sum(len(p) for p in payloads)
        return size * 8 / 3 / 1000, vp8.vp8_contexts

    # The test pattern needs about 450 kbit/s at 30 fps: aiortc's encoder gives that
    # whatever the target; ours drops frames to follow it.
    high, _ = kbps(500_000)
    low, contexts = kbps(150_000)
    assert high > 400 and low < 0.5 * high, (high, low)
    assert contexts == 1
    # Small changes (within -10 % / +20 %) do not make a new context (a key frame).
    _, contexts = kbps(300_000, [310_000, 290_000, 320_000])
    assert contexts == 1
