"""What the browser benchmarks share: the browser tests' helpers (tests/browser/support.py:
Chromium and its flags, enrollment, the static file server), the in-page probes
(web/bench/probes.ts), and a Hotline server in this process on loopback
(tests/support/server.py)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from tests.browser import support as web
from tests.browser.support import (
    ACCEPT_EVERY_DEVICE,
    CHROMIUM_ARGS,
    MEDIA_ARGS,
    enroll,
    serve_static,
    watch_problems,
)
from tests.support.server import Server, running_server

from bench.common import ROOT

__all__ = ["CHROMIUM_ARGS", "MEDIA_ARGS", "PROBES", "Server", "chromium", "enroll",
           "hotline_server", "join", "open_page", "probes_script", "serve_static",
           "watch_problems"]

PROBES = ROOT / "web" / "dist" / "bench" / "probes.js"


def probes_script(*calls: str) -> str:
    """The probes bundle followed by ``calls`` (JavaScript), for ``add_init_script``."""
    if not PROBES.exists():
        sys.exit(f"{PROBES.relative_to(ROOT)} is missing: run `make web`")
    return PROBES.read_text() + "\n" + "\n".join(f"{c};" for c in calls)


def chromium(args: list[str]) -> Any:
    """Debian's Chromium (HOTLINE_CHROMIUM), headless, under Playwright; exits if missing."""
    return web.chromium(args, fail=sys.exit)


@asynccontextmanager
async def hotline_server(room: str, parties: list[str], page: bool = True
                         ) -> AsyncIterator[tuple[Server, dict[str, str]]]:
    """``hotline serve`` (server, embedded SFU and the built call page, which must exist
    if ``page``) in this process on a free 127.0.0.1 port, with ``parties`` as members of
    ``room``; yields it and the parties' enrollment codes."""
    if page:
        web.check_built(web.APP_BUNDLES, (), fail=sys.exit)
    async with running_server() as srv:
        yield srv, srv.room(room, parties)


async def open_page(browser: Any, problems: list[str], init_script: str) -> Any:
    """A new context (1000x800) with ``init_script``, and its page, whose errors go to
    ``problems``. Every party is a fresh identity: the page's user accepts each new device
    (as the browser tests do)."""
    context = await browser.new_context(viewport={"width": 1000, "height": 800})
    await context.add_init_script(script=ACCEPT_EVERY_DEVICE)
    await context.add_init_script(script=init_script)
    page = await context.new_page()
    watch_problems(page, problems)
    return page


async def join(page: Any, room: str) -> None:
    """From the room list through the pre-join check into the call."""
    await page.get_by_role("button", name=f"Join {room}").click(timeout=15_000)
    await page.get_by_role("button", name="Join now").click(timeout=15_000)
