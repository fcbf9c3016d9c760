"""``hotline pin add|list|remove``: this device's pins of a hotline's far party, and
``hotline trust list``: the devices this device trusts or refused.

The pins live in the trust store beside the identity file (``<identity>.trust.json``,
:mod:`hotline.client.trust`); the server is never asked. ``hotline admin hotline add``
prints the exact ``hotline pin add`` command for each end: run it on the other end's
endpoint after checking the fingerprints out of band (read aloud on a known telephone
line, or carried on paper).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer

from hotline.cli.exits import failed
from hotline.client.trust import TrustStore, canonical, now_text, trust_path
from hotline.errors import HotlineError

app = typer.Typer(help="Pin a hotline's far party on this device (checked by this device).",
                  no_args_is_help=True)
trust_app = typer.Typer(help="Devices this device trusts (keys are sealed to them only).",
                        no_args_is_help=True)

IdentityPath = Annotated[Path, typer.Option("--identity", help="This device's identity key "
                                            "file; the trust store is beside it.")]


def _load(identity: Path) -> tuple[TrustStore, Path]:
    path = trust_path(identity)
    return TrustStore.load(path), path


def _loaded(identity: Path) -> tuple[TrustStore, Path]:
    """:func:`_load`, a failure reported as by :func:`_reported`."""
    with _reported():
        return _load(identity)


@contextlib.contextmanager
def _reported() -> Iterator[None]:
    """A :class:`HotlineError` in the block is said on stderr and exits with code 1."""
    try:
        yield
    except HotlineError as exc:
        raise failed(exc) from None


@app.command("add")
def add(hotline: Annotated[str, typer.Argument(help="The hotline.")],
        party: Annotated[str, typer.Option("--party", help="The far party.")],
        fingerprints: Annotated[list[str], typer.Option(
            "--fingerprint", help="A pinned device of the far party (repeat for each).")],
        identity: IdentityPath) -> None:
    """Pin PARTY's devices for HOTLINE on this device (replaces an earlier pin). Only
    these keys are accepted at the far end of HOTLINE's calls and link tests."""
    with _reported():
        store, path = _load(identity)
        old = store.hotlines.get(hotline)
        store.pin(hotline, party, fingerprints, now_text())
        store.save(path)
    pin = store.hotlines[hotline]
    verb = "re-pinned" if old is not None else "pinned"
    typer.echo(f"hotline {hotline!r}: {verb} {party!r} on this device ({path}):")
    for fp in pin.fingerprints:
        typer.echo(f"  {fp}")
    if old is not None and (old.party, old.fingerprints) != (pin.party, pin.fingerprints):
        typer.echo("  (replaces: " + ", ".join(f"{old.party} {f}" for f in old.fingerprints)
                   + ")")


@app.command("list")
def list_pins(identity: IdentityPath) -> None:
    """The hotline pins of this device."""
    store, path = _loaded(identity)
    if not store.hotlines:
        typer.echo(f"no hotline pins in {path}")
    for name, pin in sorted(store.hotlines.items()):
        typer.echo(f"{name}: {pin.party} ({pin.since or 'time unknown'})")
        for fp in pin.fingerprints:
            typer.echo(f"  {fp}")


@app.command("remove")
def remove(hotline: Annotated[str, typer.Argument(help="The hotline.")],
           identity: IdentityPath) -> None:
    """Forget HOTLINE's pin: its calls and link tests are refused here until a new one."""
    with _reported():
        store, path = _load(identity)
        if not store.unpin(hotline):
            typer.echo(f"error: no pin for hotline {hotline!r} in {path}", err=True)
            raise typer.Exit(code=1)
        store.save(path)
    typer.echo(f"hotline {hotline!r}: pin removed")


@trust_app.command("list")
def list_devices(identity: IdentityPath) -> None:
    """Every party and device this device decided about, with how."""
    store, path = _loaded(identity)
    if not store.parties:
        typer.echo(f"no devices in {path}")
    for party, devices in sorted(store.parties.items()):
        typer.echo(f"{party}:")
        for fp, dev in sorted(devices.items()):
            since = f", {dev.since}" if dev.since else ""
            typer.echo(f"  {fp}  {dev.state.value:8} ({dev.source}{since})")


def accept_or_refuse(identity: Path, party: str, fingerprint: str, *, accept: bool) -> str:
    """Record a decision in the store beside ``identity``; returns the canonical print."""
    from hotline.client.trust import State

    store, path = _load(identity)
    fp = canonical(fingerprint)
    store.set_device(party, fp, State.TRUSTED if accept else State.REFUSED,
                     "accepted" if accept else "refused", now_text())
    store.save(path)
    return fp


@trust_app.command("accept")
def accept(party: Annotated[str, typer.Argument()],
           fingerprint: Annotated[str, typer.Argument(help="The device's fingerprint, "
                                                      "verified out of band.")],
           identity: IdentityPath) -> None:
    """Trust PARTY's device FINGERPRINT for rooms (checked out of band)."""
    with _reported():
        fp = accept_or_refuse(identity, party, fingerprint, accept=True)
    typer.echo(f"trusted: {party} {fp}")


@trust_app.command("refuse")
def refuse(party: Annotated[str, typer.Argument()],
           fingerprint: Annotated[str, typer.Argument()], identity: IdentityPath) -> None:
    """Refuse PARTY's device FINGERPRINT: it never gets a key from this device."""
    with _reported():
        fp = accept_or_refuse(identity, party, fingerprint, accept=False)
    typer.echo(f"refused: {party} {fp}")
