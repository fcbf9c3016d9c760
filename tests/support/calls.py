"""Python participants in a room of a real server: the set-up of the media tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from hotline.client.call import Call
from hotline.crypto.identity import Identity

from .server import Server, running_server
from .trust import accept_all


@asynccontextmanager
async def calls_in_room(data: Path, room: str, names: Sequence[str], **settings: object
                        ) -> AsyncIterator[tuple[Server, list[Call]]]:
    """A server (``data``, ``settings``: as :func:`running_server`) with ``names`` in
    ``room``, and a started :class:`Call` (160x120, fresh identity, every device accepted)
    for each, in that order; all closed at the end."""
    async with running_server(data, **settings) as srv:
        codes = srv.room(room, names)
        calls: list[Call] = []
        try:
            for name in names:
                call = Call(srv.url, Identity.generate(), room, video_size=(160, 120),
                            trust_policy=accept_all())
                await call.start(enroll_code=codes[name])
                calls.append(call)
            yield srv, calls
        finally:
            for c in calls:
                await c.close()
