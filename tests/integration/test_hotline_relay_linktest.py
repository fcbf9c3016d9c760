"""Link tests of a hotline over the relay path, with a real coturn (tests/support/coturn.py)
and both standby ends in this process: each round tests the path through the SFU and the
path through the TURN relay (``Settings.linktest_paths``), each end joining the relay
test with relay-only candidates and the SFU test without TURN (no silent fallback).
Blocking one path in the kernel (``ip rule ... blackhole`` in the test's namespace) makes
the round ``degraded``, naming the path: the relay (TURN server unreachable) or the SFU
(one end's UDP to the SFU blocked: its relay over TCP still works)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ..support.coturn import LISTEN, Coturn, Firewall
from .hotline_support import hotline_server, standby
from .test_hotline_linktest import request_linktest

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

ALICE_MEDIA = "127.0.0.7"  # where alice's standby gathers its host candidates


def paths(result: Any) -> dict[str, Any]:
    return result.result["paths"]  # type: ignore[no-any-return]


async def test_a_round_covers_sfu_and_relay_and_names_a_blocked_path(
        tmp_path: Path, coturn: Coturn, firewall: Firewall) -> None:
    async with hotline_server(tmp_path / "data", linktest_paths=("sfu", "relay"),
                              turn_urls=tuple(coturn.urls("udp", "tcp")),
                              turn_secret=coturn.secret) as (srv, alice, bob):
        a = await standby(srv, alice, media_host=ALICE_MEDIA)
        b = await standby(srv, bob)
        try:
            ok = await request_linktest(srv.url, alice)
            assert ok.outcome == "ok", ok.result
            assert list(paths(ok)) == ["sfu", "relay"]
            for path in ("sfu", "relay"):
                test = paths(ok)[path]
                assert test["outcome"] == "ok" and test["both_directions_decrypted"], test
                for end in ("alice", "bob"):
                    assert test["ends"][end]["video_frames"] >= 5, (path, test)

            # one end's UDP to the SFU blocked (and to the TURN server): the SFU path dies,
            # the relay path (TURN over TCP) still works
            firewall.block_udp_of(ALICE_MEDIA)
            sfu_down = await request_linktest(srv.url, alice)
            assert sfu_down.outcome == "degraded", sfu_down.result
            assert sfu_down.result["failed_paths"] == ["sfu"], sfu_down.result
            assert paths(sfu_down)["relay"]["outcome"] == "ok", paths(sfu_down)["relay"]
            assert "path sfu" in str(sfu_down.result["reason"])

            # the TURN server unreachable too: nothing works, every path named
            firewall.block("to", LISTEN)
            down = await request_linktest(srv.url, alice)
            assert down.outcome == "unreachable", down.result
            assert down.result["failed_paths"] == ["sfu", "relay"], down.result
        finally:
            await a.stop()
            await b.stop()


async def test_relay_path_dead_is_degraded_naming_the_relay(
        tmp_path: Path, coturn: Coturn, firewall: Firewall) -> None:
    async with hotline_server(tmp_path / "data", linktest_paths=("sfu", "relay"),
                              turn_urls=tuple(coturn.urls("udp", "tcp")),
                              turn_secret=coturn.secret) as (srv, alice, bob):
        a, b = await standby(srv, alice), await standby(srv, bob)
        try:
            firewall.block("to", LISTEN)  # the TURN server is gone: no relay path
            result = await request_linktest(srv.url, alice)
        finally:
            await a.stop()
            await b.stop()
    assert result.outcome == "degraded", result.result
    assert result.result["failed_paths"] == ["relay"], result.result
    assert paths(result)["sfu"]["outcome"] == "ok"
    assert "relay only" in str(paths(result)["relay"]), paths(result)["relay"]
