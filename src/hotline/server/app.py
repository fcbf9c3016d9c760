"""The aiohttp application, built by :func:`make_app` (no globals)."""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web

from hotline import __version__
from hotline.server.hotline.service import HotlineService
from hotline.server.hotline.uptime import UptimeRecord, node_identity
from hotline.server.origin import connection_origins, tls_unique
from hotline.server.rooms import RoomRegistry
from hotline.server.session import Session
from hotline.server.settings import Settings
from hotline.server.state import ServerState
from hotline.server.store import SqliteStore, Store
from hotline.server.turn import TurnCredentials, no_turn
from hotline.server.webpage import WEB_APP, add_page_routes
from hotline.sfu.edge import Sfu, StreamInfo
from hotline.signaling import messages as m
from hotline.signaling.messages import MAX_MESSAGE_BYTES

log = logging.getLogger("hotline.server")


STATE = web.AppKey("state", ServerState)

_INDEX = """<!doctype html><html lang="en"><meta charset="utf-8">
<title>Hotline</title><body style="font-family:sans-serif;max-width:40em;margin:3em auto">
<h1>Hotline {version}</h1>
<p>This Hotline server is running. Signaling: <code>/ws</code>.</p>
<p>The browser client is not built yet: use the <code>hotline</code> command
(see the README).</p></body></html>"""


WEB_APP_KEY = web.AppKey("web_app", Path)


async def _health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    rooms = {r.name: len(r.participants) for r in state.rooms.rooms() if r.participants}
    return web.json_response({"status": "ok", "version": __version__, "live_rooms": rooms})


def origin_allowed(request: web.Request, allowed: tuple[str, ...] | None) -> bool:
    """A WebSocket upgrade from a browser page of another origin is refused unless that
    origin is allowed (clients that are not browsers send no Origin)."""
    origin = request.headers.get("Origin")
    if allowed is None or origin is None:
        return True
    return origin in allowed or origin == f"{request.scheme}://{request.host}"


async def _signaling(request: web.Request) -> web.StreamResponse:
    if not origin_allowed(request, request.app[STATE].settings.allowed_origins):
        raise web.HTTPForbidden(text="this origin may not use this server's signaling\n")
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

    def send_offer(room: str, pid: int, sdp: str, streams: list[StreamInfo]) -> None:
        rooms.get(room).send_to(pid, m.SubscribeOffer(sdp=sdp, streams=[
            m.StreamInfo(mid=s.mid, participant_id=s.participant_id, kind=s.kind)  # type: ignore[arg-type]
            for s in streams]))

    sfu = Sfu(settings.media_address, send_offer, consent_interval=settings.consent_interval,
              consent_failures=settings.consent_failures)
    # the live rooms own their media in the SFU (joins, publishes, leaves go through them)
    turn = (TurnCredentials(settings.turn_urls, settings.turn_secret.encode(),
                            settings.turn_credential_lifetime).ice_servers
            if settings.turn_secret is not None else no_turn)
    rooms = RoomRegistry(join_timeout=settings.join_timeout, audit=store.audit, media=sfu,
                         ice_servers=turn)
    record = UptimeRecord(store, node_identity(settings.data_dir))
    hotlines = HotlineService(settings, store, record, discard_room=rooms.discard)
    app[STATE] = ServerState(settings, store, rooms, sfu, hotlines,
                             public_origins=set(settings.public_origins))
    app[WEB_APP_KEY] = web_app
    # Served by the server: the page talks to its own origin only (its config names no
    # other server).
    add_page_routes(app, web_app, connect=["'self'"], config={},
                    fallback=_INDEX.format(version=__version__))
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
