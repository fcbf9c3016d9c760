"""kill -9 of the server while it writes (issue #7, "server kill" during a write).

Each round starts ``hotline serve`` on one data directory, with clients enrolling
devices and joining and leaving rooms through it (the server writes devices, codes and
audit entries), and two writer processes appending signed, hash-chained uptime-log
entries, enrollment codes, rooms and audit entries through the store API the server uses.
At a random moment every process is killed with SIGKILL. Then the data directory is
reopened: SQLite's integrity and foreign-key checks pass, every uptime log verifies
(chain and signatures, no partial entry, sequence numbers 0..n-1), nothing a writer saw
committed is missing, and ``hotline log verify`` passes for every hotline.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from hotline.client.signaling import SignalingClient
from hotline.crypto.identity import Identity
from hotline.crypto.uptimelog import LogEntry
from hotline.server.database import DB_NAME
from hotline.server.hotline.uptime import UptimeRecord, node_identity
from hotline.server.store import SqliteStore

from ..support.trust import accept_all
from .test_cli_serve import free_port

pytestmark = pytest.mark.usefixtures("loopback_netns")
ROUNDS = int(os.environ.get("HOTLINE_KILL9_ROUNDS", "3"))
HOTLINES = ("h1", "h2")
ROOT = Path(__file__).resolve().parents[2]


def prepare(data: Path) -> None:
    store = SqliteStore(data)
    for party in ("alice", "bob"):
        store.add_party(party)
        store.enroll(store.new_enrollment_code(party), Identity.generate().public_key)
    for h in HOTLINES:
        store.add_hotline(h, "alice", "bob")
    store.add_room("summit", ["alice", "bob"])
    node_identity(data)  # the node key exists before the writers race to create it
    store.close()


def wait_healthy(port: int, proc: subprocess.Popen[str], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                if json.load(r)["status"] == "ok":
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not come up")


async def client_load(url: str, codes: list[str], stop_after: float) -> int:
    """Enroll a device per code and join/leave the room until the server dies."""
    done = 0

    async def one(code: str) -> None:
        nonlocal done
        client = SignalingClient(url, Identity.generate(), trust=accept_all())
        try:
            await client.connect()
            await client.enroll(code)
            for _ in range(50):
                await client.join("summit", timeout=2)
                await client.leave()
                done += 1
        except Exception:  # the server was killed under us: expected
            return
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), 2)

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.gather(*(one(c) for c in codes)), stop_after)
    return done


def check(data: Path, committed: dict[str, int]) -> dict[str, int]:
    db = sqlite3.connect(data / DB_NAME)
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.close()
    store = SqliteStore(data)
    try:
        record = UptimeRecord(store, node_identity(data))
        counts = {}
        for h in HOTLINES:
            report = record.verify(h)
            assert report.ok, (h, report)
            entries = [LogEntry.decode(raw) for raw in store.log_entries(h)]
            assert [e.seq for e in entries] == list(range(len(entries))), h
            assert len(entries) >= committed.get(h, 0), f"{h}: a committed entry was lost"
            counts[h] = len(entries)
        return counts
    finally:
        store.close()


def test_kill9_while_writing_leaves_a_consistent_database(tmp_path: Path) -> None:
    data = tmp_path / "data"
    prepare(data)
    rng = random.Random(7)
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    committed: dict[str, int] = {}
    totals: list[dict[str, int]] = []
    loads: list[int] = []
    for _ in range(ROUNDS):
        store = SqliteStore(data)
        codes = [store.new_enrollment_code("bob") for _ in range(4)]
        store.close()
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "hotline.cli", "serve", "--host", "127.0.0.1", "--port",
             str(port), "--data", str(data)], stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, text=True, env=env)
        writers: dict[str, subprocess.Popen[str]] = {}
        try:
            wait_healthy(port, server)
            for h in HOTLINES:
                writers[h] = subprocess.Popen(
                    [sys.executable, "-m", "tests.support.store_writer", str(data), h,
                     "100000", "30"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    text=True, env=env, cwd=ROOT)
            first = {h: w.stdout.readline() for h, w in writers.items() if w.stdout}
            assert all(line.startswith("seq ") for line in first.values()), first
            run_for = rng.uniform(0.5, 2.0)
            loads.append(asyncio.run(client_load(f"http://127.0.0.1:{port}", codes, run_for)))
        finally:
            for proc in [server, *writers.values()]:
                if proc.poll() is None:
                    os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for h, proc in writers.items():
            out, err = proc.communicate(timeout=10)
            out = first[h] + out
            assert "Traceback" not in err, err  # killed, never failed on its own
            seqs = [int(line.split()[1]) for line in out.splitlines() if line.startswith("seq ")]
            if seqs:
                committed[h] = seqs[-1] + 1
        assert server.returncode == -signal.SIGKILL
        totals.append(check(data, committed))
    assert totals[-1]["h1"] > 0 and totals[-1]["h2"] > 0  # the writers did write
    assert sum(loads) > 0  # and the server did, for its clients
    print(f"kill -9 rounds: {ROUNDS}; log entries after each: {totals}; "
          f"client join/leave cycles per round: {loads}")
    for h in HOTLINES:
        result = subprocess.run(
            [sys.executable, "-m", "hotline.cli", "log", "verify", h, "--data", str(data)],
            capture_output=True, text=True, timeout=60, env=env)
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("ok:"), result.stdout
