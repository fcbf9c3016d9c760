"""The server serves the built browser client (web/dist/app) at "/" and "/app/NAME", with
a restrictive Content-Security-Policy, and falls back to its plain page when the client is
not built. Only plain file names of the client's kinds are served."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from hotline.server.app import WEB_APP, make_app
from hotline.server.settings import Settings
from hotline.server.store import SqliteStore

pytestmark = pytest.mark.asyncio


async def _client(tmp_path: Path, web_app: Path) -> TestClient:  # type: ignore[type-arg]
    store = SqliteStore(tmp_path / "data")
    app = make_app(Settings(host="127.0.0.1", port=0, data_dir=tmp_path / "data"),
                   store=store, web_app=web_app)
    app.on_cleanup.append(lambda _: _close(store))
    client: TestClient = TestClient(TestServer(app))  # type: ignore[type-arg]
    await client.start_server()
    return client


async def _close(store: SqliteStore) -> None:
    store.close()


@pytest_asyncio.fixture
async def built(tmp_path: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    web = tmp_path / "app"
    web.mkdir()
    (web / "index.html").write_text("<!doctype html><title>Hotline</title>call page")
    (web / "main.js").write_text("export {};")
    (web / "transform-worker.js").write_text("export {};")
    (web / "app.css").write_text("body{}")
    (web / "secret.txt").write_text("no")
    (tmp_path / "outside.js").write_text("no")
    client = await _client(tmp_path, web)
    yield client
    await client.close()


async def test_serves_the_built_client(built: TestClient) -> None:  # type: ignore[type-arg]
    r = await built.get("/")
    assert r.status == 200 and "call page" in await r.text()
    assert r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp
    for name, kind in (("main.js", "text/javascript"), ("transform-worker.js", "text/javascript"),
                       ("app.css", "text/css")):
        r = await built.get(f"/app/{name}")
        assert r.status == 200 and r.headers["Content-Type"].startswith(kind), name
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    for bad in ("secret.txt", "missing.js", "..%2Foutside.js", "%2E%2E/outside.js", ".js",
                "index.html"):
        assert (await built.get(f"/app/{bad}")).status == 404, bad
    assert (await built.get("/app/")).status == 404
    assert (await built.get("/healthz")).status == 200


async def test_plain_page_when_the_client_is_not_built(tmp_path: Path) -> None:
    client = await _client(tmp_path, tmp_path / "nothing-here")
    try:
        r = await client.get("/")
        assert r.status == 200 and "not built" in await r.text()
        assert (await client.get("/app/main.js")).status == 404
        assert (await client.get("/healthz")).status == 200
    finally:
        await client.close()


async def test_the_default_is_the_checkout_s_web_dist_app() -> None:
    assert WEB_APP == Path(__file__).resolve().parents[2] / "web" / "dist" / "app"
