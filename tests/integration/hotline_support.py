"""Helpers for the hotline tests: enrolled parties, a pinned hotline, standbys, a webhook
receiver on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from hotline.client.call import Call
from hotline.client.hotline.standby import Standby, StandbyEvent
from hotline.client.signaling import SignalingClient
from hotline.crypto.identity import Identity
from hotline.server.app import STATE
from hotline.server.hotline.service import HotlineService
from hotline.server.hotline.uptime import UptimeRecord, node_identity

from ..support.server import Server, listen, start_server
from ..support.trust import hotline_pins

HOTLINE = "red"
SHORT = {"linktest_min_interval": 1.0, "linktest_duration": 3.0, "join_timeout": 5.0}


async def enroll(srv: Server, party: str) -> Identity:
    identity = Identity.generate()
    async with SignalingClient(srv.url, identity) as client:
        await client.enroll(srv.store.new_enrollment_code(party))
    return identity


#: Devices of bob enrolled before the hotline was made (so pinned), beyond the first.
SPARE_BOBS: dict[str, list[Identity]] = {}


@contextlib.asynccontextmanager
async def hotline_server(data: Path, bob_devices: int = 1,
                         **settings: Any) -> AsyncIterator[tuple[Server, Identity, Identity]]:
    """A server with parties alice and bob, one device each (bob: ``bob_devices``, the
    others in ``SPARE_BOBS[srv.url]``), and hotline ``red`` between them (pinned); yields
    the server and both first identities."""
    srv = await start_server(data, **{**SHORT, **settings})
    try:
        srv.store.add_party("alice")
        srv.store.add_party("bob")
        alice = await enroll(srv, "alice")
        bobs = [await enroll(srv, "bob") for _ in range(bob_devices)]
        SPARE_BOBS[srv.url] = bobs[1:]
        srv.store.add_hotline(HOTLINE, "alice", "bob")
        yield srv, alice, bobs[0]
    finally:
        await srv.close()


def service(srv: Server) -> HotlineService:
    return srv.app[STATE].hotlines


def record(srv: Server, data: Path) -> UptimeRecord:
    return UptimeRecord(srv.store, node_identity(data))


class RunningStandby:
    """A :class:`Standby` running in a task."""

    def __init__(self, standby: Standby) -> None:
        self.standby = standby
        self.task = asyncio.ensure_future(standby.run())
        self.seen: list[StandbyEvent] = []

    async def next(self, kind: str, timeout: float = 30.0,
                   where: Callable[[StandbyEvent], bool] = lambda e: True) -> StandbyEvent:
        async def wait() -> StandbyEvent:
            while True:
                get = asyncio.ensure_future(self.standby.events.get())
                await asyncio.wait({get, self.task}, return_when=asyncio.FIRST_COMPLETED)
                if not get.done():
                    get.cancel()
                    self.task.result()  # raises what ended it
                    raise AssertionError("the standby stopped")
                ev = get.result()
                self.seen.append(ev)
                if ev.kind == kind and where(ev):
                    return ev
        return await asyncio.wait_for(wait(), timeout)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        await self.standby.close()


def running_standby(srv: Server, identity: Identity, url: str | None = None,
                    **options: Any) -> RunningStandby:
    """``identity``'s standby for HOTLINE on ``url`` (default: the server's), with the
    pins in the store unless ``trust`` is given; started, not yet connected."""
    options.setdefault("trust", hotline_pins(srv.store, HOTLINE, identity))
    return RunningStandby(Standby(url or srv.url, identity, HOTLINE, min_backoff=0.2,
                                  max_backoff=1.0, **options))


async def standby(srv: Server, identity: Identity, url: str | None = None,
                  **options: Any) -> RunningStandby:
    """:func:`running_standby`, once connected."""
    running = running_standby(srv, identity, url, **options)
    await running.next("connected", timeout=10)
    return running


async def decrypting(call: Call, party: str, frames: int = 5, timeout: float = 10.0) -> bool:
    """Whether ``call`` decrypts more than ``frames`` video frames of ``party`` in time."""
    for _ in range(int(timeout / 0.05)):
        remote = call.stats().remote.get(party)
        if remote and remote["video_frames_decrypted"] > frames:
            return True
        await asyncio.sleep(0.05)
    return False


class WebhookReceiver:
    """Collects the JSON bodies POSTed to it (the alarm webhook)."""

    def __init__(self) -> None:
        self.bodies: list[tuple[float, dict[str, Any]]] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        async def hook(request: web.Request) -> web.Response:
            self.bodies.append((asyncio.get_running_loop().time(), await request.json()))
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/alarm", hook)
        self._runner, url = await listen(app)
        self.url = f"{url}/alarm"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
