"""Placing a real call on a hotline: ring the far side, see its acknowledgement, talk.

:class:`HotlineCaller` rings every standby endpoint of the other party
(``hotline_call``), reports the first acknowledgement (with its message, e.g. an ETA
for the principal), and joins the call's media room only when the far end answered;
until then it sends no media either. The far end's key must be one of the hotline's pins
on this device (``trust``): anything else raises
:class:`~hotline.client.trustpolicy.UntrustedKey` before a key is sealed to it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from hotline.client.call import Call
from hotline.client.hotline.standby import CallMedia
from hotline.client.signaling import SignalingClient, trust
from hotline.client.trustpolicy import TrustPolicy
from hotline.crypto.identity import Identity
from hotline.errors import CallNotConnected, from_wire
from hotline.signaling import messages as m
from hotline.signaling.hotline_rooms import check_hotline_room


class HotlineCaller:
    def __init__(self, server: str, identity: Identity, hotline: str, *,
                 tls_ca: str | None = None, media: CallMedia | None = None,
                 trust_policy: TrustPolicy | None = None) -> None:
        self.hotline = hotline
        self.pins = (trust_policy or TrustPolicy()).for_hotline(hotline)
        self.signaling = SignalingClient(server, identity, ssl_context=trust(tls_ca),
                                         trust=self.pins)
        media = media or CallMedia()
        self.call = Call(server, identity, "", signaling=self.signaling, **media.options())
        self.call_id: str | None = None
        self.endpoints = 0
        self.ended: str | None = None

    async def connect(self) -> None:
        await self.signaling.connect()
        await self.signaling.authenticate()

    async def exists(self, timeout: float = 10.0) -> bool:
        """Whether the server knows this hotline among my party's (its word only: used to
        explain a refusal better, never to decide trust)."""
        self.signaling.send(m.HotlineStatusRequest(last=1))
        while True:
            msg = await self._next(timeout)
            if isinstance(msg, m.HotlineStatus):
                return any(h.get("name") == self.hotline for h in msg.hotlines)

    async def _next(self, timeout: float) -> m.ServerMessage:
        return await asyncio.wait_for(self.signaling.hotline.get(), timeout)

    async def ring(self, timeout: float = 10.0) -> str:
        """Ring the far side; returns the call id once it rings somewhere."""
        self.signaling.send(m.HotlineCall(hotline=self.hotline))
        while True:
            msg = await self._next(timeout)
            if isinstance(msg, m.Error):
                raise CallNotConnected(str(from_wire(msg.code, msg.message)))
            if isinstance(msg, m.CallEnded):
                raise CallNotConnected(msg.reason)
            if isinstance(msg, m.CallRinging):
                if msg.hotline != self.hotline:
                    raise CallNotConnected("the server rang another hotline")
                self.call_id, self.endpoints = msg.call_id, msg.endpoints
                return msg.call_id

    async def wait_answer(self, on_ack: Callable[[m.CallAcked], None], timeout: float = 600.0
                          ) -> None:
        """Until the far end answers (then join and start the media) or the call ends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            msg = await self._next(max(0.0, deadline - loop.time()))
            if isinstance(msg, m.CallAcked) and msg.call_id == self.call_id:
                on_ack(msg)
            elif isinstance(msg, m.CallEnded) and msg.call_id == self.call_id:
                self.ended = msg.reason
                raise CallNotConnected(msg.reason)
            elif isinstance(msg, m.CallAnswered) and msg.call_id == self.call_id:
                # The room is ours to derive (hotline + call id), not the server's to pick.
                self.call.room = check_hotline_room(msg.room, self.hotline, msg.call_id)
                self.call.join_request = m.HotlineJoin(call_id=msg.call_id)
                await self.call.enter()
                return

    def poll_ended(self) -> str | None:
        """The reason the call ended, if the server said so (non-blocking); raises
        UntrustedKey if the far end's key turned out not to be pinned."""
        if self.signaling.pin_failure is not None:
            raise self.signaling.pin_failure
        while not self.signaling.hotline.empty():
            msg = self.signaling.hotline.get_nowait()
            if isinstance(msg, m.CallEnded) and msg.call_id == self.call_id:
                self.ended = msg.reason
        return self.ended

    async def close(self) -> None:
        if self.call_id is not None and self.ended is None:
            self.signaling.send(m.Hangup(call_id=self.call_id))
            self.ended = "hung up"
            await asyncio.sleep(0.1)  # let the writer send it
        await self.call.close()
