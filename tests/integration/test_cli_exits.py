"""What a newcomer hits on the command line, run as the user types it: which data folder
``hotline admin`` uses and whether a server uses it, a server that is not running, a port
in use, a failed enrollment, a party or room mistake; each with its message and the exit
code the README's "Command line" table gives (1 refused, 2 usage, 3 unreachable)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from .test_cli_join import HOTLINE, free_port, hotline_serve, run

pytestmark = pytest.mark.usefixtures("loopback_netns")
REFUSED, USAGE, UNREACHABLE = 1, 2, 3


def admin(*args: str, cwd: Path, data: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "HOTLINE_DATA"}
    if data is not None:
        env["HOTLINE_DATA"] = str(data)
    return subprocess.run([*HOTLINE, "admin", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**env, "COLUMNS": "120"})


def test_admin_says_its_data_folder_and_whether_a_server_uses_it(tmp_path: Path) -> None:
    port = free_port()
    served = tmp_path / "served"
    env = {**os.environ, "HOTLINE_DATA": str(served), "COLUMNS": "200"}
    server = subprocess.Popen([*HOTLINE, "serve", "--port", str(port)], cwd=tmp_path, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None and str(port) in server.stdout.readline()
        # HOTLINE_DATA was set for the server only: admin works on ./hotline-data, says so,
        # and warns that no server uses it.
        other = admin("party", "list", cwd=tmp_path)
        assert other.returncode == 0, other.stderr
        assert f"data: {tmp_path / 'hotline-data'}" in other.stderr
        assert "no `hotline serve` is using this data folder" in other.stderr
        # With the server's folder: the folder, and no warning.
        same = admin("party", "list", cwd=tmp_path, data=served)
        assert same.returncode == 0 and f"data: {served}" in same.stderr, same.stderr
        assert "warning" not in same.stderr
        assert json.loads((served / "serve.run").read_text())["pid"] == server.pid
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    assert server.returncode == 0 and not (served / "serve.run").exists()
    # A run file left by a server that died (kill -9) is seen through.
    (served / "serve.run").write_text(json.dumps({"pid": server.pid, "url": "http://x"}))
    stale = admin("party", "list", cwd=tmp_path, data=served)
    assert stale.returncode == 0 and f"pid {server.pid}" in stale.stderr
    assert "is gone" in stale.stderr


def test_a_server_that_is_not_running_is_named_without_library_noise(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert run("identity", "new", "alice.key", cwd=tmp_path).returncode == 0
    for args in (["enroll", "--code", "ABCD-EFGH", "--identity", "new.key"],
                 ["phase", "summit", "closed", "--identity", "alice.key"],
                 ["join", "--room", "summit", "--identity", "alice.key"]):
        out = run(*args, "--server", url, cwd=tmp_path)
        assert out.returncode == UNREACHABLE, (args, out.stderr)
        assert "is `hotline serve` running" in out.stderr and url in out.stderr, out.stderr
        assert "ssl:" not in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "new.key").exists()  # enroll took its new key away again


def test_usage_refusal_and_hints(tmp_path: Path) -> None:
    assert run("join", "--no-such-option", cwd=tmp_path).returncode == USAGE
    with hotline_serve(tmp_path) as url:
        made = run("admin", "party", "add", "alice", "--json", cwd=tmp_path)
        assert made.returncode == 0, made.stderr
        again = run("admin", "party", "add", "alice", cwd=tmp_path)
        assert again.returncode == REFUSED
        assert "exists already" in again.stderr and "admin party code alice" in again.stderr
        # A failed enrollment leaves no key behind; a key that was there stays.
        bad = run("enroll", "--server", url, "--code", "AAAA-BBBB-CCCC", "--identity",
                  "fresh.key", cwd=tmp_path)
        assert bad.returncode == REFUSED and bad.stderr.startswith("error:"), bad.stderr
        assert not (tmp_path / "fresh.key").exists() and "created identity" not in bad.stdout
        code = json.loads(made.stdout)["enrollment_code"]
        ok = run("enroll", "--server", url, "--code", code, "--identity", "alice.key",
                 cwd=tmp_path)
        assert ok.returncode == 0 and "created identity" in ok.stdout, ok.stderr
        reused = run("enroll", "--server", url, "--code", code, "--identity", "alice.key",
                     cwd=tmp_path)
        assert reused.returncode == REFUSED and (tmp_path / "alice.key").exists()
        # A room that does not exist vs one alice is not a member of.
        assert run("admin", "party", "add", "bob", cwd=tmp_path).returncode == 0
        assert run("admin", "room", "add", "bobs", "--member", "bob",
                   cwd=tmp_path).returncode == 0
        for room, said in (("nowhere", "no room named 'nowhere'"),
                           ("bobs", "party 'alice' is not a member of room 'bobs'")):
            out = run("join", "--server", url, "--identity", "alice.key", "--room", room,
                      "--duration", "1", cwd=tmp_path)
            assert out.returncode == REFUSED and said in out.stderr, out.stderr
