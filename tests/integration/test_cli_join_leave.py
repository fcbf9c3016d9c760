"""A participant who leaves a terminal call is shown as left, and the server says who
joined and left: two ``hotline join`` terminals and a ``hotline serve`` (default
verbosity), all real subprocesses."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from .test_cli_join import HOTLINE, free_port, interrupt, run

pytestmark = pytest.mark.usefixtures("loopback_netns")
ENV = {**os.environ, "COLUMNS": "160"}


def join(party: str, cwd: Path, url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*HOTLINE, "join", "--server", url, "--identity", f"{party}.key", "--room", "summit",
         "--synthetic", "--accept-new-devices", "--stats-json", f"{party}.json", *extra],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV)


def test_a_leaver_is_marked_left_and_the_server_logs_joins_and_leaves(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([*HOTLINE, "serve", "--port", str(port)], cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str] = queue.Queue()
    seen: list[str] = []
    assert server.stdout is not None
    threading.Thread(target=lambda: [lines.put(line) for line in server.stdout or ()],
                     daemon=True).start()

    def wait_for(pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                continue
            seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no {pattern!r} in the server's output:\n{''.join(seen)}")

    codes = []
    try:
        wait_for(re.escape(url))
        for party in ("alice", "bob"):
            out = run("admin", "party", "add", party, "--json", cwd=tmp_path)
            code = json.loads(out.stdout)["enrollment_code"]
            codes.append(code)
            assert run("enroll", "--server", url, "--code", code, "--identity",
                       f"{party}.key", cwd=tmp_path).returncode == 0
        assert run("admin", "room", "add", "summit", "--member", "alice", "--member", "bob",
                   cwd=tmp_path).returncode == 0
        alice = join("alice", tmp_path, url)
        wait_for(r"INFO hotline\.presence: join party=alice room=summit participant=\d+")
        bob = join("bob", tmp_path, url, "--duration", "6")
        wait_for(r"INFO hotline\.presence: join party=bob room=summit participant=\d+")
        bob_out, _ = bob.communicate(timeout=90)
        assert bob.returncode == 0, bob_out
        left = wait_for(r"INFO hotline\.presence: leave party=bob room=summit "
                        r"participant=\d+")
        # alice got the member_left with the server's leave; give her loop a moment
        time.sleep(1.5)
        alice.send_signal(signal.SIGINT)
        alice_out, _ = alice.communicate(timeout=30)
        assert alice.returncode == 0, alice_out
        wait_for(r"leave party=alice room=summit")
    finally:
        interrupt(server)
    # the terminal: bob is shown as having left, with the counts he had
    assert "bob (left)" in alice_out, alice_out
    assert "first frame (after join)" in alice_out
    assert "time from your join to that party's first decrypted frame" in alice_out
    stats = json.loads((tmp_path / "alice.json").read_text())
    assert stats["remote"]["bob"]["present"] is False
    assert stats["remote"]["bob"]["video_frames_decrypted"] > 0
    # while bob was there, bob saw alice as present
    assert "alice (left)" not in bob_out
    assert json.loads((tmp_path / "bob.json").read_text())["remote"]["alice"]["present"]
    # the server: one line per join and leave; no enrollment code or token in it
    log = "".join(seen)
    assert "participant=" in left and "conn=" in left
    for code in codes:
        assert code not in log and code.replace("-", "") not in log
    assert "resume_token" not in log and "token=" not in log
