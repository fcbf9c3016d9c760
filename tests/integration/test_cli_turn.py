"""`hotline serve --turn-url` with a real coturn, and `hotline join --relay-only`: the
secret comes from the environment (never on a command line), bad TURN settings are
clear errors, and each `join` prints the media path it takes ("relay over UDP" for the
relay-only one, "via SFU" for the other)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from ..support.coturn import Coturn
from .test_cli_join import HOTLINE, enrolled_summit, free_port, run

pytestmark = pytest.mark.usefixtures("loopback_netns")


def test_bad_turn_settings_are_clear_errors(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("s3cr3t-value\n")
    cases = [
        (["--turn-url", "turn:relay.example:3478"], "turn:HOST:PORT?transport=udp|tcp"),
        (["--turn-url", "turns:relay.example:5349?transport=udp"], "tcp only"),
        (["--turn-url", "turn:relay.example:99999?transport=udp",
          "--turn-secret-file", str(secret_file)], "port"),
        (["--turn-url", "turn:relay.example:3478?transport=udp"], "shared secret"),
        (["--turn-secret-file", str(secret_file)], "no --turn-url"),
        (["--turn-url", "turn:relay.example:3478?transport=udp", "--turn-secret-file",
          str(tmp_path / "missing")], "cannot read the TURN secret file"),
        (["--turn-url", "turn:relay.example:3478?transport=udp", "--turn-secret-file",
          str(secret_file), "--turn-credential-lifetime", "5"], "lifetime"),
    ]
    for args, expected in cases:
        out = run("serve", "--port", "0", *args, cwd=tmp_path)
        assert out.returncode != 0, args
        assert expected in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert "s3cr3t-value" not in out.stdout + out.stderr


def test_join_relay_only_prints_its_path(tmp_path: Path, coturn: Coturn) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "HOTLINE_TURN_SECRET": coturn.secret, "COLUMNS": "120"}
    server = subprocess.Popen([*HOTLINE, "serve", "--port", str(port),
                               *[a for u in coturn.urls("udp", "tcp")
                                 for a in ("--turn-url", u)]],
                              cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None and url in server.stdout.readline()
        banner = ""
        while "Press Ctrl-C" not in banner:
            banner += server.stdout.readline()
        assert "Relay (TURN) for clients" in banner
        enrolled_summit(url, tmp_path)
        joins = {p: subprocess.Popen(
            [*HOTLINE, "join", "--server", url, "--identity", f"{p}.key", "--room", "summit",
             "--synthetic", "--duration", "8", "--stats-json", f"{p}.json",
             "--accept-new-devices", *(["--relay-only"] if p == "bob" else [])],
            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for p in ("alice", "bob")}
        outs = {}
        for p, j in joins.items():
            outs[p], _ = j.communicate(timeout=60)
            assert j.returncode == 0, outs[p]
        assert "media path: relay over UDP" in outs["bob"], outs["bob"]
        assert "media path: via SFU" in outs["alice"], outs["alice"]
        for p, other in (("alice", "bob"), ("bob", "alice")):
            stats = json.loads((tmp_path / f"{p}.json").read_text())
            assert stats["remote"][other]["video_frames_decrypted"] > 0, stats
            assert stats["remote"][other]["audio_frames_decrypted"] > 0, stats
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=20)
    assert coturn.secret not in out
