"""``hotline serve``: run the server until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer
import uvloop
from aiohttp import web
from rich.console import Console

from hotline import __version__
from hotline.errors import HotlineError
from hotline.server.app import make_app
from hotline.server.settings import DEFAULT_DATA, DEFAULT_HOST, DEFAULT_PORT, Settings

Host = Annotated[str, typer.Option("--host", envvar="HOTLINE_HOST", help="Address to listen on.")]
Port = Annotated[int, typer.Option("--port", envvar="HOTLINE_PORT", help="TCP port.")]
Data = Annotated[Path, typer.Option("--data", envvar="HOTLINE_DATA", help="Data directory.")]
Media = Annotated[str | None, typer.Option("--media-host", envvar="HOTLINE_MEDIA_HOST",
                                           help="Address for media (default: --host).")]


async def _serve(settings: Settings, console: Console) -> None:
    app = make_app(settings)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise HotlineError(f"cannot listen on {settings.host}:{settings.port}: "
                           f"{exc.strerror}") from None
    console.print(f"[bold]Hotline {__version__}[/] serving at [bold cyan]{settings.url}[/]"
                  f"  (data: {settings.data_dir.resolve()})")
    console.print("Press Ctrl-C to stop.")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        console.print("stopping…")
        await runner.cleanup()
        console.print("stopped.")


def serve(host: Host = DEFAULT_HOST, port: Port = DEFAULT_PORT, data: Data = DEFAULT_DATA,
          media_host: Media = None,
          verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Run the Hotline server (signaling, storage; the SFU is not built yet)."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = Console()
    try:
        settings = Settings(host=host, port=port, data_dir=data, media_host=media_host)
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(_serve(settings, console))  # the SFU's hot path wants uvloop
    except HotlineError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code=1) from None
