"""Frames bound to their stream (docs/PROTOCOL.md): the conformance cases of
tests/vectors/kid-binding.json, run by Python (hotline.crypto.kid.stream_kid_verdict) here
and by the browser's TypeScript (web/src/crypto/kid.ts streamKidVerdict) in
web/test/node/kid-binding.test.ts (`make web-test`): both give every case's verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.kid import (
    MAX_PARTICIPANT_ID,
    WRONG_PARTICIPANT,
    WRONG_SLOT,
    Slot,
    make_kid,
    stream_kid_verdict,
)

ROOT = Path(__file__).resolve().parents[3]
CASES_FILE = ROOT / "tests" / "vectors" / "kid-binding.json"


def _cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = json.loads(CASES_FILE.read_text())["cases"]
    return cases


def test_the_cases_cover_every_verdict() -> None:
    verdicts = [c["verdict"] for c in _cases()]
    assert {"accept", WRONG_PARTICIPANT, WRONG_SLOT} == set(verdicts)
    assert len(verdicts) >= 15


@pytest.mark.parametrize("case", _cases(), ids=lambda c: c["note"])
def test_python_verdicts(case: dict[str, Any]) -> None:
    got = stream_kid_verdict(int(case["kid"]), case["stream_participant"], case["stream_kind"])
    assert (got or "accept") == case["verdict"]


@given(st.integers(0, MAX_PARTICIPANT_ID), st.integers(0, 2**20), st.sampled_from(list(Slot)),
       st.integers(0, MAX_PARTICIPANT_ID), st.sampled_from(["audio", "video"]))
def test_only_the_streams_own_participant_and_slot_pass(
        sender: int, generation: int, slot: Slot, stream: int, kind: str) -> None:
    verdict = stream_kid_verdict(make_kid(sender, generation, slot), stream, kind)
    if sender != stream:
        assert verdict == WRONG_PARTICIPANT
    elif slot != (Slot.AUDIO if kind == "audio" else Slot.VIDEO):
        assert verdict == WRONG_SLOT
    else:
        assert verdict is None


def test_out_of_range_kid_is_refused() -> None:
    with pytest.raises(ValueError):
        stream_kid_verdict(-1, 0, "audio")
    with pytest.raises(ValueError):
        stream_kid_verdict(1 << 64, 0, "audio")
