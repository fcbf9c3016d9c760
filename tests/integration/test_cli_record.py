"""``hotline record`` as a user runs it (loopback-only namespace): two principals join with
``hotline join --consent-recording yes`` (one of them first with ``no``), a recorder
seat runs ``hotline record --room summit --phase open --out DIR``; it says whom it waits
for and who refused, records once both consent (each ``hotline join`` prints
"● recorded by rec"), stops at the close (``hotline phase summit closed``), prints the
file and exits; the file opens with PyAV."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import av
import pytest

from .test_cli_join import HOTLINE, free_port, run

pytestmark = pytest.mark.usefixtures("loopback_netns")


def _until(path: Path, text: str, proc: subprocess.Popen[str], timeout: float = 60) -> str:
    """Wait until the output file of ``proc`` contains ``text``; returns the output."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = path.read_text() if path.exists() else ""
        if text in out:
            return out
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not in the output of {proc.args}:\n"
                         f"{path.read_text() if path.exists() else ''}")


def _spawn(args: list[str], cwd: Path, log: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*HOTLINE, *args], cwd=cwd, stdout=(cwd / log).open("w"),
                            stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "COLUMNS": "200"})


def test_hotline_record_waits_for_consent_and_stops_at_the_close(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*HOTLINE, "serve", "--port", str(port)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    procs: list[subprocess.Popen[str]] = []
    try:
        assert server.stdout is not None and url in server.stdout.readline()
        for party in ("alice", "boris", "rec"):
            code = json.loads(run("admin", "party", "add", party, "--json",
                                  cwd=tmp_path).stdout)["enrollment_code"]
            assert run("enroll", "--server", url, "--code", code, "--identity",
                       f"{party}.key", cwd=tmp_path).returncode == 0
        assert run("admin", "room", "add", "summit", "--member", "alice:principal",
                   "--member", "boris:principal", "--member", "rec:recorder",
                   cwd=tmp_path).returncode == 0

        def joined(party: str, consent: str) -> subprocess.Popen[str]:
            p = _spawn(["join", "--server", url, "--identity", f"{party}.key", "--room",
                        "summit", "--synthetic", "--duration", "90", "--accept-new-devices",
                        "--consent-recording", consent], tmp_path, f"{party}-{consent}.log")
            procs.append(p)
            return p

        alice = joined("alice", "yes")
        boris = joined("boris", "no")
        rec = _spawn(["record", "--server", url, "--identity", "rec.key", "--room", "summit",
                      "--phase", "open", "--out", "out", "--accept-new-devices"],
                     tmp_path, "rec.log")
        procs.append(rec)
        _until(tmp_path / "rec.log", "refused by boris", rec)
        assert not (tmp_path / "out").exists()
        boris.send_signal(signal.SIGINT)
        boris.wait(30)
        boris = joined("boris", "yes")
        # (with boris gone, alice alone is every principal of the call: it may record
        # until boris is back, then waits for his consent)
        for log, proc in (("alice-yes.log", alice), ("boris-yes.log", boris)):
            _until(tmp_path / log, "● recorded by rec", proc)
        time.sleep(6)  # some seconds of the open part, boris's tracks in a file
        closed = run("phase", "summit", "closed", "--server", url, "--identity", "alice.key",
                     cwd=tmp_path)
        assert closed.returncode == 0, closed.stderr
        rec.wait(60)
        out = (tmp_path / "rec.log").read_text()
        print(out)
        assert rec.returncode == 0, out
        assert "waiting for consent of" in out and "stopped at the phase change" in out
        files = sorted((tmp_path / "out").glob("summit-open-*.mkv"))
        assert files and all(f"file: out/{f.name}" in out for f in files)
        _until(tmp_path / "alice-yes.log", "recording: nobody records now", alice)
        both = 0
        for file in files:
            with av.open(str(file)) as container:
                titles = {s.metadata.get("title") for s in container.streams}
                if {"alice audio", "alice video", "boris audio", "boris video"} <= titles:
                    both += 1
                    decoded = sum(1 for _ in container.decode(video=0))
                    assert decoded > 10 and (container.duration or 0) > 0
        assert both >= 1, [f.name for f in files]
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
