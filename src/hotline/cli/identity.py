"""``hotline identity``: create and inspect device identity key files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hotline.crypto.identity import Identity
from hotline.errors import IdentityError

app = typer.Typer(help="Create and inspect device identity keys.", no_args_is_help=True)

PathArg = Annotated[Path, typer.Argument(help="Identity key file (PEM, mode 0600).")]
PassFile = Annotated[
    Path | None,
    typer.Option("--passphrase-file", help="Read the passphrase from this file."),
]
Ask = Annotated[bool, typer.Option("--ask-passphrase", help="Prompt for a passphrase.")]


def _passphrase(passphrase_file: Path | None, ask: bool, *, confirm: bool) -> bytes | None:
    if passphrase_file is not None:
        try:
            text = passphrase_file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise typer.BadParameter(f"cannot read {passphrase_file}: {exc.strerror}") from None
        if not text:
            raise typer.BadParameter(f"{passphrase_file} is empty")
        return text.encode("utf-8")
    if ask:
        typed = str(typer.prompt("Passphrase", hide_input=True, confirmation_prompt=confirm))
        if not typed:
            raise typer.BadParameter("empty passphrase; leave out --ask-passphrase for none")
        return typed.encode("utf-8")
    return None


def _fail(exc: IdentityError) -> typer.Exit:
    typer.echo(f"error: {exc.detail or exc.reason.value}", err=True)
    return typer.Exit(code=1)


@app.command("new")
def new(path: PathArg, passphrase_file: PassFile = None, ask_passphrase: Ask = False,
        force: Annotated[bool, typer.Option(help="Replace an existing file.")] = False) -> None:
    """Create a new identity key in PATH and print its fingerprint."""
    passphrase = _passphrase(passphrase_file, ask_passphrase, confirm=True)
    identity = Identity.generate()
    try:
        identity.save(path, passphrase, overwrite=force)
    except IdentityError as exc:
        raise _fail(exc) from None
    typer.echo(f"identity written to {path}")
    typer.echo(f"fingerprint: {identity.fingerprint}")


@app.command("show")
def show(path: PathArg, passphrase_file: PassFile = None, ask_passphrase: Ask = False) -> None:
    """Print the public key and fingerprint of the identity in PATH."""
    passphrase = _passphrase(passphrase_file, ask_passphrase, confirm=False)
    try:
        identity = Identity.load(path, passphrase)
    except IdentityError as exc:
        raise _fail(exc) from None
    typer.echo(f"public key:  {identity.public_key.hex()}")
    typer.echo(f"fingerprint: {identity.fingerprint}")
