"""Real calls on a hotline: ring every standby of the far side, acknowledge, answer.

``hotline_call`` from an end (pinned key) rings every standby endpoint of the other
party. The first ``ring_ack`` stops the ringing on the others and its message (an ETA
for the principal) goes to the caller. Media starts only after an explicit
``call_answer``: until then the server refuses both ends' ``hotline_join`` for the call,
so nothing of the callee can reach the SFU, let alone the caller. Nobody answering
within the ring timeout is ``no_answer``. Each call ends with one ``call`` entry in the
uptime record (metadata only: who, when, ring-to-ack and ring-to-answer times, outcome).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hotline.errors import ProtocolError, UsageError
from hotline.server.hotline.outcomes import NO_ANSWER, UNREACHABLE
from hotline.server.hotline.records import Hotline
from hotline.server.hotline.standby import Endpoint, Registered, StandbyRegistry, far_party
from hotline.server.hotline.uptime import UptimeRecord
from hotline.signaling import messages as m
from hotline.signaling.hotline_rooms import hotline_room

log = logging.getLogger("hotline.calls")


@dataclass
class LiveCall:
    call_id: str
    hotline: str
    room: str
    caller: Endpoint
    caller_device: str
    callee_party: str
    ringing: dict[str, Registered]  # conn id -> endpoint
    rang_at: float
    acked_by: Registered | None = None
    ack_at: float | None = None
    ack_message: str = ""
    answered_by: Registered | None = None
    answered_at: float | None = None
    joined: set[bytes] = field(default_factory=set)
    timer: asyncio.TimerHandle | None = None

    def ends(self) -> list[Endpoint]:
        out = [self.caller]
        if self.answered_by is not None:
            out.append(self.answered_by.endpoint)
        return out


class HotlineCalls:
    def __init__(self, standby: StandbyRegistry, record: UptimeRecord, *, ring_timeout: float,
                 discard_room: Callable[[str], None],
                 clock: Callable[[], float] = time.time) -> None:
        self._standby = standby
        self._record = record
        self._ring_timeout = ring_timeout
        self._discard_room = discard_room
        self._clock = clock
        self._calls: dict[str, LiveCall] = {}

    def place(self, caller: Endpoint, caller_device: str, hotline: Hotline) -> None:
        callee = far_party(hotline, caller.party)
        endpoints = self._standby.of(hotline.name, callee)
        call_id = secrets.token_hex(8)
        if not endpoints:
            self._log(hotline.name, call_id, UNREACHABLE, caller.party, caller_device, callee,
                      rang_at=self._clock())
            caller.send(m.CallEnded(call_id=call_id, reason=UNREACHABLE))
            return
        call = LiveCall(call_id, hotline.name, hotline_room(hotline.name, call_id), caller,
                        caller_device, callee, {e.endpoint.conn_id: e for e in endpoints},
                        self._clock())
        self._calls[call_id] = call
        for e in endpoints:
            e.endpoint.send(m.Ring(hotline=hotline.name, call_id=call_id,
                                   caller_party=caller.party, caller_device=caller_device))
        caller.send(m.CallRinging(hotline=hotline.name, call_id=call_id,
                                  endpoints=len(endpoints)))
        call.timer = asyncio.get_running_loop().call_later(self._ring_timeout, self._no_answer,
                                                           call_id)
        log.info("ring hotline=%s call=%s from=%s endpoints=%d", hotline.name, call_id,
                 caller.party, len(endpoints))

    def _get(self, call_id: str) -> LiveCall:
        call = self._calls.get(call_id)
        if call is None:
            raise ProtocolError("no such call (ended, or never rang)")
        return call

    def _ringing_end(self, call: LiveCall, endpoint: Endpoint) -> Registered:
        end = call.ringing.get(endpoint.conn_id)
        if end is None:
            raise ProtocolError("this call does not ring here")
        return end

    def _stop_ringing(self, call: LiveCall, reason: str, keep: Registered | None = None) -> None:
        for end in call.ringing.values():
            if end is not keep:
                end.endpoint.send(m.RingStop(call_id=call.call_id, reason=reason))

    def ack(self, endpoint: Endpoint, call_id: str, message: str) -> None:
        call = self._get(call_id)
        end = self._ringing_end(call, endpoint)
        if call.acked_by is not None:
            if call.acked_by is end:
                return
            raise UsageError(f"already acknowledged by {call.acked_by.device}")
        call.acked_by, call.ack_at, call.ack_message = end, self._clock(), message
        self._stop_ringing(call, f"acknowledged by {end.party}/{end.device}", keep=end)
        call.caller.send(m.CallAcked(call_id=call_id, party=end.party, device=end.device,
                                     message=message))
        log.info("ack hotline=%s call=%s by=%s after=%.1fs", call.hotline, call_id, end.device,
                 call.ack_at - call.rang_at)

    def answer(self, endpoint: Endpoint, call_id: str) -> None:
        call = self._get(call_id)
        end = self._ringing_end(call, endpoint)
        if call.answered_by is not None:
            raise UsageError("answered already")
        if call.acked_by is None:
            self.ack(endpoint, call_id, "")
        elif call.acked_by is not end:
            raise UsageError(f"acknowledged by {call.acked_by.device}; only it may answer")
        if call.timer is not None:
            call.timer.cancel()
        call.answered_by, call.answered_at = end, self._clock()
        for ep in call.ends():
            ep.send(m.CallAnswered(call_id=call_id, room=call.room))
        log.info("answer hotline=%s call=%s by=%s", call.hotline, call_id, end.device)

    def hangup(self, endpoint: Endpoint, call_id: str) -> None:
        call = self._get(call_id)
        if endpoint.conn_id != call.caller.conn_id and endpoint.conn_id not in call.ringing:
            raise ProtocolError("not an end of this call")
        who = "caller" if endpoint.conn_id == call.caller.conn_id else "callee"
        self._end(call, f"hung up by the {who}",
                  "answered" if call.answered_at is not None else f"declined_by_{who}")

    def _no_answer(self, call_id: str) -> None:
        call = self._calls.get(call_id)
        if call is not None and call.answered_at is None:
            self._end(call, NO_ANSWER, NO_ANSWER)

    def _end(self, call: LiveCall, reason: str, outcome: str) -> None:
        if self._calls.pop(call.call_id, None) is None:
            return
        if call.timer is not None:
            call.timer.cancel()
        if call.answered_by is None:
            self._stop_ringing(call, reason)
        for ep in call.ends():
            ep.send(m.CallEnded(call_id=call.call_id, reason=reason))
        self._discard_room(call.room)
        self._log(call.hotline, call.call_id, outcome, call.caller.party, call.caller_device,
                  call.callee_party, rang_at=call.rang_at, call=call)

    def _log(self, hotline: str, call_id: str, outcome: str, caller: str, device: str,
             callee: str, *, rang_at: float, call: LiveCall | None = None) -> None:
        data: dict[str, Any] = {"call_id": call_id, "outcome": outcome, "caller": caller,
                                "caller_device": device, "callee": callee}
        if call is not None:
            def since(t: float | None) -> float | None:
                return None if t is None else round((t - rang_at) * 1000, 1)
            data.update(endpoints_rung=len(call.ringing), ack_ms=since(call.ack_at),
                        ack_message=call.ack_message, answer_ms=since(call.answered_at),
                        answered_by=call.answered_by.device if call.answered_by else None,
                        acked_by=call.acked_by.device if call.acked_by else None,
                        duration_s=round(self._clock() - call.answered_at, 1)
                        if call.answered_at is not None else None)
        try:
            self._record.append(hotline, "call", data, time_ms=int(rang_at * 1000))
        except UsageError as exc:
            log.error("cannot record call of hotline=%s: %s", hotline, exc)
        log.info("call hotline=%s call=%s outcome=%s", hotline, call_id, outcome)

    def media_room(self, endpoint: Endpoint, call_id: str) -> tuple[str, str] | None:
        """(hotline, room) of an answered call ``endpoint`` is an end of; refuses anyone
        before the answer (no media before an explicit answer). None: no such call."""
        call = self._calls.get(call_id)
        if call is None:
            return None
        if call.answered_by is None:
            raise UsageError("this call is not answered yet: no media before the answer")
        keys = {ep.identity_key: ep.party for ep in call.ends()}
        if keys.get(endpoint.identity_key) != endpoint.party:
            raise ProtocolError("not an end of this call")
        if endpoint.identity_key in call.joined:
            raise ProtocolError("already joined this call")
        call.joined.add(endpoint.identity_key)
        return call.hotline, call.room

    def endpoint_gone(self, endpoint: Endpoint) -> None:
        """A closed connection: the caller or the answering end hangs up; a ringing end
        that is gone stops counting (the call goes on ringing elsewhere)."""
        for call in list(self._calls.values()):
            ends = [e.conn_id for e in call.ends()]
            if endpoint.conn_id in ends:
                self._end(call, "connection lost", "answered" if call.answered_at else
                          "cancelled")
            elif endpoint.conn_id in call.ringing:
                del call.ringing[endpoint.conn_id]

    def active(self) -> int:
        return len(self._calls)
