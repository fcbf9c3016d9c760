"""Interpretation from the terminal: an operator gives a room channels, an interpreter
joins with ``--channel ru``, a listener with ``--listen ru --floor -20 --mix-out``; what
the listener heard (the WAV) has ru at full level and the floor 20 dB below. Bad
channel choices are clear errors (in a loopback-only namespace: join starts real ICE)."""

from __future__ import annotations

import json
import subprocess
import wave
from pathlib import Path

import pytest

from ..support.tones import db, mean_power, write_tone
from .test_cli_join import HOTLINE, hotline_serve, run

pytestmark = pytest.mark.usefixtures("loopback_netns")
MEMBERS = {"alice": "principal", "ivan": "interpreter", "lena": "aide"}


def _join(url: str, party: str, *args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*HOTLINE, "join", "--server", url, "--identity", f"{party}.key", "--room",
         "summit", "--accept-new-devices", *args],
        cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_an_interpreter_and_a_listener_from_the_terminal(tmp_path: Path) -> None:
    with hotline_serve(tmp_path) as url:
        for party in MEMBERS:
            out = run("admin", "party", "add", party, "--json", cwd=tmp_path)
            code = json.loads(out.stdout)["enrollment_code"]
            assert run("enroll", "--server", url, "--code", code, "--identity",
                       f"{party}.key", cwd=tmp_path).returncode == 0
        members = [f"--member={p}:{r}" for p, r in MEMBERS.items()]
        assert run("admin", "room", "add", "summit", *members, cwd=tmp_path).returncode == 0
        out = run("admin", "room", "channels", "summit", "ru", "zh", cwd=tmp_path)
        assert out.returncode == 0, out.stderr

        # clear errors, before or after joining
        for party, args, code, text in (
                ("lena", ["--channel", "ru"], 1, "only an interpreter publishes into a channel"),
                ("lena", ["--listen", "en"], 1, "unknown channel 'en'"),
                ("ivan", ["--channel", "fr"], 1, "unknown channel 'fr'"),
                ("lena", ["--listen", "RU"], 2, "bad channel name 'RU'"),
                ("lena", ["--floor", "loud"], 2, "--floor takes a level in dB"),
                ("lena", ["--floor", "-60"], 2, "0 to -40 dB")):
            bad = run("join", "--server", url, "--identity", f"{party}.key", "--room",
                      "summit", "--duration", "2", "--accept-new-devices", *args, cwd=tmp_path)
            assert bad.returncode == code and text in bad.stderr + bad.stdout, (args, bad)
            assert "Traceback" not in bad.stderr + bad.stdout

        alice = _join(url, "alice", "--media", str(write_tone(tmp_path / "a.wav", 400)),
                      "--duration", "14", cwd=tmp_path)
        ivan = _join(url, "ivan", "--media", str(write_tone(tmp_path / "i.wav", 650)),
                     "--channel", "ru", "--duration", "14", cwd=tmp_path)
        lena = _join(url, "lena", "--listen", "ru", "--floor", "-20", "--mix-out",
                     "heard.wav", "--duration", "10", cwd=tmp_path)
        outs = {}
        for name, p in (("lena", lena), ("alice", alice), ("ivan", ivan)):
            out, _ = p.communicate(timeout=90)
            assert p.returncode == 0, out
            outs[name] = " ".join(out.split())  # the table's lines wrap anywhere
        assert "hearing ru · floor -20 dB" in outs["lena"], outs["lena"]
        assert "interpreting into ru" in outs["ivan"], outs["ivan"]

        with wave.open(str(tmp_path / "heard.wav")) as heard:
            assert (heard.getframerate(), heard.getnchannels()) == (48000, 1)
            data = heard.readframes(heard.getnframes())
        samples = [int.from_bytes(data[i:i + 2], "little", signed=True)
                   for i in range(0, len(data), 2)]
        blocks = [samples[i:i + 960] for i in range(0, len(samples) - 959, 960)]
        # the last 3 s: everyone has joined and is heard
        tail = blocks[-150:]
        ru, floor = mean_power(tail, 650), mean_power(tail, 400)
        print(f"\nhotline join --listen ru --floor -20: floor {db(floor / ru):+.1f} dB re ru")
        assert ru > 1e4 and abs(db(floor / ru) + 20) < 2
