"""``hotline admin hotline ...`` and ``hotline log ...``: standing links and their record."""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hotline.cli.admin import DEFAULT_DATA, DataDir, opened_store
from hotline.cli.standby import figures_line
from hotline.client.trustpolicy import pin_command
from hotline.crypto.chainwatch import fields_of
from hotline.crypto.identity import fingerprint
from hotline.crypto.recordaudit import ENDPOINT_SIGNED, ONE_END, SERVER_ONLY, audit
from hotline.crypto.uptimelog import LogEntry
from hotline.errors import LogError
from hotline.server.hotline.outcomes import hotline_status
from hotline.server.hotline.uptime import UptimeRecord, node_identity
from hotline.server.store import SqliteStore

admin_app = typer.Typer(help="Hotlines: standing links between two parties.",
                        no_args_is_help=True)
log_app = typer.Typer(help="The uptime record of a hotline.", no_args_is_help=True)


@contextmanager
def opened_record(data: Path) -> Iterator[tuple[UptimeRecord, SqliteStore]]:
    """The store and this node's uptime record, with the error handling of
    :func:`hotline.cli.admin.opened_store`."""
    with opened_store(data) as store:
        yield UptimeRecord(store, node_identity(data)), store


MIN_INTERVAL = 60.0
Interval = Annotated[float | None, typer.Option(
    "--interval", help=f"Seconds between link tests of this hotline (at least "
    f"{MIN_INTERVAL:g}; default: the server's --linktest-interval).")]


def _check_interval(interval: float | None) -> None:
    if interval is not None and interval < MIN_INTERVAL:
        raise typer.BadParameter(f"--interval must be at least {MIN_INTERVAL:g} seconds")


@admin_app.command("add")
def add(name: str,
        between: Annotated[tuple[str, str], typer.Option("--between", help="The two parties.")],
        interval: Interval = None, data: DataDir = DEFAULT_DATA) -> None:
    """Create hotline NAME between two parties, pinning their enrolled device keys."""
    _check_interval(interval)
    with opened_record(data) as (record, store):
        hotline = store.add_hotline(name, *between)
        pins = {p: sorted(fingerprint(k) for k in keys) for p, keys in hotline.pins.items()}
        record.append(name, "created", {"parties": list(hotline.parties), "pins": pins})
        if interval is not None:
            store.set_hotline_interval(name, interval)
    typer.echo(f"hotline {name!r} between {between[0]!r} and {between[1]!r}; pinned:")
    for party, fps in pins.items():
        for fp in fps:
            typer.echo(f"  {party}: {fp}")
    _print_pin_commands(name, pins)


def _print_pin_commands(name: str, pins: dict[str, list[str]]) -> None:
    """Each endpoint checks the far party's keys itself: the command to run on each."""
    typer.echo("Each endpoint must pin the far party itself (the server's pins protect "
               "nothing against the server). Check these fingerprints out of band, then run:")
    parties = list(pins)
    for party in parties:
        far = next((p for p in parties if p != party), None)
        if far is None or not pins[far]:
            typer.echo(f"  on {party}'s endpoints: (no device of the far party to pin yet)")
            continue
        typer.echo(f"  on {party}'s endpoints:")
        typer.echo(f"    {pin_command(name, far, pins[far])}")


@admin_app.command("repin")
def repin(name: str, party: Annotated[str, typer.Option("--party")],
          data: DataDir = DEFAULT_DATA) -> None:
    """Pin PARTY's current devices instead of the old ones (logged)."""
    with opened_record(data) as (record, store):
        hotline = store.repin(name, party)
        fps = sorted(fingerprint(k) for k in hotline.pins[party])
        record.append(name, "repin", {"party": party, "pins": fps})
    typer.echo(f"hotline {name!r}: {party!r} now pinned to {', '.join(fps)}")
    far = next(p for p in hotline.parties if p != party)
    typer.echo(f"The endpoints of {far!r} must pin the new keys themselves (check them out of "
               "band first):")
    typer.echo(f"    {pin_command(name, party, fps)}")


