"""The README's "Set up a hotline", command by command, as separate processes: a server,
two enrolled parties, a pinned hotline, two ``hotline standby`` terminals, a link test,
a call acknowledged with an ETA and answered by typed commands, ``hotline status`` and
``hotline log verify`` (loopback-only namespace)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from .test_cli_serve import free_port

pytestmark = pytest.mark.usefixtures("loopback_netns")


def hotline(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hotline.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=timeout,
                          env={**os.environ, "COLUMNS": "200", "HOTLINE_DATA": "data"})


@contextmanager
def background(cwd: Path, name: str, *args: str) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    log = cwd / f"{name}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "hotline.cli", *args], cwd=cwd,
                                text=True, stdin=subprocess.PIPE, stdout=out,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, "COLUMNS": "200", "HOTLINE_DATA": "data"})
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def type_in(stdin: IO[str] | None, line: str) -> None:
    assert stdin is not None
    stdin.write(line + "\n")
    stdin.flush()


def import_pins(printed: str, cwd: Path) -> None:
    """Run the `hotline pin add` commands `admin hotline add` printed, each on the other
    party's endpoint (here: with its identity file), as the README says."""
    commands = [line.split() for line in printed.splitlines()
                if line.strip().startswith("hotline pin add")]
    assert len(commands) == 2, printed
    for words in commands:
        far = words[words.index("--party") + 1]
        me = next(p for p in ("alice", "bob") if p != far)
        args = [f"{me}.key" if w == "IDENTITY_FILE" else w for w in words[1:]]
        done = hotline(*args, cwd=cwd)
        assert done.returncode == 0 and "pinned" in done.stdout, done.stderr


def make_red(cwd: Path, url: str) -> None:
    """Parties alice and bob, each enrolled (alice.key, bob.key), and hotline red between
    them with both pins imported: the README's steps before the standbys."""
    for party in ("alice", "bob"):
        code = json.loads(hotline("admin", "party", "add", party, "--json",
                                  cwd=cwd).stdout)["enrollment_code"]
        enrolled = hotline("enroll", "--server", url, "--code", code, "--identity",
                           f"{party}.key", cwd=cwd)
        assert enrolled.returncode == 0, enrolled.stderr
    made = hotline("admin", "hotline", "add", "red", "--between", "alice", "bob", cwd=cwd)
    assert made.returncode == 0, made.stderr
    import_pins(made.stdout, cwd)


Standbys = tuple[subprocess.Popen[str], Path, subprocess.Popen[str], Path]


@contextmanager
def two_standbys(cwd: Path, url: str) -> Iterator[Standbys]:
    """`hotline standby` for red as alice and as bob, each standing by."""
    with background(cwd, "alice", "standby", "--server", url, "--identity", "alice.key",
                    "--hotline", "red") as (alice, alice_log), \
            background(cwd, "bob", "standby", "--server", url, "--identity", "bob.key",
                       "--hotline", "red") as (bob, bob_log):
        for log in (alice_log, bob_log):
            wait_for(lambda log=log: "standing by" in log.read_text(), "standby")
        yield alice, alice_log, bob, bob_log


