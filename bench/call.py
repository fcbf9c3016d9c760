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

import argparse
import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from bench.common import machine, percentiles, table, write_json
from hotline.client.call import Call
from hotline.client.trustpolicy import TrustPolicy
from hotline.crypto.identity import Identity
from hotline.server.app import make_app
from hotline.server.settings import Settings
from hotline.server.store import SqliteStore

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
    data = Path(tempfile.mkdtemp(prefix="hotline-bench-call-"))
    store = SqliteStore(data)
    for name in ("anchor", "joiner"):
        store.add_party(name)
    store.add_room("bench", ["anchor", "joiner"])
    app = make_app(Settings(host="127.0.0.1", port=0, data_dir=data), store=store)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    url = f"http://127.0.0.1:{port}"
    anchor = Call(url, Identity.generate(), "bench", trust_policy=TrustPolicy.accept_every_device())
    await anchor.start(enroll_code=store.new_enrollment_code("anchor"))
    identity = Identity.generate()
    code: str | None = store.new_enrollment_code("joiner")
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
        await runner.cleanup()
        store.close()
    return {"joins": joins, "failed": failed, "join_to_first_frame_ms": percentiles(samples),
            "samples_ms": [round(x, 1) for x in samples]}


def _loop_time(t_monotonic: float) -> float:
    """``t_monotonic`` on the event loop's clock (asyncio uses time.monotonic)."""
    return asyncio.get_running_loop().time() - (time.monotonic() - t_monotonic)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--joins", type=int, default=20)
    a = ap.parse_args()
    res = asyncio.run(asyncio.wait_for(run(a.joins), a.joins * (JOIN_TIMEOUT * 2 + 2) + 30))
    p = res["join_to_first_frame_ms"] or {}
    print("Join -> first decrypted video frame, Python client, loopback:\n")
    print(table(["joins", "failed", "p50 ms", "p95 ms", "max ms"],
                [[res["joins"], res["failed"], p.get("p50"), p.get("p95"), p.get("max")]]))
    path = write_json("call", {"machine": machine(), "python": res})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
