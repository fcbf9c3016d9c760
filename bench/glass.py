"""Glass-to-glass latency, Python client -> SFU -> Python client.

A Hotline server (and its SFU) and two :class:`hotline.client.call.Call` participants run
in this process on loopback. The sender's video track paints, into each 320x240 frame at
the moment aiortc asks for it, the time (``time.monotonic()`` in ms, 24 bits, and an 8-bit
check) as 32 black/white cells of the luma plane, at 30 fps; aiortc encodes it (VP8), the
client's SFrame wrapper encrypts it, the SFU forwards it, the receiver decrypts and
decodes it, and the receiver reads the code back from the decoded frame's luma and takes
the time again. One process, one clock; but also one event loop (one core) for the
server, the SFU and both clients, so this is an upper bound of what two machines would
see. The browser figures are in bench/browser/glass.py.

    scripts/in-loopback-netns.sh .venv/bin/python -m bench.glass --secs 15
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import av
from aiortc.mediastreams import VIDEO_TIME_BASE, MediaStreamError, MediaStreamTrack
from tests.support.server import running_server

from bench.common import arguments, machine, percentiles, report, signed_wrap
from hotline.client.call import Call
from hotline.client.callstats import RemoteStream
from hotline.client.synthetic import PatternTrack
from hotline.client.trustpolicy import TrustPolicy
from hotline.crypto.identity import Identity

ROOM = "bench"
WIDTH, HEIGHT, FPS = 320, 240, 30
COLS, ROWS, BITS = 8, 4, 24
WRAP = 1 << BITS
BLACK, WHITE = 16, 235


def _check(value: int) -> int:
    return ((value & 0xFF) + 3 * ((value >> 8) & 0xFF) + 7 * ((value >> 16) & 0xFF)) & 0xFF ^ 0x5A


def now_ms() -> float:
    return time.monotonic() * 1000


def paint(value: int) -> av.VideoFrame:
    """A frame whose luma carries ``value`` (24 bits) and its check byte in 32 cells."""
    word = (value & 0xFFFFFF) | (_check(value) << BITS)
    frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
    y = frame.planes[0]
    cw, ch = WIDTH // COLS, HEIGHT // ROWS
    pad = bytes(y.line_size - WIDTH)
    rows = []
    for r in range(ROWS):
        line = b"".join(bytes([WHITE if (word >> (r * COLS + c)) & 1 else BLACK]) * cw
                        for c in range(COLS)) + pad
        rows.append(line * ch)
    y.update(b"".join(rows))
    for plane in frame.planes[1:]:
        plane.update(bytes([128]) * (plane.line_size * plane.height))
    return frame


def read(frame: av.VideoFrame) -> int | None:
    """The value painted into a decoded frame, or None if unclear or the check fails."""
    y = frame.planes[0]
    data = bytes(y)
    w, h = frame.width, frame.height
    word = 0
    for i in range(COLS * ROWS):
        cx = int((i % COLS + 0.5) * w / COLS)
        cy = int((i // COLS + 0.5) * h / ROWS)
        patch = [data[(cy + dy) * y.line_size + cx + dx] for dy in (-2, 0, 2) for dx in (-2, 0, 2)]
        mean = sum(patch) / len(patch)
        if 64 < mean < 192:
            return None
        if mean >= 192:
            word |= 1 << i
    value = word & 0xFFFFFF
    return value if word >> BITS == _check(value) else None


class TimecodeTrack(MediaStreamTrack):
    """30 fps video painted with the time at which aiortc takes each frame."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self._start: float | None = None

    async def recv(self) -> av.VideoFrame:
        loop = asyncio.get_running_loop()
        if self._start is None:
            self._start = loop.time()
        await asyncio.sleep(max(0.0, self._start + self.sent / FPS - loop.time()))
        frame = paint(round(now_ms()) % WRAP)
        frame.pts, frame.time_base = self.sent * (90000 // FPS), VIDEO_TIME_BASE
        self.sent += 1
        return frame


class Sender(Call):
    def _media_tracks(self) -> list[MediaStreamTrack]:
        self.tracks = [PatternTrack("audio")]
        return [self.tracks[0], TimecodeTrack()]


class Receiver(Call):
    """Reads the time code of every decoded video frame."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.latencies: list[float] | None = None  # None: not measuring yet
        self.unreadable = 0

    async def _consume(self, stream: RemoteStream, track: MediaStreamTrack) -> None:
        if stream.kind != "video":
            await super()._consume(stream, track)
            return
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                t = now_ms()
                stream.frames_decoded += 1
                if self.latencies is None or not isinstance(frame, av.VideoFrame):
                    continue
                code = read(frame)
                if code is None:
                    self.unreadable += 1
                    continue
                self.latencies.append(signed_wrap(t - code, WRAP))


async def run(secs: float, warmup: float) -> dict[str, Any]:
    async with running_server() as srv:
        codes = srv.room(ROOM, ["sender", "receiver"])
        # fresh identities on both ends: each accepts the other's new device
        tx = Sender(srv.url, Identity.generate(), ROOM,
                    trust_policy=TrustPolicy.accept_every_device())
        rx = Receiver(srv.url, Identity.generate(), ROOM,
                      trust_policy=TrustPolicy.accept_every_device())
        try:
            await tx.start(enroll_code=codes["sender"])
            await rx.start(enroll_code=codes["receiver"])
            deadline = time.monotonic() + 30
            while not any(s.kind == "video" and s.frames_decoded for s in rx.streams.values()):
                if time.monotonic() > deadline:
                    raise SystemExit("the receiver decoded no video in 30 s")
                await asyncio.sleep(0.1)
            await asyncio.sleep(warmup)
            rx.latencies = []
            await asyncio.sleep(secs)
            lat = rx.latencies
            rx.latencies = None
        finally:
            await rx.close()
            await tx.close()
    return {"secs": secs, "warmup": warmup, "size": f"{WIDTH}x{HEIGHT}", "fps": FPS,
            "frames_read": len(lat), "fps_received": round(len(lat) / secs, 1),
            "unreadable": rx.unreadable, "latency_ms": percentiles(lat)}


HEADERS = ["what", "frames", "fps read", "unreadable", "p50 ms", "p95 ms", "p99 ms", "max ms"]


def table_rows(res: dict[str, Any]) -> list[list[Any]]:
    p = res["latency_ms"] or {}
    return [["painted (frame taken by the encoder) → decrypted, decoded and read",
             res["frames_read"], res["fps_received"], res["unreadable"], p.get("p50"),
             p.get("p95"), p.get("p99"), p.get("max")]]


def main() -> None:
    a = arguments(__doc__, secs=15.0, warmup=3.0)
    m = machine()  # the load average at the start
    res = asyncio.run(run(a.secs, a.warmup))
    report(f"\nGlass-to-glass, Python -> SFU -> Python, {res['size']} at {FPS} fps, one process:",
           HEADERS, table_rows(res), "glass", {"machine": m, "python": res})


if __name__ == "__main__":
    main()
