"""An aiohttp app served by a CLI command (``hotline serve``, ``hotline web``) until
Ctrl-C or SIGTERM."""

from __future__ import annotations

import asyncio
import errno
import signal
import ssl

from aiohttp import web

from hotline.errors import HotlineError


async def listen(runner: web.AppRunner, host: str, port: int,
                 ssl_context: ssl.SSLContext | None = None, port_option: str = "--port") -> None:
    """Start ``runner`` (set up) on ``host``:``port``; if it cannot listen, clean it up and
    say why (a port in use: which option picks another)."""
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        if exc.errno == errno.EADDRINUSE:
            raise HotlineError(f"cannot listen on {host}:{port}: the port is in use (another "
                               f"server already?); pick another with {port_option}") from None
        raise HotlineError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


async def until_stopped() -> None:
    """Return on the first SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
