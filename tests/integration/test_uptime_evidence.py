"""The uptime record is not only the server's word (issue #12 item 6): real standbys
(Python, real ICE/DTLS/SRTP and SFrame through the SFU, loopback-only namespace) sign
their link-test reports and co-sign the record head they know; then a malicious server
(the real server's store rewritten and re-signed with its own node key, or its link-test
code patched in this process) rewrites figures, deletes, reorders, forks the chain per
endpoint, or forges an endpoint's report. ``hotline log verify`` names the entry and
why; the standbys raise an alarm at the next sync and the next link test fails."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hotline.cli.main import app
from hotline.client.signaling import SignalingClient
from hotline.crypto.identity import Identity, fingerprint
from hotline.crypto.linkreport import LinkReport
from hotline.crypto.recordaudit import ENDPOINT_SIGNED, audit
from hotline.crypto.uptimelog import LogEntry
from hotline.server.hotline.standby import Registered
from hotline.server.hotline.uptime import node_identity
from hotline.signaling import messages as m
from tests.support.record_tamper import rechain, rewrite, rows

from .hotline_support import HOTLINE, RunningStandby, hotline_server, record, service, standby

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]
#: One path per round, so that each link test is one entry: the subject here is the
#: record's evidence (the rounds over several paths: test_hotline_paths.py).
ONE_PATH = {"linktest_paths": ("sfu",)}
runner = CliRunner()


async def linktest(url: str, identity: Identity) -> m.LinkTestResult:
    async with SignalingClient(url, identity) as client:
        await client.authenticate()
        client.send(m.LinkTestRequest(hotline=HOTLINE))
        reply = await asyncio.wait_for(client.hotline.get(), 60)
    assert isinstance(reply, m.LinkTestResult), reply
    return reply


def verify_cli(data: Path, *extra: str) -> tuple[int, str]:
    out = runner.invoke(app, ["log", "verify", HOTLINE, "--data", str(data), *extra])
    return out.exit_code, out.output


def entries(srv: Any, data: Path) -> list[LogEntry]:
    return record(srv, data).entries(HOTLINE)


def pins(srv: Any) -> dict[str, set[str]]:
    hotline = srv.store.get_hotline(HOTLINE)
    return {p: {fingerprint(k) for k in keys} for p, keys in hotline.pins.items()}


async def two_standbys(srv: Any, alice: Identity, bob: Identity, tmp: Path
                       ) -> tuple[RunningStandby, RunningStandby]:
    return (await standby(srv, alice, record_file=tmp / "alice.key.record.json"),
            await standby(srv, bob, record_file=tmp / "bob.key.record.json"))


def alarms(s: RunningStandby) -> list[str]:
    seen = list(s.seen)
    while not s.standby.events.empty():
        ev = s.standby.events.get_nowait()
        s.seen.append(ev)
        seen.append(ev)
    return [str(e.data["message"]) for e in seen if e.kind == "alarm"]


async def test_link_tests_carry_both_endpoints_signatures(tmp_path: Path) -> None:
    """A normal run: every test's entry holds both ends' valid reports, co-signing the
    head each knew; `hotline log verify` says so; each standby's head file is 0600 and
    at the record's end; other pins (--pins) fail every endpoint report."""
    data = tmp_path / "data"
    async with hotline_server(data, **ONE_PATH) as (srv, alice, bob):
        record(srv, data).append(HOTLINE, "created", {"parties": ["alice", "bob"]})
        a, b = await two_standbys(srv, alice, bob, tmp_path)
        try:
            results = [await linktest(srv.url, alice) for _ in range(2)]
            for s in (a, b):
                await s.next("linktest_result", timeout=30)
            await asyncio.sleep(0.5)
        finally:
            await a.stop()
            await b.stop()
        chain = entries(srv, data)
        pinned = pins(srv)
        found = audit(chain, [node_identity(data).public_key], pinned)
        heads = {n: json.loads((tmp_path / f"{n}.key.record.json").read_text())[HOTLINE]
                 for n in ("alice", "bob")}
        modes = {(tmp_path / f"{n}.key.record.json").stat().st_mode & 0o777
                 for n in ("alice", "bob")}
    assert [r.outcome for r in results] == ["ok", "ok"], [r.result for r in results]
    tests = [e for e in chain if e.kind == "linktest"]
    assert len(tests) == 2
    for e in tests:
        ends = e.fields["ends"]
        reports = {p: LinkReport.decode(m.b64decode(ends[p]["report"])) for p in ends}
        assert {p: fingerprint(r.signer_key) for p, r in reports.items()} == \
            {"alice": fingerprint(alice.public_key), "bob": fingerprint(bob.public_key)}
        assert all(r.valid() for r in reports.values())
        assert reports["alice"].far_key == bob.public_key
        assert reports["bob"].far_key == alice.public_key
        assert reports["alice"].group_code == reports["bob"].group_code != ""
        assert all(0 < r.head_length <= e.seq for r in reports.values())
    assert found.ok and found.count(ENDPOINT_SIGNED) == 2, found.findings
    assert modes == {0o600}
    assert heads["alice"]["length"] == heads["bob"]["length"] == len(chain)
    assert heads["alice"]["pending"] == {} and heads["alice"]["alarm"] == ""
    assert alarms(a) == [] and alarms(b) == []

    code, output = verify_cli(data)
    assert code == 0, output
    assert "2 of 2 link tests signed by both ends" in output
    shown = runner.invoke(app, ["log", "show", HOTLINE, "--data", str(data), "--json"])
    lines = [json.loads(line) for line in shown.stdout.splitlines()]
    assert [(x["kind"], x["evidence"]) for x in lines] == [
        ("created", "server-signed only"), ("linktest", "endpoint-signed"),
        ("linktest", "endpoint-signed")]
    other = tmp_path / "pins.json"
    other.write_text(json.dumps({"alice": [fingerprint(Identity.generate().public_key)],
                                 "bob": sorted(pinned["bob"])}))
    code, output = verify_cli(data, "--pins", str(other))
    assert code == 1 and output.count("not pinned for alice") == 2, output


