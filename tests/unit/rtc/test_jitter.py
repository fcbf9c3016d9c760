"""The jitter buffer that gives up lost packets (hotline.rtc.jitter)."""

from __future__ import annotations

from aiortc.rtp import RtpPacket

from hotline.rtc.jitter import VIDEO_CLOCK, VIDEO_WAIT, SkippingJitterBuffer, for_receiver


def audio(seq: int) -> RtpPacket:
    p = RtpPacket(payload_type=111, sequence_number=seq, timestamp=seq * 960, payload=b"a")
    p._data = bytes([seq % 256])  # type: ignore[attr-defined]
    return p


def test_audio_plays_through_a_hole_after_prefetch_packets() -> None:
    jb = for_receiver("audio")
    out = []
    for seq in [s for s in range(100, 140) if s not in (110, 111, 125)]:
        _, frame = jb.add(audio(seq))
        if frame is not None:
            out.append(frame.data[0])
    expected = [s % 256 for s in range(100, 140) if s not in (110, 111, 125)]
    assert out == expected[: len(out)] and len(out) >= len(expected) - 5  # none dropped
    assert jb.skipped == 2


def test_audio_without_loss_behaves_like_aiortc() -> None:
    jb = for_receiver("audio")
    got = [jb.add(audio(s))[1] for s in range(50)]
    assert [f.timestamp for f in got if f is not None] == [s * 960 for s in range(46)]
    assert jb.skipped == 0


def video(seq: int, frame: int, start: bool) -> RtpPacket:
    payload = bytes([0x90 if start else 0x80]) + b"v" * 10
    p = RtpPacket(payload_type=96, sequence_number=seq, timestamp=frame * 3000,
                  payload=payload)
    p._data = payload  # type: ignore[attr-defined]
    return p


def test_video_gives_up_a_lost_packet_after_the_wait_and_asks_for_a_keyframe() -> None:
    jb = SkippingJitterBuffer(capacity=512, is_video=True)
    frames_needed = int(VIDEO_WAIT * VIDEO_CLOCK / 3000) + 3
    seq, out, plis = 0, [], 0
    for f in range(3 * frames_needed):
        for part in range(2):  # two packets per frame
            seq += 1
            if (f, part) == (3, 1):
                continue  # lost, never resent
            pli, frame = jb.add(video(seq, f, part == 0))
            plis += pli
            if frame is not None:
                out.append(frame.timestamp // 3000)
    assert 3 not in out  # the broken frame is never handed out
    assert out[:3] == [0, 1, 2] and out[-1] >= frames_needed
    assert jb.skipped == 1 and plis >= 1
