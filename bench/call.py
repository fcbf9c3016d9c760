"""Call set-up with the Python client: join -> first decrypted frame, p50/p95.

A server runs in this process on loopback; one participant (``anchor``) is in the room
and sends the synthetic pattern. Then, ``--joins`` times, a second participant joins
with :class:`hotline.client.call.Call`, and we take the time from the start of its join
(signaling connect, authentication, join, call-key announcement, key agreement, ICE,
DTLS, SFU subscription) to its first decrypted and decoded video frame of the anchor,
then it leaves. The first join enrolls with a one-time code; every later one is an
enrollment-free rejoin (authentication by the device key). Must run in a loopback-only
network namespace (``make bench-call`` does that).

    scripts/in-loopback-netns.sh .venv/bin/python -m bench.call --joins 20
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from tests.support.server import running_server

from bench.common import arguments, machine, percentiles, report
from hotline.client.call import Call
from hotline.client.trustpolicy import TrustPolicy
from hotline.crypto.identity import Identity

JOIN_TIMEOUT = 20.0


async def first_video(call: Call, timeout: float) -> float | None:
    """Seconds from the start of the join to the first decrypted video frame."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        times = [s.first_frame_at for s in call.streams.values()
                 if s.kind == "video" and s.first_frame_at is not None]
        if times:
            return min(times) - call.joined_at
        await asyncio.sleep(0.005)
    return None


async def run(joins: int) -> dict[str, Any]:
    async with running_server() as srv:
        codes = srv.room("bench", ["anchor", "joiner"])
        return await _measure(srv.url, codes, joins)


async def _measure(url: str, codes: dict[str, str], joins: int) -> dict[str, Any]:
    anchor = Call(url, Identity.generate(), "bench", trust_policy=TrustPolicy.accept_every_device())
    await anchor.start(enroll_code=codes["anchor"])
    identity = Identity.generate()
    code: str | None = codes["joiner"]
    samples: list[float] = []
    failed = 0
    try:
        for _ in range(joins):
            call = Call(url, identity, "bench", trust_policy=TrustPolicy.accept_every_device())
            t0 = time.monotonic()
            try:
                await asyncio.wait_for(call.start(enroll_code=code), JOIN_TIMEOUT)
                call.joined_at = _loop_time(t0)  # from before connecting, not after auth
                got = await first_video(call, JOIN_TIMEOUT)
            except (TimeoutError, OSError):
                got = None
            finally:
                await call.close()
            code = None  # rejoins authenticate with the enrolled device key
            if got is None:
                failed += 1
            else:
                samples.append(got * 1000)
            await asyncio.sleep(0.5)
    finally:
        await anchor.close()
    return {"joins": joins, "failed": failed, "join_to_first_frame_ms": percentiles(samples),
            "samples_ms": [round(x, 1) for x in samples]}


def _loop_time(t_monotonic: float) -> float:
    """``t_monotonic`` on the event loop's clock (asyncio uses time.monotonic)."""
    return asyncio.get_running_loop().time() - (time.monotonic() - t_monotonic)


HEADERS = ["joins", "failed", "p50 ms", "p95 ms", "max ms"]


def table_rows(res: dict[str, Any]) -> list[list[Any]]:
    p = res["join_to_first_frame_ms"] or {}
    return [[res["joins"], res["failed"], p.get("p50"), p.get("p95"), p.get("max")]]


def main() -> None:
    a = arguments(__doc__, joins=20)
    res = asyncio.run(asyncio.wait_for(run(a.joins), a.joins * (JOIN_TIMEOUT * 2 + 2) + 30))
    report("Join -> first decrypted video frame, Python client, loopback:", HEADERS,
           table_rows(res), "call", {"machine": machine(), "python": res})


if __name__ == "__main__":
    main()
