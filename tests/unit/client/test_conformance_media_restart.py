"""The media-restart policy against protocol/conformance/media-restart.json (the page's
module runs the same file: web/test/node/media-restart.test.ts)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from hotline.client.mediarestart import THRESHOLDS, MediaRestartPolicy

CONFORMANCE = json.loads((Path(__file__).parents[3] / "protocol" / "conformance"
                          / "media-restart.json").read_text())


def test_the_thresholds_are_the_conformance_file_s() -> None:
    assert dataclasses.asdict(THRESHOLDS) == CONFORMANCE["thresholds"]
    assert MediaRestartPolicy().thresholds == THRESHOLDS


def apply(policy: MediaRestartPolicy, step: dict[str, Any]) -> None:
    at, event = step["at"], step["event"]
    if event == "start":
        policy.start(at)
    elif event == "connection":
        policy.connection(step["connection"], step["state"], at)
    elif event == "media":
        policy.media(step["connection"], at)
    elif event == "address_change":
        policy.address_change()
    elif event == "restart":
        policy.restart(at)
    elif event == "restart_sent":
        policy.restart_sent(at)
    elif event == "restarted":
        assert policy.restarted(at) is step["last"]
    else:
        assert event == "tick", f"unknown event {event}"


@pytest.mark.parametrize("timeline", CONFORMANCE["timelines"], ids=lambda t: t["name"])
def test_timeline(timeline: dict[str, Any]) -> None:
    policy = MediaRestartPolicy()  # its own thresholds: a changed one fails here too
    for i, step in enumerate(timeline["steps"]):
        apply(policy, step)
        decision = policy.decide(step["at"])
        got = None if decision is None else decision.reason
        assert got == step.get("expect"), f"step {i} ({step})"
        assert decision is None or decision.text


def test_the_detail_says_how_long_it_was_silent() -> None:
    policy = MediaRestartPolicy()
    policy.start(0.0)
    policy.connection("publish", "new", 0.0)
    policy.connection("publish", "connected", 1.0)
    policy.media("publish", 2.0)
    policy.media("publish", 1.5)  # an older time changes nothing
    decision = policy.decide(5.5)
    assert decision is not None and decision.text == "nothing received for 3.5 s"
