"""The README's walkthrough, as a user types it: serve, admin, enroll, join (in a
loopback-only namespace, since join starts real ICE/DTLS/SRTP)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.usefixtures("loopback_netns")
HOTLINE = [sys.executable, "-m", "hotline.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HOTLINE, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "COLUMNS": "120"})


def enrolled_summit(url: str, cwd: Path) -> None:
    """Parties alice and bob, enrolled (alice.key, bob.key in ``cwd``), in room summit."""
    for party in ("alice", "bob"):
        out = run("admin", "party", "add", party, "--json", cwd=cwd)
        code = json.loads(out.stdout)["enrollment_code"]
        assert run("enroll", "--server", url, "--code", code, "--identity",
                   f"{party}.key", cwd=cwd).returncode == 0
    assert run("admin", "room", "add", "summit", "--member", "alice", "--member", "bob",
               cwd=cwd).returncode == 0


@contextmanager
def hotline_serve(cwd: Path) -> Iterator[str]:
    """``hotline serve`` on a free loopback port with its data in ``cwd``; yields its URL,
    stops it (Ctrl-C) at the end."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*HOTLINE, "serve", "--port", str(port)], cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None and url in server.stdout.readline()
        yield url
    finally:
        interrupt(server)


def interrupt(process: subprocess.Popen[str]) -> None:
    """Ctrl-C ``process``; killed if it has not stopped within 10 s."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def test_two_terminals_hold_an_encrypted_call(tmp_path: Path) -> None:
    with hotline_serve(tmp_path) as url:
        for party in ("alice", "bob"):
            out = run("admin", "party", "add", party, "--json", cwd=tmp_path)
            assert out.returncode == 0, out.stderr
            code = json.loads(out.stdout)["enrollment_code"]
            out = run("enroll", "--server", url, "--code", code, "--identity",
                      f"{party}.key", cwd=tmp_path)
            assert out.returncode == 0 and "enrolled as party" in out.stdout, out.stderr
        assert run("admin", "room", "add", "summit", "--member", "alice", "--member", "bob",
                   cwd=tmp_path).returncode == 0
        joins = [subprocess.Popen(
            [*HOTLINE, "join", "--server", url, "--identity", f"{p}.key", "--room", "summit",
             "--synthetic", "--duration", "8", "--stats-json", f"{p}.json",
             "--accept-new-devices"],  # fresh identities: accepted, with a warning each
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for p in ("alice", "bob")]
        for j in joins:
            out, _ = j.communicate(timeout=60)
            assert j.returncode == 0, out
            assert "group code" in out and "Traceback" not in out
            assert "new party accepted by option" in out, out
        for me, other in (("alice", "bob"), ("bob", "alice")):
            stats = json.loads((tmp_path / f"{me}.json").read_text())
            assert set(stats["participants"]) >= {"alice", "bob"}
            assert len(stats["group_code"].split()) == 4
            r = stats["remote"][other]
            assert r["video_frames_decrypted"] > 60 and r["audio_frames_decrypted"] > 100
            assert r["decrypt_failures"] <= 2 and r["first_frame_ms"] is not None
            assert stats["sent"]["video_frames"] > 60 and stats["sent"]["audio_frames"] > 100
        # Nothing records without the principals' consent: the old --record is gone
        # (hotline record asks them; tests/integration/test_recording.py).
        old = run("join", "--server", url, "--identity", "bob.key", "--room", "summit",
                  "--duration", "1", "--record", "rec", cwd=tmp_path)
        assert old.returncode == 2 and "--record" in old.stderr
        assert not (tmp_path / "rec").exists()
        bad = run("join", "--server", url, "--identity", "alice.key", "--room", "nowhere",
                  "--duration", "1", cwd=tmp_path)
        assert bad.returncode == 1 and bad.stderr.startswith("error: forbidden")
        missing = run("join", "--server", url, "--identity", "nobody.key", "--room", "summit",
                      cwd=tmp_path)
        assert missing.returncode == 1 and "Traceback" not in missing.stderr
        down = run("join", "--server", f"http://127.0.0.1:{free_port()}", "--identity",
                   "alice.key", "--room", "summit", cwd=tmp_path)
        assert down.returncode == 3 and "cannot reach" in down.stderr  # README: exit codes
