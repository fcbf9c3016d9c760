"""A hotline's readiness on every path (issue #14): the scheduled link tests cover the path
through the SFU, the direct path between the two ends and the relay path through a real
coturn (tests/support/coturn.py), each with its own figures and entry in the uptime
record. Killing the direct path in the kernel (``ip rule ... blackhole`` between the two
ends' addresses only: the SFU and the TURN server stay reachable) makes the next round
``degraded``, with an alarm that names the direct path, within the alarm time (the round
that follows the cut); lifting it clears the alarm."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from hotline.server.hotline.uptime import UptimeRecord, node_identity

from ..support.coturn import Coturn, Firewall
from .hotline_support import HOTLINE, RunningStandby, hotline_server, standby

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

ALICE_MEDIA, BOB_MEDIA = "127.0.0.7", "127.0.0.8"  # where each standby gathers
PATHS = ("sfu", "direct", "relay")
INTERVAL = 5.0


async def next_round(end: RunningStandby, timeout: float = 90.0) -> dict[str, Any]:
    """The next round's result as the standby end saw it (``linktest_result``)."""
    event = await end.next("linktest_result", timeout=timeout)
    result = event.data["result"]
    assert isinstance(result, dict)
    return result


async def test_link_tests_cover_every_path_and_a_dead_direct_path_is_named(
        tmp_path: Path, coturn: Coturn, firewall: Firewall) -> None:
    data = tmp_path / "data"
    async with hotline_server(data, linktest_paths=PATHS, linktest_interval=INTERVAL,
                              linktest_first_delay=0.5,
                              turn_urls=tuple(coturn.urls("udp", "tcp")),
                              turn_secret=coturn.secret) as (srv, alice, bob):
        a = await standby(srv, alice, media_host=ALICE_MEDIA)
        b = await standby(srv, bob, media_host=BOB_MEDIA)
        try:
            first = await next_round(a)
            assert first["outcome"] == "ok", first
            assert list(first["paths"]) == list(PATHS)
            for path in PATHS:
                test = first["paths"][path]
                assert test["path"] == path and test["outcome"] == "ok", test
                assert test["both_directions_decrypted"] is True
                assert test["setup_ms"] is not None and test["first_frame_ms"] is not None
                for end in ("alice", "bob"):
                    assert test["ends"][end]["video_frames"] >= 5, (path, end, test)
                    assert test["ends"][end]["audio_frames"] >= 5, (path, end, test)
                    assert test["ends"][end]["report"], (path, end)  # signed, per path
            figures = {p: {k: first["paths"][p][k] for k in ("setup_ms", "rtt_ms", "loss",
                                                             "jitter_ms")} for p in PATHS}
            print(f"first round, per path: {figures}")

            # the direct path dies: only datagrams between the two ends are dropped
            firewall.block("from", ALICE_MEDIA, "to", BOB_MEDIA)
            firewall.block("from", BOB_MEDIA, "to", ALICE_MEDIA)
            cut = time.monotonic()
            degraded = await next_round(a)
            if not degraded["failed_paths"]:  # a round that started before the cut
                degraded = await next_round(a)
            named = time.monotonic() - cut
            assert degraded["outcome"] == "degraded", degraded
            assert degraded["failed_paths"] == ["direct"], degraded
            assert degraded["reason"].startswith("path direct: "), degraded["reason"]
            for path in ("sfu", "relay"):
                assert degraded["paths"][path]["outcome"] == "ok", degraded["paths"][path]
            print(f"direct path cut -> degraded naming it after {named:.1f} s")
            # the alarm time: a round of three paths plus the one running at the cut
            assert named < 2 * (INTERVAL + len(PATHS) * 8), named

            firewall.clear()  # the direct path is back
            for _ in range(3):
                back = await next_round(a)
                if back["outcome"] == "ok":
                    break
            assert back["outcome"] == "ok", back
            await asyncio.sleep(0.5)
        finally:
            await a.stop()
            await b.stop()
        record = UptimeRecord(srv.store, node_identity(data))
        entries = record.entries(HOTLINE)
        report = record.verify(HOTLINE)
    alarms = [e for e in entries if e.kind == "alarm"]
    assert any("path direct" in str(e.fields.get("reason")) and
               e.fields.get("outcome") == "degraded" for e in alarms), alarms
    kinds = [e.kind for e in entries]
    assert "alarm_cleared" in kinds[kinds.index("alarm"):], kinds
    tests = [e.fields for e in entries if e.kind == "linktest"]
    assert {t["path"] for t in tests} == set(PATHS)
    assert report.ok, report
