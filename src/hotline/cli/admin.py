"""``hotline admin``: operator commands that work on the data directory directly
(also while the server runs: SQLite in WAL mode takes both)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from hotline.cli.exits import failed
from hotline.cli.runfile import server_note
from hotline.errors import HotlineError, UsageError
from hotline.roles import DEFAULT_ROLE, LISTEN_ONLY, ROLES
from hotline.server.store import Room, SqliteStore
from hotline.signaling.channels import MAX_CHANNELS

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
    command) becomes one ``error:`` line and exit code 1; the store is always closed.
    Says on stderr which folder it works on, and warns when no server uses it."""
    typer.echo(f"data: {data.resolve()}", err=True)
    note = server_note(data)
    if note:
        typer.echo(note, err=True)
    try:
        store = SqliteStore(data)
    except HotlineError as exc:
        raise failed(exc) from None
    try:
        yield store
    except HotlineError as exc:
        raise failed(exc) from None
    finally:
        store.close()




@party_app.command("add")
def party_add(name: str, data: DataDir = DEFAULT_DATA, as_json: AsJson = False) -> None:
    """Create party NAME and print a one-time enrollment code for its first device."""
    with opened_store(data) as store:
        if store.get_party(name) is not None:
            raise UsageError(f"party {name!r} exists already; a code for another of its "
                             f"devices: hotline admin party code {name}")
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


def _members(specs: list[str]) -> tuple[list[str], dict[str, str]]:
    """``party`` or ``party:role`` -> member names and their roles."""
    members, roles = [], {}
    for spec in specs:
        party, sep, role = spec.rpartition(":") if ":" in spec else (spec, "", "")
        members.append(party)
        if sep:
            roles[party] = role
    return members, roles


def _described(room: Room) -> str:
    return ", ".join(f"{p} ({room.role_of(p)})" for p in room.members)


@room_app.command("add")
def room_add(
    room: str,
    member: Annotated[list[str], typer.Option(
        "--member", help=f"A member party, PARTY or PARTY:ROLE (repeat). Roles: "
        f"{', '.join(ROLES)}; default {DEFAULT_ROLE}; {' and '.join(sorted(LISTEN_ONLY))}"
        " listen only.")],
    data: DataDir = DEFAULT_DATA,
) -> None:
    """Create ROOM with the given member parties."""
    members, roles = _members(member)
    with opened_store(data) as store:
        created = store.add_room(room, members, roles)
    typer.echo(f"room {created.name!r} created with members: {_described(created)}")


@room_app.command("member")
def room_member(
    room: str,
    party: str,
    role: Annotated[str | None, typer.Option(help="Add PARTY with this role, or change its "
                                             f"role ({', '.join(ROLES)}).")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove PARTY from ROOM.")] = False,
    data: DataDir = DEFAULT_DATA,
) -> None:
    """Add a member to ROOM, change its role, or remove it (from its next join on)."""
    if remove == (role is not None):
        raise typer.BadParameter("give either --role ROLE or --remove")
    with opened_store(data) as store:
        store.set_member(room, party, None if remove else role)
        changed = store.get_room(room)
    assert changed is not None
    typer.echo(f"room {room!r} members: {_described(changed) or 'none'}")


@room_app.command("direct")
def room_direct(
    room: str,
    allow: Annotated[bool, typer.Option(
        "--allow/--deny", help="Let the two members of ROOM, when alone in it, connect "
        "directly (peer to peer; media stays end-to-end encrypted), or not.")],
    data: DataDir = DEFAULT_DATA,
) -> None:
    """Allow or deny direct (peer-to-peer) connections in a two-person ROOM (from its
    next join on). Hotline calls and link tests always allow them."""
    with opened_store(data) as store:
        store.set_room_direct(room, allow)
    typer.echo(f"room {room!r}: direct connections {'allowed' if allow else 'denied'}")


@room_app.command("channels")
def room_channels(
    room: str,
    channels: Annotated[list[str] | None, typer.Argument(
        help="Language channels, e.g. ru zh en (lowercase tags such as pt-br; at most "
        f"{MAX_CHANNELS}).", show_default=False)] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove ROOM's channels.")] = False,
    data: DataDir = DEFAULT_DATA,
) -> None:
    """Set the interpretation channels of ROOM (from each member's next join on):
    interpreters publish into one, every listener picks one or the floor."""
    if clear == bool(channels):
        raise typer.BadParameter("give the channels (e.g. ru zh en) or --clear")
    with opened_store(data) as store:
        store.set_room_channels(room, channels or [])
        changed = store.get_room(room)
    assert changed is not None
    typer.echo(f"room {room!r}: channels {' '.join(changed.channels) or 'none'}")


@room_app.command("list")
def room_list(data: DataDir = DEFAULT_DATA) -> None:
    """List rooms with their members and roles."""
    with opened_store(data) as store:
        for name in store.room_names():
            found = store.get_room(name)
            if found is not None:
                direct = " [direct allowed]" if found.direct else ""
                channels = f" [channels: {' '.join(found.channels)}]" if found.channels \
                    else ""
                typer.echo(f"{found.name}: {_described(found)}{direct}{channels}")
