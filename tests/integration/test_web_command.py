"""``hotline web``: the call page served from this machine's own bundle, pointed at a server.

What is shown here without a browser (tests/browser/test_web_local.py runs the page):
the command serves the page, the config naming the server, and a policy whose only
connection besides its own origin is that server's WebSocket; it refuses a bundle that is
not what its manifest says; ``hotline serve``'s config names no server (the page then
talks to its own origin); and ``--allow-origin`` keeps other pages off the signaling WebSocket.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from hotline.cli.web import make_web_app
from hotline.errors import ConfigError
from hotline.server.webpage import WEB_APP, bundle_hash, check_bundle, websocket_origin

from ..support.server import Server, start_server

pytestmark = pytest.mark.asyncio

ROOT = Path(__file__).resolve().parents[2]


def _bundle(tmp_path: Path) -> Path:
    if not (WEB_APP / "manifest.txt").is_file():
        pytest.fail("web/dist/app has no manifest.txt: run `make web`")
    copy = tmp_path / "app"
    shutil.copytree(WEB_APP, copy)
    return copy


@pytest_asyncio.fixture
async def local(tmp_path: Path) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    client: TestClient = TestClient(TestServer(  # type: ignore[type-arg]
        make_web_app("https://hotline.example:8443/", _bundle(tmp_path))))
    await client.start_server()
    yield client
    await client.close()


async def test_serves_the_page_pointed_at_the_server(local: TestClient) -> None:  # type: ignore[type-arg]
    r = await local.get("/")
    assert r.status == 200 and 'integrity="sha256-' in await r.text()
    csp = r.headers["Content-Security-Policy"]
    assert "connect-src 'self' wss://hotline.example:8443;" in csp
    assert "script-src 'self'" in csp and "worker-src blob:" in csp
    r = await local.get("/app/config.json")
    assert r.status == 200 and await r.json() == {"server": "https://hotline.example:8443"}
    manifest = await (await local.get("/app/manifest.txt")).read()
    assert "sha256:" + hashlib.sha256(manifest).hexdigest() == bundle_hash(WEB_APP)
    for name in ("main.js", "transform-worker.js", "app.css"):
        assert (await local.get(f"/app/{name}")).status == 200
    assert (await local.get("/ws")).status == 404  # no signaling here: only the page
    for host in ("evil.example", "evil.example:8765", "10.0.0.1:8765"):  # a rebound name
        assert (await local.get("/", headers={"Host": host})).status == 421, host
    for host in ("localhost:8765", "[::1]:8765", "127.0.0.2"):
        assert (await local.get("/", headers={"Host": host})).status == 200, host


async def test_the_server_names_no_other_server(server: Server) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(server.url + "/app/config.json") as r:
            assert await r.json() == {}  # the page then talks to its own origin
        async with http.get(server.url + "/") as r:
            assert "connect-src 'self';" in r.headers["Content-Security-Policy"]


async def test_a_bundle_unlike_its_manifest_is_refused(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path)
    assert check_bundle(bundle) == bundle_hash(WEB_APP)
    script = bundle / "main.js"
    original = script.read_bytes()
    data = bytearray(original)
    data[100] ^= 1
    script.write_bytes(bytes(data))
    with pytest.raises(ConfigError, match=r"main\.js is not the file"):
        make_web_app("http://127.0.0.1:8080", bundle)
    script.write_bytes(original)
    (bundle / "extra.js").write_text("alert(1)")
    with pytest.raises(ConfigError, match=r"extra\.js"):
        check_bundle(bundle)
    (bundle / "extra.js").unlink()
    (bundle / "manifest.txt").unlink()
    with pytest.raises(ConfigError, match="make web"):
        check_bundle(bundle)


@pytest.mark.parametrize(("url", "origin"), [
    ("http://127.0.0.1:8080", "ws://127.0.0.1:8080"),
    ("https://hotline.example/", "wss://hotline.example"),
    ("http://[::1]:9/", "ws://[::1]:9"),
])
async def test_websocket_origin(url: str, origin: str) -> None:
    assert websocket_origin(url) == origin


@pytest.mark.parametrize("url", [
    "ftp://x", "hotline.example", "https://x/path", "https://u:p@x", "https://x/?q",
    "http://x:99999", "", "javascript:alert(1)",
])
async def test_bad_server_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError):
        websocket_origin(url)


async def test_allowed_origins(tmp_path: Path) -> None:
    srv = await start_server(tmp_path / "data",
                             allowed_origins=("http://127.0.0.1:8765",))
    try:
        async with aiohttp.ClientSession() as http:
            async def status(origin: str | None) -> int:
                headers = {} if origin is None else {"Origin": origin}
                try:
                    async with http.ws_connect(srv.url + "/ws", headers=headers) as ws:
                        await ws.close()
                        return 101
                except aiohttp.WSServerHandshakeError as exc:
                    return exc.status
            assert await status("http://127.0.0.1:8765") == 101  # the hotline web page
            assert await status(srv.url) == 101  # the server's own page
            assert await status(None) == 101  # not a browser (the Python client)
            assert await status("https://evil.example") == 403
            assert await status("http://127.0.0.1:8766") == 403
    finally:
        await srv.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_the_command_serves_the_page_and_prints_the_hash(tmp_path: Path) -> None:
    port = _free_port()
    hotline = Path(sys.executable).with_name("hotline")
    proc = subprocess.Popen(
        [str(hotline), "web", "--server", "http://127.0.0.1:9", "--port", str(port),
         "--bundle", str(_bundle(tmp_path))],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "COLUMNS": "300", "NO_COLOR": "1"})
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "Open http" in line or not line:
                break
        out = "".join(lines)
        assert f"code: {bundle_hash(WEB_APP)}" in out, out
        assert f"Open http://127.0.0.1:{port}/" in out, out
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/app/config.json") as r:
                assert await r.json() == {"server": "http://127.0.0.1:9"}
            async with http.get(f"http://127.0.0.1:{port}/") as r:
                assert "connect-src 'self' ws://127.0.0.1:9;" in r.headers[
                    "Content-Security-Policy"]
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


async def test_the_command_refuses_a_bad_server() -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("hotline")), "web", "--server", "ftp://x"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    assert "error: the server must be an http:// or https:// URL" in result.stderr
    assert "Traceback" not in result.stderr
