"""A standby's view of a hotline's uptime record: the head it knows, and the check that
what the server sends next extends it.

A standby keeps the record's length and the hashes of its last :data:`KEEP` entries, and
the digests of the reports it signed whose entries it has not seen yet. With every
``record_entries`` message (docs/SIGNALING.md) :func:`follow` checks that the server's
entries continue the chain it knew (same hashes where they overlap, linked by
``prev_hash``, nothing removed), that each report's co-signed head is in that chain
(otherwise its signer was shown another history: a fork), and that the entry of every
test it signed holds its report unchanged and the far end's valid report. Any problem is
an alarm: the view is not updated, and link tests fail until an operator looks.
PURE; web/src/crypto/chainwatch.ts is the twin.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hotline.crypto.linkreport import NO_KEY, LinkReport
from hotline.crypto.uptimelog import GENESIS, LogEntry
from hotline.errors import CryptoError, LogError

KEEP = 256  # entry hashes remembered


def b64d(text: object) -> bytes | None:
    if not isinstance(text, str):
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


def fields_of(entry: LogEntry) -> dict[str, Any]:
    """The entry's metadata object ({} if it is not a JSON object: untrusted input)."""
    try:
        fields = entry.fields
    except (ValueError, RecursionError):
        return {}
    return fields if isinstance(fields, dict) else {}


def entry_reports(entry: LogEntry) -> dict[str, bytes]:
    """party -> encoded report, for the ends of a ``linktest`` entry that hold one."""
    ends = fields_of(entry).get("ends")
    out: dict[str, bytes] = {}
    if isinstance(ends, dict):
        for party, end in ends.items():
            raw = b64d(end.get("report")) if isinstance(end, dict) else None
            if raw:
                out[str(party)] = raw
    return out


@dataclass
class Pending:
    """A report this endpoint signed whose entry it has not seen yet."""

    digest: bytes
    far_key: bytes
    group_code: str


@dataclass
class KnownChain:
    length: int = 0
    hashes: dict[int, bytes] = field(default_factory=dict)
    pending: dict[str, Pending] = field(default_factory=dict)  # test id -> report
    alarm: str = ""

    def head(self) -> tuple[int, bytes]:
        """(entries known, hash of the last of them): what a report co-signs."""
        if self.length == 0:
            return 0, GENESIS
        return self.length, self.hashes.get(self.length - 1, GENESIS)

    def to_json(self) -> dict[str, Any]:
        return {"length": self.length, "hashes": {str(k): v.hex() for k, v in self.hashes.items()},
                "pending": {t: {"digest": p.digest.hex(), "far_key": p.far_key.hex(),
                                "group_code": p.group_code} for t, p in self.pending.items()},
                "alarm": self.alarm}

    @classmethod
    def from_json(cls, doc: Any) -> KnownChain:
        """Raises ValueError, KeyError or TypeError for a document that is not one."""
        hashes = {int(k): bytes.fromhex(v) for k, v in dict(doc["hashes"]).items()}
        pending = {str(t): Pending(bytes.fromhex(p["digest"]), bytes.fromhex(p["far_key"]),
                                   str(p["group_code"])) for t, p in dict(doc["pending"]).items()}
        length = int(doc["length"])
        if length < 0 or any(len(h) != 32 for h in hashes.values()):
            raise ValueError("not a record head")
        return cls(length, hashes, pending, str(doc.get("alarm", "")))


def head_problem(report: LinkReport, hash_at: dict[int, bytes]) -> str | None:
    """Why ``report``'s co-signed head is not in the chain whose hashes are ``hash_at``
    (None: it is, or that part is not known)."""
    if report.head_length == 0:
        return None if report.head_hash == GENESIS else "co-signs an empty record with a hash"
    known = hash_at.get(report.head_length - 1)
    if known is not None and known != report.head_hash:
        return (f"co-signs a record whose entry {report.head_length - 1} differs from this "
                "one (it was shown another history: fork or rewrite)")
    return None


