"""Glass-to-glass latency, browser -> SFU -> browser, in headless Chromium.

Two browser contexts (two parties, the call page unchanged) join one room of a Hotline
server running in this process on loopback. The sender's camera is replaced (in the page,
before its scripts: web/bench/probes.ts ``timecodeCamera``) by a canvas track: every
1/30 s the canvas is painted with the time it is painted (milliseconds, 24 bits, plus an
8-bit check, as 32 black/white cells) and captured at once (``requestFrame``). The page
encodes it (VP8), its transform worker encrypts it (SFrame), the SFU forwards it, the
receiver's worker decrypts it and Chromium decodes it. At the receiver a probe video
element plays the sender's remote track; for every frame presented
(``requestVideoFrameCallback``) it draws the decoded picture to a canvas, reads the code
back (frames with an unclear cell or a wrong check byte are counted and skipped) and notes
the frame's presentation time, its expected display time, the time its last packet was
received, and the time the pixels were read.

Both pages run in one browser on one machine; their clocks (``performance.timeOrigin +
performance.now()``) are compared by reading them alternately from Playwright (the
reading with the shortest round trip wins) and the receiver's times are corrected by that
offset. Latency = receiver time - painted time. Chromium's own figures over the same
window (getStats deltas of every RTCPeerConnection of each page: jitter buffer, decode and
encode times, frames decoded) explain where the time goes. The pages ask for 640x480 at 30 fps (the
call page's default); the receiving page sends Chromium's fake camera back.

    scripts/in-loopback-netns.sh .venv/bin/python -m bench.browser.glass --secs 15
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.browser import support
from bench.common import arguments, machine, percentiles, report, signed_wrap

ROOM = "bench"
WIDTH, HEIGHT, FPS = 640, 480, 30
WRAP = 1 << 24  # the code is milliseconds modulo 2**24


async def clock_offset(a: Any, b: Any, tries: int = 25) -> tuple[float, float]:
    """(offset, uncertainty) in ms of page ``b``'s clock minus page ``a``'s."""
    best: tuple[float, float] | None = None
    for _ in range(tries):
        a1 = await a.evaluate("() => hotlineBench.now()")
        tb = await b.evaluate("() => hotlineBench.now()")
        a2 = await a.evaluate("() => hotlineBench.now()")
        half = (a2 - a1) / 2
        if best is None or half < best[1]:
            best = (tb - (a1 + a2) / 2, half)
    assert best is not None
    return best


def latencies(samples: list[list[Any]], offset: float) -> dict[str, list[float]]:
    """Per receiver time (presented, expected display, last packet received, read): the
    latencies in ms after the sender's painted time."""
    out: dict[str, list[float]] = {"presented": [], "display": [], "received": [], "read": []}
    for code, presented, expected, received, read in samples:
        for name, t in (("presented", presented), ("display", expected),
                        ("received", received), ("read", read)):
            if t is None:
                continue
            out[name].append(signed_wrap(t - offset - code, WRAP))
    return out


def breakdown(before: list[dict[str, Any]], after: list[dict[str, Any]], secs: float
              ) -> dict[str, float | None]:
    """Chromium's own figures over the window (getStats deltas), in ms per frame."""
    def delta(page: int, key: str, counter: str) -> float:
        return float(after[page].get(key, {}).get(counter, 0)
                     - before[page].get(key, {}).get(counter, 0))

    def per(page: int, key: str, num: str, den: str) -> float | None:
        d = delta(page, key, den)
        return round(delta(page, key, num) * 1000 / d, 1) if d else None

    tx, rx = 0, 1
    vin, ain, vout = "inbound-rtp/video", "inbound-rtp/audio", "outbound-rtp/video"
    return {
        "sender_fps_encoded": round(delta(tx, vout, "framesEncoded") / secs, 1),
        "sender_encode_ms": per(tx, vout, "totalEncodeTime", "framesEncoded"),
        "receiver_fps_decoded": round(delta(rx, vin, "framesDecoded") / secs, 1),
        "receiver_frames_dropped": delta(rx, vin, "framesDropped"),
        "video_jitter_buffer_ms": per(rx, vin, "jitterBufferDelay", "jitterBufferEmittedCount"),
        "video_jitter_buffer_target_ms": per(rx, vin, "jitterBufferTargetDelay",
                                             "jitterBufferEmittedCount"),
        "video_decode_ms": per(rx, vin, "totalDecodeTime", "framesDecoded"),
        "video_processing_ms": per(rx, vin, "totalProcessingDelay", "framesDecoded"),
        "audio_jitter_buffer_ms": per(rx, ain, "jitterBufferDelay", "jitterBufferEmittedCount"),
        "audio_jitter_buffer_target_ms": per(rx, ain, "jitterBufferTargetDelay",
                                             "jitterBufferEmittedCount"),
    }


