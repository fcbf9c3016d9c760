"""aiortc for Hotline's connections: ICE candidates and consent, SDP details, buffers.

aiortc gives us SDP, ICE and DTLS; this module adjusts them (the SFU then takes the
media path over, :mod:`.raw_media`):

* **Host candidates** (:func:`use_host_addresses`, :func:`gathering_on`): aioice 0.13
  leaves 127.0.0.1 out of its host candidates; when Hotline runs on loopback we gather
  exactly the addresses we are told to. :func:`use_loopback_ice` does it for one peer
  connection (tests, demos).
* **MAX_BUNDLE** everywhere (:func:`configuration`): with the default BALANCED policy,
  aiortc 1.16.0 never starts the second and later m-lines of one kind (its "last
  incoming stream never starts" bug).
* **No per-track machinery** (:func:`detach_media`): the SFU's transceivers never start
  aiortc's senders and receivers (no decoder threads, no reports, no NACK/PLI/REMB of
  their own).
* **SDP details**: no clear audio level (:func:`drop_header_extension`), our own
  ``a=msid`` (:func:`set_stream_ids`), the negotiated payload types.

Every private name used is listed in :mod:`hotline.rtc.aiortc_internals` and checked
there, with the pinned versions.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from typing import Any, Literal

import aioice.ice
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDtlsTransport,
    RTCIceServer,
    RTCIceTransportPolicy,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)

from hotline.errors import UsageError
from hotline.rtc.aiortc_internals import AiortcInternalsError
from hotline.rtc.batch_reads import read_in_batches

_original_get_host_addresses = aioice.ice.get_host_addresses


# -- ICE ---------------------------------------------------------------------------------


_chosen: list[str] | None = None
#: Addresses for the ICE gathering done in this task (and the tasks it starts): lets one
#: endpoint (e.g. a standby's link-test call) use other addresses than the process.
_task_addresses: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "hotline_host_addresses", default=None)


def _get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    chosen = _task_addresses.get()
    if chosen is None:
        chosen = _chosen
    if chosen is None:
        return list(_original_get_host_addresses(use_ipv4=use_ipv4, use_ipv6=use_ipv6))
    return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]


def use_host_addresses(addresses: list[str] | None) -> None:
    """Gather ICE host candidates on exactly ``addresses`` (None: aioice's default,
    all interfaces but loopback). Process-wide: aioice looks the function up at
    gathering time."""
    global _chosen
    if addresses is not None:
        for a in addresses:
            ipaddress.ip_address(a)  # ValueError for anything but an IP address
    _chosen = None if addresses is None else list(addresses)
    aioice.ice.get_host_addresses = _get_host_addresses


def use_host_addresses_here(addresses: list[str]) -> None:
    """Gather on ``addresses`` in the current task and the tasks it starts only (overrides
    :func:`use_host_addresses` there)."""
    for a in addresses:
        ipaddress.ip_address(a)
    _task_addresses.set(list(addresses))
    aioice.ice.get_host_addresses = _get_host_addresses


@contextlib.contextmanager
def gathering_on(addresses: list[str] | None) -> Iterator[None]:
    """Within the block (and tasks started in it), gather ICE host candidates on
    ``addresses`` (None: whatever applies outside)."""
    if addresses is None:
        yield
        return
    for a in addresses:
        ipaddress.ip_address(a)
    aioice.ice.get_host_addresses = _get_host_addresses
    token = _task_addresses.set(list(addresses))
    try:
        yield
    finally:
        _task_addresses.reset(token)


def host_addresses_for(bind: str) -> list[str] | None:
    """What to gather for a configured address: a loopback or a specific address is
    used as is; an unspecified one (0.0.0.0, ::) means aioice's default."""
    ip = ipaddress.ip_address(bind)
    return None if ip.is_unspecified else [bind]


def use_consent_timing(interval: float, failures: int) -> None:
    """ICE consent freshness (RFC 7675) of every connection of this process: a check
    every ``interval`` seconds (aioice randomizes it by ±20 %), consent lost after
    ``failures`` checks in a row without an answer (then the connection fails).
    aioice reads both module constants at each check."""
    if interval <= 0 or failures < 1:
        raise ValueError("consent interval must be > 0 and failures >= 1")
    aioice.ice.CONSENT_INTERVAL = interval  # type: ignore[assignment]
    aioice.ice.CONSENT_FAILURES = failures


class ReceiveClock:
    """When a connection last received a datagram (any: media, RTCP, STUN, DTLS), in
    event loop time; see :func:`watch_received`."""

    def __init__(self, now: float) -> None:
        self.last = now
        self.count = 0


