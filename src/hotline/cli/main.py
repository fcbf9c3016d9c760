"""Entry point of the ``hotline`` command: one typer app, one sub-app per noun."""

from __future__ import annotations

import typer

from hotline import __version__
from hotline.cli import (
    admin,
    enroll,
    hotline_call,
    hotlines,
    identity,
    join,
    pins,
    selfcheck,
    serve,
    standby,
)

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
app.command("standby")(standby.standby)
app.command("call")(hotline_call.call)
app.command("linktest")(hotline_call.linktest)
app.command("status")(hotlines.status)


@app.command()
def version() -> None:
    """Print Hotline's version."""
    typer.echo(__version__)


def main() -> None:
    app()
