"""Synthetic test media: a moving test pattern (30 fps) and a 440 Hz tone (20 ms frames).

The tone's loudness rises and falls three times a second, like syllables: Opus's voice
detector takes a steady tone for background noise and sends no in-band FEC for it, so
a steady tone would not exercise the FEC path that speech gets.

Used by ``hotline join --synthetic`` and by link tests: never a camera or microphone.
Each video frame carries its frame number in its first luma row, so a receiver can
tell frames apart after decoding.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import struct

import av
from aiortc.mediastreams import VIDEO_TIME_BASE, MediaStreamTrack

AUDIO_RATE = 48000
AUDIO_SAMPLES = 960  # 20 ms
AUDIO_TIME_BASE = fractions.Fraction(1, AUDIO_RATE)
WIDTH, HEIGHT, FPS = 320, 240, 30
_PATTERNS = 8
SYLLABLES = 3  # Hz: the tone's amplitude modulation (50 frames = 1 s hold whole cycles)


def _planes(i: int, width: int, height: int) -> list[bytes]:
    frame = av.VideoFrame(width, height, "yuv420p")
    out = []
    for k, plane in enumerate(frame.planes):
        pad = bytes(plane.line_size - plane.width)
        out.append(b"".join(
            bytes(((x + y + 8 * i) * (k + 1)) & 0xFF for x in range(plane.width)) + pad
            for y in range(plane.height)))
    return out


class PatternTrack(MediaStreamTrack):
    """A paced synthetic track of ``kind`` "video" or "audio"."""

    def __init__(self, kind: str, size: tuple[int, int] = (WIDTH, HEIGHT)) -> None:
        super().__init__()
        if kind not in ("audio", "video"):
            raise ValueError("kind must be audio or video")
        self.kind = kind
        self.frames_sent = 0
        self._start: float | None = None
        if kind == "video":
            self._size = size
            self._video = [_planes(i, *size) for i in range(_PATTERNS)]
        else:
            self._audio = [
                b"".join(struct.pack("<hh", v, v) for v in (
                    int(6000 * 0.5 * (1 + math.sin(2 * math.pi * SYLLABLES * t))
                        * math.sin(2 * math.pi * 440 * t))
                    for t in ((i * AUDIO_SAMPLES + n) / AUDIO_RATE
                              for n in range(AUDIO_SAMPLES))))
                for i in range(50)]

    async def recv(self) -> av.VideoFrame | av.AudioFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        period = 1 / FPS if self.kind == "video" else AUDIO_SAMPLES / AUDIO_RATE
        await asyncio.sleep(max(0.0, self._start + self.frames_sent * period - loop.time()))
        i = self.frames_sent
        self.frames_sent += 1
        if self.kind == "video":
            video = av.VideoFrame(*self._size, "yuv420p")
            for plane, data in zip(video.planes, self._video[i % _PATTERNS], strict=True):
                plane.update(data)
            video.pts, video.time_base = i * (90000 // FPS), VIDEO_TIME_BASE
            return video
        audio = av.AudioFrame(format="s16", layout="stereo", samples=AUDIO_SAMPLES)
        audio.sample_rate = AUDIO_RATE
        audio.planes[0].update(self._audio[i % 50])
        audio.pts, audio.time_base = i * AUDIO_SAMPLES, AUDIO_TIME_BASE
        return audio
