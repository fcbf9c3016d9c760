"""``hotline serve`` over TLS: a self-signed certificate for a LAN trial, or given files."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path

HOTLINE = [sys.executable, "-m", "hotline.cli"]
ENV = {**os.environ, "COLUMNS": "200"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_self_signed_https_and_wss(tmp_path: Path) -> None:
    port, data = free_port(), tmp_path / "data"
    server = subprocess.Popen([*HOTLINE, "serve", "--port", str(port), "--data", str(data),
                               "--tls-self-signed"], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=ENV)
    try:
        assert server.stdout is not None
        shown = ""
        for _ in range(10):
            shown += server.stdout.readline()
            if "serving at" in shown:
                break
        assert "self-signed certificate" in shown and "fingerprint" in shown
        assert f"https://127.0.0.1:{port}/" in shown
        cert = data / "tls-self-signed.crt"
        assert (data / "tls-self-signed.key").stat().st_mode & 0o777 == 0o600
        context = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", context=context) as r:
            assert json.load(r)["status"] == "ok"
        code = json.loads(subprocess.run(
            [*HOTLINE, "admin", "party", "add", "alice", "--data", str(data), "--json"],
            capture_output=True, text=True, check=True).stdout)["enrollment_code"]
        url = f"https://127.0.0.1:{port}"
        refused = subprocess.run([*HOTLINE, "enroll", "--server", url, "--code", code,
                                  "--identity", str(tmp_path / "a.key")],
                                 capture_output=True, text=True, env=ENV, timeout=60)
        assert refused.returncode == 1 and "certificate" in refused.stderr.lower()
        assert "--tls-ca" in refused.stderr and "ssl:" not in refused.stderr
        assert "Traceback" not in refused.stderr
        ok = subprocess.run([*HOTLINE, "enroll", "--server", url, "--code", code, "--identity",
                             str(tmp_path / "a.key"), "--tls-ca", str(cert)],
                            capture_output=True, text=True, env=ENV, timeout=60)
        assert ok.returncode == 0 and "enrolled as party 'alice'" in ok.stdout, ok.stderr
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=10)


def test_bad_tls_files_are_a_clear_error(tmp_path: Path) -> None:
    missing = subprocess.run([*HOTLINE, "serve", "--port", str(free_port()), "--data",
                              str(tmp_path), "--tls-cert", str(tmp_path / "no.crt"),
                              "--tls-key", str(tmp_path / "no.key")],
                             capture_output=True, text=True, env=ENV, timeout=30)
    assert missing.returncode == 1 and missing.stderr.startswith("error: cannot use the TLS")
    half = subprocess.run([*HOTLINE, "serve", "--port", str(free_port()), "--data",
                           str(tmp_path), "--tls-cert", str(tmp_path / "x.crt")],
                          capture_output=True, text=True, env=ENV, timeout=30)
    assert half.returncode == 1 and "go together" in half.stderr
