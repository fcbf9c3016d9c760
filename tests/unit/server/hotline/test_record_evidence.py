"""The pieces of the uptime-record evidence without a network: the standby's head file,
the server's check of an incoming signed report, and `audit` on hand-made records (each
way a server can lie about an entry)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.client.hotline.recordhead import RecordHeads, path_for
from hotline.crypto.chainwatch import KnownChain, Pending, follow
from hotline.crypto.identity import Identity, fingerprint
from hotline.crypto.linkreport import Figures, LinkReport
from hotline.crypto.recordaudit import ENDPOINT_SIGNED, FAILED, ONE_END, SERVER_ONLY, audit
from hotline.crypto.uptimelog import LogEntry, append
from hotline.errors import ProtocolError, ReportError
from hotline.server.hotline.linktests import LinkTests, PendingTest
from hotline.server.hotline.standby import Registered
from hotline.signaling import messages as m

ALICE, BOB, NODE = Identity.generate(), Identity.generate(), Identity.generate()
PINS = {"alice": {fingerprint(ALICE.public_key)}, "bob": {fingerprint(BOB.public_key)}}
GOOD = Figures(True, 100.0, 200.0, 50, 150, 0, 3.5, 0.0, 1.0, "")


def test_head_file_is_0600_and_round_trips(tmp_path: Path) -> None:
    path = path_for(tmp_path / "alice.key")
    assert path.name == "alice.key.record.json"
    heads = RecordHeads(path)
    k = heads.of("red")
    k.length, k.hashes = 3, {2: b"\x07" * 32}
    k.pending["00112233445566aa"] = Pending(b"\x01" * 32, b"\x02" * 32, "123")
    heads.save()
    assert path.stat().st_mode & 0o777 == 0o600
    again = RecordHeads(path).of("red")
    assert again.to_json() == k.to_json()
    path.write_text("{not json")
    with pytest.raises(ValueError, match="cannot read the record heads"):
        RecordHeads(path)
    path.write_text(json.dumps({"red": {"length": -1, "hashes": {}, "pending": {}}}))
    with pytest.raises(ValueError):
        RecordHeads(path)


def _report(who: Identity, far: Identity, role: str, head: tuple[int, bytes],
            code: str = "111122223333", figures: Figures = GOOD, test_id: str = "00" * 8
            ) -> LinkReport:
    return LinkReport("red", test_id, role, who.public_key, far.public_key, head[0], head[1],
                      code, figures).signed_by(who)


def _test_entry(prev: LogEntry | None, reports: dict[str, LinkReport], outcome: str = "ok",
                stated: dict[str, Figures] | None = None, test_id: str = "00" * 8) -> LogEntry:
    ends = {p: {**dataclasses.asdict((stated or {}).get(p, r.figures)),
                "report": m.b64encode(r.encode())} for p, r in reports.items()}
    return append(NODE, prev, kind="linktest", hotline="red", time_ms=1, data={
        "outcome": outcome, "test_id": test_id, "originator": "alice", "responder": "bob",
        "ends": ends})


def _head(entries: list[LogEntry]) -> tuple[int, bytes]:
    return len(entries), entries[-1].hash


def _chain(**kw: object) -> list[LogEntry]:
    first = append(NODE, None, kind="created", hotline="red", data={}, time_ms=0)
    head = _head([first])
    reports = {"alice": _report(ALICE, BOB, "originator", head),
               "bob": _report(BOB, ALICE, "responder", head)}
    reports.update(kw.pop("reports", {}))  # type: ignore[arg-type]
    return [first, _test_entry(first, reports, **kw)]  # type: ignore[arg-type]


def _status(entries: list[LogEntry], pins: dict[str, set[str]] = PINS) -> tuple[str, str]:
    found = audit(entries, [NODE.public_key], pins)
    return found.findings[-1].status, "; ".join(found.findings[-1].reasons)


def test_audit_accepts_an_honest_test_and_names_each_lie() -> None:
    assert _status(_chain()) == (ENDPOINT_SIGNED, "")
    status, why = _status(_chain(), {"alice": {"0000"}, "bob": PINS["bob"]})
    assert status == FAILED and "not pinned for alice" in why
    head = _head(_chain()[:1])
    forged = _report(NODE, ALICE, "responder", head)
    assert "not pinned for bob" in _status(_chain(reports={"bob": forged}))[1]
    mitm = _report(ALICE, NODE, "originator", head)  # alice met someone else in the call
    assert "saw" in _status(_chain(reports={"alice": mitm}))[1]
    other_code = _report(BOB, ALICE, "responder", head, code="999999999999")
    assert "group code" in _status(_chain(reports={"bob": other_code}))[1]
    assert _status(_chain(reports={"bob": other_code}, outcome="responder_failed"))[0] == \
        ENDPOINT_SIGNED  # a failed test with unequal codes is honest
    better = dataclasses.replace(GOOD, rtt_ms=0.5)
    assert "not the ones it signed" in _status(_chain(stated={"bob": better}))[1]
    wrong_test = _report(BOB, ALICE, "responder", head, test_id="11" * 8)
    assert "not this entry's" in _status(_chain(reports={"bob": wrong_test}))[1]
    wrong_role = _report(BOB, ALICE, "originator", head)
    assert "not this entry's" in _status(_chain(reports={"bob": wrong_role}))[1]
    fork = _report(BOB, ALICE, "responder", (1, b"\x05" * 32))
    assert "another history" in _status(_chain(reports={"bob": fork}))[1]
    nothing = dataclasses.replace(GOOD, video_frames=0)
    blind = _report(BOB, ALICE, "responder", head, figures=nothing)
    assert "0 video" in _status(_chain(reports={"bob": blind}))[1]
    tampered = dataclasses.replace(_report(BOB, ALICE, "responder", head),
                                   group_code="111122223334")
    assert "does not verify" in _status(_chain(reports={"bob": tampered}))[1]


def test_server_signed_only_and_one_end() -> None:
    first = append(NODE, None, kind="linktest", hotline="red", time_ms=0,
                   data={"outcome": "ok", "test_id": "00" * 8})  # before this change
    assert _status([first]) == (SERVER_ONLY, "")
    chain = _chain()
    later = append(NODE, chain[-1], kind="linktest", hotline="red", time_ms=2,
                   data={"outcome": "ok", "test_id": "22" * 8})
    status, why = _status([*chain, later])
    assert status == FAILED and "without the endpoints' signed reports" in why
    head = _head(chain[:1])
    one = _test_entry(chain[0], {"alice": _report(ALICE, BOB, "originator", head)},
                      outcome="responder_failed")
    assert _status([chain[0], one])[0] == ONE_END
    one_ok = _test_entry(chain[0], {"alice": _report(ALICE, BOB, "originator", head)})
    assert "only alice" in _status([chain[0], one_ok])[1]
    junk = append(NODE, chain[0], kind="linktest", hotline="red", time_ms=2,
                  data={"outcome": "ok", "ends": {"bob": {"report": "AAAA"}}})
    assert "cannot be parsed" in _status([chain[0], junk])[1]


@dataclass
class _Conn:
    conn_id: str
    party: str
    identity_key: bytes
    device_id: int | None = 1
    sent: list[m.ServerMessage] = field(default_factory=list)

    def send(self, message: m.ServerMessage) -> None:
        self.sent.append(message)


def test_the_server_stores_only_the_ends_own_report_of_this_test() -> None:
    loop = asyncio.new_event_loop()
    try:
        a, b = _Conn("a", "alice", ALICE.public_key), _Conn("b", "bob", BOB.public_key)
        ends = {"alice": Registered(a, "red", "alice", "a #1"),
                "bob": Registered(b, "red", "bob", "b #1")}
        test = PendingTest("00" * 8, "red", "hotline:red:x", ends,
                           {p: loop.create_future() for p in ends})
        figures = m.LinkTestFigures(joined=True, video_frames=50, audio_frames=150,
                                    group_code="111122223333")
        ok = _report(BOB, ALICE, "responder", (0, bytes(32)), figures=Figures(
            joined=True, video_frames=50, audio_frames=150))
        LinkTests._check_signed(test, "bob", b, m.LinkTestReport(
            test_id=test.test_id, figures=figures, report=ok.encode()))
        bad = [
            ok.signed_by(ALICE),  # another end's key
            _report(BOB, ALICE, "originator", (0, bytes(32)), figures=ok.figures),
            _report(BOB, ALICE, "responder", (0, bytes(32)), figures=GOOD),  # other figures
            _report(BOB, ALICE, "responder", (0, bytes(32)), figures=ok.figures,
                    test_id="11" * 8),
        ]
        for report in bad:
            with pytest.raises(ProtocolError):
                LinkTests._check_signed(test, "bob", b, m.LinkTestReport(
                    test_id=test.test_id, figures=figures, report=report.encode()))
        with pytest.raises(ProtocolError):
            LinkTests._check_signed(test, "bob", b, m.LinkTestReport(
                test_id=test.test_id, figures=figures, report=b"\x00" * 40))
    finally:
        loop.close()


def test_known_chain_json_rejects_bad_hashes() -> None:
    with pytest.raises(ValueError):
        KnownChain.from_json({"length": 1, "hashes": {"0": "00"}, "pending": {}})


@given(st.binary(max_size=600))
@settings(max_examples=300, deadline=None)
def test_untrusted_report_bytes_never_crash(raw: bytes) -> None:
    with contextlib.suppress(ReportError):
        LinkReport.decode(raw)


@given(st.lists(st.binary(max_size=300), max_size=4), st.integers(0, 5),
       st.integers(0, 5))
@settings(max_examples=300, deadline=None)
def test_untrusted_record_entries_never_crash_a_standby(raws: list[bytes], start: int,
                                                         length: int) -> None:
    known = KnownChain(length, {length - 1: b"\x01" * 32} if length else {})
    follow(known, "red", start, raws, ALICE.public_key)


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=12))
@settings(max_examples=200, deadline=None)
def test_any_json_in_an_entry_never_crashes_follow_or_audit(data: object) -> None:
    entry = append(NODE, None, kind="linktest", hotline="red", time_ms=0, data={"x": 0})
    odd = LogEntry(entry.seq, entry.time_ms, entry.kind, entry.hotline,
                   json.dumps(data).encode(), entry.prev_hash, entry.writer_key, b"")
    signed = dataclasses.replace(odd, signature=NODE.sign(odd.body()))
    for doc in (data, {"outcome": "ok", "ends": data}, {"ends": {"bob": data}}):
        e = dataclasses.replace(signed, data=json.dumps(doc).encode())
        e = dataclasses.replace(e, signature=NODE.sign(e.body()))
        follow(KnownChain(), "red", 0, [e.encode()], ALICE.public_key)
        audit([e], [NODE.public_key], PINS)


def test_stated_figures_of_any_json_type_compare_without_crashing() -> None:
    from hotline.crypto.linkreport import figures_from, same_figures
    assert same_figures(figures_from({"rtt_ms": -0.0, "joined": True}),
                        Figures(joined=True, rtt_ms=0.0))
    assert same_figures(figures_from({"setup_ms": 100}), Figures(setup_ms=100.0))
    assert not same_figures(figures_from({"rtt_ms": 10**400}), Figures(rtt_ms=1.0))
    assert not same_figures(figures_from({"joined": 1}), Figures(joined=True))
    assert not same_figures(figures_from({"video_frames": True}), Figures(video_frames=1))


def test_a_signed_test_whose_entry_never_came_is_named() -> None:
    from hotline.crypto.chainwatch import missing_reports
    known = KnownChain()
    assert missing_reports(known) == []
    known.pending["00112233445566aa"] = Pending(b"\x01" * 32, b"\x02" * 32, "1")
    (why,) = missing_reports(known)
    assert "test 00112233445566aa" in why and "missing from the record" in why
