"""A malicious client cannot forge a line in the server's log.

Strings a client chooses reach the server's log: the ``media_restart`` reason, the text of
a refused request (a room name, an SDP parser's complaint). Each is passed through
``hotline.logtext.safe``. Here a real client sends each with a newline and terminal
control characters that would forge an ``auth ... party=admin`` line; the server's log
records, formatted as ``hotline serve`` formats them, must each stay one line and the
forged text must never start a line.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from hotline.client.signaling import SignalingClient
from hotline.errors import ServerError
from hotline.signaling import messages as m

from ..support.server import Server

pytestmark = pytest.mark.asyncio

FORGED = "INFO hotline.session: auth conn=deadbeef party=admin device=1"
EVIL = f"network changed\n{FORGED}\r\x1b[2K\u2028{FORGED}\u202e"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"  # hotline serve's format


async def test_client_strings_cannot_forge_server_log_lines(
        server: Server, caplog: pytest.LogCaptureFixture) -> None:
    ident, code = server.party("mallory")
    server.store.add_room("r", ["mallory"])
    caplog.set_level(logging.INFO, logger="hotline")
    async with SignalingClient(server.url, ident) as client:
        await client.enroll(code)
        await client.join("r")
        restarted = asyncio.Event()
        client.on_subscribe_offer = lambda msg: restarted.set()
        client.request_media_restart(EVIL[:200])
        await asyncio.wait_for(restarted.wait(), 5.0)
        with pytest.raises(ServerError):  # a refused SDP carrying the forgery
            await client.publish(f"v=0\r\n{FORGED}\r\nm=audio 9 X\r\n", timeout=5.0)
        client.send(m.Join(room=f"x\n{FORGED}"))  # refused: already in a room
        await asyncio.sleep(0.3)
    formatter = logging.Formatter(FORMAT)
    records = [r for r in caplog.records if r.name.startswith("hotline")]
    restart = [r for r in records if "media restart:" in r.getMessage()]
    assert len(restart) == 1 and "\\x0a" in restart[0].getMessage()
    lines = [line for r in records for line in formatter.format(r).splitlines()]
    assert len(lines) == len(records), "a log record spans several lines"
    assert not [line for line in lines if line.startswith(FORGED) or "\x1b" in line
                or "\u2028" in line or "\u202e" in line]
    # the forged text is there, escaped, inside the one real line only
    assert restart[0].getMessage().count(FORGED) == 2