def watch_received(pc: RTCPeerConnection) -> ReceiveClock:
    """Note every datagram arriving on ``pc``'s ICE sockets (call after
    ``setLocalDescription``: the sockets exist once candidates are gathered). The client
    tells a dead path by it: the SFU sends receiver reports every second."""
    loop = asyncio.get_running_loop()
    clock = ReceiveClock(loop.time())
    try:
        conn = dtls_transport(pc).transport._connection
    except (IndexError, AttributeError):
        return clock
    for proto in conn._protocols:
        original = proto.datagram_received

        def datagram_received(data: bytes, addr: Any,
                              original: Callable[[bytes, Any], None] = original) -> None:
            clock.last = loop.time()
            clock.count += 1
            original(data, addr)

        proto.datagram_received = datagram_received  # type: ignore[method-assign, assignment]
    return clock


#: The one loopback address :func:`use_loopback_ice` gathers on.
LOOPBACK = "127.0.0.1"


def use_loopback_ice(pc: RTCPeerConnection) -> None:
    """Make ``pc`` gather exactly one host candidate, on 127.0.0.1, and no others.

    aioice leaves 127.0.0.1 out of its host candidates; this is for tests and local
    demos of two peer connections on one machine: each ``setLocalDescription`` of ``pc``
    gathers as in :func:`gathering_on` ``([LOOPBACK])``. ``pc`` must have no STUN/TURN
    servers (``RTCConfiguration(iceServers=[])``). Call before ``setLocalDescription``.
    """
    set_local = pc.setLocalDescription

    async def setLocalDescription(
        sessionDescription: RTCSessionDescription | None = None,
    ) -> None:
        transports = {t.sender.transport for t in pc.getTransceivers()}
        transports |= {t.receiver.transport for t in pc.getTransceivers()}
        if pc.sctp is not None:
            transports.add(pc.sctp.transport)
        for dtls in transports:
            connection = dtls.transport.iceGatherer._connection
            if connection.stun_server is not None or connection.turn_server is not None:
                raise UsageError("loopback-only ICE with STUN/TURN servers configured")
        with gathering_on([LOOPBACK]):
            await set_local(sessionDescription)

    setattr(pc, "setLocalDescription", setLocalDescription)  # noqa: B010


def configuration(turn: RTCIceServer | None = None, *, relay_only: bool = False
                  ) -> RTCConfiguration:
    """MAX_BUNDLE, no STUN server (never contact the outside), and at most one TURN
    server (``turn``, one URL: aioice uses only one); ``relay_only`` gathers relayed
    candidates only (``iceTransportPolicy: relay``)."""
    if relay_only and turn is None:
        raise UsageError("relay only, but no TURN server to relay through")
    policy = RTCIceTransportPolicy.RELAY if relay_only else RTCIceTransportPolicy.ALL
    return RTCConfiguration(iceServers=[] if turn is None else [turn],
                            bundlePolicy=RTCBundlePolicy.MAX_BUNDLE,
                            iceTransportPolicy=policy)


def use_turn_tls(pc: RTCPeerConnection, context: ssl.SSLContext) -> None:
    """Make ``pc``'s TURN-over-TLS connections check the server's certificate with
    ``context`` (aiortc passes ``ssl=True``: the system's CAs). Call before
    ``setLocalDescription``; every gathering of ``pc`` uses it."""
    set_local = pc.setLocalDescription

    async def setLocalDescription(
        sessionDescription: RTCSessionDescription | None = None,
    ) -> None:
        for t in pc.getTransceivers():
            for dtls in (t.sender.transport, t.receiver.transport):
                connection = dtls.transport.iceGatherer._connection
                if connection.turn_ssl:
                    connection.turn_ssl = context  # type: ignore[assignment]
        await set_local(sessionDescription)

    setattr(pc, "setLocalDescription", setLocalDescription)  # noqa: B010


def selected_pair(pc: RTCPeerConnection) -> tuple[str, Literal["udp", "tcp", "tls"] | None] | None:
    """The local candidate type of ``pc``'s selected (nominated) ICE pair and, for a
    relayed one, how this end reaches its TURN server; None before one is selected."""
    try:
        conn = dtls_transport(pc).transport._connection
    except (IndexError, AttributeError):
        return None
    pair = conn._nominated.get(1)
    if pair is None:
        return None
    kind = str(pair.local_candidate.type)
    if kind != "relay":
        return kind, None
    if conn.turn_ssl:
        return kind, "tls"
    return kind, "tcp" if conn.turn_transport == "tcp" else "udp"


# -- transceivers -------------------------------------------------------------------------


