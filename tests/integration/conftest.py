"""A real server on a free loopback port, with parties and a room ready."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest_asyncio
from aiohttp import web

from hotline.crypto.identity import Identity
from hotline.server.app import STATE, make_app
from hotline.server.settings import Settings
from hotline.server.store import SqliteStore

from ..support.evil_proxy import EvilProxy


@dataclass
class Server:
    url: str
    store: SqliteStore
    app: web.Application
    runner: web.AppRunner

    def party(self, name: str, rooms: list[str] = ()) -> tuple[Identity, str]:  # type: ignore[assignment]
        """A party with one enrollment code; returns a fresh identity and the code."""
        self.store.add_party(name)
        return Identity.generate(), self.store.new_enrollment_code(name)


async def start_server(data: Path, port: int = 0, **settings: object) -> Server:
    store = SqliteStore(data)
    app = make_app(Settings(host="127.0.0.1", port=0, data_dir=data, **settings),  # type: ignore[arg-type]
                   store=store)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return Server(f"http://127.0.0.1:{port}", store, app, runner)


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv = await start_server(tmp_path / "data", join_timeout=2.0)
    yield srv
    await srv.runner.cleanup()
    srv.store.close()
    assert STATE in srv.app


@pytest_asyncio.fixture
async def proxy(server: Server) -> AsyncIterator[EvilProxy]:
    """A malicious server: the real one behind a tampering proxy (tests/support/evil_proxy.py).
    The proxy is the server's public face here (as a reverse proxy would be, set with
    ``hotline serve --public-url``): proofs name its origin and the server accepts them.
    A relay the server does not know is refused (test_malicious_identity.py)."""
    evil = EvilProxy(server.url)
    await evil.start(face_of=server.app)
    yield evil
    await evil.close()
