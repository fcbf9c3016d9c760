"""``hotline web``: serve the browser call page from this machine, pointed at a server.

The page's code then comes from the bundle installed here (``make web``: web/dist/app),
never from the Hotline server: the page only talks signaling (a WebSocket) to the server
given with ``--server`` and exchanges media with its SFU. Its Content-Security-Policy
allows no other connection. The bundle is checked against its manifest at start and its
hash printed, to compare with the hash of your own build (README, "Whose code runs in the
page").
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
from pathlib import Path
from typing import Annotated

import typer
from aiohttp import web
from aiohttp.typedefs import Handler
from rich.console import Console

from hotline.cli.exits import failed
from hotline.cli.listening import listen, until_stopped
from hotline.errors import HotlineError
from hotline.server.webpage import (
    WEB_APP,
    add_page_routes,
    bundle_hash,
    check_bundle,
    websocket_origin,
)


def make_web_app(server: str, bundle: Path = WEB_APP, loopback: bool = True) -> web.Application:
    """The page of ``bundle`` (checked against its manifest), told to use ``server``, whose
    WebSocket is the only connection it may open besides its own origin. ``loopback``: only
    requests that name a loopback host are answered (a DNS-rebound name is not: its origin
    could have stored data for the page beforehand)."""
    ws = websocket_origin(server)
    check_bundle(bundle)

    @web.middleware
    async def loopback_host(request: web.Request, handler: Handler) -> web.StreamResponse:
        if loopback and not _loopback(_hostname(request.host)):
            raise web.HTTPMisdirectedRequest(text="this page is served for loopback names only\n")
        return await handler(request)

    app = web.Application(middlewares=[loopback_host])
    add_page_routes(app, bundle, connect=["'self'", ws], config={"server": server.rstrip("/")})
    return app


def _hostname(host: str) -> str:
    """The name in a Host header or URL authority, without port and brackets."""
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def _run(app: web.Application, host: str, port: int, console: Console) -> None:
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    await listen(runner, host, port)
    shown = f"[{host}]" if ":" in host else host
    console.print(f"Open [bold cyan]http://{shown}:{port}/[/] (Ctrl-C stops).")
    try:
        await until_stopped()
    finally:
        await runner.cleanup()


def web_command(
    server: Annotated[str, typer.Option("--server", envvar="HOTLINE_SERVER",
                                        help="The Hotline server, e.g. https://hotline.example")],
    host: Annotated[str, typer.Option(help="Address to listen on (loopback: only this "
                                      "machine; browsers allow the camera there).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    bundle: Annotated[Path, typer.Option(help="The built page (make web).")] = WEB_APP,
) -> None:
    """Serve the browser call page from this machine's own copy, pointed at --server."""
    console = Console()
    try:
        app = make_web_app(server, bundle, loopback=_loopback(host))
        digest = bundle_hash(bundle)
        console.print(f"Hotline page from [bold]{bundle}[/]\n  code: [bold]{digest}[/] "
                      "(compare it with the hash your own `make web` prints)\n"
                      f"  server: {server.rstrip('/')} (the page connects to nothing else)")
        if server.startswith("http://") and not _loopback(_hostname(server.split("//", 1)[1]
                                                                    .rstrip("/"))):
            console.print("[yellow]warning:[/] the server is plain http beyond this machine: "
                          "anyone on the path sees and can change the signaling. Use https.")
        if not _loopback(host):
            console.print(f"[yellow]warning:[/] serving on {host}, beyond this machine: other "
                          "browsers then run this machine's copy over plain http (and get no "
                          "camera: browsers allow it only on https or loopback pages).")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(_run(app, host, port, console))
    except HotlineError as exc:
        raise failed(exc) from None
