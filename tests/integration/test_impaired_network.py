"""Calls on an impaired network (issue #7, "loss sweep", "jitter/reorder", "bandwidth
cap"). Each scenario runs :mod:`tests.support.impaired_call` in a network namespace of
its own (``unshare -n``), so its impairment and its ``tc`` qdisc touch nothing else.

``make test`` runs two scenarios (5 % loss each way for 10 s, then a 1 s blackout; 10 %
loss each way for 10 s, for audio continuity with Opus FEC); ``make soak`` runs the
sweep (``-m soak``), whose figures are in docs/reliability.md. The sweep asserts only
that every call survives and recovers; the figures say how well.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("loopback_netns")
ROOT = Path(__file__).resolve().parents[2]
RESULTS = os.environ.get("HOTLINE_RELIABILITY_RESULTS")  # append each result (JSON lines)


def run_scenario(impair: str = "", tbf: str = "", seconds: float = 10.0,
                 burst: float = 0.0) -> dict[str, Any]:
    args = ["--seconds", str(seconds), "--burst", str(burst)]
    if impair:
        args += ["--impair", impair]
    if tbf:
        args += ["--tbf", tbf]
    return impaired_call(args, timeout=seconds + burst + 90)


def impaired_call(args: list[str], timeout: float) -> dict[str, Any]:
    """Run :mod:`tests.support.impaired_call` with ``args`` in a namespace of its own;
    its JSON figures (also appended to HOTLINE_RELIABILITY_RESULTS if set)."""
    cmd = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "_",
           sys.executable, "-m", "tests.support.impaired_call", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if RESULTS:
        with open(RESULTS, "a") as f:
            f.write(json.dumps(result) + "\n")
    return result


#: Longest run of concealed (PLC) audio allowed under random loss. With FEC, a PLC run
#: of n frames needs n + 1 lost packets in a row (or n in a row, the next one without
#: FEC data): at 10 % loss on each link (about 19 % end to end) a run over 100 ms
#: (6 frames) has a chance of about 1e-5 per frame, under 1 % in a 10 s call.
MAX_PLC_RUN_MS = 100


def assert_audio_continuous(r: dict[str, Any]) -> None:
    """Opus in-band FEC rebuilt lost frames (the path is used), and what it could not
    rebuild was concealed in short runs: no silent gap, no long concealment."""
    assert r["audio_fec_recovered"] > 0, r
    assert r["audio_lost_after_fec_pct"] < 0.5 * r["audio_lost_before_fec_pct"], r
    assert r["audio_not_concealed"] == 0, r
    assert r["audio_longest_plc_ms"] <= MAX_PLC_RUN_MS, r


def test_five_percent_loss_then_a_blackout() -> None:
    r = run_scenario("loss=0.05", seconds=10, burst=1.0)
    print(r)
    assert r["audio_sent"] > 400
    # About 10 % of the datagrams are lost end to end (5 % on each client's link): audio
    # loses no more than that (one Opus frame per lost packet) before the receiver's
    # Opus FEC and PLC; video is recovered by NACK (from the SFU's cache, or relayed
    # to the publisher and answered with RTX).
    assert r["audio_decrypted"] >= 0.8 * r["audio_sent"], r
    assert_audio_continuous(r)
    assert r["video_fps"] >= 15, r
    assert r["video_longest_gap_s"] < 1.0, r
    assert r["recovery_audio_s"] is not None and r["recovery_audio_s"] <= 1.0, r
    assert r["recovery_video_s"] is not None and r["recovery_video_s"] <= 1.0, r
    assert_fail_closed_only(r)


def test_ten_percent_loss_audio_stays_continuous() -> None:
    """REQUIREMENTS "loss sweep": audio continuous at 10 % loss (here on each direction
    of each client's link, about 19 % of the audio packets end to end)."""
    r = run_scenario("loss=0.10", seconds=10)
    print(r)
    assert r["audio_sent"] > 400
    assert_audio_continuous(r)
    assert r["audio_lost_after_fec_pct"] < 10, r
    assert_fail_closed_only(r)


#: Video frames that may fail authentication in a 10 s run under loss: each is a frame
#: the jitter buffer gave up on (a packet still missing after 500 ms) and is dropped,
#: never shown. Seen: 0 in most runs, 2 in one at 10 % loss on each link.
MAX_INCOMPLETE_VIDEO_FRAMES = 5


def assert_fail_closed_only(r: dict[str, Any]) -> None:
    """No audio frame fails authentication (one packet each: loss cannot leave one
    incomplete); video frames only a few, the incomplete ones."""
    assert r["audio_decrypt_failures"] == 0, r
    assert r["decrypt_failures"] <= MAX_INCOMPLETE_VIDEO_FRAMES, r


def run_cap(kbit: float, seconds: float, after: float) -> dict[str, Any]:
    return impaired_call(["--cap-kbit", str(kbit), "--seconds", str(seconds),
                          "--after", str(after)], timeout=seconds + after + 90)


def test_bandwidth_cap_video_adapts_audio_survives_and_it_recovers() -> None:
    """REQUIREMENTS "bandwidth cap": Alice's uplink (everything her ICE sockets send)
    capped at 300 kbit/s, then lifted. Her video (320x240, about 500 kbit/s before)
    comes down to fit beside her audio, following the SFU's loss-based REMB below
    aiortc's 250 kbit/s floor; audio keeps flowing (FEC and PLC cover what the overflows
    cost); after the cap, the video is back to 90 % of its rate within 10 s."""
    r = run_cap(300, seconds=20, after=12)
    series = r.pop("series")
    print(r)
    print(series)
    assert r["pre_video_kbps"] > 350, r  # the cap binds
    targets = [x["target_kbps"] for x in series if x["phase"] == "cap" and x["target_kbps"]]
    assert targets and min(targets) < 250, series  # below aiortc's own floor
    assert r["cap_video_kbps"] < 250, r
    assert r["cap_audio_decrypted"] >= 0.7 * r["cap_audio_sent"], r
    assert r["cap_audio_lost_after_fec_pct"] < 25, r
    assert r["cap_audio_longest_gap_s"] < 1.0, r
    assert r["recovery_s"] is not None and r["recovery_s"] <= 10, (r, series)


SWEEP = [
    ("loss=0.02", ""), ("loss=0.05", ""), ("loss=0.10", ""), ("loss=0.20", ""),
    ("burst_p=0.01,burst_r=0.25", ""),  # Gilbert-Elliott: mean burst of 4 datagrams
    ("delay=0.04,jitter=0.01", ""), ("delay=0.2,jitter=0.05", ""),
    ("delay=0.02,jitter=0.02,reorder=0.05", ""),
    ("", "rate 300kbit burst 16kb latency 100ms"),
]


@pytest.mark.soak
@pytest.mark.parametrize(("impair", "tbf"), SWEEP)
def test_sweep(impair: str, tbf: str) -> None:
    r = run_scenario(impair, tbf, seconds=20, burst=1.0)
    print(r)
    assert r["audio_sent"] > 800
    assert r["audio_decrypted"] > 0 and r["recovery_audio_s"] is not None, r
