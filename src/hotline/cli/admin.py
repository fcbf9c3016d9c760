"""``hotline admin``: operator commands that work on the data directory directly
(also while the server runs: SQLite in WAL mode takes both)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from hotline.errors import HotlineError
from hotline.server.store import SqliteStore

app = typer.Typer(help="Operator commands: parties, rooms, audit log.", no_args_is_help=True)
party_app = typer.Typer(help="Parties (an organisation or person with devices).",
                        no_args_is_help=True)
room_app = typer.Typer(help="Rooms and their member parties.", no_args_is_help=True)
app.add_typer(party_app, name="party")
app.add_typer(room_app, name="room")

DataDir = Annotated[Path, typer.Option("--data", envvar="HOTLINE_DATA",
                                       help="Data directory.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON object.")]
DEFAULT_DATA = Path("hotline-data")


@contextmanager
def opened_store(data: Path) -> Iterator[SqliteStore]:
    """The store in ``data`` for one command: any HotlineError (opening it or in the
    command) becomes one ``error:`` line and exit code 1; the store is always closed."""
    try:
        store = SqliteStore(data)
    except HotlineError as exc:
        raise fail(exc) from None
    try:
        yield store
    except HotlineError as exc:
        raise fail(exc) from None
    finally:
        store.close()


def fail(exc: HotlineError) -> typer.Exit:
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=1)


@party_app.command("add")
def party_add(name: str, data: DataDir = DEFAULT_DATA, as_json: AsJson = False) -> None:
    """Create party NAME and print a one-time enrollment code for its first device."""
    with opened_store(data) as store:
        party = store.add_party(name)
        code = store.new_enrollment_code(party.name)
    if as_json:
        typer.echo(json.dumps({"party": party.name, "enrollment_code": code}))
    else:
        typer.echo(f"party {party.name!r} created")
        typer.echo(f"one-time enrollment code: {code}")


@party_app.command("code")
def party_code(name: str, data: DataDir = DEFAULT_DATA, as_json: AsJson = False) -> None:
    """Print a new one-time enrollment code for another device of party NAME."""
    with opened_store(data) as store:
        code = store.new_enrollment_code(name)
    typer.echo(json.dumps({"party": name, "enrollment_code": code}) if as_json else code)


@party_app.command("list")
def party_list(data: DataDir = DEFAULT_DATA) -> None:
    """List parties."""
    with opened_store(data) as store:
        for party in store.list_parties():
            typer.echo(party.name)


@room_app.command("add")
def room_add(
    room: str,
    member: Annotated[list[str], typer.Option("--member", help="A member party (repeat).")],
    data: DataDir = DEFAULT_DATA,
) -> None:
    """Create ROOM with the given member parties."""
    with opened_store(data) as store:
        created = store.add_room(room, member)
    typer.echo(f"room {created.name!r} created with members: {', '.join(created.members)}")
