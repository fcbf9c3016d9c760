"""A Hotline server (or any aiohttp app) in this process on a free 127.0.0.1 port.

Shared by the tests (tests/integration/conftest.py's ``server`` fixture, the browser
tests) and the benchmarks (bench/call.py, bench/glass.py, bench/browser/), which import
it as ``tests.support.server``.
"""

from __future__ import annotations

import ssl
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiohttp import web

from hotline.crypto.identity import Identity
from hotline.server.app import make_app
from hotline.server.settings import Settings
from hotline.server.store import SqliteStore


async def listen(app: web.Application, port: int = 0,
                 ssl_context: ssl.SSLContext | None = None) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on 127.0.0.1 (``port`` 0: a free one); returns the runner (to clean
    up) and the base URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` on a free loopback port while the block runs; yields its base URL."""
    runner, url = await listen(app)
    try:
        yield url
    finally:
        await runner.cleanup()


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

    def room(self, room: str, parties: Sequence[str],
             roles: Mapping[str, str] | None = None) -> dict[str, str]:
        """``parties`` (new) as the members of ``room`` (with ``roles``); returns each
        party's one-time enrollment code."""
        codes = {}
        for name in parties:
            self.store.add_party(name)
            codes[name] = self.store.new_enrollment_code(name)
        self.store.add_room(room, list(parties), None if roles is None else dict(roles))
        return codes

    async def close(self) -> None:
        await self.runner.cleanup()
        self.store.close()


def store_with_hotline(data: Path, hotline: str = "red") -> SqliteStore:
    """A store in ``data`` with parties ``a`` and ``b`` (one enrolled device each) and
    ``hotline`` between them."""
    store = SqliteStore(data)
    for party in ("a", "b"):
        store.add_party(party)
        store.enroll(store.new_enrollment_code(party), Identity.generate().public_key)
    store.add_hotline(hotline, "a", "b")
    return store


async def start_server(data: Path, *, port: int = 0, **settings: object) -> Server:
    """``hotline serve`` (server, embedded SFU, the built call page) on a loopback port,
    its data in ``data``; ``settings``: fields of :class:`Settings`."""
    store = SqliteStore(data)
    app = make_app(Settings(host="127.0.0.1", port=0, data_dir=data, **settings),  # type: ignore[arg-type]
                   store=store)
    runner, url = await listen(app, port)
    return Server(url, store, app, runner)


@asynccontextmanager
async def running_server(data: Path | None = None, **settings: object
                         ) -> AsyncIterator[Server]:
    """:func:`start_server` while the block runs (``data`` None: a new temporary folder)."""
    srv = await start_server(data or Path(tempfile.mkdtemp(prefix="hotline-")), **settings)
    try:
        yield srv
    finally:
        await srv.close()


def server_fixture(**settings: object) -> Any:
    """A pytest fixture: :func:`running_server` in the test's tmp_path with ``settings``."""
    @pytest_asyncio.fixture
    async def server(tmp_path: Path) -> AsyncIterator[Server]:
        async with running_server(tmp_path / "data", **settings) as srv:
            yield srv

    return server
