"""The key-schedule conformance traces of protocol/conformance/keyschedule/*.json against
the Python key schedule (web/test/node/keyschedule.test.ts runs the same files against the
TypeScript one). Every step's outcome must be the one the file expects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.keyschedule_conformance import CONFORMANCE, Parties, TraceRunner

FILES = sorted(CONFORMANCE.glob("*.json"))
DOCS = {path.stem: json.loads(path.read_text()) for path in FILES}
TRACES = [(stem, t) for stem, doc in DOCS.items() for t in doc["traces"]]


def test_every_file_is_described_and_versioned() -> None:
    assert {p.stem for p in FILES} >= {"code-round", "key-messages", "roster", "timers", "trust"}
    for doc in DOCS.values():
        assert doc["description"] and doc["version"] == 1
        assert doc["traces"]


@pytest.mark.parametrize("doc", DOCS.values(), ids=DOCS.keys())
def test_parties_match_their_seeds(doc: dict[str, Any]) -> None:
    parties = Parties(doc)
    for name, ident in doc["identities"].items():
        assert parties.ids[name].public_key.hex() == ident["public_key"]
        assert parties.calls[name].public.key.hex() == doc["call_keys"][name]["public_key"]


@pytest.mark.parametrize(("stem", "trace"), TRACES, ids=[f"{s}: {t['name']}" for s, t in TRACES])
def test_trace(stem: str, trace: dict[str, Any]) -> None:
    runner = TraceRunner(DOCS[stem], trace)
    for i, step in enumerate(trace["steps"]):
        assert runner.step(step["event"]) == step["expect"], f"{Path(stem).name} step {i}"
