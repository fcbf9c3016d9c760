"""Frames bound to their stream (docs/PROTOCOL.md): the conformance cases of
tests/vectors/kid-binding.json, run by Python (hotline.crypto.kid.stream_kid_verdict) and
by the browser's TypeScript (web/src/crypto/kid.ts streamKidVerdict, bundled by
``make web`` and run in Node): both give every case's verdict, and the same."""

from __future__ import annotations

import json
import shutil
import subprocess
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

ROOT = Path(__file__).resolve().parents[2]
CASES_FILE = ROOT / "tests" / "vectors" / "kid-binding.json"
NODE_BUNDLE = ROOT / "web" / "dist" / "test" / "kid-binding.node.mjs"


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


def test_typescript_verdicts_in_node() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: run `make setup` (scripts/setup-system.sh installs it)")
    if not NODE_BUNDLE.exists():
        pytest.fail(f"{NODE_BUNDLE.relative_to(ROOT)} is missing: run `make web`")
    sources = [ROOT / "web" / "src" / "crypto" / "kid.ts",
               ROOT / "web" / "test" / "kid-binding.node.ts"]
    if any(s.stat().st_mtime > NODE_BUNDLE.stat().st_mtime for s in sources):
        pytest.fail(f"{NODE_BUNDLE.relative_to(ROOT)} is older than its sources: run `make web`")
    out = subprocess.run([node, str(NODE_BUNDLE), str(CASES_FILE)], capture_output=True,
                         text=True, check=True, timeout=60)
    verdicts = json.loads(out.stdout)
    assert verdicts == [c["verdict"] for c in _cases()]


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
