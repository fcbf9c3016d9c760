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
from hotline.crypto.identity import fingerprint
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


@admin_app.command("add")
def add(name: str,
        between: Annotated[tuple[str, str], typer.Option("--between", help="The two parties.")],
        data: DataDir = DEFAULT_DATA) -> None:
    """Create hotline NAME between two parties, pinning their enrolled device keys."""
    with opened_record(data) as (record, store):
        hotline = store.add_hotline(name, *between)
        pins = {p: sorted(fingerprint(k) for k in keys) for p, keys in hotline.pins.items()}
        record.append(name, "created", {"parties": list(hotline.parties), "pins": pins})
    typer.echo(f"hotline {name!r} between {between[0]!r} and {between[1]!r}; pinned:")
    for party, fps in pins.items():
        for fp in fps:
            typer.echo(f"  {party}: {fp}")


@admin_app.command("repin")
def repin(name: str, party: Annotated[str, typer.Option("--party")],
          data: DataDir = DEFAULT_DATA) -> None:
    """Pin PARTY's current devices instead of the old ones (logged)."""
    with opened_record(data) as (record, store):
        hotline = store.repin(name, party)
        fps = sorted(fingerprint(k) for k in hotline.pins[party])
        record.append(name, "repin", {"party": party, "pins": fps})
    typer.echo(f"hotline {name!r}: {party!r} now pinned to {', '.join(fps)}")


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
