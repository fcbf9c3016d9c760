"""Alarms of the hotlines: a log line, an uptime-log entry, and a webhook POST.

An alarm is raised when a link test fails (``unreachable``, ``responder_failed``) or
when no result was recorded for interval + grace (``missing``); it is cleared by the
next test that passes. Raising never waits for the network: the webhook is POSTed
by one background worker from a bounded queue, with a bounded number of attempts,
so a slow or dead receiver cannot hold up the scheduler.

Webhook body (JSON)::

    {"event": "alarm" | "alarm_cleared", "hotline": NAME, "reason": TEXT,
     "outcome": OUTCOME | null, "test_id": ID | null, "time_ms": MILLISECONDS,
     "server": SERVER_NAME}
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from hotline.errors import UsageError
from hotline.logtext import safe
from hotline.server.hotline.outcomes import open_alarms
from hotline.server.hotline.uptime import UptimeRecord

log = logging.getLogger("hotline.alarm")

QUEUE = 100  # webhook deliveries waiting; the oldest is dropped beyond
ATTEMPTS = 3
TIMEOUT = 5.0  # seconds per attempt


class Alarms:
    def __init__(self, record: UptimeRecord, webhook: str | None, *, server: str,
                 clock: Callable[[], float] = time.time, backoff: float = 1.0) -> None:
        self._record = record
        self._webhook = webhook
        self._server = server
        self._clock = clock
        self._backoff = backoff
        self._queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(QUEUE)
        self._worker: asyncio.Task[None] | None = None
        self.delivered = 0
        self.failed = 0
        self._open: dict[str, bool] = {}

    def is_open(self, hotline: str) -> bool:
        if hotline not in self._open:
            self._open[hotline] = bool(open_alarms(self._record.entries(hotline)))
        return self._open[hotline]

    def raise_alarm(self, hotline: str, reason: str, *, outcome: str | None = None,
                    test_id: str | None = None) -> None:
        log.warning("ALARM hotline=%s reason=%s outcome=%s test=%s", safe(hotline),
                    safe(reason), outcome or "-", test_id or "-")  # reason may quote an end
        self._open[hotline] = True
        self._emit("alarm", hotline, reason, outcome, test_id)

    def clear(self, hotline: str, *, outcome: str, test_id: str | None) -> None:
        """The link works again: close the open alarms of ``hotline`` (if any)."""
        if not self.is_open(hotline):
            return
        log.warning("alarm cleared hotline=%s outcome=%s test=%s", hotline, outcome,
                    test_id or "-")
        self._open[hotline] = False
        self._emit("alarm_cleared", hotline, f"link test {outcome}", outcome, test_id)

    def _emit(self, event: str, hotline: str, reason: str, outcome: str | None,
              test_id: str | None) -> None:
        now_ms = int(self._clock() * 1000)
        data = {"reason": reason, "outcome": outcome, "test_id": test_id}
        try:
            self._record.append(hotline, event, data, time_ms=now_ms)
        except UsageError as exc:  # e.g. the hotline was removed meanwhile
            log.error("cannot record %s for hotline=%s: %s", event, hotline, exc)
        if self._webhook is None:
            return
        body = {"event": event, "hotline": hotline, "time_ms": now_ms,
                "server": self._server, **data}
        if self._queue.full():
            log.error("webhook queue full; dropping the oldest alarm notification")
            self._queue.get_nowait()
        self._queue.put_nowait(body)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.ensure_future(self._deliver_all())

    async def _deliver_all(self) -> None:
        assert self._webhook is not None
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not self._queue.empty():
                body = self._queue.get_nowait()
                await self._deliver(session, self._webhook, body)

    async def _deliver(self, session: aiohttp.ClientSession, url: str,
                       body: dict[str, Any]) -> None:
        for attempt in range(1, ATTEMPTS + 1):
            try:
                async with session.post(url, json=body) as resp:
                    if resp.status < 300:
                        self.delivered += 1
                        return
                    problem = f"HTTP {resp.status}"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                problem = type(exc).__name__
            log.warning("webhook attempt %d/%d for hotline=%s failed: %s", attempt, ATTEMPTS,
                        body["hotline"], problem)
            if attempt < ATTEMPTS:
                await asyncio.sleep(self._backoff * 2 ** (attempt - 1))
        self.failed += 1
        log.error("webhook gave up on %s for hotline=%s", body["event"], body["hotline"])

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._worker
