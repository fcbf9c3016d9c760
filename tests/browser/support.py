"""What the browser tests and the browser benchmarks (bench/browser/) share: the repository
paths, the check that a bundle is built and fresh, Debian's Chromium and its flags, a
Playwright browser (async fixture or sync page run), the call page's enrollment, and a
static file server on a free 127.0.0.1 port.

Where a check fails, ``fail`` is called with the reason: ``pytest.fail`` in tests,
``sys.exit`` in the benchmarks."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest
import pytest_asyncio

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


Fail = Callable[[str], NoReturn]

#: The call page as the server serves it at "/" (``make web`` builds it).
APP = WEB / "dist" / "app"
APP_BUNDLES = [APP / "index.html", APP / "app.css", APP / "main.js", APP / "transform-worker.js"]


def web_files(*folders: str) -> list[Path]:
    """Every file below ``web/<folder>`` for each of ``folders``."""
    return [p for d in folders for p in (WEB / d).rglob("*") if p.is_file()]


def check_built(bundles: Sequence[Path], sources: Iterable[Path], fail: Fail = pytest.fail
                ) -> None:
    """``fail`` unless every one of ``bundles`` exists and is newer than every source."""
    for b in bundles:
        if not b.exists():
            fail(f"{b.relative_to(ROOT)} is missing: run `make web`")
    oldest = min(bundles, key=lambda b: b.stat().st_mtime)
    newer = [p for p in sources if p.stat().st_mtime > oldest.stat().st_mtime]
    if newer:
        fail(f"{oldest.relative_to(ROOT)} is older than {newer[0].relative_to(ROOT)}: "
             "run `make web`")


def check_app_bundle(fail: Fail = pytest.fail) -> None:
    """The call page is built and newer than web/src and the package files."""
    check_built(APP_BUNDLES, [*web_files("src"), WEB / "package.json",
                              WEB / "package-lock.json", WEB / "tsconfig.json"], fail)


def check_chromium(fail: Fail = pytest.fail) -> None:
    """Python Playwright is installed and Chromium is where HOTLINE_CHROMIUM says."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        fail("Python Playwright is missing: run `make setup` (it is a dev dependency)")
    if not os.access(CHROMIUM, os.X_OK):
        fail(f"no Chromium at {CHROMIUM}: install it (as root: apt-get install chromium "
             "fonts-liberation; `make test` does this) or set HOTLINE_CHROMIUM")


@asynccontextmanager
async def chromium(args: list[str], check_bundle: Callable[[], None] = lambda: None,
                   fail: Fail = pytest.fail) -> AsyncIterator[Any]:
    """Debian's Chromium under Playwright (async), after checking the page's bundle."""
    check_chromium(fail)
    check_bundle()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
        try:
            yield browser
        finally:
            await browser.close()


def browser_fixture(args: list[str], check_bundle: Callable[[], None]) -> Any:
    """A pytest fixture ``browser``: :func:`chromium` with ``args`` for one test."""
    @pytest_asyncio.fixture
    async def browser() -> AsyncIterator[Any]:
        async with chromium(args, check_bundle) as b:
            yield b

    return browser


def run_page(url: str, summary: str, timeout_ms: float) -> tuple[dict[str, Any], list[str]]:
    """Load ``url`` in Chromium (sync Playwright), wait until ``window.<summary>.done``,
    and return that summary and the page's errors."""
    check_chromium()
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            watch_problems(page, problems)
            page.goto(url)
            page.wait_for_function(f"() => window.{summary}?.done === true", timeout=timeout_ms)
            result: dict[str, Any] = page.evaluate(f"() => window.{summary}")
        finally:
            browser.close()
    return result, problems


def watch_problems(page: Any, problems: list[str], console: bool = True) -> list[str]:
    """Note the page's uncaught errors (and, with ``console``, its console errors) in
    ``problems``; returns it."""
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    if console:
        page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" else None)
    return problems


async def enroll(page: Any, url: str, code: str, room: str | None, query: str = "") -> None:
    """Open the call page, enroll this browser context with ``code``, wait for ``room`` in
    the room list (None: for the room list)."""
    await page.goto(f"{url}/{query}")
    await page.get_by_label("Enrollment code").fill(code)
    await page.get_by_role("button", name="Enroll").click()
    if room is None:
        await page.wait_for_function("() => window.hotlineApp.phase === 'rooms'")
    else:
        await page.get_by_role("button", name=f"Join {room}").wait_for(timeout=15_000)


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
