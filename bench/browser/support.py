"""What the browser benchmarks share: Chromium with the browser tests' flags, the in-page
probes (web/bench/probes.ts), and a Hotline server in this process on loopback."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from tests.browser.support import CHROMIUM, CHROMIUM_ARGS, MEDIA_ARGS, serve_static

from bench.common import ROOT
from hotline.server.app import make_app
from hotline.server.settings import Settings
from hotline.server.store import SqliteStore

# The flags and the static file server are the browser tests' own (tests/browser/support.py).
__all__ = ["CHROMIUM_ARGS", "MEDIA_ARGS", "PROBES", "Server", "chromium", "enroll",
           "hotline_server", "join", "probes_script", "serve_static", "watch_problems"]

DIST = ROOT / "web" / "dist"
PROBES = DIST / "bench" / "probes.js"
APP = DIST / "app" / "main.js"


def _need(path: Path) -> None:
    if not path.exists():
        raise SystemExit(f"{path.relative_to(ROOT)} is missing: run `make web`")


def probes_script(*calls: str) -> str:
    """The probes bundle followed by ``calls`` (JavaScript), for ``add_init_script``."""
    _need(PROBES)
    return PROBES.read_text() + "\n" + "\n".join(f"{c};" for c in calls)


@asynccontextmanager
async def chromium(args: list[str]) -> AsyncIterator[Any]:
    """Debian's Chromium (HOTLINE_CHROMIUM), headless, under Playwright."""
    from playwright.async_api import async_playwright

    if not os.access(CHROMIUM, os.X_OK):
        raise SystemExit(f"no Chromium at {CHROMIUM}: install it or set HOTLINE_CHROMIUM")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Server:
    url: str
    store: SqliteStore


@asynccontextmanager
async def hotline_server(room: str, parties: list[str], page: bool = True
                         ) -> AsyncIterator[Server]:
    """``hotline serve`` (server, embedded SFU and the built call page, which must exist
    if ``page``) in this process on a free 127.0.0.1 port, with ``parties`` as members of
    ``room``."""
    if page:
        _need(APP)
    data = Path(tempfile.mkdtemp(prefix="hotline-bench-browser-"))
    store = SqliteStore(data)
    for name in parties:
        store.add_party(name)
    store.add_room(room, parties)
    app = make_app(Settings(host="127.0.0.1", port=0, data_dir=data), store=store)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield Server(f"http://127.0.0.1:{port}", store)
    finally:
        await runner.cleanup()
        store.close()


async def enroll(page: Any, url: str, code: str, room: str, query: str = "") -> None:
    """Open the call page, enroll this browser context with ``code``, wait for the room."""
    await page.goto(f"{url}/{query}")
    await page.get_by_label("Enrollment code").fill(code)
    await page.get_by_role("button", name="Enroll").click()
    await page.get_by_role("button", name=f"Join {room}").wait_for(timeout=15_000)


async def join(page: Any, room: str) -> None:
    """From the room list through the pre-join check into the call."""
    await page.get_by_role("button", name=f"Join {room}").click(timeout=15_000)
    await page.get_by_role("button", name="Join now").click(timeout=15_000)


def watch_problems(page: Any, problems: list[str]) -> None:
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
            if m.type == "error" else None)
