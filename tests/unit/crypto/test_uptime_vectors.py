"""tests/vectors/uptime-v1.json in Python: the signed link-test report's exact bytes, its
strict decoding, record-entry hashes, and a standby's chain following (the browser runs
the same file: tests/browser/test_web_uptime_vectors.py)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest

from hotline.crypto.chainwatch import KnownChain, follow
from hotline.crypto.identity import Identity
from hotline.crypto.linkreport import Figures, LinkReport
from hotline.crypto.uptimelog import LogEntry
from hotline.errors import ReportError

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "uptime-v1.json").read_text())


@pytest.mark.parametrize("case", VECTORS["reports"], ids=lambda c: c["name"])
def test_report_bytes(case: dict[str, Any]) -> None:
    signer = Identity.from_seed(bytes.fromhex(case["seed"]))
    report = LinkReport(case["hotline"], case["test_id"], case["role"], signer.public_key,
                        bytes.fromhex(case["far_key"]), case["head_length"],
                        bytes.fromhex(case["head_hash"]), case["group_code"],
                        Figures(**case["figures"]), path=case["path"]).signed_by(signer)
    assert report.encode().hex() == case["report"]
    assert report.digest.hex() == case["digest"]
    decoded = LinkReport.decode(bytes.fromhex(case["report"]))
    assert decoded.valid() and decoded.encode() == report.encode()
    assert decoded.signer_key == signer.public_key


@pytest.mark.parametrize("case", VECTORS["invalid_reports"], ids=lambda c: c["why"])
def test_invalid_reports_are_refused(case: dict[str, str]) -> None:
    with pytest.raises(ReportError):
        LinkReport.decode(bytes.fromhex(case["hex"]))


def test_any_changed_byte_breaks_the_signature_or_the_decoding() -> None:
    raw = bytes.fromhex(VECTORS["reports"][0]["report"])
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x04
        with contextlib.suppress(ReportError):
            assert not LinkReport.decode(bytes(bad)).valid(), i


def test_entry_hashes() -> None:
    for case in VECTORS["entries"]:
        e = LogEntry.decode(bytes.fromhex(case["entry"]))
        assert (e.seq, e.hash.hex()) == (case["seq"], case["hash"])


@pytest.mark.parametrize("case", VECTORS["follow"], ids=lambda c: c["name"])
def test_follow(case: dict[str, Any]) -> None:
    known = KnownChain.from_json(case["known"])
    problems = follow(known, "red", case["start"], [bytes.fromhex(e) for e in case["entries"]],
                      bytes.fromhex(case["me"]))
    assert (not problems) == case["ok"], problems
    assert known.length == case["length_after"]
    if not case["ok"]:
        assert known.to_json() == case["known"]  # nothing taken over from a bad history
