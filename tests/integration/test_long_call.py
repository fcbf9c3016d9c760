"""A long call (issue #7, "soak"; REQUIREMENTS L6): three participants with synthetic
audio and video through the SFU, each client in its own process, the server in this one.

Every INTERVAL seconds (the heartbeat) each process reports its resident memory, open
file descriptors, threads and asyncio tasks, and how many frames it decrypted from each
other party. After a warm-up, the memory slope (least squares, MB/min) must stay under a
bound, descriptors, threads and tasks must not grow, and every heartbeat must show new
frames from every other party (no drop).

``make test`` runs a short call (``test_short_call``, 40 s, loose memory bound);
``make soak`` runs ``test_soak_call`` for HOTLINE_SOAK_SECONDS (default 1800 s).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ..support.server import Server, start_server
from ..support.soak_client import process_figures

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]
ROOT = Path(__file__).resolve().parents[2]
NAMES = ("alice", "bob", "carol")
RESULTS = os.environ.get("HOTLINE_RELIABILITY_RESULTS")


def slope_mb_per_min(points: list[tuple[float, float]]) -> float:
    n = len(points)
    mt = sum(t for t, _ in points) / n
    mv = sum(v for _, v in points) / n
    var = sum((t - mt) ** 2 for t, _ in points)
    return 60 * sum((t - mt) * (v - mv) for t, v in points) / var if var else 0.0


async def long_call(tmp_path: Path, seconds: float, interval: float) -> dict[str, Any]:
    srv: Server = await start_server(tmp_path / "data", join_timeout=10.0)
    srv.room("soak", NAMES)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    procs = []
    server_samples: list[dict[str, float]] = []
    loop = asyncio.get_running_loop()
    try:
        for n in NAMES:
            procs.append(await asyncio.create_subprocess_exec(
                sys.executable, "-m", "tests.support.soak_client", srv.url,
                srv.store.new_enrollment_code(n), "soak", str(seconds), str(interval),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT))
        start = loop.time()
        while loop.time() - start < seconds + 5:
            await asyncio.sleep(interval)
            server_samples.append({"t": loop.time() - start, **process_figures()})
        outs = [await asyncio.wait_for(p.communicate(), 60) for p in procs]
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
                await p.wait()
        await srv.close()
    clients = {}
    for n, (out, err) in zip(NAMES, outs, strict=True):
        lines = [json.loads(x) for x in out.decode().splitlines() if x.startswith("{")]
        assert lines, err.decode()[-2000:]
        clients[n] = lines
    return {"server": server_samples, "clients": clients}


def analyse(run: dict[str, Any], warmup: float, seconds: float) -> dict[str, Any]:
    summary: dict[str, Any] = {"seconds": seconds}
    series = {"server": run["server"], **run["clients"]}
    for who, samples in series.items():
        late = [s for s in samples if s["t"] >= warmup]
        assert len(late) >= 2, who
        summary[who] = {
            "rss_start_mb": round(late[0]["rss_mb"], 1), "rss_end_mb": round(late[-1]["rss_mb"], 1),
            "rss_slope_mb_per_min": round(slope_mb_per_min([(s["t"], s["rss_mb"]) for s in late]),
                                          3),
            "fds": (late[0]["fds"], late[-1]["fds"], max(s["fds"] for s in late)),
            "threads": (late[0]["threads"], max(s["threads"] for s in late)),
            "tasks": (late[0]["tasks"], max(s["tasks"] for s in late)),
        }
    for who, samples in run["clients"].items():
        late = [s for s in samples if s["t"] >= warmup]
        stalls = 0
        for a, b in itertools.pairwise(late):
            for party in set(a["decrypted"]) | set(b["decrypted"]):
                if b["decrypted"].get(party, 0) <= a["decrypted"].get(party, 0):
                    stalls += 1
        summary[who]["heartbeats_without_new_frames"] = stalls
        summary[who]["parties"] = sorted(late[-1]["decrypted"])
        summary[who]["failures"] = late[-1]["failures"]
    if RESULTS:
        with open(RESULTS, "a") as f:
            f.write(json.dumps({"long_call": summary}) + "\n")
    print(json.dumps(summary, indent=1))
    return summary


def check(summary: dict[str, Any], slope_bound: float, fd_slack: int) -> None:
    for who in ("server", *NAMES):
        s = summary[who]
        assert s["rss_slope_mb_per_min"] < slope_bound, (who, s)
        assert s["fds"][2] <= s["fds"][0] + fd_slack, (who, s)
        assert s["threads"][1] <= s["threads"][0] + 2, (who, s)
        assert s["tasks"][1] <= s["tasks"][0] + 5, (who, s)
    for who in NAMES:
        s = summary[who]
        assert s["parties"] == sorted(set(NAMES) - {who}), s
        assert s["heartbeats_without_new_frames"] == 0, (who, s)


async def test_short_call(tmp_path: Path) -> None:
    run = await long_call(tmp_path, seconds=40, interval=5)
    summary = analyse(run, warmup=15, seconds=40)
    check(summary, slope_bound=20.0, fd_slack=4)


@pytest.mark.soak
@pytest.mark.timeout(int(os.environ.get("HOTLINE_SOAK_SECONDS", "1800")) + 600)
async def test_soak_call(tmp_path: Path) -> None:
    seconds = float(os.environ.get("HOTLINE_SOAK_SECONDS", "1800"))
    run = await long_call(tmp_path, seconds=seconds, interval=10)
    summary = analyse(run, warmup=min(120.0, seconds / 5), seconds=seconds)
    check(summary, slope_bound=0.5, fd_slack=2)
