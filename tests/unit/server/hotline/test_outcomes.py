"""Link-test verdicts, hotline states and uptime windows (pure), the missing-test alarm
of the scheduler, and the webhook's bounded retries."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from hotline.crypto.identity import Identity
from hotline.server.hotline.alarms import ATTEMPTS, Alarms
from hotline.server.hotline.linktests import MISSING_GRACE, LinkTests
from hotline.server.hotline.outcomes import (
    DAY_MS,
    Thresholds,
    evaluate,
    hotline_status,
    round_verdict,
)
from hotline.server.hotline.standby import StandbyRegistry
from hotline.server.hotline.uptime import UptimeRecord
from hotline.server.settings import Settings
from hotline.signaling.messages import LinkTestFigures
from tests.support.server import listen, store_with_hotline

T = Thresholds()


def good(**changes: Any) -> LinkTestFigures:
    base: dict[str, Any] = {"joined": True, "setup_ms": 200.0, "first_frame_ms": 300.0,
                            "video_frames": 60, "audio_frames": 100, "rtt_ms": 2.0,
                            "loss": 0.0, "jitter_ms": 2.0, "group_code": "1 2 3 4"}
    return LinkTestFigures(**{**base, **changes})


def test_both_ends_fine_is_ok_with_path_figures() -> None:
    verdict = evaluate({"a": good(rtt_ms=2.5), "b": good(setup_ms=450.0, loss=0.01)}, T)
    assert verdict.outcome == "ok" and verdict.reason == ""
    assert verdict.figures["rtt_ms"] == 4.5  # both hops to the SFU
    assert verdict.figures["setup_ms"] == 450.0 and verdict.figures["loss"] == 0.01
    assert verdict.figures["both_directions_decrypted"] is True


@pytest.mark.parametrize(("change", "named"), [
    ({"rtt_ms": 399.0}, "rtt_ms"), ({"loss": 0.2}, "loss"), ({"jitter_ms": 80.0}, "jitter"),
    ({"setup_ms": 9000.0}, "setup_ms")])
def test_a_figure_past_its_threshold_is_degraded(change: dict[str, Any], named: str) -> None:
    verdict = evaluate({"a": good(), "b": good(**change)}, T)
    assert verdict.outcome == "degraded" and named in verdict.reason


@pytest.mark.parametrize(("b", "named"), [
    (None, "no report from b"),
    (LinkTestFigures(joined=False, error="ICE failed"), "ICE failed"),
    (good(video_frames=0), "b decrypted 0 video"),
    (good(audio_frames=0), "b decrypted 60 video and 0 audio"),
    (good(group_code="9 9 9 9"), "different group codes"),
])
def test_a_failed_direction_is_responder_failed(b: LinkTestFigures | None,
                                                named: str) -> None:
    verdict = evaluate({"a": good(), "b": b}, T)
    assert verdict.outcome == "responder_failed"
    assert named in verdict.reason
    assert verdict.figures["both_directions_decrypted"] is False


@pytest.fixture
def record(tmp_path: Path) -> UptimeRecord:
    return UptimeRecord(store_with_hotline(tmp_path), Identity.generate())


def test_status_uptime_windows_states_and_alarms(record: UptimeRecord) -> None:
    now = 100 * DAY_MS
    plan = [(now - 40 * DAY_MS, "ok"), (now - 10 * DAY_MS, "unreachable"),
            (now - 2 * DAY_MS, "ok"), (now - 3_600_000, "degraded"),
            (now - 60_000, "responder_failed")]
    for t, outcome in plan:
        record.append("red", "linktest", {"outcome": outcome, "originator": "a"}, time_ms=t)
    record.append("red", "alarm", {"reason": "x", "outcome": "responder_failed",
                                   "test_id": None}, time_ms=now - 50_000)
    status = hotline_status("red", ("a", "b"), record.entries("red"), now_ms=now,
                            interval_s=3600, last=3)
    assert status["state"] == "responder_failed"
    assert status["uptime"]["24h"] == {"tests": 2, "up": 1, "ratio": 0.5}
    assert status["uptime"]["30d"] == {"tests": 4, "up": 2, "ratio": 0.5}
    assert [t["outcome"] for t in status["tests"]] == ["ok", "degraded", "responder_failed"]
    assert status["last_test"]["paths"]["-"]["outcome"] == "responder_failed"  # no round
    assert len(status["alarms_open"]) == 1
    record.append("red", "alarm_cleared", {"reason": "ok"}, time_ms=now)
    after = hotline_status("red", ("a", "b"), record.entries("red"), now_ms=now,
                           interval_s=3600)
    assert after["alarms_open"] == []


def _path(path: str | None, outcome: str, reason: str = "") -> dict[str, object]:
    return {"path": path, "outcome": outcome, "reason": reason}


def test_a_round_is_ok_degraded_or_unreachable_and_names_each_failed_path() -> None:
    assert round_verdict({"sfu": _path("sfu", "ok"), "direct": _path("direct", "ok")}) == \
        ("ok", "", [])
    slow = round_verdict({"sfu": _path("sfu", "degraded", "rtt_ms 500 > 400"),
                          "direct": _path("direct", "ok")})
    assert slow == ("degraded", "path sfu: rtt_ms 500 > 400", [])  # no path lost: no alarm
    one = round_verdict({"sfu": _path("sfu", "ok"),
                         "direct": _path("direct", "responder_failed", "bob could not join"),
                         "relay": _path("relay", "ok")})
    assert one == ("degraded", "path direct: bob could not join", ["direct"])
    every = round_verdict({"sfu": _path("sfu", "responder_failed", "x"),
                           "direct": _path("direct", "responder_failed", "y")})
    assert every == ("unreachable", "every path failed: path sfu: x; path direct: y",
                     ["sfu", "direct"])
    nobody = round_verdict({"sfu": _path(None, "unreachable", "no standby endpoint of b")})
    assert nobody == ("unreachable", "no standby endpoint of b", [])


def test_status_and_uptime_count_rounds_of_paths(record: UptimeRecord) -> None:
    now = 100 * DAY_MS
    rounds_plan = [("r1", now - 7_200_000, {"sfu": "ok", "direct": "ok"}),
                   ("r2", now - 3_600_000, {"sfu": "responder_failed", "direct": "ok"}),
                   ("r3", now - 60_000, {"sfu": "responder_failed",
                                         "direct": "responder_failed"})]
    for round_id, t, paths in rounds_plan:
        for i, (path, outcome) in enumerate(paths.items()):
            record.append("red", "linktest", {**_path(path, outcome, f"{path} broke"),
                                              "round": round_id, "originator": "a",
                                              "ends": {"a": {}, "b": {}}},
                          time_ms=t + i)
    status = hotline_status("red", ("a", "b"), record.entries("red"), now_ms=now,
                            interval_s=3600)
    assert status["state"] == "unreachable"
    assert [(t["round"], t["outcome"], t["failed_paths"]) for t in status["tests"]] == [
        ("r1", "ok", []), ("r2", "degraded", ["sfu"]), ("r3", "unreachable", ["sfu", "direct"])]
    assert status["tests"][1]["reason"] == "path sfu: sfu broke"
    assert status["uptime"]["24h"] == {"tests": 3, "up": 2, "ratio": round(2 / 3, 4)}
    assert set(status["last_test"]["paths"]) == {"sfu", "direct"}
    assert all("ends" in p for p in status["last_test"]["paths"].values())
    assert all("ends" not in p for p in status["tests"][0]["paths"].values())


def test_never_tested(record: UptimeRecord) -> None:
    status = hotline_status("red", ("a", "b"), record.entries("red"), now_ms=0,
                            interval_s=60)
    assert status["state"] == "never_tested" and status["last_test"] is None
    assert status["uptime"]["24h"] == {"tests": 0, "up": 0, "ratio": None}


def _scheduler(record: UptimeRecord, now: list[float]) -> tuple[LinkTests, Alarms]:
    settings = Settings(linktest_interval=60, linktest_first_delay=10)
    alarms = Alarms(record, None, server="t", clock=lambda: now[0])
    tests = LinkTests(settings, record._store, StandbyRegistry(), record, alarms,
                      discard_room=lambda room: None, clock=lambda: now[0])
    tests._started = now[0]
    return tests, alarms


def test_a_missing_test_raises_an_alarm_within_interval_plus_grace(
        record: UptimeRecord, monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_000_000.0]
    tests, alarms = _scheduler(record, now)
    tests._last["red"] = (now[0], "a")  # tested once: the schedule runs
    monkeypatch.setattr(tests, "_busy", lambda name: True)  # the next test hangs
    now[0] += 60 + MISSING_GRACE - 1
    tests._tick()
    assert not [e for e in record.entries("red") if e.kind == "alarm"]
    now[0] += 2  # interval + grace = 120 s: within the 2 minutes
    tests._tick()
    tests._tick()  # once per gap
    alarms_seen = [e.fields for e in record.entries("red") if e.kind == "alarm"]
    assert alarms_seen == [{"reason": "missing", "outcome": None, "test_id": None}]
    assert alarms.is_open("red")


def test_a_new_hotline_waits_for_its_standbys_without_alarm_or_uptime(
        record: UptimeRecord) -> None:
    """Day one: a hotline made before its standbys are started is neither tested (no
    "no standby endpoint connected" alarm) nor counted in uptime, however long it waits."""
    now = [1_000_000.0]
    tests, _ = _scheduler(record, now)
    for _ in range(5):
        now[0] += 60 + MISSING_GRACE + 1
        tests._tick()  # would spawn a test (needs a loop) or raise "missing" if not waiting
    assert record.entries("red") == []
    status = hotline_status("red", ("a", "b"), record.entries("red"), now_ms=int(now[0] * 1000),
                            interval_s=60)
    assert status["state"] == "never_tested" and status["alarms_open"] == []
    assert status["uptime"]["24h"]["tests"] == 0
    assert tests._waited["red"] == now[0]  # a missing alarm counts from the wait's end


@pytest.mark.asyncio
async def test_webhook_retries_a_bounded_number_of_times(record: UptimeRecord) -> None:
    hits: list[dict[str, Any]] = []

    async def failing(request: web.Request) -> web.Response:
        hits.append(await request.json())
        return web.Response(status=503)

    app = web.Application()
    app.router.add_post("/hook", failing)
    runner, url = await listen(app)
    alarms = Alarms(record, f"{url}/hook", server="t", backoff=0.01)
    try:
        alarms.raise_alarm("red", "unreachable", outcome="unreachable", test_id="ab")
        for _ in range(200):
            if alarms.failed:
                break
            await asyncio.sleep(0.02)
    finally:
        await alarms.close()
        await runner.cleanup()
    assert len(hits) == ATTEMPTS and alarms.failed == 1 and alarms.delivered == 0
    assert hits[0]["event"] == "alarm" and hits[0]["hotline"] == "red"
    assert hits[0]["outcome"] == "unreachable" and hits[0]["test_id"] == "ab"
    assert [e.kind for e in record.entries("red")] == ["alarm"]


def test_settings_refuse_a_short_interval_and_a_bad_webhook() -> None:
    from hotline.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 60"):
        Settings(linktest_interval=30)
    with pytest.raises(ConfigError, match="http"):
        Settings(alarm_webhook="ftp://x")
