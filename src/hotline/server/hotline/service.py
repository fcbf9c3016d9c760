"""The hotline service: standby endpoints, link tests, calls, alarms and status.

One object per server (:func:`hotline.server.app.make_app` builds it); the signaling
session hands it every hotline message. Every action first checks that the connection
is an end of the hotline presenting a pinned identity key
(:func:`hotline.server.hotline.standby.check_pinned`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from hotline.errors import ProtocolError
from hotline.server.hotline.alarms import Alarms
from hotline.server.hotline.calls import HotlineCalls
from hotline.server.hotline.linktests import LinkTests
from hotline.server.hotline.outcomes import hotline_status
from hotline.server.hotline.records import Hotline
from hotline.server.hotline.standby import (
    Endpoint,
    Registered,
    StandbyRegistry,
    check_pinned,
    device_name,
    far_party,
)
from hotline.server.hotline.uptime import UptimeRecord
from hotline.server.settings import Settings
from hotline.server.store import Store
from hotline.signaling import messages as m


class HotlineService:
    def __init__(self, settings: Settings, store: Store, record: UptimeRecord, *,
                 discard_room: Callable[[str], None],
                 clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.store = store
        self.record = record
        self.standby = StandbyRegistry()
        self.alarms = Alarms(record, settings.alarm_webhook, server=settings.server_name,
                             clock=clock)
        self.linktests = LinkTests(settings, store, self.standby, record, self.alarms,
                                   discard_room=discard_room, clock=clock)
        self.calls = HotlineCalls(self.standby, record, ring_timeout=settings.ring_timeout,
                                  discard_room=discard_room, clock=clock)
        self._clock = clock

    def start(self) -> None:
        self.linktests.start()

    async def close(self) -> None:
        await self.linktests.close()
        await self.alarms.close()

    def _pinned(self, endpoint: Endpoint, name: str, action: str) -> Hotline:
        return check_pinned(self.store, name, endpoint, self.store.audit, action)

    # -- from a session -------------------------------------------------------------------

    def register_standby(self, endpoint: Endpoint, name: str, record_length: int = 0) -> None:
        hotline = self._pinned(endpoint, name, "standby")
        registered = Registered(endpoint, name, endpoint.party, device_name(self.store, endpoint))
        self.standby.add(registered)
        endpoint.send(m.StandbyOk(hotline=name, party=endpoint.party,
                                  far_party=far_party(hotline, endpoint.party),
                                  interval_s=self.linktests.interval(name)))
        self.linktests.registered(registered, record_length)

    async def linktest_now(self, endpoint: Endpoint, name: str) -> None:
        self._pinned(endpoint, name, "linktest")
        endpoint.send(await self.linktests.run(name, reason="requested"))

    def report(self, endpoint: Endpoint, msg: m.LinkTestReport) -> None:
        self.linktests.report(endpoint, msg)

    def call(self, endpoint: Endpoint, name: str) -> None:
        hotline = self._pinned(endpoint, name, "call")
        self.calls.place(endpoint, device_name(self.store, endpoint), hotline)

    def ack(self, endpoint: Endpoint, msg: m.RingAck) -> None:
        self.calls.ack(endpoint, msg.call_id, msg.message)

    def answer(self, endpoint: Endpoint, msg: m.CallAnswer) -> None:
        self.calls.answer(endpoint, msg.call_id)

    def hangup(self, endpoint: Endpoint, msg: m.Hangup) -> None:
        self.calls.hangup(endpoint, msg.call_id)

    def media_room(self, endpoint: Endpoint, call_id: str) -> str:
        """The live room a ``hotline_join`` enters, after every check."""
        found = self.linktests.media_room(endpoint, call_id) or \
            self.calls.media_room(endpoint, call_id)
        if found is None:
            raise ProtocolError("no such link test or call")
        hotline, room = found
        self._pinned(endpoint, hotline, "join")
        return room

    def disconnected(self, endpoint: Endpoint) -> None:
        for registered in self.standby.remove(endpoint):
            self.linktests.endpoint_gone(registered)
        self.calls.endpoint_gone(endpoint)

    # -- the dashboard's data -------------------------------------------------------------

    def status(self, party: str | None, last: int = 20) -> list[dict[str, Any]]:
        """Every hotline (of ``party``; None: all) as :func:`hotline_status` gives it,
        plus the standby endpoints connected now per party."""
        out = []
        now_ms = int(self._clock() * 1000)
        for hotline in self.store.list_hotlines():
            if party is not None and party not in hotline.parties:
                continue
            doc = hotline_status(hotline.name, hotline.parties,
                                 self.record.entries(hotline.name), now_ms=now_ms,
                                 interval_s=self.linktests.interval(hotline.name), last=last)
            doc["standby"] = {p: self.standby.count(hotline.name, p) for p in hotline.parties}
            out.append(doc)
        return out
