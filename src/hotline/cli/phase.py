"""``hotline phase ROOM closed|open``: close a call to the press, or reopen it
(REQUIREMENTS L3; docs/SIGNALING.md "Phases").

Connects with this device's identity, from outside the call, and sends ``set_phase``:
the server checks that this device's party is a principal or operator of the room.
Closing needs nothing more (it only takes keys away). Reopening needs the signed proof of
a principal in the call, so from outside the call it is refused: a principal reopens in
the call (the page's Reopen button, ``Call.set_phase("open")``).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from hotline.cli.enroll import IdentityFile, Server, TlsCa
from hotline.cli.exits import failed
from hotline.client.signaling import SignalingClient, trust
from hotline.crypto.identity import Identity
from hotline.errors import HotlineError
from hotline.phases import PHASES, Phase


async def _set_phase(server: str, identity: Identity, room: str, phase: Phase,
                     tls_ca: str | None) -> None:
    async with SignalingClient(server, identity, ssl_context=trust(tls_ca)) as client:
        await client.authenticate()
        await client.set_phase(phase, room=room)


def phase(room: Annotated[str, typer.Argument(help="The room whose call to close or reopen.")],
          new_phase: Annotated[str, typer.Argument(
              metavar="closed|open", help="closed: the press is shown out (no key, no "
              "media); open: the press may see and hear again.")],
          server: Server, identity: IdentityFile, tls_ca: TlsCa = None) -> None:
    """Close ROOM's call to the press, or reopen it (principals and operators)."""
    if new_phase not in PHASES:
        raise typer.BadParameter(f"the phase is closed or open, not {new_phase!r}")
    chosen: Phase = "closed" if new_phase == "closed" else "open"
    try:
        asyncio.run(_set_phase(server, Identity.load(identity), room, chosen, tls_ca))
    except HotlineError as exc:
        raise failed(exc) from None
    except (OSError, TimeoutError) as exc:
        raise failed(exc, prefix=f"cannot reach {server}") from None
    typer.echo(f"room {room!r} is now {chosen.upper()}"
               + (": the press is shown out" if chosen == "closed" else ""))
