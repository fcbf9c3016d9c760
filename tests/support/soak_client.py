"""One participant of a long call, in its own process so that its memory can be measured:
joins ROOM with synthetic media for SECONDS and prints a JSON line every INTERVAL seconds
(RSS, open file descriptors, threads, asyncio tasks, frames decrypted per party).

    python -m tests.support.soak_client URL CODE ROOM SECONDS [INTERVAL]
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading

from hotline.client.call import Call
from hotline.crypto.identity import Identity

from .trust import accept_all


def process_figures() -> dict[str, float]:
    rss_kb = 0
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return {"rss_mb": round(rss_kb / 1024, 2), "fds": len(os.listdir("/proc/self/fd")),
            "threads": threading.active_count(), "tasks": len(asyncio.all_tasks())}


async def main(url: str, code: str, room: str, seconds: float, interval: float) -> None:
    call = Call(url, Identity.generate(), room, video_size=(160, 120), trust_policy=accept_all())
    await call.start(enroll_code=code)
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        while (elapsed := loop.time() - start) < seconds:
            await asyncio.sleep(min(interval, max(0.0, seconds - elapsed)))
            stats = call.stats()
            print(json.dumps({"t": round(loop.time() - start, 1), **process_figures(),
                              "decrypted": {p: r["video_frames_decrypted"]
                                            + r["audio_frames_decrypted"]
                                            for p, r in stats.remote.items()},
                              "failures": sum(r["decrypt_failures"]
                                              for r in stats.remote.values())}), flush=True)
    finally:
        await call.close()


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(args[0], args[1], args[2], float(args[3]),
                     float(args[4]) if len(args) > 4 else 10.0))
