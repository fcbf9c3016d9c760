"""The exit codes of every ``hotline`` command (README "Command line" lists them) and the
one way a command reports an error: one ``error:`` line on stderr, then its code."""

from __future__ import annotations

import typer

from hotline.errors import CallNotConnected, ConnectionFailed

OK = 0
REFUSED = 1  # the request was refused or failed (bad code, not a member, bad config)
USAGE = 2  # the command line itself is wrong (click's own code for usage errors)
UNREACHABLE = 3  # the server, or a hotline's far end, could not be reached (a call not
#                  answered, a link test that failed)
PIN_REFUSED = 4  # a hotline's far end presented a key that is not pinned on this device


def code_for(exc: BaseException) -> int:
    """The exit code of a command that stopped on ``exc``."""
    unreachable = isinstance(exc, ConnectionFailed | CallNotConnected | OSError | TimeoutError)
    return UNREACHABLE if unreachable else REFUSED


def failed(exc: Exception, prefix: str = "error") -> typer.Exit:
    """Say ``exc`` on stderr; the :class:`typer.Exit` to raise with its code."""
    typer.echo(f"{prefix}: {exc or 'no answer in time'}", err=True)
    return typer.Exit(code=code_for(exc))
