"""The uptime record: any altered, removed, inserted or reordered entry is found."""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.identity import Identity
from hotline.crypto.uptimelog import LogEntry, append, canonical_json, verify_chain
from hotline.errors import LogError

NODE_A, NODE_B, ROGUE = Identity.generate(), Identity.generate(), Identity.generate()
TRUSTED = [NODE_A.public_key, NODE_B.public_key]


def chain(n: int = 6) -> list[LogEntry]:
    out: list[LogEntry] = []
    for i in range(n):
        writer = NODE_A if i % 2 == 0 else NODE_B  # the two sides alternate
        out.append(append(writer, out[-1] if out else None, kind="link_test",
                          hotline="washington-moscow",
                          data={"outcome": "ok", "rtt_ms": 40 + i, "path": "sfu"},
                          time_ms=1_700_000_000_000 + 3_600_000 * i))
    return out


def test_a_good_chain_verifies() -> None:
    entries = chain()
    report = verify_chain(entries, TRUSTED)
    assert report.ok and report.entries == 6
    assert [LogEntry.decode(e.encode()) for e in entries] == entries
    assert entries[2].fields == {"outcome": "ok", "path": "sfu", "rtt_ms": 42}


def test_altered_entry() -> None:
    entries = chain()
    entries[3] = replace(entries[3], data=canonical_json({"outcome": "ok", "rtt_ms": 1}))
    report = verify_chain(entries, TRUSTED)
    assert report.first_bad == 3 and "signature" in report.reason


def test_altered_and_resigned_entry_breaks_the_next_link() -> None:
    entries = chain()
    forged = replace(entries[3], data=canonical_json({"outcome": "failed"}))
    entries[3] = replace(forged, signature=NODE_B.sign(forged.body()))
    report = verify_chain(entries, TRUSTED)
    assert report.first_bad == 4 and "link" in report.reason


def test_removed_inserted_reordered() -> None:
    entries = chain()
    assert verify_chain(entries[:2] + entries[3:], TRUSTED).first_bad == 2
    assert verify_chain([entries[1], entries[0], *entries[2:]], TRUSTED).first_bad == 0
    extra = append(NODE_A, entries[2], kind="link_test", hotline="x", data={}, time_ms=1)
    assert verify_chain([*entries[:3], extra, *entries[3:]], TRUSTED).first_bad == 4


def test_untrusted_writer() -> None:
    entries = chain(3)
    rogue = append(ROGUE, entries[-1], kind="call", hotline="x", data={}, time_ms=5)
    report = verify_chain([*entries, rogue], TRUSTED)
    assert report.first_bad == 3 and "trusted" in report.reason


def test_truncated_tail_is_not_detectable_by_the_chain_alone() -> None:
    """Documented limit: dropping the newest entries leaves a valid shorter chain; the
    other side's copy and the test schedule (a missing test raises an alarm) catch it."""
    assert verify_chain(chain()[:4], TRUSTED).ok


@given(st.binary(max_size=300))
def test_decode_of_junk(junk: bytes) -> None:
    with contextlib.suppress(LogError):
        LogEntry.decode(junk)


def test_canonical_json() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})
