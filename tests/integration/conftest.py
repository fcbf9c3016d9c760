"""Fixtures: a real server on a free loopback port (tests/support/server.py), the
tampering proxy in front of it, and a path killer (tests/support/pathkiller.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest_asyncio

from hotline.server.app import STATE

from ..support.evil_proxy import EvilProxy
from ..support.pathkiller import path_killer  # noqa: F401  (a fixture)
from ..support.server import Server, running_server


@pytest_asyncio.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with running_server(tmp_path / "data", join_timeout=2.0) as srv:
        yield srv
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
