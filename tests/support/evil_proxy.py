"""A malicious server for tests: the real server behind a tampering WebSocket proxy.

Every message the server sends to a client passes through ``tamper`` (which may change,
drop or add messages), and the proxy can inject messages of its own. Shared by the
malicious-server tests (tests/integration/test_malicious_*.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from hotline.crypto.keymessage import MSG_KEY
from hotline.server.app import STATE
from hotline.signaling import messages as m
from hotline.signaling.origin import origin_of

from .server import Server, listen, running_server

Tamper = Callable[[int, dict[str, Any]], list[dict[str, Any]]]


def is_sealed_key(doc: dict[str, Any], to: int | None = None) -> bool:
    """A ``key`` message (client to server; to ``to`` if given) or ``key_from`` (server to
    client) carrying a sealed sender key (type 0x02). The same relay also carries code
    commitments and reveals (0x03, 0x04), which hold no secret and go to every listed
    member."""
    if doc.get("type") not in ("key", "key_from") or (to is not None and doc.get("to") != to):
        return False
    data = m.b64decode(doc.get("data", ""))
    return bool(data) and data[0] == MSG_KEY


@dataclass
class EvilProxy:
    """Stands between clients and the real server; connection i is the i-th client."""

    upstream: str
    url: str = ""
    runner: web.AppRunner | None = None
    to_clients: list[web.WebSocketResponse] = field(default_factory=list)
    from_clients: list[list[dict[str, Any]]] = field(default_factory=list)
    seen: list[list[dict[str, Any]]] = field(default_factory=list)
    tamper: Tamper = lambda i, doc: [doc]

    async def start(self, *, face_of: web.Application | None = None) -> None:
        """Listen on a free loopback port. ``face_of``: the real server's app, which then
        takes the proxy's address as one of its own public origins (the proxy *is* the
        malicious server's face, so logins through it are not relays); without it, the
        proxy is another server relaying to the real one, whose logins are refused."""
        app = web.Application()
        app.router.add_get("/ws", self._handle)
        self.runner, self.url = await listen(app)
        if face_of is not None:
            face_of[STATE].public_origins.add(origin_of(self.url))

    async def _handle(self, request: web.Request) -> web.WebSocketResponse:
        client = web.WebSocketResponse(max_msg_size=m.MAX_MESSAGE_BYTES)
        await client.prepare(request)
        index = len(self.to_clients)
        self.to_clients.append(client)
        self.from_clients.append([])
        self.seen.append([])
        async with aiohttp.ClientSession() as session, session.ws_connect(
                self.upstream.replace("http", "ws") + "/ws") as server:
            async def down() -> None:
                async for msg in server:
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        break
                    doc = json.loads(msg.data)
                    self.seen[index].append(doc)
                    for out in self.tamper(index, doc):
                        await client.send_str(json.dumps(out))

            pump = asyncio.create_task(down())
            async for msg in client:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                self.from_clients[index].append(json.loads(msg.data))
                await server.send_str(msg.data)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pump
        return client

    async def inject(self, index: int, doc: dict[str, Any]) -> None:
        await self.to_clients[index].send_str(json.dumps(doc))

    async def close(self) -> None:
        for ws in self.to_clients:
            await ws.close()
        if self.runner is not None:
            await self.runner.cleanup()

    def keys_sealed_to(self, pid: int) -> int:
        """Sealed sender keys any client sent to participant ``pid``."""
        return sum(is_sealed_key(d, pid) for sent in self.from_clients for d in sent)


@contextlib.asynccontextmanager
async def behind_proxy(data: Path, **settings: object) -> AsyncIterator[tuple[Server, EvilProxy]]:
    """A real server (``data``, ``settings``: as :func:`running_server`) with an
    :class:`EvilProxy` as its public face, while the block runs."""
    async with running_server(data, **settings) as srv:
        proxy = EvilProxy(srv.url)
        await proxy.start(face_of=srv.app)
        try:
            yield srv, proxy
        finally:
            await proxy.close()
