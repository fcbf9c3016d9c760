"""``hotline enroll``: register this device's identity with a one-time code."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from hotline.cli.exits import failed
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
    created = False
    try:
        ident, created = load_or_create(identity)
        party = asyncio.run(_enroll(server, ident, code, label, tls_ca))
    except HotlineError as exc:
        if created:  # a key made for this enrollment is of no use: do not leave it
            identity.unlink(missing_ok=True)
        raise failed(exc) from None
    if created:
        typer.echo(f"created identity {identity} ({ident.fingerprint})")
    typer.echo(f"enrolled as party {party!r}; fingerprint {ident.fingerprint}")