def follow(known: KnownChain, hotline: str, start: int, raw_entries: Sequence[bytes],
           me: bytes) -> list[str]:
    """Check the server's entries ``start``.. (the whole rest of its record) against
    ``known``; update ``known`` if nothing is wrong, else return the problems."""
    problems: list[str] = []
    entries: list[LogEntry] = []
    for i, raw in enumerate(raw_entries):
        try:
            entries.append(LogEntry.decode(raw))
        except (LogError, CryptoError):
            return [f"entry {start + i} cannot be parsed"]
    end = start + len(entries)
    if end < known.length:
        problems.append(f"the record now has {end} entries but this endpoint saw "
                        f"{known.length}: entries were removed (history rewritten)")
    if start > known.length:
        problems.append(f"the server skipped entries {known.length}..{start - 1}")
    hash_at = dict(known.hashes)
    prev = GENESIS if start == 0 else known.hashes.get(start - 1)
    for i, e in enumerate(entries):
        seq = start + i
        if e.seq != seq or e.hotline != hotline:
            problems.append(f"entry {seq} is numbered {e.seq} of hotline {e.hotline!r} "
                            "(reordered or misplaced)")
            break
        if prev is not None and e.prev_hash != prev:
            problems.append(f"entry {seq} does not link to entry {seq - 1} this endpoint "
                            "knows (history rewritten or forked)")
            break
        if seq in known.hashes and known.hashes[seq] != e.hash:
            problems.append(f"entry {seq} changed since this endpoint saw it "
                            "(history rewritten)")
            break
        prev = hash_at[seq] = e.hash
    if problems:
        return problems
    pending = dict(known.pending)
    for e in entries:
        if e.kind == "linktest":
            problems += _check_test(known, e, hash_at, me)
    if problems:
        known.pending = pending
        return problems
    known.length = max(known.length, end)
    known.hashes = {k: v for k, v in hash_at.items() if k >= known.length - KEEP}
    return []


def _check_test(known: KnownChain, e: LogEntry, hash_at: dict[int, bytes],
                me: bytes) -> list[str]:
    problems: list[str] = []
    test_id = str(fields_of(e).get("test_id", ""))
    reports: dict[str, LinkReport] = {}
    for party, raw in entry_reports(e).items():
        try:
            reports[party] = LinkReport.decode(raw)
        except CryptoError:
            problems.append(f"entry {e.seq}: the report of {party} cannot be parsed")
            continue
        head = head_problem(reports[party], hash_at)
        if head is not None:
            problems.append(f"entry {e.seq} (test {test_id}): the report of {party} {head}")
    mine = known.pending.get(test_id)
    if mine is None:
        return problems
    own = [r for r in reports.values() if r.signer_key == me]
    if not own or own[0].digest != mine.digest:
        problems.append(f"entry {e.seq} of test {test_id}, which this endpoint signed, does "
                        "not hold its report unchanged")
        return problems
    if str(fields_of(e).get("path", "sfu")) != own[0].path:
        problems.append(f"entry {e.seq} of test {test_id} files it under path "
                        f"{fields_of(e).get('path')!r}; this endpoint measured {own[0].path!r}")
    far = [r for r in reports.values() if r.signer_key != me]
    if mine.far_key != NO_KEY:
        if not far:
            problems.append(f"entry {e.seq} of test {test_id} holds no report of the far end")
        elif far[0].signer_key != mine.far_key or not far[0].valid() or \
                far[0].test_id != test_id or far[0].path != own[0].path or \
                far[0].far_key not in (me, NO_KEY):  # NO_KEY: the far end saw nobody
            problems.append(f"entry {e.seq} of test {test_id}: the far end's report is not "
                            "signed by the key this endpoint saw in the call (forged)")
        elif far[0].group_code != mine.group_code:
            problems.append(f"entry {e.seq} of test {test_id}: the far end saw group code "
                            f"{far[0].group_code or '-'}, this endpoint {mine.group_code or '-'}")
    if not problems:
        del known.pending[test_id]
    return problems


def missing_reports(known: KnownChain) -> list[str]:
    """At a new test, every earlier test's entry must have come (tests of a hotline run
    one after another, and each entry is written before the next test starts)."""
    return [f"the entry of test {t}, which this endpoint signed, is missing from the record "
            "(hidden by the server, or the server stopped during that test)"
            for t in sorted(known.pending)]
