"""What every connection of one server shares (built by :func:`hotline.server.app.make_app`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from hotline.server.hotline.service import HotlineService
from hotline.server.rooms import RoomRegistry
from hotline.server.settings import Settings
from hotline.server.store import Store
from hotline.sfu.edge import Sfu


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
