"""The aiohttp application, built by :func:`make_app` (no globals)."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from hotline import __version__
from hotline.server.hotlines import HotlineService
from hotline.server.origin import connection_origins, tls_unique
from hotline.server.rooms import RoomRegistry
from hotline.server.session import Session
from hotline.server.settings import Settings
from hotline.server.store import SqliteStore, Store
from hotline.server.uptime import UptimeRecord, node_identity
from hotline.sfu.edge import Sfu, StreamInfo
from hotline.signaling import messages as m
from hotline.signaling.messages import MAX_MESSAGE_BYTES

log = logging.getLogger("hotline.server")


@dataclass
class ServerState:
    settings: Settings
    store: Store
    rooms: RoomRegistry
    sfu: Sfu
    hotlines: HotlineService
    #: Tasks that outlive the connection that started them (a broken seat's expiry).
    background: set[asyncio.Task[object]] = field(default_factory=set)
    #: Origins a login/enrollment proof may name besides the connection's own address
    #: (``Settings.public_urls``; hotline.server.origin).
    public_origins: set[str] = field(default_factory=set)


STATE = web.AppKey("state", ServerState)

_INDEX = """<!doctype html><html lang="en"><meta charset="utf-8">
<title>Hotline</title><body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>Hotline {version}</h1>
<p>This Hotline server is running. Signaling: <code>/ws</code>.</p>
<p>The browser client is not built yet: use the <code>hotline</code> command
(see the README).</p></body></html>"""


#: The built browser client (``make web``): web/dist/app in a source checkout.
WEB_APP = Path(__file__).resolve().parents[3] / "web" / "dist" / "app"
WEB_APP_KEY = web.AppKey("web_app", Path)
_ASSET = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.(js|css|map)")
_TYPES = {"js": "text/javascript", "css": "text/css", "map": "application/json"}
# The page needs only its own origin (scripts, worker, signaling WebSocket) and local media.
_CSP = ("default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; "
        "connect-src 'self'; media-src 'self' blob: mediastream:; img-src 'self' data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_HEADERS = {"Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


async def _index(request: web.Request) -> web.StreamResponse:
    page = request.app[WEB_APP_KEY] / "index.html"
    if page.is_file():
        return web.FileResponse(page, headers={**_HEADERS, "Content-Type": "text/html"})
    return web.Response(text=_INDEX.format(version=__version__), content_type="text/html")


async def _asset(request: web.Request) -> web.StreamResponse:
    """A file of the built client, by plain name only (no paths, no listing)."""
    name = request.match_info["name"]
    match = _ASSET.fullmatch(name)
    path = request.app[WEB_APP_KEY] / name
    if match is None or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={**_HEADERS, "Content-Type": _TYPES[match.group(2)]})


async def _health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    rooms = {r.name: len(r.participants) for r in state.rooms.rooms() if r.participants}
    return web.json_response({"status": "ok", "version": __version__, "live_rooms": rooms})


async def _signaling(request: web.Request) -> web.StreamResponse:
    origins, binding = connection_origins(request), tls_unique(request)
    ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE_BYTES, heartbeat=20.0)
    await ws.prepare(request)
    await Session(request.app[STATE], ws, origins=origins, channel_binding=binding).run()
    return ws


def make_app(settings: Settings, store: Store | None = None,
             web_app: Path = WEB_APP) -> web.Application:
    """Build the server. ``store`` defaults to SQLite in ``settings.data_dir``; the browser
    client is served from ``web_app`` when it is built there."""
    owned = store is None
    store = store if store is not None else SqliteStore(settings.data_dir)
    app = web.Application()
    rooms = RoomRegistry(join_timeout=settings.join_timeout, audit=store.audit)

    def send_offer(room: str, pid: int, sdp: str, streams: list[StreamInfo]) -> None:
        rooms.get(room).send_to(pid, m.SubscribeOffer(sdp=sdp, streams=[
            m.StreamInfo(mid=s.mid, participant_id=s.participant_id, kind=s.kind)  # type: ignore[arg-type]
            for s in streams]))

    sfu = Sfu(settings.media_address, send_offer, consent_interval=settings.consent_interval,
              consent_failures=settings.consent_failures)
    record = UptimeRecord(store, node_identity(settings.data_dir))
    hotlines = HotlineService(settings, store, record, discard_room=rooms.discard)
    app[STATE] = ServerState(settings, store, rooms, sfu, hotlines,
                             public_origins=set(settings.public_origins))
    app[WEB_APP_KEY] = web_app
    app.router.add_get("/", _index)
    app.router.add_get("/app/{name}", _asset)
    app.router.add_get("/healthz", _health)
    app.router.add_get("/ws", _signaling)

    async def start_hotlines(app: web.Application) -> None:
        app[STATE].hotlines.start()

    async def close_store(app: web.Application) -> None:
        await app[STATE].hotlines.close()
        await app[STATE].sfu.close()
        if owned:
            app[STATE].store.close()

    app.on_startup.append(start_hotlines)
    app.on_cleanup.append(close_store)
    return app
