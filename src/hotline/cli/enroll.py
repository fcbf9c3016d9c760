"""``hotline enroll``: register this device's identity with a one-time code."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from hotline.client.signaling import SignalingClient, trust
from hotline.crypto.identity import Identity
from hotline.errors import HotlineError, IdentityError, Reason

Server = Annotated[str, typer.Option("--server", envvar="HOTLINE_SERVER",
                                     help="Server URL, e.g. http://127.0.0.1:8080")]
TlsCa = Annotated[str | None, typer.Option("--tls-ca", envvar="HOTLINE_TLS_CA",
                                           help="Trust this CA or self-signed certificate.")]
IdentityFile = Annotated[Path, typer.Option("--identity", help="Identity key file; created "
                                            "if missing.")]


def load_or_create(path: Path) -> tuple[Identity, bool]:
    try:
        return Identity.load(path), False
    except IdentityError as exc:
        if exc.reason is not Reason.FILE or path.exists():
            raise
    identity = Identity.generate()
    identity.save(path)
    return identity, True


async def _enroll(server: str, identity: Identity, code: str, label: str,
                  tls_ca: str | None) -> str:
    async with SignalingClient(server, identity, ssl_context=trust(tls_ca)) as client:
        return await client.enroll(code, label)


def enroll(server: Server, code: Annotated[str, typer.Option("--code")],
           identity: IdentityFile,
           label: Annotated[str, typer.Option(help="A name for this device.")] = "",
           tls_ca: TlsCa = None) -> None:
    """Enroll this device with the one-time CODE from the operator."""
    try:
        ident, created = load_or_create(identity)
        if created:
            typer.echo(f"created identity {identity} ({ident.fingerprint})")
        party = asyncio.run(_enroll(server, ident, code, label, tls_ca))
    except HotlineError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
    typer.echo(f"enrolled as party {party!r}; fingerprint {ident.fingerprint}")
