"""``hotline admin hotline ...`` and ``hotline log ...``: standing links and their record."""

from __future__ import annotations

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
from hotline.crypto.identity import fingerprint
from hotline.server.outcomes import hotline_status
from hotline.server.store import SqliteStore
from hotline.server.uptime import UptimeRecord, node_identity

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
    """Print the uptime record of hotline NAME."""
    cutoff = 0
    if since is not None:
        try:
            moment = datetime.datetime.fromisoformat(since)
        except ValueError:
            raise typer.BadParameter(f"--since {since!r} is not an ISO date/time") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        cutoff = int(moment.timestamp() * 1000)
    with opened_record(data) as (record, _):
        entries = [e for e in record.entries(name) if e.time_ms >= cutoff]
    if as_json:
        for e in entries:
            typer.echo(json.dumps({"seq": e.seq, "time": _when(e.time_ms), "kind": e.kind,
                                   **e.fields}))
        return
    table = Table("seq", "time (UTC)", "kind", "details", title=f"uptime record: {name}")
    for e in entries:
        table.add_row(str(e.seq), _when(e.time_ms), e.kind, json.dumps(e.fields))
    Console().print(table)


@log_app.command("verify")
def verify(name: str, data: DataDir = DEFAULT_DATA) -> None:
    """Check the hash chain and signatures of NAME's record; name the first bad entry."""
    with opened_record(data) as (record, _):
        report = record.verify(name)
    if report.ok:
        typer.echo(f"ok: {report.entries} entries, chain and signatures intact")
        return
    typer.echo(f"BROKEN at entry {report.first_bad}: {report.reason}", err=True)
    raise typer.Exit(code=1)


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
        table.add_row(d["name"], " <-> ".join(d["parties"]), d["state"].upper(), when,
                      figures_line(t) if t else "-", _pct(d["uptime"]["24h"]),
                      _pct(d["uptime"]["30d"]), str(len(d["alarms_open"])))
    Console(width=200).print(table)