def _figures_rewritten(view: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first = next(r for r in view if r["kind"] == "linktest")
    first["data"]["ends"]["bob"]["video_frames"] += 1000  # a better-looking figure
    first["data"]["rtt_ms"] = 1.0
    return view


def _first_test_deleted(view: list[dict[str, Any]]) -> list[dict[str, Any]]:
    first = next(i for i, r in enumerate(view) if r["kind"] == "linktest")
    return view[:first] + view[first + 1:]


def _reordered(view: list[dict[str, Any]]) -> list[dict[str, Any]]:
    i, j = [k for k, r in enumerate(view) if r["kind"] == "linktest"][:2]
    view[i], view[j] = view[j], view[i]
    return view


@pytest.mark.parametrize(("transform", "verify_says"), [
    (_figures_rewritten, "not the ones it signed"),
    (_first_test_deleted, "more than precede it"),
    (_reordered, "more than precede it"),
], ids=["figures rewritten", "entry deleted", "reordered"])
async def test_a_rewritten_record_is_found_by_verify_and_by_both_standbys(
        tmp_path: Path, transform: Any, verify_says: str) -> None:
    data = tmp_path / "data"
    async with hotline_server(data, **ONE_PATH) as (srv, alice, bob):
        record(srv, data).append(HOTLINE, "created", {"parties": ["alice", "bob"]})
        a, b = await two_standbys(srv, alice, bob, tmp_path)
        try:
            before = [await linktest(srv.url, alice) for _ in range(2)]
            await asyncio.sleep(0.5)
            assert alarms(a) == [] and alarms(b) == []
            # The attacker: rewrite, re-chain and re-sign everything with its node key.
            rewrite(srv.store, node_identity(data), HOTLINE, transform)
            assert record(srv, data).verify(HOTLINE).ok  # the server's own check passes
            code, output = verify_cli(data)
            after = await linktest(srv.url, alice)
            await asyncio.sleep(0.5)
        finally:
            await a.stop()
            await b.stop()
        # The alarm is kept beside the identity: a restarted standby raises it again.
        again = await standby(srv, alice, record_file=tmp_path / "alice.key.record.json")
        try:
            reraised = await again.next("alarm", timeout=10)
        finally:
            await again.stop()
    assert "rewritten or forked" in str(reraised.data["message"])
    assert [r.outcome for r in before] == ["ok", "ok"]
    assert code == 1 and "FAILED entry" in output and verify_says in output, output
    assert after.outcome == "unreachable"  # its one path failed
    assert after.result["paths"]["sfu"]["outcome"] == "responder_failed"  # type: ignore[index]
    assert "rewritten or forked" in str(after.result["reason"])
    for s in (a, b):
        found = alarms(s)
        assert found and "rewritten or forked" in found[0], found


async def test_a_chain_forked_per_endpoint_is_found(tmp_path: Path) -> None:
    """The server shows alice another version of an entry than bob (and than its store):
    each end co-signs its own view; verify names the fork, and each standby sees the
    other's report co-sign a history it never saw."""
    data = tmp_path / "data"
    async with hotline_server(data, **ONE_PATH) as (srv, alice, bob):
        uptime = record(srv, data)
        uptime.append(HOTLINE, "created", {"parties": ["alice", "bob"]})
        a, b = await two_standbys(srv, alice, bob, tmp_path)
        lt = service(srv).linktests
        honest_sync = lt.sync
        node = node_identity(data)
        shown_to_alice: list[int] = []

        def forked_sync(end: Registered) -> None:
            if end.party != "alice":
                honest_sync(end)
                return
            view = rows([LogEntry.decode(r) for r in srv.store.log_entries(HOTLINE)])
            if len(view) > 1:
                view[1]["data"] = {"interval_s": 60.0, "note": "alice's view"}
            chain = rechain(node, HOTLINE, view)
            start = min(lt._known.get(end.endpoint.conn_id, 0), len(chain))
            end.endpoint.send(m.RecordEntries(hotline=HOTLINE, start=start,
                                              entries=[e.encode() for e in chain[start:]]))
            lt._known[end.endpoint.conn_id] = len(chain)
            shown_to_alice.append(len(chain))

        lt.sync = forked_sync  # type: ignore[method-assign]
        try:
            uptime.append(HOTLINE, "settings", {"interval_s": 3600.0})  # entry 1
            first = await linktest(srv.url, alice)
            await asyncio.sleep(1.0)
        finally:
            await a.stop()
            await b.stop()
        code, output = verify_cli(data)
    assert first.outcome == "ok"  # the test itself ran; the fork is in the history
    assert shown_to_alice
    assert code == 1 and "FAILED entry 2" in output and "report of alice" in output, output
    assert "another history" in output
    assert any("another history" in x for x in alarms(b)), alarms(b)
    assert any("rewritten or forked" in x for x in alarms(a)), alarms(a)


async def test_a_report_forged_by_the_server_is_found(tmp_path: Path) -> None:
    """The server replaces bob's signed report by one it signs itself (claiming better
    figures): verify says the key is not pinned for bob; alice, who saw bob's real key
    in the call, calls it forged as soon as the entry reaches her."""
    data = tmp_path / "data"
    async with hotline_server(data, **ONE_PATH) as (srv, alice, bob):
        a, b = await two_standbys(srv, alice, bob, tmp_path)
        lt = service(srv).linktests
        honest_report = lt.report
        node = node_identity(data)
        forged_count = 0

        def forging_report(endpoint: Any, msg: m.LinkTestReport) -> None:
            nonlocal forged_count
            honest_report(endpoint, msg)
            if endpoint.party == "bob":
                test = lt._pending[msg.test_id]
                real = LinkReport.decode(test.signed["bob"])
                fake = dataclasses.replace(real, figures=dataclasses.replace(
                    real.figures, video_frames=real.figures.video_frames + 500))
                test.signed["bob"] = fake.signed_by(node).encode()
                forged_count += 1

        lt.report = forging_report  # type: ignore[method-assign]
        try:
            await linktest(srv.url, alice)
            await asyncio.sleep(1.0)
        finally:
            await a.stop()
            await b.stop()
        code, output = verify_cli(data)
    assert forged_count == 1
    assert code == 1 and "FAILED entry 0" in output, output
    assert f"signed by {fingerprint(node.public_key)}, which is not pinned for bob" in output
    assert any("forged" in x for x in alarms(a)), alarms(a)


async def test_a_test_the_server_leaves_out_of_the_record_is_found(tmp_path: Path) -> None:
    """The server runs a test but does not record it (e.g. to hide an outage): at the
    next test both ends say the entry of a test they signed is missing, and it fails."""
    data = tmp_path / "data"
    async with hotline_server(data, **ONE_PATH) as (srv, alice, bob):
        a, b = await two_standbys(srv, alice, bob, tmp_path)
        uptime = service(srv).linktests._record
        honest_append = uptime.append
        hidden: list[str] = []

        def hiding_append(hotline: str, kind: str, data: Any, time_ms: int | None = None
                          ) -> LogEntry:
            if kind == "linktest" and not hidden:
                hidden.append(str(data.get("test_id")))
                return LogEntry(0, 0, kind, hotline, b"{}", bytes(32), bytes(32), b"")
            return honest_append(hotline, kind, data, time_ms)

        uptime.append = hiding_append  # type: ignore[method-assign]
        try:
            first = await linktest(srv.url, alice)
            second = await linktest(srv.url, alice)
            await asyncio.sleep(0.5)
        finally:
            await a.stop()
            await b.stop()
        chain = entries(srv, data)
    assert first.outcome == "ok" and hidden == [first.result["paths"]["sfu"]["test_id"]]  # type: ignore[index]
    assert [e.fields.get("test_id") for e in chain if e.kind == "linktest"] == \
        [second.result["paths"]["sfu"]["test_id"]]  # type: ignore[index]
    assert second.outcome == "unreachable"  # its one path failed
    assert second.result["paths"]["sfu"]["outcome"] == "responder_failed"  # type: ignore[index]
    for s in (a, b):
        found = alarms(s)
        assert found and f"test {hidden[0]}" in found[0] and "missing" in found[0], found


def _paths_swapped(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The server files the direct test under "sfu" and the SFU test under "direct"."""
    swap = {"sfu": "direct", "direct": "sfu"}
    for r in rows:
        if r["kind"] == "linktest" and r["data"].get("path") in swap:
            r["data"]["path"] = swap[r["data"]["path"]]
    return rows


async def test_a_test_filed_under_another_path_is_found(tmp_path: Path) -> None:
    """A lying server relabels the paths of a round (the direct test shown as the SFU's):
    both ends signed the path they measured, so `hotline log verify` names the path, and
    both standbys find the rewritten history."""
    data = tmp_path / "data"
    async with hotline_server(data, linktest_paths=("sfu", "direct")) as (srv, alice, bob):
        a, b = await two_standbys(srv, alice, bob, tmp_path)
        try:
            before = await linktest(srv.url, alice)
            await asyncio.sleep(0.5)
            assert before.outcome == "ok" and alarms(a) == [] and alarms(b) == []
            rewrite(srv.store, node_identity(data), HOTLINE, _paths_swapped)
            assert record(srv, data).verify(HOTLINE).ok  # the server's own check passes
            code, output = verify_cli(data)
            await linktest(srv.url, alice)
            await asyncio.sleep(0.5)
        finally:
            await a.stop()
            await b.stop()
    assert code == 1 and "FAILED entry" in output and "path direct" in output, output
    for s in (a, b):
        found = alarms(s)
        # each already held the honest entries: the relabelled ones do not link to them
        assert found and "rewritten or forked" in found[0], found
