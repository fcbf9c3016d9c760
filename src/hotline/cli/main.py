"""Entry point of the ``hotline`` command: one typer app, one sub-app per noun."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from hotline import __version__
from hotline.cli import (
    admin,
    enroll,
    hotline_call,
    hotlines,
    identity,
    join,
    phase,
    pins,
    record,
    selfcheck,
    serve,
    standby,
    web,
)
from hotline.client.transport import INSECURE_ENV

app = typer.Typer(
    name="hotline",
    help="Hotline: self-hosted, end-to-end encrypted video hotlines and conferences.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(identity.app, name="identity")
app.add_typer(admin.app, name="admin")
admin.app.add_typer(hotlines.admin_app, name="hotline")
app.add_typer(hotlines.log_app, name="log")
app.add_typer(pins.app, name="pin")
app.add_typer(pins.trust_app, name="trust")
app.command("selfcheck")(selfcheck.selfcheck)
app.command("serve")(serve.serve)
app.command("enroll")(enroll.enroll)
app.command("join")(join.join)
app.command("phase")(phase.phase)
app.command("record")(record.record)
app.command("standby")(standby.standby)
app.command("call")(hotline_call.call)
app.command("linktest")(hotline_call.linktest)
app.command("status")(hotlines.status)
app.command("web")(web.web_command)


@app.callback()
def options(insecure_http: Annotated[bool, typer.Option(
        "--insecure-http", help="Allow plain http:// to a server beyond this machine "
        "(the enrollment code and signaling cross the network readable; not for real use)."
        )] = False) -> None:
    """Hotline: self-hosted, end-to-end encrypted video hotlines and conferences."""
    if insecure_http:
        os.environ[INSECURE_ENV] = "1"  # read by every SignalingClient of this command
        typer.echo("WARNING: --insecure-http: plain http beyond loopback is allowed; anyone "
                   "on the path can read the enrollment code and impersonate the server.",
                   err=True)


@app.command()
def version() -> None:
    """Print Hotline's version."""
    typer.echo(__version__)


def main() -> None:
    app()
