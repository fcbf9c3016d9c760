"""Issue #16, a hotline's first steps from the terminal, as separate processes: a hotline
made before its standbys waits for them (no alarm, no uptime) and `hotline status` says
so, in the terminal's width; `call` to an unknown hotline or an unreachable far end says
what to do, with the cause `linktest` names; `standby` shows its retry delay, that it
never connected yet, and what stopped it on Ctrl-C (loopback-only namespace)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from .test_cli_hotline import background, hotline, make_red, two_standbys, wait_for
from .test_cli_serve import free_port

pytestmark = pytest.mark.usefixtures("loopback_netns")

FIRST_DELAY = 30.0  # the server's first scheduled link test (Settings.linktest_first_delay)


def _status(cwd: Path) -> dict[str, object]:
    done = hotline("status", "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)["hotlines"][0]  # type: ignore[no-any-return]


def _narrow_status(cwd: Path, columns: int) -> str:
    done = subprocess.run([sys.executable, "-m", "hotline.cli", "status"], cwd=cwd, text=True,
                          capture_output=True, timeout=60,
                          env={**os.environ, "COLUMNS": str(columns), "HOTLINE_DATA": "data"})
    assert done.returncode == 0, done.stderr
    return done.stdout


def _interrupt(proc: subprocess.Popen[str], log: Path) -> str:
    proc.send_signal(signal.SIGINT)
    proc.wait(30)
    assert proc.returncode == 0, log.read_text()
    return log.read_text()


def test_a_new_hotline_waits_for_its_standbys_and_errors_say_what_to_do(
        tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with background(tmp_path, "serve", "serve", "--port", str(port)) as (server, serve_log):
        wait_for(lambda: "serving at" in serve_log.read_text(), "the server")
        make_red(tmp_path, url)

        # call to a hotline that does not exist: says where to look; exit code 1 (error)
        unknown = hotline("call", "blue", "--server", url, "--identity", "alice.key",
                          cwd=tmp_path)
        assert unknown.returncode == 1, unknown.stdout + unknown.stderr
        assert "no hotline named 'blue'; see `hotline admin hotline list`" in unknown.stderr

        # a standby that cannot reach its server: the delay, and "never connected yet"
        with background(tmp_path, "lost", "standby", "--server",
                        f"http://127.0.0.1:{free_port()}", "--identity", "alice.key",
                        "--hotline", "red") as (lost, lost_log):
            wait_for(lambda: lost_log.read_text().count("retrying in") >= 2, "two retries")
            text = lost_log.read_text()
            assert re.search(r"not connected yet \(never since started\): .*; retrying in "
                             r"[\d.]+ s", text), text
            stopped = _interrupt(lost, lost_log)
        assert "standby on 'red' stopped: interrupted (Ctrl-C)" in stopped, stopped

        # day one: past the first scheduled test with no standby, no test, no alarm
        deadline_note = FIRST_DELAY + 5  # a scheduler tick or two past the first test
        with pytest.raises(AssertionError, match="timed out"):
            wait_for(lambda: bool(_status(tmp_path)["alarms_open"]), "no alarm",
                     timeout=deadline_note)
        doc = _status(tmp_path)
        assert doc["state"] == "never_tested" and doc["alarms_open"] == [], doc
        assert doc["uptime"]["24h"]["tests"] == 0, doc  # type: ignore[index]
        narrow = _narrow_status(tmp_path, 80)
        assert max(len(line) for line in narrow.splitlines()) <= 80, narrow  # cells wrap
        assert all(word in narrow for word in ("WAITING", "first", "standby")), narrow
        assert "WAITING for its first standby" in _narrow_status(tmp_path, 200)

        # both standbys come up: the first scheduled test runs, the grace ends
        with two_standbys(tmp_path, url) as (alice, _, bob, bob_log):
            wait_for(lambda: _status(tmp_path)["last_test"] is not None,
                     "the first scheduled test", timeout=120)
            doc = _status(tmp_path)
            assert doc["state"] in ("ok", "degraded"), doc
            assert doc["alarms_open"] == [], doc
            assert "WAITING" not in _narrow_status(tmp_path, 80)

            # the far end stops: call and linktest name the same cause
            assert "stopped: interrupted (Ctrl-C)" in _interrupt(bob, bob_log)
            test = hotline("linktest", "red", "--server", url, "--identity", "alice.key",
                           cwd=tmp_path)
            assert test.returncode == 3, test.stdout + test.stderr
            assert "no standby endpoint of bob is connected" in test.stdout, test.stdout
            far = hotline("call", "red", "--server", url, "--identity", "alice.key",
                          cwd=tmp_path)
            assert far.returncode == 3, far.stdout + far.stderr
            assert "no standby endpoint of the far party is connected" in far.stderr
            assert "`hotline linktest` names the same cause" in far.stderr
            assert alice.poll() is None
        assert server.poll() is None
