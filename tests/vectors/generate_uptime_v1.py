"""Make uptime-v1.json: signed link-test reports, uptime-record entries, and the
chain-following cases of a standby (docs/PROTOCOL.md "Signed link-test reports").

Everything comes from fixed seeds (Ed25519 signatures are deterministic), so every run
gives the same file. Python (tests/unit/crypto/test_uptime_vectors.py) and the browser
(tests/browser/test_web_uptime_vectors.py) check the same cases.

Run only on a deliberate protocol change:  .venv/bin/python tests/vectors/generate_uptime_v1.py
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

from hotline.crypto.chainwatch import KnownChain, Pending, follow
from hotline.crypto.identity import Identity
from hotline.crypto.linkreport import NO_KEY, Figures, LinkReport
from hotline.crypto.uptimelog import LogEntry, append

HOTLINE = "red"
OUT = Path(__file__).with_name("uptime-v1.json")


def seed(label: str) -> bytes:
    return hashlib.sha256(b"hotline test vector " + label.encode()).digest()


ALICE = Identity.from_seed(seed("alice identity"))
BOB = Identity.from_seed(seed("bob identity"))
NODE = Identity.from_seed(seed("server node"))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def figures_json(f: Figures) -> dict[str, Any]:
    return dataclasses.asdict(f)


def report_case(name: str, signer: Identity, **kw: Any) -> dict[str, Any]:
    report = LinkReport(signer_key=signer.public_key, signature=b"", **kw).signed_by(signer)
    return {"name": name, "seed": seed(f"{'alice' if signer is ALICE else 'bob'} identity").hex(),
            "hotline": report.hotline, "test_id": report.test_id, "role": report.role,
            "path": report.path,
            "far_key": report.far_key.hex(), "head_length": report.head_length,
            "head_hash": report.head_hash.hex(), "group_code": report.group_code,
            "figures": figures_json(report.figures), "report": report.encode().hex(),
            "digest": report.digest.hex()}


def invalid_reports(good: bytes) -> list[dict[str, str]]:
    fields_end = len(good) - 64
    out = [{"why": "trailing byte", "hex": (good + b"\x00").hex()},
           {"why": "truncated", "hex": good[:-1].hex()}]
    # offsets in the first report (hotline "red", test id of 16 characters)
    role_at = 1 + 3 + 1 + 16
    bad = bytearray(good)
    bad[role_at] = 3
    out.append({"why": "role 3", "hex": bytes(bad).hex()})
    bad = bytearray(good)
    bad[role_at + 1] = 4
    out.append({"why": "path 4", "hex": bytes(bad).hex()})
    joined_at = role_at + 2 + 32 + 32 + 8 + 32 + 1 + 12  # code "123456789012"
    bad = bytearray(good)
    bad[joined_at] = 2
    out.append({"why": "boolean 2", "hex": bytes(bad).hex()})
    bad = bytearray(good)
    bad[joined_at + 1] = 2
    out.append({"why": "presence flag 2", "hex": bytes(bad).hex()})
    for why, value in (("NaN", float("nan")), ("infinity", float("inf")), ("-0", -0.0)):
        bad = bytearray(good)
        bad[joined_at + 2:joined_at + 10] = struct.pack(">d", value)
        out.append({"why": why, "hex": bytes(bad).hex()})
    assert fields_end > joined_at
    return out


def entry(prev: LogEntry | None, kind: str, data: dict[str, Any], t: int) -> LogEntry:
    return append(NODE, prev, kind=kind, hotline=HOTLINE, data=data, time_ms=t)


def test_entry(prev: LogEntry, test_id: str, reports: dict[str, LinkReport], t: int
               ) -> LogEntry:
    ends = {p: {**figures_json(r.figures), "group_code": r.group_code,
                "report": b64(r.encode())} for p, r in reports.items()}
    return entry(prev, "linktest", {"outcome": "ok", "test_id": test_id,
                                    "originator": "alice", "responder": "bob", "ends": ends}, t)


def signed(who: Identity, far: Identity, test_id: str, role: str, head: LogEntry | None,
           length: int, code: str = "123456789012", video: int = 40) -> LinkReport:
    return LinkReport(HOTLINE, test_id, role, who.public_key, far.public_key, length,
                      head.hash if head is not None else bytes(32), code,
                      Figures(True, 800.5, 900.25, video, 120, 0, 1.5, 0.0, 2.25, "")
                      ).signed_by(who)


def known(entries: list[LogEntry], pending: dict[str, Pending] | None = None) -> KnownChain:
    return KnownChain(len(entries), {e.seq: e.hash for e in entries}, dict(pending or {}))


def follow_case(name: str, k: KnownChain, start: int, entries: list[LogEntry],
                me: Identity) -> dict[str, Any]:
    before = k.to_json()
    problems = follow(k, HOTLINE, start, [e.encode() for e in entries], me.public_key)
    return {"name": name, "known": before, "start": start,
            "entries": [e.encode().hex() for e in entries], "me": me.public_key.hex(),
            "ok": not problems, "length_after": k.length}


def main() -> None:
    t1, t2 = "00112233445566aa", "00112233445566bb"
    reports = [
        report_case("originator, all figures", ALICE, hotline=HOTLINE, test_id=t1,
                    role="originator", far_key=BOB.public_key, head_length=3,
                    head_hash=seed("head"), group_code="123456789012",
                    figures=Figures(True, 812.3, 950.0, 61, 148, 1, 12.34, 0.0123, 1e-05, "")),
        report_case("responder, nothing measured", BOB, hotline="hot\u2013line \u260e", test_id=t2,
                    role="responder", path="direct", far_key=NO_KEY, head_length=0,
                    head_hash=bytes(32),
                    group_code="", figures=Figures(False, None, None, 0, 0, 0, None, None,
                                                   None, "échec: ☂ 200 ms")),
        report_case("minus zero is written as zero", ALICE, hotline=HOTLINE, test_id=t2,
                    role="responder", path="relay", far_key=BOB.public_key,
                    head_length=2**40,
                    head_hash=seed("other head"), group_code="000000000000",
                    figures=Figures(True, -0.0, 0.0, 2**31, 0, 0, 1e16, 1.0, 5.0, "x")),
    ]

    e0 = entry(None, "created", {"parties": ["alice", "bob"]}, 1000)
    a1 = signed(ALICE, BOB, t1, "originator", e0, 1)
    b1 = signed(BOB, ALICE, t1, "responder", e0, 1)
    e1 = test_entry(e0, t1, {"alice": a1, "bob": b1}, 2000)
    e2 = entry(e1, "alarm", {"reason": "missing"}, 3000)
    a2 = signed(ALICE, BOB, t2, "responder", e2, 3)
    b2 = signed(BOB, ALICE, t2, "originator", e2, 3)
    e3 = test_entry(e2, t2, {"alice": a2, "bob": b2}, 4000)
    chain = [e0, e1, e2, e3]

    e1_rewritten = entry(e0, "linktest", {**e1.fields, "outcome": "degraded"}, 2000)
    e2_fork = entry(e1, "alarm", {"reason": "another history"}, 3000)
    b2_fork = signed(BOB, ALICE, t2, "originator", e2_fork, 3)
    e3_fork_report = test_entry(e2, t2, {"alice": a2, "bob": b2_fork}, 4000)
    forged = dataclasses.replace(b2, signer_key=NODE.public_key).signed_by(NODE)
    e3_forged = test_entry(e2, t2, {"alice": a2, "bob": forged}, 4000)
    a2_changed = dataclasses.replace(a2, figures=dataclasses.replace(a2.figures, video_frames=9))
    e3_changed = test_entry(e2, t2, {"alice": a2_changed, "bob": b2}, 4000)
    pending = {t2: Pending(a2.digest, BOB.public_key, a2.group_code)}
    cases = [
        follow_case("first sight", KnownChain(), 0, chain, ALICE),
        follow_case("extends", known(chain[:2]), 2, chain[2:], ALICE),
        follow_case("own report in its entry", known(chain[:3], pending), 3, chain[3:], ALICE),
        follow_case("overlap unchanged", known(chain[:3]), 1, chain[1:], BOB),
        follow_case("entry rewritten and re-signed", known(chain[:2]), 1,
                    [e1_rewritten, *chain[2:]], ALICE),
        follow_case("entries removed", known(chain), 0, chain[:2], ALICE),
        follow_case("skipped entries", known(chain[:1]), 2, chain[2:], ALICE),
        follow_case("reordered", known(chain[:1]), 1, [e2, e1, e3], ALICE),
        follow_case("far end co-signed another history", known(chain[:3]), 3,
                    [e3_fork_report], ALICE),
        follow_case("far report forged by the server", known(chain[:3], pending), 3,
                    [e3_forged], ALICE),
        follow_case("own report changed", known(chain[:3], pending), 3, [e3_changed], ALICE),
    ]
    doc = {
        "reports": reports,
        "invalid_reports": invalid_reports(bytes.fromhex(reports[0]["report"])),
        "entries": [{"seq": e.seq, "entry": e.encode().hex(), "hash": e.hash.hex()}
                    for e in chain],
        "follow": cases,
    }
    OUT.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
