"""The listener's channel mix (hotline.client.interpretation) against
protocol/conformance/channel-mix.json (the page's module runs the same file:
web/test/node/channel-mix.test.ts)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from hotline.client.interpretation import Interpretation, floor_gain
from hotline.errors import UsageError

CONFORMANCE: dict[str, Any] = json.loads(
    (Path(__file__).parents[3] / "protocol" / "conformance" / "channel-mix.json").read_text())
TOLERANCE = CONFORMANCE["tolerance"]


@pytest.mark.parametrize("level", CONFORMANCE["levels"], ids=lambda c: str(c["floor_db"]))
def test_floor_levels(level: dict[str, Any]) -> None:
    assert math.isclose(floor_gain(level["floor_db"]), level["gain"], abs_tol=TOLERANCE)


@pytest.mark.parametrize("db", [*CONFORMANCE["refused_levels"], math.nan])
def test_a_floor_level_out_of_range_is_refused(db: float) -> None:
    with pytest.raises(UsageError):
        floor_gain(db)


@pytest.mark.parametrize("case", CONFORMANCE["cases"], ids=lambda c: c["name"])
def test_what_a_listener_hears(case: dict[str, Any]) -> None:
    mix = Interpretation(listen=case["listen"], floor_db=case["floor_db"])
    for pid, stream in enumerate(case["streams"]):
        mix.member_channel[pid] = stream["channel"]
        assert math.isclose(mix.gain(pid), stream["gain"], abs_tol=TOLERANCE), stream
