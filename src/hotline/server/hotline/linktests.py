"""Link tests: the server schedules them, the two standby ends run them, the server judges.

A scheduled test is a round: one test per configured media path
(``Settings.link_paths``: through the SFU, direct between the ends, through the TURN
relay), one after another, each its own entry in the uptime record; the round's outcome
(:func:`hotline.server.hotline.outcomes.round_verdict`) names every failed path, and a
failed path raises an alarm that names it.

Per test: the originating side alternates (it is the other side from the last test in
the uptime record). If a party has no standby endpoint connected, the test is
``unreachable`` and no call is placed. Otherwise the server picks one endpoint per side
(a party's endpoints take turns, so each terminal is tested), sends each
``linktest_start`` with a fresh test id and media room, and both join that room with
``hotline_join`` (their pinned keys are checked again), run an ordinary E2EE call
through the SFU with the synthetic pattern for ``duration`` seconds, and send
``linktest_report`` with their figures. The server never holds a media key: it only
compares figures (:func:`hotline.server.hotline.outcomes.evaluate`),
appends a signed ``linktest`` entry to the uptime record, and raises or clears alarms.

A watchdog raises a ``missing`` alarm when a hotline has no result for
interval + grace (a stuck scheduler, a test that never ended).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hotline.crypto.identity import fingerprint
from hotline.crypto.linkreport import LinkReport, figures_from, same_figures
from hotline.errors import CryptoError, ProtocolError, UsageError
from hotline.logtext import safe
from hotline.server.hotline.alarms import Alarms
from hotline.server.hotline.outcomes import UNREACHABLE, UP, evaluate, round_verdict
from hotline.server.hotline.records import Hotline
from hotline.server.hotline.standby import Endpoint, Registered, StandbyRegistry, far_party
from hotline.server.hotline.uptime import UptimeRecord
from hotline.server.settings import Settings
from hotline.server.store import Store
from hotline.signaling import messages as m
from hotline.signaling.hotline_rooms import hotline_room

log = logging.getLogger("hotline.linktest")
TICK = 1.0  # seconds between scheduler checks
MISSING_GRACE = 60.0  # seconds past the interval before a missing result alarms
JOIN_MARGIN = 20.0  # seconds for both ends to join and report, on top of the duration
CHUNK_BYTES = 150_000  # record entries per ``record_entries`` message, at most


@dataclass
class PendingTest:
    test_id: str
    hotline: str
    room: str
    ends: dict[str, Registered]  # party -> chosen endpoint
    reports: dict[str, asyncio.Future[m.LinkTestFigures]] = field(default_factory=dict)
    signed: dict[str, bytes] = field(default_factory=dict)  # party -> its signed report
    joined: set[bytes] = field(default_factory=set)


class LinkTests:
    def __init__(self, settings: Settings, store: Store, standby: StandbyRegistry,
                 record: UptimeRecord, alarms: Alarms, *,
                 discard_room: Callable[[str], None],
                 clock: Callable[[], float] = time.time) -> None:
        self._settings = settings
        self._store = store
        self._standby = standby
        self._record = record
        self._alarms = alarms
        self._discard_room = discard_room
        self._clock = clock
        self._pending: dict[str, PendingTest] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, tuple[float, str]] = {}  # hotline -> (time, originator party)
        self._due: dict[str, float] = {}
        self._missing_alarmed: set[str] = set()
        self._turn: dict[tuple[str, str], int] = {}  # (hotline, party) -> tests so far
        self._running: set[asyncio.Task[Any]] = set()
        self._loop_task: asyncio.Task[None] | None = None
        self._started = 0.0
        self._waited: dict[str, float] = {}  # hotline -> last time it waited for standbys
        self._known: dict[str, int] = {}  # conn id -> record entries the endpoint knows

    # -- record heads: each standby gets the entries after the head it knows ---------------

    def registered(self, end: Registered, known: int) -> None:
        self._known[end.endpoint.conn_id] = known
        self.sync(end)

    def sync(self, end: Registered) -> None:
        """Send ``end`` its hotline's record from the last entry it knows to the end."""
        raws = self._store.log_entries(end.hotline)
        # From the last entry it knows on: it checks that one is unchanged, then the links.
        start = max(0, min(self._known.get(end.endpoint.conn_id, 0), len(raws)) - 1)
        chunk: list[bytes] = []
        size = 0
        for raw in raws[start:]:
            if chunk and size + len(raw) > CHUNK_BYTES:
                end.endpoint.send(m.RecordEntries(hotline=end.hotline, start=start,
                                                  entries=chunk, more=True))
                start, chunk, size = start + len(chunk), [], 0
            chunk.append(raw)
            size += len(raw) * 4 // 3 + 4
        end.endpoint.send(m.RecordEntries(hotline=end.hotline, start=start, entries=chunk))
        self._known[end.endpoint.conn_id] = len(raws)

    # -- the schedule ---------------------------------------------------------------------

    def interval(self, hotline: str) -> float:
        override = self._store.hotline_interval(hotline)
        return override if override is not None else self._settings.linktest_interval

    def _last_test(self, hotline: str) -> tuple[float, str]:
        if hotline not in self._last:
            tests = [e for e in self._record.entries(hotline) if e.kind == "linktest"]
            self._last[hotline] = ((tests[-1].time_ms / 1000, str(tests[-1].fields.get(
                "originator", ""))) if tests else (0.0, ""))
        return self._last[hotline]

    def start(self) -> None:
        self._started = self._clock()
        self._loop_task = asyncio.ensure_future(self._schedule())

    async def _schedule(self) -> None:
        while True:
            try:
                self._tick()
            except Exception:  # one bad hotline must not stop the schedule of the others
                log.exception("link-test scheduler tick failed")
            await asyncio.sleep(TICK)

    def _tick(self) -> None:
        now = self._clock()
        for hotline in self._store.list_hotlines():
            name = hotline.name
            interval = self.interval(name)
            last, _ = self._last_test(name)
            if last == 0.0 and not all(self._standby.of(name, p) for p in hotline.parties):
                # new: no test, no alarm, no uptime until a standby of each party is up
                self._waited[name] = now
                continue
            due = max(last + interval, self._started + self._settings.linktest_first_delay)
            if now >= due and not self._busy(name):
                self._spawn(self.run(name, reason="scheduled"))
            since = max(last, self._started, self._waited.get(name, 0.0))
            overdue = now - since > interval + MISSING_GRACE
            if overdue and name not in self._missing_alarmed:
                self._missing_alarmed.add(name)
                self._alarms.raise_alarm(name, "missing", outcome=None)

    def _busy(self, hotline: str) -> bool:
        lock = self._locks.get(hotline)
        return lock is not None and lock.locked()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def close(self) -> None:
        tasks = [t for t in [self._loop_task, *self._running] if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- one test -------------------------------------------------------------------------

    async def run(self, name: str, *, reason: str) -> m.LinkTestResult:
        """Run one link test of hotline ``name`` now (after any running one)."""
        lock = self._locks.setdefault(name, asyncio.Lock())
        async with lock:
            hotline = self._store.get_hotline(name)
            if hotline is None:
                raise UsageError(f"no hotline named {name!r}; see `hotline admin hotline list`")
            _, previous = self._last_test(name)
            originator = far_party(hotline, previous) if previous in hotline.parties \
                else hotline.parties[0]
            responder = far_party(hotline, originator)
            started = self._clock()
            round_id = secrets.token_hex(8)
            paths: dict[str, dict[str, Any]] = {}
            ends = self._choose_ends(hotline, originator, responder)
            for path in self._settings.link_paths:  # one after another: own figures
                path_started = self._clock()
                data: dict[str, Any] = await self._test(hotline, ends, originator, path) \
                    if isinstance(ends, dict) else {"outcome": UNREACHABLE, "path": None,
                                                    "reason": ends}
                data.update(round=round_id, originator=originator, responder=responder,
                            trigger=reason,
                            duration_ms=round((self._clock() - path_started) * 1000, 1))
                self._record_test(name, data, path_started)
                paths[path] = data
                if data["path"] is None:  # no standby endpoint: no path can be tried
                    break
            outcome, why, failed = round_verdict(paths)
            result = {"outcome": outcome, "reason": why, "round": round_id,
                      "failed_paths": failed, "originator": originator,
                      "responder": responder, "trigger": reason,
                      "duration_ms": round((self._clock() - started) * 1000, 1),
                      "paths": paths}
            self._finish(name, result, started)
        return m.LinkTestResult(hotline=name, outcome=outcome, result=result)

    def _choose_ends(self, hotline: Hotline, originator: str, responder: str
                     ) -> dict[str, Registered] | str:
        """One standby endpoint per party for a round (every path of the round tests the
        same two), or why there is none."""
        ends: dict[str, Registered] = {}
        for party in (originator, responder):
            endpoints = self._standby.of(hotline.name, party)
            if not endpoints:
                return f"no standby endpoint of {party} is connected"
            turn = self._turn.get((hotline.name, party), 0)
            self._turn[(hotline.name, party)] = turn + 1
            ends[party] = endpoints[turn % len(endpoints)]  # every terminal gets tested
        return ends

    async def _test(self, hotline: Hotline, ends: dict[str, Registered], originator: str,
                    path: m.MediaPathKind) -> dict[str, Any]:
        test_id = secrets.token_hex(8)
        test = PendingTest(test_id, hotline.name, hotline_room(hotline.name, test_id), ends)
        loop = asyncio.get_running_loop()
        test.reports = {p: loop.create_future() for p in ends}
        self._pending[test_id] = test
        duration = self._settings.linktest_duration
        log.info("link test %s hotline=%s path=%s originator=%s", test_id, hotline.name, path,
                 originator)
        try:
            for party, end in ends.items():
                self.sync(end)
                end.endpoint.send(m.LinkTestStart(
                    hotline=hotline.name, test_id=test_id, room=test.room, duration_s=duration,
                    role="originator" if party == originator else "responder",
                    path=path))
            await asyncio.wait(test.reports.values(), timeout=duration + JOIN_MARGIN)
        finally:
            self._pending.pop(test_id, None)
            self._discard_room(test.room)
        figures = {p: (f.result() if f.done() and not f.cancelled() else None)
                   for p, f in test.reports.items()}
        verdict = evaluate(figures, self._settings.linktest_thresholds, path)
        return {
            "outcome": verdict.outcome, "reason": verdict.reason, "test_id": test_id,
            "path": path, **verdict.figures,
            "ends": {p: {"device": ends[p].device,
                         "fingerprint": fingerprint(ends[p].endpoint.identity_key),
                         **(f.model_dump() if f is not None else {"reported": False}),
                         **({"report": m.b64encode(test.signed[p])} if p in test.signed
                            else {})}
                     for p, f in figures.items()},
        }

    def _record_test(self, name: str, data: dict[str, Any], started: float) -> None:
        try:
            self._record.append(name, "linktest", data, time_ms=int(started * 1000))
        except UsageError as exc:
            log.error("cannot record link test of hotline=%s: %s", name, exc)
        log.info("link test hotline=%s path=%s outcome=%s %s", safe(name), data["path"],
                 data["outcome"], safe(data.get("reason", "")))

    def _finish(self, name: str, data: dict[str, Any], started: float) -> None:
        """After a round: alarms (a failed path raises one that names it), and every
        standby end of the hotline gets the new entries and the result."""
        outcome = data["outcome"]
        self._last[name] = (started, data["originator"])
        self._missing_alarmed.discard(name)
        first: dict[str, Any] = next(iter(data["paths"].values()), {})
        if outcome in UP and not data["failed_paths"]:
            self._alarms.clear(name, outcome=outcome, test_id=first.get("test_id"))
        else:
            self._alarms.raise_alarm(name, data.get("reason") or outcome, outcome=outcome,
                                     test_id=first.get("test_id"))
        result = m.LinkTestResult(hotline=name, outcome=outcome, result=data)
        hotline = self._store.get_hotline(name)
        for party in hotline.parties if hotline is not None else ():
            for end in self._standby.of(name, party):
                self.sync(end)  # the new entry first: each end checks its report in it
                end.endpoint.send(result)

    # -- messages from the ends -----------------------------------------------------------

    def _test_of(self, endpoint: Endpoint, test_id: str) -> tuple[PendingTest, str]:
        test = self._pending.get(test_id)
        if test is None:
            raise ProtocolError("no such link test running")
        for party, end in test.ends.items():
            if end.endpoint.identity_key == endpoint.identity_key and \
                    endpoint.party == party:
                return test, party
        raise ProtocolError("not an end of this link test")

    def report(self, endpoint: Endpoint, msg: m.LinkTestReport) -> None:
        test, party = self._test_of(endpoint, msg.test_id)
        future = test.reports[party]
        if future.done():
            raise ProtocolError("this end reported already")
        if msg.report:
            self._check_signed(test, party, endpoint, msg)
            test.signed[party] = msg.report
        future.set_result(msg.figures)

    @staticmethod
    def _check_signed(test: PendingTest, party: str, endpoint: Endpoint,
                      msg: m.LinkTestReport) -> None:
        """Only a report this end signed for this test, with the figures it sent, goes
        into the record (the record's readers check it again: docs/PROTOCOL.md)."""
        try:
            report = LinkReport.decode(msg.report)
        except CryptoError:
            raise ProtocolError("the signed report cannot be parsed") from None
        role = "originator" if party == next(iter(test.ends)) else "responder"
        if report.signer_key != endpoint.identity_key or not report.valid() or \
                report.hotline != test.hotline or report.test_id != test.test_id or \
                report.role != role or \
                not same_figures(report.figures, figures_from(msg.figures.model_dump())):
            raise ProtocolError("the signed report is not this end's report of this test")

    def media_room(self, endpoint: Endpoint, test_id: str) -> tuple[str, str] | None:
        """(hotline, room) if ``test_id`` is a running test and ``endpoint`` one of its
        chosen ends that has not joined yet; None if it is no test id."""
        if test_id not in self._pending:
            return None
        test, _ = self._test_of(endpoint, test_id)
        if endpoint.identity_key in test.joined:
            raise ProtocolError("already joined this link test")
        test.joined.add(endpoint.identity_key)
        return test.hotline, test.room

    def endpoint_gone(self, registered: Registered) -> None:
        """A chosen end closed its connection: its report will never come."""
        self._known.pop(registered.endpoint.conn_id, None)
        for test in self._pending.values():
            end = test.ends.get(registered.party)
            future = test.reports.get(registered.party)
            if end is not None and end.endpoint is registered.endpoint and future is not None \
                    and not future.done():
                future.set_result(m.LinkTestFigures(joined=False,
                                                    error="standby endpoint disconnected"))
