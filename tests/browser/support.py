"""What the browser tests share: the repository paths, Debian's Chromium and its flags,
a Playwright browser fixture body, and a static file server on a free 127.0.0.1 port."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
CHROMIUM = os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
#: Fake camera and microphone, loopback ICE, autoplay: for the pages that make calls.
MEDIA_ARGS = [
    *CHROMIUM_ARGS,
    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream=fps=30",
    "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
]


@asynccontextmanager
async def chromium(args: list[str], check_bundle: Callable[[], None]) -> AsyncIterator[Any]:
    """Debian's Chromium under Playwright (async), after checking the page's bundle."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.fail("Python Playwright is missing: run `make setup` (it is a dev dependency)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: install it or set HOTLINE_CHROMIUM")
    check_bundle()
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield browser
        finally:
            await browser.close()


class _Handler(http.server.SimpleHTTPRequestHandler):
    served: tuple[str, ...] = ()

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if ".." in path or not path.startswith(self.served):
            self.send_error(404)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def guess_type(self, path: Any) -> str:
        return "text/javascript" if str(path).endswith(".js") else super().guess_type(path)

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass


@contextmanager
def serve_static(root: Path, served: tuple[str, ...]) -> Iterator[str]:
    """Serve only the paths under ``served`` (prefixes) of ``root``; yields the base URL."""
    handler_class = type("Handler", (_Handler,), {"served": served})
    handler = functools.partial(handler_class, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


#: For tests whose parties are fresh identities: the page's user presses Accept on every
#: new party and device as it appears (the real buttons; issue #12). Installed explicitly
#: with ``context.add_init_script(ACCEPT_EVERY_DEVICE)``; never part of the page.
ACCEPT_EVERY_DEVICE = """
new MutationObserver(() => {
  for (const b of document.querySelectorAll('button.trust-accept')) {
    if (!b.dataset.autoAccepted) { b.dataset.autoAccepted = '1'; b.click(); }
  }
}).observe(document, { childList: true, subtree: true });
"""
