"""One signaling connection of the Python client: the WebSocket, its order, its resume.

:class:`SignalingConnection` opens the WebSocket to the server (``hello`` and its
challenge, the connection's TLS channel binding), sends queued messages in order on one
writer task, reads on one reader task and hands every message to :meth:`_dispatch`, which
:class:`~hotline.client.signaling.SignalingClient` (the room, the key schedule, trust)
implements. After ``joined`` it numbers what it sends and counts what it receives, so that
a connection broken mid-call is taken back with ``resume`` within :data:`RESUME_WINDOW`
and what either side missed is sent again. A refusal of the server raises the
:class:`~hotline.errors.ServerError` of its code (:func:`hotline.errors.from_wire`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl
from collections import deque
from dataclasses import dataclass, field
from typing import Self

import aiohttp

from hotline.client.transport import check_transport, insecure_allowed
from hotline.crypto.auth import Purpose, prove, tls_unique_of
from hotline.crypto.identity import Identity
from hotline.errors import (
    ConfigError,
    ConnectionFailed,
    HotlineError,
    ProtocolError,
    ServerError,
    UntrustedServer,
    from_wire,
)
from hotline.logtext import safe
from hotline.signaling import messages as m
from hotline.signaling.origin import origin_of

log = logging.getLogger("hotline.client")
#: How long a broken connection is retried with ``resume`` (the server keeps the seat 15 s).
RESUME_WINDOW = 12.0
RESUME_BACKOFF = (0.1, 0.25, 0.5, 1.0, 2.0)


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """Something the application may show: ``kind`` is one of joined, member_joined,
    member_left, member_media, connection_lost, resumed, keys_rotated, group_code,
    group_code_pending,
    key_rejected, unverified, accepted, refused, pin_mismatch, error, closed,
    phase_refused (an alarm: a reopen without a principal's proof was refused)."""

    kind: str
    data: dict[str, object] = field(default_factory=dict)


def trust(ca_file: str | None) -> ssl.SSLContext | None:
    """An SSL context that trusts ``ca_file`` (e.g. a server's self-signed certificate)."""
    if ca_file is None:
        return None
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot use {ca_file} as a CA certificate: {exc}") from None


def _ws_url(server: str) -> str:
    url = server.rstrip("/")
    if url.startswith("http://"):
        url = "ws://" + url[len("http://"):]
    elif url.startswith("https://"):
        url = "wss://" + url[len("https://"):]
    return url if url.endswith("/ws") else url + "/ws"


def unreachable(url: str, exc: BaseException) -> HotlineError:
    """Why ``url`` could not be reached, in words for its user: the OS's reason and a hint
    when nothing answered there (not aiohttp's wording, e.g. "ssl:default" on ws://)."""
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        why = getattr(exc.certificate_error, "verify_message", "") or "not trusted"
        return UntrustedServer(f"the certificate of {url} is not trusted ({why}): give its "
                               "CA with --tls-ca (HOTLINE_TLS_CA)")
    if isinstance(exc, aiohttp.ClientSSLError):
        return UntrustedServer(f"no TLS connection to {url}: {exc}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        code = exc.os_error.errno
        why = os.strerror(code).lower() if code else "no answer"
        return ConnectionFailed(f"cannot reach the server ({why}): is `hotline serve` "
                                f"running at {url}?")
    if isinstance(exc, aiohttp.WSServerHandshakeError):
        return ConnectionFailed(f"{url} answered, but not as a Hotline server "
                                f"(HTTP {exc.status})")
    return ConnectionFailed(f"cannot reach {url}: {exc}")


class SignalingConnection:
    """The connection; subclasses implement :meth:`_dispatch` (every message read)."""

    def __init__(self, server: str, identity: Identity, *,
                 ssl_context: ssl.SSLContext | None = None,
                 allow_insecure: bool | None = None) -> None:
        self.url = _ws_url(server)
        self.server = server  # as the user gave it, for messages
        #: What our login and enrollment proofs name: the server as *we* know it (the
        #: URL we connect to), never what the server says it is (``hello.server``).
        self.origin = origin_of(self.url)
        self._allow_insecure = insecure_allowed(allow_insecure)
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self.identity = identity
        self.events: asyncio.Queue[ClientEvent] = asyncio.Queue()
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._challenge = b""
        self._binding = b""  # this connection's tls-unique, when it has one
        self._replies: asyncio.Queue[m.ServerMessage | HotlineError] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._writer: asyncio.Task[None] | None = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue()
        # After ``joined``: the seat's resume token, messages received since, and what we
        # sent since (numbered), so that a broken connection can resume without a loss.
        self._seat: tuple[str, int, bytes] | None = None
        #: TURN servers and credentials of the call (``joined``, renewed by ``resumed``).
        self.ice_servers: list[m.IceServer] = []
        self._received = 0
        self._sent: deque[tuple[int, str]] = deque(maxlen=1024)
        self._sent_seq = 0
        self._closing = False
        self.resumes = 0  # connections resumed after a break
        #: Set when the connection to the server is gone.
        self.closed = asyncio.Event()

    async def connect(self) -> None:
        await self._open()
        self._reader = asyncio.create_task(self._read_loop())
        self._writer = asyncio.create_task(self._write_loop())

    async def _open(self) -> None:
        """A WebSocket to the server and its hello (the challenge to sign)."""
        check_transport(self.url, self._allow_insecure)
        self._session = aiohttp.ClientSession()
        try:
            self._ws = await self._session.ws_connect(self.url, max_msg_size=m.MAX_MESSAGE_BYTES,
                                                      ssl=self._ssl)
        except (aiohttp.ClientError, OSError) as exc:
            await self._session.close()
            raise unreachable(self.server, exc) from None
        hello = await self._receive()
        if not isinstance(hello, m.Hello):
            raise ProtocolError("server did not say hello")
        self._challenge = hello.challenge
        self._binding = self._tls_unique()

    def _tls_unique(self) -> bytes:
        """RFC 5929 tls-unique of this connection (TLS <= 1.2 only), else b""."""
        return tls_unique_of(self._ws.get_extra_info("ssl_object") if self._ws else None)

    def _auth(self) -> m.Auth:
        """``auth`` for this connection: the challenge, our origin, the TLS binding."""
        return m.Auth(identity_key=self.identity.public_key, origin=self.origin,
                      channel_binding="tls-unique" if self._binding else "",
                      signature=prove(self.identity, Purpose.AUTH, self._challenge,
                                      origin=self.origin, channel_binding=self._binding))

    async def close(self) -> None:
        self._closing = True
        for task in (self._reader, self._writer):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def send(self, message: m._Message) -> None:
        """Queue a request that expects no direct reply (hotline messages)."""
        self._send(message)

    def _send(self, message: m._Message) -> None:
        """Queue a message; one writer task sends them in order. After ``joined`` it is
        numbered and kept, to be sent again on a resumed connection if it got lost."""
        text = m.encode(message)
        if self._seat is not None:
            self._sent_seq += 1
            self._sent.append((self._sent_seq, text))
        self._outbox.put_nowait(text)

    async def _write_loop(self) -> None:
        assert self._ws is not None
        while True:
            text = await self._outbox.get()
            try:
                await self._ws.send_str(text)
            except (ConnectionError, RuntimeError, aiohttp.ClientError):
                return

    async def _receive(self) -> m.ServerMessage:
        assert self._ws is not None
        msg = await self._ws.receive()
        if msg.type is not aiohttp.WSMsgType.TEXT:
            raise ConnectionFailed(f"connection closed ({msg.type.name})")
        return m.parse_server(msg.data)

    async def _reply(self, *types: type, timeout: float = 10.0) -> m.ServerMessage:
        """The next reply of one of ``types``; a server error raises the ServerError of
        its code (hotline.errors), a refused reply the client's own error."""
        while True:
            reply = await asyncio.wait_for(self._replies.get(), timeout)
            if isinstance(reply, HotlineError):
                raise reply
            if isinstance(reply, m.Error):
                raise from_wire(reply.code, reply.message)
            if isinstance(reply, types):
                return reply

    async def _read_loop(self) -> None:
        while True:
            try:
                while True:
                    message = await self._receive()
                    if self._seat is not None and not isinstance(message, m.Resumed):
                        self._received += 1
                    self._dispatch(message)
            except (ConnectionFailed, ProtocolError, aiohttp.ClientError, OSError) as exc:
                reason = str(exc)
            if self._seat is not None and not self._closing:
                self._event("connection_lost", reason=reason)
                if await self._resume():
                    continue
            self.events.put_nowait(ClientEvent("closed", {"reason": reason}))
            self.closed.set()
            return

    async def _resume(self) -> bool:
        """After a break mid-call: a new connection takes the seat back (``resume``);
        what either side missed is sent again. False if that failed within the window."""
        assert self._seat is not None
        room, pid, token = self._seat
        if self._writer is not None:
            self._writer.cancel()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RESUME_WINDOW
        for attempt in range(100):
            await asyncio.sleep(RESUME_BACKOFF[min(attempt, len(RESUME_BACKOFF) - 1)])
            if loop.time() > deadline or self._closing:
                return False
            with contextlib.suppress(Exception):
                if self._ws is not None:
                    await self._ws.close()
                if self._session is not None:
                    await self._session.close()
            try:
                await asyncio.wait_for(self._open(), 3.0)
                assert self._ws is not None
                await self._ws.send_str(m.encode(self._auth()))
                await self._ws.send_str(m.encode(m.Resume(room=room, participant_id=pid,
                                                          token=token, received=self._received)))
                resumed = await asyncio.wait_for(self._until_resumed(), 5.0)
            except (ServerError, UntrustedServer) as exc:
                log.warning("resume refused: %s", safe(exc))
                return False
            except (ConnectionFailed, ProtocolError, aiohttp.ClientError, OSError,
                    TimeoutError):
                continue
            if self._sent and self._sent[0][0] > resumed.received + 1:
                log.warning("resume: what the server missed is no longer kept; join again")
                return False
            while not self._outbox.empty():  # all of it is in self._sent, in order
                self._outbox.get_nowait()
            for seq, text in list(self._sent):
                if seq > resumed.received:
                    self._outbox.put_nowait(text)
            self._writer = asyncio.create_task(self._write_loop())
            self.ice_servers = list(resumed.ice_servers)
            self.resumes += 1
            self._event("resumed", attempts=attempt + 1)
            log.info("resumed room=%s participant=%d after %d attempt(s)", room, pid,
                     attempt + 1)
            return True
        return False

    async def _until_resumed(self) -> m.Resumed:
        """Read the new connection's answers to auth and resume."""
        while True:
            message = await self._receive()
            if isinstance(message, m.Error):
                raise from_wire(message.code, message.message)
            if isinstance(message, m.Resumed):
                return message

    def _take_seat(self, room: str, participant_id: int, token: bytes) -> None:
        """``joined``: from now on what is sent and received is counted, for a resume."""
        self._seat = (room, participant_id, token)
        self._received, self._sent_seq = 0, 0
        self._sent.clear()

    def _dispatch(self, message: m.ServerMessage) -> None:
        raise NotImplementedError

    def _event(self, kind: str, **data: object) -> None:
        self.events.put_nowait(ClientEvent(kind, data))
