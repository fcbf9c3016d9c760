"""A standby endpoint of a hotline: always connected, answers link tests, rings on calls.

:class:`Standby` keeps one signaling connection registered for a hotline, reconnecting
by itself with exponential backoff. Link tests are answered automatically with the
synthetic pattern (:mod:`hotline.client.hotline.linktest`); a real call only rings: the
application shows it (:attr:`Standby.events`) and calls :meth:`Standby.acknowledge`
(optionally with a message such as an ETA) and :meth:`Standby.answer`. No media
connection exists, and no camera or microphone is opened, before the answer.

The far party's keys are checked here, not only by the server: ``trust`` holds the
hotline's pins imported on this device (``hotline pin add``). A link test or call whose
far end presents any other key (or a hotline with no pin here) is refused before
anything is sealed to it, with an ``alarm`` event naming the party and both
fingerprints. The group code of every link test and call is reported (``group_code``).

Each link-test report is signed with the device identity
(:mod:`hotline.crypto.linkreport`) and co-signs the head of the hotline's uptime record
this standby knows; the server sends the entries after that head (``record_entries``)
and :func:`hotline.crypto.chainwatch.follow` checks they extend it. A rewritten or
forked history raises an ``alarm`` event (and a log line); link tests then fail with
that reason until the operator looks into it (:mod:`hotline.client.hotline.recordhead`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hotline.client.call import Call
from hotline.client.hotline.linktest import take_part
from hotline.client.hotline.recordhead import RecordHeads
from hotline.client.pathswitch import Path as MediaPath
from hotline.client.signaling import SignalingClient, trust
from hotline.client.trust import Verdict
from hotline.client.trustpolicy import Presented, TrustPolicy, UntrustedKey, pin_message
from hotline.crypto.chainwatch import Pending, follow, missing_reports
from hotline.crypto.identity import Identity
from hotline.crypto.linkreport import NO_KEY, LinkReport, figures_from
from hotline.errors import (
    Forbidden,
    HotlineError,
    ProtocolError,
    StandbyRefused,
    Unauthorized,
    from_wire,
)
from hotline.logtext import safe
from hotline.signaling import messages as m
from hotline.signaling.hotline_rooms import check_hotline_room

log = logging.getLogger("hotline.standby")


@dataclass(frozen=True, slots=True)
class StandbyEvent:
    """``kind``: connected, disconnected, ring, ring_stop, acked, linktest, linktest_done
    (our end's group code or error), linktest_result, call_started, group_code (of the
    call), path (the call's media path changed: "via SFU", "direct"), call_ended, alarm
    (a key that is not pinned: refused; or the uptime record was rewritten or forked),
    error."""

    kind: str
    data: dict[str, object] = field(default_factory=dict)


@dataclass
class CallMedia:
    """What a real call sends once answered (default: the synthetic pattern), and on
    which paths: via the SFU and, with ``direct`` (the default), a direct path to the far
    end in hot standby (hotline.client.paths; ``prefer_path`` carries the media while
    both are up). ``host_addresses``/``direct_addresses``: where each path gathers its
    ICE candidates (None: the defaults)."""

    media_file: Path | None = None
    camera: str | None = None
    microphone: str | None = None
    direct: bool = True
    prefer_path: MediaPath = "direct"
    host_addresses: list[str] | None = None
    direct_addresses: list[str] | None = None

    def options(self) -> dict[str, Any]:
        """The :class:`~hotline.client.call.Call` options these stand for."""
        return {"media_file": self.media_file, "camera": self.camera,
                "microphone": self.microphone, "direct": self.direct,
                "prefer_path": self.prefer_path, "host_addresses": self.host_addresses,
                "direct_addresses": self.direct_addresses}


class Standby:
    def __init__(self, server: str, identity: Identity, hotline: str, *,
                 tls_ca: str | None = None, media_host: str | None = None,
                 media: CallMedia | None = None, min_backoff: float = 1.0,
                 max_backoff: float = 30.0, record_file: Path | None = None,
                 trust: TrustPolicy | None = None) -> None:
        self.server, self.identity, self.hotline = server, identity, hotline
        #: The hotline's pins on this device (strict: nothing else is accepted).
        self.pins = (trust or TrustPolicy()).for_hotline(hotline)
        self.tls_ca, self.media_host = tls_ca, media_host
        self.media = media or CallMedia()
        self._min_backoff, self._max_backoff = min_backoff, max_backoff
        self.events: asyncio.Queue[StandbyEvent] = asyncio.Queue()
        self.connected = asyncio.Event()
        self.ringing: dict[str, m.Ring] = {}
        self.call: Call | None = None
        self.call_id: str | None = None
        self.far_party = ""
        self.tests_done = 0
        self._sig: SignalingClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        #: The uptime-record heads this device knows (a file beside the identity, or memory).
        self.heads = RecordHeads(record_file)

    def _event(self, kind: str, **data: object) -> None:
        self.events.put_nowait(StandbyEvent(kind, data))

    # -- the connection, kept up ------------------------------------------------------------

    async def run(self) -> None:
        """Stay registered until cancelled; raises StandbyRefused if the server refuses
        this endpoint for the hotline (retrying would not help)."""
        backoff = self._min_backoff
        if not self.pins.has_pin(self.hotline):
            self._alarm(pin_message(Presented(0, "?", "-", Verdict.UNPINNED, self.hotline)))
        ever = False  # connected at least once since started
        while True:
            delay = backoff * random.uniform(0.8, 1.2)  # noqa: S311 (jitter)
            try:
                await self._session()
                ever = True
                backoff = self._min_backoff  # it was up: start over quickly
                delay = backoff
                self._event("disconnected", reason="connection closed", retry_s=delay,
                            ever_connected=True)
            except StandbyRefused:
                raise
            except (HotlineError, OSError, TimeoutError) as exc:
                ever = ever or self.connected.is_set()
                self._event("disconnected", reason=str(exc), retry_s=round(delay, 1),
                            ever_connected=ever)
                log.info("standby %s: %s; retrying in %.1f s", safe(self.hotline), safe(exc),
                         delay)
            self.connected.clear()
            await asyncio.sleep(delay)
            backoff = min(self._max_backoff, backoff * 2)

    async def _session(self) -> None:
        sig = SignalingClient(self.server, self.identity, ssl_context=trust(self.tls_ca))
        self._sig = sig
        try:
            await sig.connect()
            await sig.authenticate()
            sig.send(m.StandbyRegister(hotline=self.hotline,
                                       record_length=self.heads.of(self.hotline).length))
            first = await asyncio.wait_for(sig.hotline.get(), 10)
            if isinstance(first, m.Error):
                refused = from_wire(first.code, first.message)
                if isinstance(refused, Forbidden | Unauthorized):
                    raise StandbyRefused(str(refused)) from refused
                raise refused
            if not isinstance(first, m.StandbyOk):
                raise ProtocolError("no standby confirmation")
            self.far_party = first.far_party
            self.connected.set()
            self._event("connected", party=first.party, far_party=first.far_party,
                        interval_s=first.interval_s)
            if self.heads.of(self.hotline).alarm:  # raised before and not looked into yet
                self._event("alarm", message=self.heads.of(self.hotline).alarm)
            await self._serve(sig)
        finally:
            self._sig = None
            self.ringing.clear()
            await sig.close()

    async def _serve(self, sig: SignalingClient) -> None:
        closed = asyncio.ensure_future(sig.closed.wait())
        try:
            while True:
                get = asyncio.ensure_future(sig.hotline.get())
                done, _ = await asyncio.wait({get, closed}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    return
                self._handle(get.result())
        finally:
            closed.cancel()

    def _handle(self, msg: m.ServerMessage) -> None:
        match msg:
            case m.LinkTestStart() if not self._room_ok(msg.room, msg.hotline, msg.test_id):
                pass
            case m.LinkTestStart():
                self._event("linktest", test_id=msg.test_id, role=msg.role)
                self._spawn(self._linktest(msg))
            case m.LinkTestResult():
                self._event("linktest_result", outcome=msg.outcome, result=msg.result)
            case m.Ring() if msg.hotline != self.hotline:
                self._event("error", code="ring", message="a ring for another hotline: ignored")
            case m.RecordEntries() if msg.hotline == self.hotline:
                self._record_entries(msg)
            case m.Ring():
                self.ringing[msg.call_id] = msg
                self._event("ring", call_id=msg.call_id, caller_party=msg.caller_party,
                            caller_device=msg.caller_device)
            case m.RingStop():
                self.ringing.pop(msg.call_id, None)
                self._event("ring_stop", call_id=msg.call_id, reason=msg.reason)
            case m.CallAnswered() if msg.call_id == self.call_id:
                if self._room_ok(msg.room, self.hotline, msg.call_id):
                    self._spawn(self._start_call(msg))
                else:
                    self.hangup(msg.call_id)
            case m.CallEnded():
                self.ringing.pop(msg.call_id, None)
                if msg.call_id == self.call_id:
                    self._spawn(self._end_call(msg.reason))
            case m.Error():
                self._event("error", code=msg.code, message=msg.message)
            case _:
                pass

    def _room_ok(self, room: str, hotline: str, call_id: str) -> bool:
        """The room a call or test must take place in is derived here (issue 12): one the
        server named otherwise, or for another hotline, is refused with an error event."""
        try:
            if hotline != self.hotline:
                raise ProtocolError("the server named another hotline")
            check_hotline_room(room, self.hotline, call_id)
        except ProtocolError as exc:
            log.warning("standby %s: %s", self.hotline, exc)
            self._event("error", code="room", message=str(exc))
            return False
        return True

    # -- link tests: automatic, synthetic media only ------------------------------------------

    def _record_alarm(self, problems: list[str]) -> None:
        known = self.heads.of(self.hotline)
        text = "; ".join(problems)
        log.error("ALARM standby hotline=%s: %s", self.hotline, text)
        if known.alarm:  # already raised; it stays until someone looks into it
            return
        known.alarm = f"uptime record of {self.hotline!r} rewritten or forked: {text}"
        self.heads.save()
        self._event("alarm", message=known.alarm)

    def _record_entries(self, msg: m.RecordEntries) -> None:
        problems = follow(self.heads.of(self.hotline), self.hotline, msg.start, msg.entries,
                          self.identity.public_key)
        if problems:
            self._record_alarm(problems)
        else:
            self.heads.save()

    async def _linktest(self, start: m.LinkTestStart) -> None:
        known = self.heads.of(self.hotline)
        missing = missing_reports(known)
        if missing:
            self._record_alarm(missing)
        if known.alarm:  # a rewritten history: this test fails, and says why
            figures, far = m.LinkTestFigures(joined=False, error=known.alarm[:200]), NO_KEY
        else:
            figures, far = await take_part(self.server, self.identity, start,
                                           tls_ca=self.tls_ca, media_host=self.media_host,
                                           trust=self.pins, on_alarm=self._alarm)
        self.tests_done += 1
        self._event("linktest_done", test_id=start.test_id, group_code=figures.group_code,
                    error=figures.error)
        length, head = known.head()
        report = LinkReport(start.hotline, start.test_id, start.role, self.identity.public_key,
                            far, length, head, figures.group_code,
                            figures_from(figures.model_dump()), path=start.path
                            ).signed_by(self.identity)
        if self._sig is None:  # the connection broke meanwhile: no report, no entry
            return
        known.pending[start.test_id] = Pending(report.digest, far, figures.group_code)
        known.pending = dict(list(known.pending.items())[-16:])
        self.heads.save()
        self._sig.send(m.LinkTestReport(test_id=start.test_id, figures=figures,
                                        report=report.encode()))

    # -- real calls: ring, acknowledge, answer ----------------------------------------------

    def _send(self, message: m._Message) -> None:
        if self._sig is None:
            raise StandbyRefused("not connected to the server")
        self._sig.send(message)

    def acknowledge(self, call_id: str, message: str = "") -> None:
        """Stop the ringing everywhere else; the caller sees ``message`` (e.g. an ETA)."""
        self._send(m.RingAck(call_id=call_id, message=message[:200]))

    def answer(self, call_id: str) -> None:
        """Explicit answer: the server tells both ends to join; media starts then."""
        self.call_id = call_id
        self._send(m.CallAnswer(call_id=call_id))

    def hangup(self, call_id: str | None = None) -> None:
        target = call_id or self.call_id
        if target is not None:
            self._send(m.Hangup(call_id=target))

    def _media_options(self) -> dict[str, Any]:
        """The Call options of an answered call: our media, and where it gathers (the
        media options' addresses, else ``media_host``)."""
        options = self.media.options()
        if options["host_addresses"] is None and self.media_host is not None:
            options["host_addresses"] = [self.media_host]
        return options

    async def _start_call(self, answered: m.CallAnswered) -> None:
        self.ringing.pop(answered.call_id, None)
        call = Call(self.server, self.identity, answered.room, tls_ca=self.tls_ca,
                    join_request=m.HotlineJoin(call_id=answered.call_id),
                    trust_policy=self.pins, **self._media_options())
        self.call = call
        call.on_path_change = lambda label: self._event("path", call_id=answered.call_id,
                                                        path=label)
        try:
            await call.start()
        except UntrustedKey as exc:
            self._alarm(str(exc))
            self.hangup(answered.call_id)
            return
        except HotlineError as exc:
            self._event("error", code="call", message=str(exc))
            self.hangup(answered.call_id)
            return
        self._event("call_started", call_id=answered.call_id)
        await self._watch_call(call, answered.call_id)

    async def _watch_call(self, call: Call, call_id: str) -> None:
        """Report the call's group code as it changes; a far key that is not pinned
        (shown later in the call) is an alarm and ends the call."""
        shown = ""
        while self.call is call:
            failure = call.signaling.pin_failure
            if failure is not None:
                self._alarm(str(failure))
                self.hangup(call_id)
                return
            code = call.signaling.code
            if code is not None and code.digits != shown:
                shown = code.digits
                self._event("group_code", call_id=call_id, digits=code.digits,
                            words=code.words)
            await asyncio.sleep(0.2)

    def _alarm(self, text: str) -> None:
        log.error("ALARM hotline %s: %s", self.hotline, text)
        self._event("alarm", message=text)

    async def _end_call(self, reason: str) -> None:
        call, self.call, call_id, self.call_id = self.call, None, self.call_id, None
        if call is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(call.close(), 5)
        self._event("call_ended", call_id=call_id, reason=reason)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.call is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.call.close(), 5)
        if self._sig is not None:
            await self._sig.close()
