"""``hotline log verify``: the uptime record checked against the hotline's pins.

Beyond the hash chain and the writer's signatures (:func:`~hotline.crypto.uptimelog.
verify_chain`, which a server holding its own key can always re-make), each link-test
entry is checked against the two endpoints' signed reports
(:mod:`hotline.crypto.linkreport`):

* each report verifies and is signed by a key pinned for its party, for this hotline,
  test id, role and path; each end saw the other's key as the far end;
* the figures the entry states are the ones the end signed;
* the record head a report co-signs is in this chain (else the history was rewritten,
  reordered, cut or forked after it was signed);
* an ``ok``/``degraded`` outcome is backed by both reports: joined, frames decrypted both
  ways, and the same non-empty group code on both sides.

Entries without reports are "server-signed only": the server's word, not evidence; once
an entry with endpoint reports appeared, an ``ok`` without them fails. PURE.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hotline.crypto.chainwatch import entry_reports, fields_of, head_problem
from hotline.crypto.identity import fingerprint
from hotline.crypto.linkreport import NO_KEY, LinkReport, figures_from, same_figures
from hotline.crypto.uptimelog import ChainReport, LogEntry, verify_chain
from hotline.errors import CryptoError

UP = frozenset({"ok", "degraded"})
ENDPOINT_SIGNED, ONE_END, SERVER_ONLY, FAILED = (
    "endpoint-signed", "one end signed", "server-signed only", "FAILED")


@dataclass
class Finding:
    seq: int
    kind: str
    status: str
    reasons: list[str] = field(default_factory=list)


@dataclass
class Audit:
    chain: ChainReport
    findings: list[Finding]

    @property
    def failed(self) -> list[Finding]:
        return [f for f in self.findings if f.status == FAILED]

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.failed

    def count(self, status: str, kind: str | None = None) -> int:
        return sum(1 for f in self.findings if f.status == status and kind in (None, f.kind))


def audit(entries: Sequence[LogEntry], writers: Iterable[bytes],
          pins: Mapping[str, Iterable[str]]) -> Audit:
    """Check ``entries`` (in stored order); ``pins``: party -> pinned fingerprints."""
    chain = verify_chain(entries, writers)
    upto = len(entries) if chain.ok else (chain.first_bad or 0)
    hash_at = {i: e.hash for i, e in enumerate(entries[:upto])}
    pinned = {p: set(fps) for p, fps in pins.items()}
    findings: list[Finding] = []
    signed_seen = False
    for e in entries[:upto]:
        if e.kind != "linktest":
            findings.append(Finding(e.seq, e.kind, SERVER_ONLY))
            continue
        finding = _linktest(e, hash_at, pinned, signed_seen)
        signed_seen = signed_seen or finding.status in (ENDPOINT_SIGNED, ONE_END)
        findings.append(finding)
    return Audit(chain, findings)


def _linktest(e: LogEntry, hash_at: dict[int, bytes], pins: dict[str, set[str]],
              signed_seen: bool) -> Finding:
    data = fields_of(e)
    outcome = str(data.get("outcome", ""))
    test_id = str(data.get("test_id", ""))
    roles = {str(data.get("originator", "")): "originator",
             str(data.get("responder", "")): "responder"}
    ends = data.get("ends")
    ends = ends if isinstance(ends, dict) else {}
    raw = entry_reports(e)
    finding = Finding(e.seq, e.kind, SERVER_ONLY)
    bad = finding.reasons
    if not raw:
        if signed_seen and outcome in UP:
            bad.append(f"claims {outcome!r} without the endpoints' signed reports (earlier "
                       "tests carry them)")
            finding.status = FAILED
        return finding
    reports: dict[str, LinkReport] = {}
    for party, blob in raw.items():
        try:
            r = LinkReport.decode(blob)
        except CryptoError:
            bad.append(f"the report of {party} cannot be parsed")
            continue
        fp = fingerprint(r.signer_key)
        if not r.valid():
            bad.append(f"the report of {party} has a signature that does not verify")
        elif fp not in pins.get(party, set()):
            bad.append(f"the report of {party} is signed by {fp}, which is not pinned for "
                       f"{party} (pinned: {', '.join(sorted(pins.get(party, set()))) or 'none'})")
        if r.hotline != e.hotline or r.test_id != test_id or roles.get(party) != r.role \
                or r.path != str(data.get("path", "sfu")):
            bad.append(f"the report of {party} is for hotline {r.hotline!r}, test "
                       f"{r.test_id}, role {r.role}, path {r.path}: not this entry's")
        stated = ends.get(party)
        if not isinstance(stated, dict) or not same_figures(figures_from(stated), r.figures):
            bad.append(f"the figures the entry states for {party} are not the ones it signed")
        if r.head_length > e.seq:
            bad.append(f"the report of {party} co-signs {r.head_length} entries, more than "
                       "precede it (reordered)")
        else:
            problem = head_problem(r, hash_at)
            if problem is not None:
                bad.append(f"the report of {party} {problem}")
        reports[party] = r
    if len(reports) == 2:
        (pa, a), (pb, b) = reports.items()
        for (p, x), y in (((pa, a), b), ((pb, b), a)):
            # an end that saw no far end (NO_KEY: it refused the far end's key, or the test
            # failed before it came) names nobody; a test that carried media names both
            if x.far_key != y.signer_key and (x.far_key != NO_KEY or outcome in UP):
                bad.append(f"{p} saw {fingerprint(x.far_key)} as the far end, but the far "
                           f"end's report is signed by {fingerprint(y.signer_key)}")
    if outcome in UP:
        if len(reports) < 2:
            bad.append(f"claims {outcome!r} with the signed report of only "
                       f"{', '.join(reports) or 'no end'}")
        elif len({r.group_code for r in reports.values()}) != 1 or \
                any(not r.group_code for r in reports.values()):
            bad.append("claims the same group code, but the ends signed "
                       + " and ".join(f"{p}: {r.group_code or '-'}" for p, r in reports.items()))
        for p, r in reports.items():
            f = r.figures
            if not f.joined or min(f.video_frames, f.audio_frames) == 0:
                bad.append(f"claims {outcome!r}, but {p} signed joined={f.joined}, "
                           f"{f.video_frames} video and {f.audio_frames} audio frames")
    if bad:
        finding.status = FAILED
    else:
        finding.status = ENDPOINT_SIGNED if len(reports) == 2 else ONE_END
    return finding
