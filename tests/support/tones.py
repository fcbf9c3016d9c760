"""Tones for the interpretation tests: a steady sine per speaker (a WAV file a Call sends,
looped) and the power of each tone in what a listener heard (Goertzel, Hann window)."""

from __future__ import annotations

import math
import wave
from collections.abc import Iterable, Sequence
from pathlib import Path

RATE = 48000


def write_tone(path: Path, hz: float, *, seconds: int = 2, amplitude: int = 8000) -> Path:
    """A mono 48 kHz WAV of a steady ``hz`` sine (whole cycles: it loops without a click)."""
    samples = (int(amplitude * math.sin(2 * math.pi * hz * n / RATE))
               for n in range(seconds * RATE))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(b"".join(s.to_bytes(2, "little", signed=True) for s in samples))
    return path


def _hann(n: int) -> list[float]:
    return [0.5 - 0.5 * math.cos(2 * math.pi * i / (n - 1)) for i in range(n)]


_WINDOWS: dict[int, list[float]] = {}


def power(samples: Sequence[int], hz: float) -> float:
    """The power of ``hz`` in one block (Goertzel over the Hann-windowed samples)."""
    n = len(samples)
    window = _WINDOWS.get(n) or _WINDOWS.setdefault(n, _hann(n))
    coeff = 2 * math.cos(2 * math.pi * hz / RATE)
    s1 = s2 = 0.0
    for x, w in zip(samples, window, strict=True):
        s1, s2 = x * w + coeff * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - coeff * s1 * s2) / (n * n)


def mean_power(blocks: Iterable[Sequence[int]], hz: float) -> float:
    values = [power(b, hz) for b in blocks]
    return sum(values) / len(values) if values else 0.0


def db(ratio: float) -> float:
    return 10 * math.log10(max(ratio, 1e-30))


def write_speaker(path: Path, hz: float, *, size: tuple[int, int] = (160, 120),
                  seconds: int = 2, fps: int = 15) -> Path:
    """A Matroska file a Call sends (looped): a moving picture and a steady ``hz`` tone,
    for a speaker who is seen and heard (a principal)."""
    import av  # only the tests that film a speaker need it

    with av.open(str(path), "w", format="matroska") as out:
        video = out.add_stream("mjpeg", rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuvj420p"
        audio = out.add_stream("pcm_s16le", rate=RATE, layout="mono")
        for i in range(seconds * fps):
            frame = av.VideoFrame(size[0], size[1], "rgb24")
            frame.planes[0].update(bytes(((x + 4 * i) & 0xFF) for x in range(size[0] * 3))
                                   * size[1])
            frame.pts = i
            for packet in video.encode(frame.reformat(format="yuvj420p")):
                out.mux(packet)
        chunk = 960
        for k in range(seconds * RATE // chunk):
            samples = b"".join(
                int(8000 * math.sin(2 * math.pi * hz * n / RATE)).to_bytes(2, "little", signed=True)
                for n in range(k * chunk, (k + 1) * chunk))
            frame = av.AudioFrame(format="s16", layout="mono", samples=chunk)
            frame.planes[0].update(samples)
            frame.sample_rate, frame.pts = RATE, k * chunk
            for packet in audio.encode(frame):
                out.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                out.mux(packet)
    return path