async def run(secs: float, warmup: float) -> dict[str, Any]:
    async with support.hotline_server(ROOM, ["sender", "receiver"]) as (srv, codes):
        problems: list[str] = []
        async with support.chromium(support.MEDIA_ARGS) as browser:
            pages = {}
            for name in ("sender", "receiver"):
                calls = ["hotlineBench.trackPeerConnections()"]
                if name == "sender":
                    calls.append(f"hotlineBench.timecodeCamera({WIDTH}, {HEIGHT}, {FPS})")
                page = await support.open_page(browser, problems, support.probes_script(*calls))
                await support.enroll(page, srv.url, codes[name], ROOM, f"?video={WIDTH}x{HEIGHT}")
                pages[name] = page
            for page in pages.values():
                await support.join(page, ROOM)
            rx, tx = pages["receiver"], pages["sender"]
            await rx.evaluate("() => hotlineBench.readTimecode('sender')")
            await rx.wait_for_function("() => hotlineBench.reading.samples.length > 0",
                                       timeout=30_000)
            await asyncio.sleep(warmup)
            offset, uncertainty = await clock_offset(tx, rx)
            stats0 = [await p.evaluate("() => hotlineBench.rtpStats()") for p in (tx, rx)]
            stats_from = time.monotonic()
            painted0 = await tx.evaluate("() => [hotlineBench.painted, hotlineBench.now()]")
            await rx.evaluate("() => { const r = hotlineBench.reading;"
                              " r.samples = []; r.unreadable = 0; }")
            started = time.monotonic()
            await asyncio.sleep(secs)
            reading: dict[str, Any] = await rx.evaluate("() => hotlineBench.stopReading()")
            elapsed = time.monotonic() - started
            painted1 = await tx.evaluate("() => [hotlineBench.painted, hotlineBench.now()]")
            stats1 = [await p.evaluate("() => hotlineBench.rtpStats()") for p in (tx, rx)]
            stats_secs = time.monotonic() - stats_from
            offset2, uncertainty2 = await clock_offset(tx, rx)
            version = browser.version
    lat = latencies(reading["samples"], (offset + offset2) / 2)
    return {"chromium": version, "secs": secs, "warmup": warmup, "size": f"{WIDTH}x{HEIGHT}",
            "fps_asked": FPS,
            "fps_painted": round((painted1[0] - painted0[0]) * 1000 / (painted1[1] - painted0[1]),
                                 1),
            "frames_read": len(reading["samples"]),
            "fps_received": round(len(reading["samples"]) / elapsed, 1),
            "unreadable": reading["unreadable"],
            "received_size": f"{reading['width']}x{reading['height']}",
            "clock_offset_ms": [round(offset, 3), round(offset2, 3)],
            "clock_uncertainty_ms": [round(uncertainty, 3), round(uncertainty2, 3)],
            "latency_ms": {k: percentiles(v) for k, v in lat.items()},
            "webrtc": breakdown(stats0, stats1, stats_secs),
            "page_problems": problems[:20]}


ROWS = [("display", "painted → expected display (glass to glass)"),
        ("presented", "painted → presented for composition"),
        ("read", "painted → decoded pixels read back"),
        ("received", "painted → last packet received (before decryption and decoding)")]
HEADERS = ["what", "frames", "p50 ms", "p95 ms", "p99 ms", "max ms"]


def table_rows(res: dict[str, Any]) -> list[list[Any]]:
    rows = []
    for key, label in ROWS:
        p = res["latency_ms"].get(key)
        if p:
            rows.append([label, p["n"], p["p50"], p["p95"], p["p99"], p["max"]])
    return rows


def main() -> None:
    a = arguments(__doc__, secs=15.0, warmup=3.0)
    m = machine()  # the load average at the start
    res = asyncio.run(run(a.secs, a.warmup))
    report(f"\nGlass-to-glass, Chromium -> SFU -> Chromium, {res['size']}, "
           f"{res['fps_painted']} fps painted, {res['fps_received']} fps read "
           f"({res['received_size']}), {res['unreadable']} unreadable, "
           f"clock offset {res['clock_offset_ms']} ms (± {res['clock_uncertainty_ms']}):",
           HEADERS, table_rows(res), "browser_glass", {"machine": m, **res},
           "Chromium's figures over the window (getStats): "
           + ", ".join(f"{k} {v}" for k, v in res["webrtc"].items()))


if __name__ == "__main__":
    main()