async def _not_started(*args: object, **kwargs: object) -> None:
    return None


def detach_media(pc: RTCPeerConnection) -> None:
    """Keep aiortc's RTP senders and receivers from ever starting on ``pc``.

    Call right after ``addTransceiver`` or ``setRemoteDescription`` returns, before
    yielding to the loop: aiortc starts them from a task scheduled there.
    """
    for t in pc.getTransceivers():
        t.sender.send = _not_started  # type: ignore[method-assign]
        t.receiver.receive = _not_started  # type: ignore[method-assign]


#: RFC 6464 audio level: a clear-text loudness per packet (who speaks, and when), which
#: end-to-end encryption of the payload does not hide. Hotline's clients never negotiate it.
AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"


def drop_header_extension(transceiver: RTCRtpTransceiver, uri: str) -> None:
    """Neither offer nor answer ``uri`` on this m-line: aiortc negotiates, and its sender
    writes, only the extensions listed in the transceiver's ``_headerExtensions`` (copied
    from its global table at ``addTransceiver``, recomputed by ``setRemoteDescription`` of
    an offer). ``createOffer`` copies the table again: use :func:`without_extension` on
    the offer it returns, and call this after it and before ``createAnswer``."""
    transceiver._headerExtensions = [e for e in transceiver._headerExtensions if e.uri != uri]


def without_extension(sdp: str, uri: str) -> str:
    """``sdp`` without its ``a=extmap`` lines for ``uri`` (an offer aiortc made)."""
    lines = sdp.split("\r\n")
    return "\r\n".join(line for line in lines
                        if not (line.startswith("a=extmap:") and line.split(" ")[1:2] == [uri]))


def sender_ssrc(transceiver: RTCRtpTransceiver) -> int:
    """The SSRC aiortc wrote into the SDP for this transceiver's sender."""
    return int(transceiver.sender._ssrc)


def set_stream_ids(transceiver: RTCRtpTransceiver, stream_id: str, track_id: str) -> None:
    """The ``a=msid`` of this m-line (aiortc otherwise gives all m-lines one stream id)."""
    transceiver.sender._stream_id = stream_id
    transceiver.sender._track_id = track_id


def negotiated_payload_type(transceiver: RTCRtpTransceiver) -> int:
    payload_type = transceiver._codecs[0].payloadType
    if payload_type is None:
        raise AiortcInternalsError("no payload type negotiated")
    return payload_type


def negotiated_rtx_payload_type(transceiver: RTCRtpTransceiver, payload_type: int
                                ) -> int | None:
    """The RTX payload type negotiated for ``payload_type`` (``apt``), if any."""
    for codec in transceiver._codecs:
        if codec.mimeType.lower().endswith("/rtx") and codec.parameters.get(
                "apt") == payload_type and codec.payloadType is not None:
            return int(codec.payloadType)
    return None


def dtls_transport(pc: RTCPeerConnection) -> RTCDtlsTransport:
    """The one DTLS transport of a MAX_BUNDLE connection."""
    transport: RTCDtlsTransport = pc.getTransceivers()[0].receiver.transport
    return transport


# -- socket buffers ----------------------------------------------------------------------


#: Socket buffer size for media sockets: the default (~200 KiB) drops packets at a
#: few thousand packets per second.
SOCKET_BUFFER = 4 * 1024 * 1024


def raise_socket_buffers(sock: socket.socket | None) -> None:
    """Give ``sock`` buffers of :data:`SOCKET_BUFFER` bytes (as far as allowed)."""
    if sock is None:
        return
    # The FORCE options (root) go past net.core.rmem_max/wmem_max; else the plain ones.
    for force, plain in ((getattr(socket, "SO_RCVBUFFORCE", None), socket.SO_RCVBUF),
                         (getattr(socket, "SO_SNDBUFFORCE", None), socket.SO_SNDBUF)):
        for option in (force, plain):
            if option is None:
                continue
            try:
                sock.setsockopt(socket.SOL_SOCKET, option, SOCKET_BUFFER)
                break
            except OSError:
                continue


def raise_buffers(pc: RTCPeerConnection) -> None:
    """Give every ICE socket of ``pc`` large buffers (a client receiving many streams),
    and have each read in batches (:mod:`.batch_reads`): a large buffer read one datagram
    per turn of a busy event loop only turns loss into seconds of delay."""
    try:
        conn = dtls_transport(pc).transport._connection
    except (IndexError, AttributeError):
        return
    for proto in conn._protocols:
        if proto.transport is not None:
            raise_socket_buffers(proto.transport.get_extra_info("socket"))
            read_in_batches(proto)

