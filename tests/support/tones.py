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
