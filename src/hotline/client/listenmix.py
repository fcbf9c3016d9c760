"""What a listener hears: every remote participant's decoded audio at the level
:meth:`hotline.client.interpretation.Interpretation.gain` gives it, summed.

Mono, 48 kHz, 16-bit, in 20 ms blocks paced by the event loop's clock. Each source has a
short queue (primed with :data:`PRIME` frames, at most :data:`MAX_QUEUE`, the oldest
dropped beyond): a block takes one frame of each source that has one. The gain is read at
each block, so a change of channel or floor level is heard within one block. The mix can
be kept in memory (``keep``: a test measures it) and written to a WAV file.
"""

from __future__ import annotations

import asyncio
import wave
from array import array
from collections import deque
from collections.abc import Callable
from pathlib import Path

import av

RATE = 48000
BLOCK = 960  # samples: 20 ms
PRIME = 2  # frames queued before a source is mixed (after it ran dry)
MAX_QUEUE = 10  # frames: beyond, the oldest go (at most 200 ms behind)


def mono(frame: av.AudioFrame) -> array[int] | None:
    """A decoded 20 ms frame as mono 16-bit samples (its first channel); None if it is
    not 48 kHz s16 of one block (not what our Opus decoder gives)."""
    if frame.sample_rate != RATE or frame.samples != BLOCK or frame.format.name != "s16":
        return None
    samples = array("h", bytes(frame.planes[0]))
    channels = len(frame.layout.channels)
    return samples if channels == 1 else samples[::channels]


class ListenerMix:
    def __init__(self, gain: Callable[[int], float], *, keep: bool = False,
                 out: Path | None = None) -> None:
        self._gain = gain
        self._queues: dict[int, deque[array[int]]] = {}
        self._primed: set[int] = set()
        #: (its time on the listener's audio timeline, samples) of each block mixed, when
        #: kept: loop time of the first block + 20 ms per block (a block mixed late, after
        #: a stall, keeps its place: a player would play the blocks one after another).
        self.blocks: list[tuple[float, array[int]]] = []
        self._keep = keep
        self._wav: wave.Wave_write | None = None
        if out is not None:
            self._wav = wave.open(str(out), "wb")  # closed in close()
            self._wav.setnchannels(1)
            self._wav.setsampwidth(2)
            self._wav.setframerate(RATE)
        self.dropped = 0  # frames dropped: queue full, or not 48 kHz s16 blocks
        self.mixed = 0

    def push(self, participant_id: int, frame: av.AudioFrame) -> None:
        """A decoded audio frame of ``participant_id`` (from the decoding task)."""
        samples = mono(frame)
        if samples is None:
            self.dropped += 1
            return
        queue = self._queues.setdefault(participant_id, deque())
        queue.append(samples)
        if len(queue) > MAX_QUEUE:
            queue.popleft()
            self.dropped += 1

    def forget(self, participant_id: int) -> None:
        self._queues.pop(participant_id, None)
        self._primed.discard(participant_id)

    def block(self) -> array[int]:
        """Mix the next block: one queued frame of each source, at its gain."""
        acc = [0] * BLOCK
        for pid, queue in self._queues.items():
            if pid not in self._primed:
                if len(queue) < PRIME:
                    continue
                self._primed.add(pid)
            if not queue:
                self._primed.discard(pid)
                continue
            samples = queue.popleft()
            gain = self._gain(pid)
            if gain <= 0:
                continue  # filtered out (another channel) or muted
            if gain >= 1:
                acc = [a + s for a, s in zip(acc, samples, strict=True)]
            else:
                acc = [a + int(s * gain) for a, s in zip(acc, samples, strict=True)]
        out = array("h", (max(-32768, min(32767, a)) for a in acc))
        self.mixed += 1
        return out

    async def run(self) -> None:
        """Mix a block every 20 ms (catching up after a stall) until cancelled."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:
            now = loop.time()
            due = start + self.mixed * BLOCK / RATE
            if due > now:
                await asyncio.sleep(due - now)
            samples = self.block()
            if self._keep:
                self.blocks.append((due, samples))
            if self._wav is not None:
                self._wav.writeframes(samples.tobytes())

    def close(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None

