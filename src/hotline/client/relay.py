"""Which TURN server a media connection uses: a quick parallel probe of every URL the
server handed out (``ice_servers`` of ``joined``/``resumed``).

aiortc/aioice use one TURN server per connection, and an allocation over a transport the
network blocks (UDP, typically) holds up candidate gathering for seconds. So before
gathering the client probes every URL at once, with a short timeout: UDP with a STUN
binding request (a TURN server answers those without credentials), TCP with a
connection, TLS with a connection and handshake. The first transport that works in the
order UDP, TCP, TLS is used (:data:`hotline.signaling.turn_urls.PREFERENCE`).

The URLs come from the server, which may lie (docs/PROTOCOL.md): a probe only opens a
socket to the host and port named, sends a binding request or a TLS hello, and closes
it; at most :data:`MAX_URLS` URLs are probed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from dataclasses import dataclass
from typing import Any

from aioice import stun
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection

from hotline.client.mediapath import NO_PATH, path_label
from hotline.errors import ConnectionFailed, UsageError
from hotline.logtext import safe
from hotline.rtc import aiortc_adapter as adapter
from hotline.signaling import messages as m
from hotline.signaling.turn_urls import LABELS, PREFERENCE, TurnUrl, parse_turn_url

log = logging.getLogger("hotline.relay")

#: Seconds a probe may take; a relay that answers more slowly is not worth it.
PROBE_TIMEOUT = 1.5
#: URLs probed at most (the rest of a long list is ignored).
MAX_URLS = 8


@dataclass(frozen=True, slots=True)
class Relay:
    """The TURN server chosen for the media connections."""

    url: TurnUrl
    username: str
    credential: str

    @property
    def label(self) -> str:
        """``UDP``, ``TCP`` or ``TLS``."""
        return LABELS[self.url.transport]

    def __repr__(self) -> str:  # the credential stays out of logs
        return f"Relay({self.url.url!r})"


def candidates(ice_servers: list[m.IceServer]) -> list[Relay]:
    """The usable URLs of ``ice_servers`` (at most :data:`MAX_URLS`, bad ones skipped)."""
    out: list[Relay] = []
    for server in ice_servers:
        for url in server.urls:
            try:
                parsed = parse_turn_url(url)
            except ValueError as exc:
                log.warning("ignoring a TURN URL: %s", safe(exc))
                continue
            out.append(Relay(parsed, server.username, server.credential))
    return out[:MAX_URLS]


class _StunAnswer(asyncio.DatagramProtocol):
    def __init__(self, transaction_id: bytes) -> None:
        self.transaction_id = transaction_id
        self.answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        with contextlib.suppress(ValueError):
            message = stun.parse_message(data)
            if message.transaction_id == self.transaction_id and not self.answered.done():
                self.answered.set_result(None)

    def error_received(self, exc: Exception) -> None:
        if not self.answered.done():
            self.answered.set_exception(exc)


async def _probe_udp(url: TurnUrl) -> None:
    loop = asyncio.get_running_loop()
    request = stun.Message(message_method=stun.Method.BINDING,
                           message_class=stun.Class.REQUEST, transaction_id=os.urandom(12))
    transport, protocol = await loop.create_datagram_endpoint(
        lambda: _StunAnswer(request.transaction_id), remote_addr=(url.host, url.port))
    try:
        for _ in range(3):  # a lost datagram is not a blocked path
            transport.sendto(bytes(request))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(protocol.answered), PROBE_TIMEOUT / 3)
                return
        raise TimeoutError("no STUN answer")
    finally:
        transport.close()


async def _probe_stream(url: TurnUrl, tls: ssl.SSLContext | None) -> None:
    _, writer = await asyncio.open_connection(url.host, url.port, ssl=tls)
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()


async def probe(relay: Relay, tls: ssl.SSLContext) -> None:
    """Raises (OSError, TimeoutError, ssl.SSLError) unless ``relay`` answers in time."""
    url = relay.url
    if url.transport == "udp":
        await asyncio.wait_for(_probe_udp(url), PROBE_TIMEOUT)
    else:
        await asyncio.wait_for(_probe_stream(url, tls if url.tls else None), PROBE_TIMEOUT)


async def choose(ice_servers: list[m.IceServer], tls: ssl.SSLContext | None = None
                 ) -> Relay | None:
    """The relay to use (UDP before TCP before TLS, then in the server's order), or None
    when none answers. All probes run at once; it returns as soon as the best possible
    answer is in, within about :data:`PROBE_TIMEOUT` seconds in any case."""
    relays = sorted(candidates(ice_servers), key=lambda r: PREFERENCE.index(r.url.transport))
    if not relays:
        return None
    context = tls if tls is not None else ssl.create_default_context()
    tasks = [asyncio.ensure_future(probe(r, context)) for r in relays]
    try:
        for i, task in enumerate(tasks):  # in order of preference
            try:
                await task
            except (OSError, TimeoutError, ssl.SSLError, ValueError) as exc:
                log.info("TURN %s does not answer: %s", safe(relays[i].url.url), safe(exc))
                continue
            log.info("using TURN %s", safe(relays[i].url.url))
            return relays[i]
        return None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


#: Seconds a probe's answer is reused (a call's publish and subscribe connections are
#: made within moments); a media restart probes again (:meth:`MediaRoute.forget`).
CHOICE_REUSE = 10.0


class MediaRoute:
    """How a call's media connections reach the SFU: which TURN server (if any) and
    whether only relayed candidates are used (``relay_only``), or none (``use_relay``
    False: the link test of the path through the SFU must not fall back to the relay)."""

    def __init__(self, *, relay_only: bool = False, use_relay: bool = True,
                 tls: ssl.SSLContext | None = None) -> None:
        if relay_only and not use_relay:
            raise UsageError("relay only, or no relay: not both")
        self.relay_only, self.use_relay = relay_only, use_relay
        self.tls = tls
        #: The relay chosen last (None: no TURN server offered or none answers).
        self.relay: Relay | None = None
        self._chosen_for: tuple[list[m.IceServer], float] | None = None

    async def configuration(self, ice_servers: list[m.IceServer]) -> RTCConfiguration:
        """The configuration of a new media connection. Raises ConnectionFailed when
        relay only is asked for and no relay answers (never connects without one)."""
        if not self.use_relay:
            return adapter.configuration()
        now = asyncio.get_running_loop().time()
        last = self._chosen_for
        if last is None or last[0] != ice_servers or now - last[1] > CHOICE_REUSE:
            self.relay = await choose(ice_servers, self.tls)
            self._chosen_for = (list(ice_servers), now)
        relay = self.relay
        if relay is None:
            if self.relay_only:
                raise ConnectionFailed("relay only, but " + (
                    "no TURN server answers" if ice_servers
                    else "the server offers no TURN server"))
            return adapter.configuration()
        server = RTCIceServer(urls=[relay.url.url], username=relay.username,
                              credential=relay.credential)
        return adapter.configuration(server, relay_only=self.relay_only)

    def forget(self) -> None:
        """The media path died: probe again for the next connections (what answered
        before may be what is blocked now)."""
        self._chosen_for = None

    async def connection(self, ice_servers: list[m.IceServer]) -> RTCPeerConnection:
        """A new media connection with :meth:`configuration`."""
        pc = RTCPeerConnection(await self.configuration(ice_servers))
        if self.relay is not None and self.relay.url.tls and self.tls is not None:
            adapter.use_turn_tls(pc, self.tls)
        return pc

    @staticmethod
    def label(pc: RTCPeerConnection) -> str:
        """The path label of a connected media connection to the SFU."""
        pair = adapter.selected_pair(pc)
        return path_label("sfu", *pair) if pair is not None else NO_PATH