@admin_app.command("set")
def set_options(name: str, interval: Interval = None,
                default_interval: Annotated[bool, typer.Option(
                    "--default-interval", help="Use the server's interval again.")] = False,
                data: DataDir = DEFAULT_DATA) -> None:
    """Change hotline NAME's link-test interval (the running server picks it up)."""
    _check_interval(interval)
    if (interval is None) == (not default_interval):
        raise typer.BadParameter("give --interval SECONDS or --default-interval")
    with opened_record(data) as (record, store):
        store.set_hotline_interval(name, interval)
        record.append(name, "settings", {"interval_s": interval})
    typer.echo(f"hotline {name!r}: link test every "
               f"{'server default' if interval is None else f'{interval:g} s'}")


@admin_app.command("list")
def list_hotlines(data: DataDir = DEFAULT_DATA) -> None:
    """List hotlines and their ends."""
    with opened_store(data) as store:
        for h in store.list_hotlines():
            typer.echo(f"{h.name}: {h.parties[0]} <-> {h.parties[1]}")


def _when(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat(
        timespec="seconds")


@log_app.command("show")
def show(name: str, data: DataDir = DEFAULT_DATA,
         since: Annotated[str | None, typer.Option(help="ISO date or time, UTC.")] = None,
         as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Print the uptime record of hotline NAME, with each entry's evidence: a link test
    both ends signed, one end, server-signed only, or FAILED (`hotline log verify NAME`
    says why)."""
    cutoff = 0
    if since is not None:
        try:
            moment = datetime.datetime.fromisoformat(since)
        except ValueError:
            raise typer.BadParameter(f"--since {since!r} is not an ISO date/time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        cutoff = int(moment.timestamp() * 1000)
    with opened_record(data) as (record, store):
        every = record.entries(name)
        found = audit(every, [record.node.public_key], _store_pins(store, name, every))
        evidence = {f.seq: f.status for f in found.findings}
        entries = [e for e in every if e.time_ms >= cutoff]
    if as_json:
        for e in entries:
            typer.echo(json.dumps({"seq": e.seq, "time": _when(e.time_ms), "kind": e.kind,
                                   **e.fields, "evidence": evidence.get(e.seq, "unchecked")}))
        return
    table = Table("seq", "time (UTC)", "kind", "evidence", "details",
                  title=f"uptime record: {name}")
    for e in entries:
        table.add_row(str(e.seq), _when(e.time_ms), e.kind, evidence.get(e.seq, "unchecked"),
                      json.dumps(e.fields))
    Console().print(table)


def _pins_file(path: Path) -> dict[str, set[str]]:
    """``{"PARTY": ["FINGERPRINT", ...], ...}`` (or the same under ``"pins"``)."""
    try:
        doc = json.loads(path.read_text())
        doc = doc.get("pins", doc) if isinstance(doc, dict) else None
        if not isinstance(doc, dict):
            raise ValueError("not a JSON object of party -> fingerprints")
        return {str(p): {str(fp) for fp in fps} for p, fps in doc.items()
                if isinstance(fps, list)}
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"--pins {path}: {exc}") from None


def _store_pins(store: SqliteStore, name: str, entries: list[LogEntry]) -> dict[str, set[str]]:
    """The store's pins now, and those the record says were pinned before (``created``
    and ``repin`` entries): older tests were signed by the keys pinned then."""
    hotline = store.get_hotline(name)
    pins: dict[str, set[str]] = {}
    for party, keys in (hotline.pins.items() if hotline is not None else ()):
        pins.setdefault(party, set()).update(fingerprint(k) for k in keys)
    for e in entries:
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            fields = fields_of(e)
            if e.kind == "created" and isinstance(fields.get("pins"), dict):
                for party, fps in fields["pins"].items():
                    pins.setdefault(str(party), set()).update(map(str, fps))
            elif e.kind == "repin" and isinstance(fields.get("pins"), list):
                pins.setdefault(str(fields.get("party")), set()).update(
                    map(str, fields["pins"]))
    return pins


@log_app.command("verify")
def verify(name: str, data: DataDir = DEFAULT_DATA,
           pins: Annotated[Path | None, typer.Option(
               "--pins", help="Check the endpoints' signatures against these pins (JSON: "
               "party -> fingerprints) instead of the store's.")] = None) -> None:
    """Check NAME's record: hash chain, the writer's signatures, and each link test's
    two endpoint reports against the pinned keys (docs/PROTOCOL.md); name every bad
    entry and why."""
    with opened_record(data) as (record, store):
        report = record.verify(name)
        entries = []
        for raw in store.log_entries(name):
            try:
                entries.append(LogEntry.decode(raw))
            except LogError:
                break  # record.verify names it
        pinned = _pins_file(pins) if pins is not None else _store_pins(store, name, entries)
        found = audit(entries[:report.entries], [record.node.public_key], pinned)
    bad = found.failed
    if report.ok and not bad:
        typer.echo(f"ok: {report.entries} entries, chain and signatures intact")
    elif report.ok:
        typer.echo(f"{report.entries} entries: the chain and the server's signatures are "
                   "intact, but the endpoints' evidence is not (below)")
    for f in found.findings:
        if f.kind == "linktest" and f.status == SERVER_ONLY:
            typer.echo(f"entry {f.seq} (linktest): server-signed only, not endpoint evidence")
    tests = sum(1 for f in found.findings if f.kind == "linktest")
    typer.echo(f"endpoint evidence (pins: {pins or 'the store'}): "
               f"{found.count(ENDPOINT_SIGNED)} of {tests} link tests signed by both ends, "
               f"{found.count(ONE_END)} by one end, "
               f"{found.count(SERVER_ONLY, 'linktest')} server-signed only")
    for f in bad:
        typer.echo(f"FAILED entry {f.seq} ({f.kind}): {'; '.join(f.reasons)}", err=True)
    if not report.ok:
        typer.echo(f"BROKEN at entry {report.first_bad}: {report.reason}", err=True)
    if bad or not report.ok:
        raise typer.Exit(code=1)


WAITING = "WAITING for its first standby"  # never tested: no test, alarm or uptime yet


def _pct(window: dict[str, object]) -> str:
    ratio = window.get("ratio")
    return f"{ratio * 100:.1f} % of {window['tests']}" if isinstance(ratio, float) else "-"


def status(data: DataDir = DEFAULT_DATA,
           as_json: Annotated[bool, typer.Option("--json")] = False,
           last: Annotated[int, typer.Option(help="Tests listed per hotline (--json).")] = 20,
           server_interval: Annotated[float, typer.Option(
               "--server-interval", help="The server's --linktest-interval, for hotlines "
               "without their own.")] = 3600.0) -> None:
    """Every hotline's state, last link test with its figures, and uptime over 24 h and
    30 days (share of tests that carried media both ways), from the data directory."""
    now_ms = int(datetime.datetime.now(datetime.UTC).timestamp() * 1000)
    docs = []
    with opened_record(data) as (record, store):
        for h in store.list_hotlines():
            interval = store.hotline_interval(h.name) or server_interval
            docs.append(hotline_status(h.name, h.parties, record.entries(h.name),
                                       now_ms=now_ms, interval_s=interval, last=last))
    if as_json:
        typer.echo(json.dumps({"hotlines": docs}))
        return
    table = Table("hotline", "parties", "state", "last test (UTC)", "figures", "24 h", "30 d",
                  "alarms", title="hotlines")
    for d in docs:
        t = d["last_test"]
        when = f"{_when(t['time_ms'])} {t['outcome']}" if t else "never tested"
        state = WAITING if d["state"] == "never_tested" else d["state"].upper()
        table.add_row(d["name"], " <-> ".join(d["parties"]), state, when,
                      figures_line(t) if t else "-", _pct(d["uptime"]["24h"]),
                      _pct(d["uptime"]["30d"]), str(len(d["alarms_open"])))
    Console().print(table)  # as wide as the terminal; rows wrap rather than overflow
