"""Writes tests/vectors/trust-v1.json: conformance cases of the device trust store
(src/hotline/client/trust.py, web/src/crypto/truststore.ts).

Each case: a store (the file format), a presented (party, fingerprint[, hotline,
own_party]) and the verdict both implementations must give. The verdicts are written
here by hand (not computed), so the file checks the Python code as much as the TS code.

    .venv/bin/python tests/vectors/generate_trust_v1.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

A1 = "1111 2222 3333 4444 5555 6666 7777 8888"
A2 = "aaaa bbbb cccc dddd eeee ffff 0000 1111"
B1 = "0123 4567 89ab cdef 0123 4567 89ab cdef"
M1 = "dead beef dead beef dead beef dead beef"


def dev(state: str, source: str = "accepted") -> dict[str, str]:
    return {"state": state, "source": source, "since": "2026-12-07T10:00:00+00:00"}


STORE: dict[str, Any] = {
    "version": 1,
    "parties": {
        "alice": {"devices": {A1: dev("trusted"), A2: dev("refused", "refused")}},
        "moscow": {"devices": {B1: dev("trusted", "hotline pin red")}},
    },
    "hotlines": {"red": {"party": "moscow", "fingerprints": [B1], "since": ""}},
}
EMPTY: dict[str, Any] = {"version": 1, "parties": {}, "hotlines": {}}


def case(name: str, party: str, fp: str, verdict: str, *, store: dict[str, Any] = STORE,
         hotline: str | None = None, own_party: str = "") -> dict[str, Any]:
    presented: dict[str, Any] = {"party": party, "fingerprint": fp}
    if hotline is not None:
        presented["hotline"] = hotline
    if own_party:
        presented["own_party"] = own_party
    return {"name": name, "store": store, "presented": presented, "verdict": verdict}


CASES = [
    case("a trusted device", "alice", A1, "trusted"),
    case("fingerprint spacing and case do not matter", "alice", A1.replace(" ", "").upper(),
         "trusted"),
    case("a refused device stays refused", "alice", A2, "refused"),
    case("a new device of a known party", "alice", M1, "new_device"),
    case("a party never seen", "dave", M1, "new_party"),
    case("an empty store knows nobody", "alice", A1, "new_party", store=EMPTY),
    case("another device of our own party is a new device", "alice", M1, "new_device",
         store=EMPTY, own_party="alice"),
    case("a key trusted as alice, presented as dave: relabelled", "dave", A1, "changed"),
    case("a key trusted as alice, presented as a new device of moscow", "moscow", A1,
         "changed"),
    case("hotline: the pinned key of the pinned party", "moscow", B1, "trusted",
         hotline="red"),
    case("hotline: the server's own key as the far party", "moscow", M1, "changed",
         hotline="red"),
    case("hotline: a room-trusted device is not a pin", "alice", A1, "changed",
         hotline="red"),
    case("hotline: the pinned key under another party name", "washington", B1, "changed",
         hotline="red"),
    case("hotline: no pin imported", "moscow", B1, "unpinned", hotline="blue"),
    case("hotline: an empty store has no pin", "moscow", B1, "unpinned", store=EMPTY,
         hotline="red"),
]

INVALID_FINGERPRINTS = ["", "1111", "1111 2222 3333 4444 5555 6666 7777 888g",
                        A1 + " 9999", "x" * 32]


def main() -> None:
    out = Path(__file__).with_name("trust-v1.json")
    doc = {"description": "Device trust store conformance (issue #12 items 1-2): store + "
           "presented (party, fingerprint[, hotline, own_party]) -> verdict. Made by "
           "generate_trust_v1.py; verdicts written by hand.",
           "version": 1, "cases": CASES, "invalid_fingerprints": INVALID_FINGERPRINTS}
    out.write_text(json.dumps(doc, indent=1) + "\n")


if __name__ == "__main__":
    main()
