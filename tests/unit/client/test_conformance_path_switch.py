"""The path switching policy against protocol/conformance/path-switch.json (the page's
module runs the same file: web/test/node/path-switch.test.ts)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from hotline.client.pathswitch import LABELS, THRESHOLDS, PathPolicy

CONFORMANCE = json.loads((Path(__file__).parents[3] / "protocol" / "conformance"
                          / "path-switch.json").read_text())


def test_the_thresholds_are_the_conformance_file_s() -> None:
    assert dataclasses.asdict(THRESHOLDS) == CONFORMANCE["thresholds"]
    assert PathPolicy().thresholds == THRESHOLDS


def test_the_labels_are_the_shared_names() -> None:
    assert LABELS == {"sfu": "via SFU", "direct": "direct"}


def apply(policy: PathPolicy, step: dict[str, Any]) -> None:
    at, event = step["at"], step["event"]
    if event == "connection":
        policy.connection(step["path"], step["state"], at)
    elif event == "media":
        policy.media(step["path"], at)
    elif event == "switched":
        policy.switched(step["path"], at)
    else:
        assert event == "tick", f"unknown event {event}"


@pytest.mark.parametrize("timeline", CONFORMANCE["timelines"], ids=lambda t: t["name"])
def test_timeline(timeline: dict[str, Any]) -> None:
    policy = PathPolicy(prefer=timeline["prefer"])  # its own thresholds
    for i, step in enumerate(timeline["steps"]):
        apply(policy, step)
        decision = policy.decide(step["at"])
        got = None if decision is None else (decision.to, decision.reason)
        want = None if step.get("expect") is None else (step["expect"], step["reason"])
        assert got == want, f"step {i} ({step})"
        assert decision is None or decision.text
        if "active" in step:
            assert policy.active == step["active"], f"step {i} ({step})"


def test_the_detail_says_how_long_it_was_silent() -> None:
    policy = PathPolicy()
    policy.connection("direct", "connected", 0.0)
    policy.connection("sfu", "connected", 0.0)
    policy.media("direct", 1.0)
    decision = policy.decide(2.5)
    assert decision is not None and decision.text == "nothing from the far end direct for 1.5 s"