def test_set_up_a_hotline_from_nothing(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with background(tmp_path, "serve", "serve", "--port", str(port)) as (server, serve_log):
        wait_for(lambda: "serving at" in serve_log.read_text(), "the server")
        for party in ("alice", "bob"):
            added = hotline("admin", "party", "add", party, "--json", cwd=tmp_path)
            code = json.loads(added.stdout)["enrollment_code"]
            enrolled = hotline("enroll", "--server", url, "--code", code, "--identity",
                               f"{party}.key", cwd=tmp_path)
            assert enrolled.returncode == 0, enrolled.stderr
        made = hotline("admin", "hotline", "add", "red", "--between", "alice", "bob",
                       cwd=tmp_path)
        assert made.returncode == 0 and "pinned" in made.stdout, made.stderr
        import_pins(made.stdout, tmp_path)
        with two_standbys(tmp_path, url) as (_, alice_log, bob, bob_log):
            test = hotline("linktest", "red", "--server", url, "--identity", "alice.key",
                           cwd=tmp_path)
            assert test.returncode == 0, test.stdout + test.stderr
            assert test.stdout.startswith("red: OK") and "rtt" in test.stdout, test.stdout
            for log in (alice_log, bob_log):  # both ends show the link test's group code
                wait_for(lambda log=log: ": group code " in log.read_text(), "the code")
            codes = {re.search(r"link test \S+: group code ([\d ]+) ", log.read_text())
                     .group(1) for log in (alice_log, bob_log)}  # type: ignore[union-attr]
            assert len(codes) == 1, codes
            with background(tmp_path, "call", "call", "red", "--server", url, "--identity",
                            "alice.key", "--duration", "2") as (caller, call_log):
                wait_for(lambda: "RINGING" in bob_log.read_text(), "the ring")
                assert "\a" in bob_log.read_text()  # the terminal bell
                type_in(bob.stdin, "a principal in 10 minutes")
                wait_for(lambda: "acknowledged by bob" in call_log.read_text(), "the ack")
                assert "principal in 10 minutes" in call_log.read_text()
                type_in(bob.stdin, "y")
                wait_for(lambda: caller.poll() is not None, "the call to end", timeout=60)
                assert caller.returncode == 0, call_log.read_text()
                assert "answered" in call_log.read_text()
                assert "read it aloud with the far end" in call_log.read_text()  # both sides
            wait_for(lambda: "call connected" in bob_log.read_text(), "bob's call")
            # the standby shows the call's group code too; the caller printed the same one
            wait_for(lambda: "call group code" in bob_log.read_text(), "the call's code")
            shown = re.search(r"call group code ([\d ]+) \(", bob_log.read_text())
            assert shown is not None and f"group code {shown.group(1)}" in call_log.read_text()
        status = hotline("status", "--json", cwd=tmp_path)
        doc = json.loads(status.stdout)["hotlines"][0]
        assert doc["name"] == "red" and doc["last_test"]["outcome"] == "ok"
        assert doc["uptime"]["24h"]["tests"] >= 1
        assert doc["last_call"]["ack_message"] == "principal in 10 minutes"
        table = hotline("status", cwd=tmp_path)
        assert "red" in table.stdout and "OK" in table.stdout
        verified = hotline("log", "verify", "red", cwd=tmp_path)
        assert verified.returncode == 0 and verified.stdout.startswith("ok:"), verified.stderr
        assert server.poll() is None


#: A link test whose media flowed (on a loaded machine its round trip can grade it
#: "degraded"); what matters below is that it ran and was recorded.
MEDIA_FLOWED = ("red: OK", "red: DEGRADED")


def _record(cwd: Path) -> list[dict[str, object]]:
    shown = hotline("log", "show", "red", "--json", cwd=cwd)
    assert shown.returncode == 0, shown.stderr
    return [json.loads(line) for line in shown.stdout.splitlines()]


def test_a_server_killed_mid_standby_keeps_the_hotline_and_its_record(tmp_path: Path) -> None:
    """Issue #7 "Faults": `hotline serve` is killed -9 with both ends standing by and two
    link tests on record, then started again on the same data. Both standbys come back by
    themselves, the hotline (pins, ends) is the same, the record keeps every entry once
    (same sequence numbers and contents), goes on from there, and verifies."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with background(tmp_path, "serve", "serve", "--port", str(port)) as (server, serve_log):
        wait_for(lambda: "serving at" in serve_log.read_text(), "the server")
        make_red(tmp_path, url)
        listed = hotline("admin", "hotline", "list", cwd=tmp_path).stdout
        with two_standbys(tmp_path, url) as (_, alice_log, _, bob_log):
            logs = (alice_log, bob_log)
            for caller in ("alice", "bob"):
                test = hotline("linktest", "red", "--server", url, "--identity",
                               f"{caller}.key", cwd=tmp_path)
                assert test.stdout.startswith(MEDIA_FLOWED), test.stdout + test.stderr
            before = _record(tmp_path)
            # two rounds of the default paths (sfu, direct): an entry per path
            assert [e["kind"] for e in before].count("linktest") == 2 * 2, before
            seen = [log.read_text().count("standing by") for log in logs]

            server.kill()  # SIGKILL: no chance to clean up
            server.wait(10)
            with background(tmp_path, "serve2", "serve", "--port", str(port)) as (
                    again, serve_log2):
                wait_for(lambda: "serving at" in serve_log2.read_text(), "the restart")
                for log, n in zip(logs, seen, strict=True):
                    wait_for(lambda log=log, n=n: log.read_text().count("standing by") > n,
                             "the standby to come back", timeout=60)
                test = hotline("linktest", "red", "--server", url, "--identity",
                               "alice.key", cwd=tmp_path)
                assert test.stdout.startswith(MEDIA_FLOWED), test.stdout + test.stderr
                assert again.poll() is None
        after = _record(tmp_path)
        assert after[:len(before)] == before  # nothing lost, changed or written twice
        assert [e["seq"] for e in after] == list(range(len(after)))
        assert [e["kind"] for e in after[len(before):]].count("linktest") == 2, after
        assert hotline("admin", "hotline", "list", cwd=tmp_path).stdout == listed
        verified = hotline("log", "verify", "red", cwd=tmp_path)
        assert verified.returncode == 0 and verified.stdout.startswith("ok:"), verified.stderr
