"""The one module that reaches into aiortc's and aioice's private parts.

aiortc gives us SDP, ICE and DTLS; the SFU then takes the media path over:

* **Raw media path** (:class:`RawMediaPath`): once DTLS is up, we take the SRTP
  sessions aiortc made (``RTCDtlsTransport._rx_srtp`` / ``_tx_srtp``), hook each ICE
  socket's ``datagram_received`` so RTP/RTCP datagrams come to us straight from the
  socket (STUN and DTLS still go to aioice/aiortc, so consent checks and DTLS alerts
  keep working), and send on the nominated pair's socket itself, synchronously: one
  SRTP protect into pylibsrtp's own buffer (:class:`FastProtect`) and one ``sendto``
  per packet, with none of the event loop's transport bookkeeping.
* **No per-track machinery** (:func:`detach_media`): the SFU's transceivers never start
  aiortc's senders and receivers (no decoder threads, no reports, no NACK/PLI/REMB of
  their own).
* **Host candidates** (:func:`use_host_addresses`): aioice 0.13 leaves 127.0.0.1 out
  of its host candidates; when Hotline runs on loopback we gather exactly the
  addresses we are told to.
* **MAX_BUNDLE** everywhere (:func:`configuration`): with the default BALANCED policy,
  aiortc 1.16.0 never starts the second and later m-lines of one kind (its "last
  incoming stream never starts" bug).

Every private name used is listed in :data:`HOOKED` and checked by
:func:`check_internals`; the versions are pinned in :data:`VERSIONS`. A test runs the
check, so an upgrade that moves anything fails loudly instead of silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import importlib.metadata
import inspect
import ipaddress
import logging
import os
import socket
import struct
from collections.abc import Callable, Iterator
from typing import Any

import aioice.ice
import pylibsrtp
from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDtlsTransport,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
)

from hotline.errors import ConfigError

VERSIONS = {"aiortc": "1.16.0", "aioice": "0.13.0", "pylibsrtp": "1.0.0"}

#: (object, attribute) pairs we rely on that are not public API.
HOOKED: tuple[tuple[str, str], ...] = (
    ("aioice.ice", "get_host_addresses"),
    ("aioice.ice", "CONSENT_INTERVAL"),
    ("aioice.ice", "CONSENT_FAILURES"),
    ("aioice.ice.Connection", "_protocols"),
    ("aioice.ice.Connection", "_nominated"),
    ("aioice.ice.StunProtocol", "datagram_received"),
    ("aiortc.RTCDtlsTransport", "_rx_srtp"),
    ("aiortc.RTCDtlsTransport", "_tx_srtp"),
    ("aiortc.RTCIceTransport", "_connection"),
    ("aiortc.RTCRtpSender", "_ssrc"),
    ("aiortc.RTCRtpSender", "_stream_id"),
    ("aiortc.RTCRtpSender", "_track_id"),
    ("aiortc.RTCRtpTransceiver", "_codecs"),
    ("aiortc.RTCRtpTransceiver", "_headerExtensions"),
    ("pylibsrtp.Session", "_srtp"),
    ("pylibsrtp.Session", "_cdata"),
    ("pylibsrtp.Session", "_buffer"),
)

_original_get_host_addresses = aioice.ice.get_host_addresses
log = logging.getLogger("hotline.rtc")


class AdapterError(ConfigError):
    """The installed aiortc/aioice do not have what this adapter hooks."""


def check_internals() -> None:
    """Raise :class:`AdapterError` unless every hooked internal is where we expect it."""
    for package, version in VERSIONS.items():
        installed = importlib.metadata.version(package)
        if installed != version:
            raise AdapterError(f"{package} {installed} installed; Hotline is tested with "
                               f"{version} only (see hotline.rtc.aiortc_adapter)")
    if list(inspect.signature(_original_get_host_addresses).parameters) != [
            "use_ipv4", "use_ipv6"]:
        raise AdapterError("aioice.ice.get_host_addresses changed its signature")
    if not hasattr(pylibsrtp._binding.lib, "srtp_protect"):
        raise AdapterError("pylibsrtp's binding has no srtp_protect")
    for constant in ("CONSENT_INTERVAL", "CONSENT_FAILURES"):
        if not isinstance(getattr(aioice.ice, constant, None), int | float):
            raise AdapterError(f"aioice.ice.{constant} is gone (consent freshness timing)")
    if "datagram_received" not in vars(aioice.ice.StunProtocol):
        raise AdapterError("aioice StunProtocol.datagram_received moved")
    init_sources = {
        "aioice.ice.Connection": inspect.getsource(aioice.ice.Connection.__init__),
        "aiortc.RTCDtlsTransport": inspect.getsource(RTCDtlsTransport),
        "aiortc.RTCIceTransport": inspect.getsource(
            importlib.import_module("aiortc.rtcicetransport").RTCIceTransport),
        "aiortc.RTCRtpSender": inspect.getsource(RTCRtpSender),
        "aiortc.RTCRtpTransceiver": inspect.getsource(RTCRtpTransceiver),
        "pylibsrtp.Session": inspect.getsource(pylibsrtp.Session),
    }
    for owner, attr in HOOKED:
        source = init_sources.get(owner)
        if source is not None and f"self.{attr}" not in source:
            raise AdapterError(f"{owner}.{attr} is gone: the aiortc adapter needs updating")


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


def configuration() -> RTCConfiguration:
    """No STUN/TURN servers (never contact the outside), and MAX_BUNDLE."""
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


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
        raise AdapterError("no payload type negotiated")
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


# -- the raw media path -------------------------------------------------------------------


#: Socket buffer size for media sockets: the default (~200 KiB) drops packets at a
#: few thousand packets per second.
SOCKET_BUFFER = 4 * 1024 * 1024
_FIXED = struct.Struct("!BBHII")  # the RTP fixed header (RFC 3550 §5.1)


def _raise_buffers(sock: socket.socket | None) -> None:
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
    """Give every ICE socket of ``pc`` large buffers (a client receiving many streams)."""
    try:
        conn = dtls_transport(pc).transport._connection
    except (IndexError, AttributeError):
        return
    for proto in conn._protocols:
        if proto.transport is not None:
            _raise_buffers(proto.transport.get_extra_info("socket"))


class FastProtect:
    """``session.protect(packet)`` without pylibsrtp's per-call checks and allocation:
    the packet goes into the session's own buffer, libsrtp protects it in place, and
    the result is copied out once. Same bytes, same errors (:class:`pylibsrtp.Error`)."""

    def __init__(self, session: Any) -> None:
        # The session owns the libsrtp context (freed when it is collected): keep it.
        self._session = session
        self._srtp = session._srtp[0]
        self._cdata = session._cdata
        self._buffer = session._buffer
        self._limit = len(session._cdata) - pylibsrtp.SRTP_MAX_TRAILER_LEN
        self._len = pylibsrtp._binding.ffi.new("int *")
        self._protect = pylibsrtp._binding.lib.srtp_protect

        #: The protected packet after :meth:`protect_in_place`: valid until the next call.
        self.view = memoryview(self._buffer)

    def protect_in_place(self, packet: bytes) -> int:
        """Protect ``packet`` into :attr:`view`; returns the protected length."""
        n = len(packet)
        if n > self._limit:
            raise ValueError("packet is too long")
        self._len[0] = n
        self._buffer[0:n] = packet
        status = self._protect(self._srtp, self._cdata, self._len)
        if status != 0:
            raise pylibsrtp.Error(f"srtp_protect failed with status {status}")
        return int(self._len[0])

    def __call__(self, packet: bytes) -> bytes:
        return bytes(self.view[:self.protect_in_place(packet)])


def _own_socket(transport: Any) -> socket.socket | None:
    """A socket object on (a duplicate of) the transport's file descriptor, to send
    with one system call; None if the transport does not expose one."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return None
    try:
        own = socket.socket(fileno=os.dup(sock.fileno()))
    except OSError:
        return None
    own.setblocking(False)
    return own


STUN_MAGIC_COOKIE = b"\x21\x12\xa4\x42"


def _is_stun(data: bytes) -> bool:
    """RFC 7983 / RFC 5389: first byte 0-3, a 20-byte header with the magic cookie."""
    return len(data) >= 20 and data[0] < 4 and data[4:8] == STUN_MAGIC_COOKIE


class RawMediaPath:
    """SRTP straight from and to the ICE sockets of one connection.

    ``on_rtp`` / ``on_rtcp`` get decrypted packets. Once DTLS is up, every datagram
    from an address other than the ICE-validated remote address is dropped (and counted
    in ``foreign_datagrams``) before decryption or DTLS, except STUN (RFC 7983: first
    byte 0-3 and the magic cookie), which aioice authenticates itself
    (MESSAGE-INTEGRITY).
    """

    def __init__(self, on_rtp: Callable[[bytes], None], on_rtcp: Callable[[bytes], None]
                 ) -> None:
        self._on_rtp = on_rtp
        self._on_rtcp = on_rtcp
        self._rx: Any = None
        self._tx: Any = None
        self._sendto: Callable[[Any, Any], Any] | None = None
        self._protect: FastProtect | None = None
        #: What :meth:`send_parts` needs, once attached with a socket of our own.
        self._direct: tuple[Any, ...] | None = None
        self._sock: socket.socket | None = None
        self._addr: Any = None
        self.attached = False
        self.srtp_errors = 0
        self.send_errors = 0
        self.send_dropped = 0  # the socket's send buffer was full
        self.handler_errors = 0
        self.foreign_datagrams = 0

    def watch(self, pc: RTCPeerConnection, on_attached: Callable[[], None]) -> None:
        """Attach as soon as ``pc``'s DTLS transport is connected."""
        dtls = dtls_transport(pc)

        @dtls.on("statechange")
        def _state() -> None:
            if dtls.state == "connected" and not self.attached:
                self._attach(dtls)
                on_attached()

    def _attach(self, dtls: RTCDtlsTransport) -> None:
        conn = dtls.transport._connection
        pair = conn._nominated[1]
        sock = _own_socket(pair.protocol.transport)
        self.attach_session(dtls._tx_srtp, dtls._rx_srtp, sock, pair.remote_addr,
                            fallback=pair.protocol.transport.sendto)
        for proto in conn._protocols:
            proto.datagram_received = self._hook(proto.datagram_received)  # type: ignore[method-assign, assignment]
            if proto.transport is not None:
                _raise_buffers(proto.transport.get_extra_info("socket"))
        self.attached = True

    def attach_session(self, tx: Any, rx: Any, sock: socket.socket | None, addr: Any,
                       fallback: Callable[[Any, Any], Any] | None = None) -> None:
        """Send with SRTP session ``tx`` on ``sock`` to ``addr`` (``fallback``, a
        transport's ``sendto``, if there is no socket of our own) and decrypt with ``rx``.
        Called once DTLS is up; benchmarks call it with sessions of their own."""
        self._rx, self._tx, self._addr, self._sock = rx, tx, addr, sock
        protect = self._protect = FastProtect(tx)
        self._sendto = sock.sendto if sock is not None else fallback
        if sock is not None:
            self._direct = (protect._buffer, protect._len, protect._protect, protect._srtp,
                            protect._cdata, protect.view, protect._limit, sock.sendto, addr)

    def _hook(self, original: Callable[[bytes, Any], None]) -> Callable[[bytes, Any], None]:
        rtcp, rtp_, rx = self._on_rtcp, self._on_rtp, self._rx

        def datagram_received(data: bytes, addr: Any) -> None:
            if not data or not 127 < data[0] < 192:
                # STUN (consent, checks) from anywhere stays with aioice, which checks
                # its integrity; DTLS (and anything else) only from the validated
                # address: a forged ClientHello or alert never reaches OpenSSL.
                if addr[:2] != self._addr[:2] and not _is_stun(data):
                    self.foreign_datagrams += 1
                    return
                original(data, addr)
                return
            if addr != self._addr:
                self.foreign_datagrams += 1
                return
            is_rtcp = len(data) > 1 and 191 < data[1] < 224
            try:
                packet = rx.unprotect_rtcp(data) if is_rtcp else rx.unprotect(data)
            except Exception:  # pylibsrtp.Error, or a malformed packet: drop it
                self.srtp_errors += 1
                return
            try:
                (rtcp if is_rtcp else rtp_)(packet)
            except Exception:  # a bug must not take the socket's callback down
                self.handler_errors += 1
                if self.handler_errors == 1:
                    log.exception("media handler failed (counted from now on)")

        return datagram_received

    def detach(self) -> None:
        """Stop sending (the connection is closing)."""
        self.attached = False
        self._sendto = None
        self._direct = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def send_rtp(self, packet: bytes) -> None:
        sendto, protect = self._sendto, self._protect
        if sendto is None or protect is None:
            return
        try:
            if self._sock is not None:  # sendto copies at once: send from libsrtp's buffer
                sendto(protect.view[:protect.protect_in_place(packet)], self._addr)
            else:  # the loop's transport may keep the data for later: give it its own copy
                sendto(protect(packet), self._addr)
        except BlockingIOError:  # the kernel's buffer is full: dropped, as UDP would
            self.send_dropped += 1
        except Exception:  # a closing transport or a bad packet: this copy only
            self.send_errors += 1

    def send_parts(self, b0: int, b1: int, seq: int, ts: int, ssrc: int, tail: bytes) -> None:
        """One RTP packet given as its fixed-header fields and the rest: written straight
        into libsrtp's buffer, protected in place and sent from there. This runs once per
        forwarded packet and copy (the SFU's hot path): no packet is assembled or copied
        in Python, and everything it needs is in one tuple made at attach time."""
        direct = self._direct
        if direct is None:  # not attached, detached, or no socket of our own
            if self._sendto is not None and self._protect is not None:
                self.send_rtp(_FIXED.pack(b0, b1, seq, ts, ssrc) + tail)
            return
        buffer, length, srtp_protect, srtp, cdata, view, limit, sendto, addr = direct
        n = 12 + len(tail)
        try:
            if n > limit:
                raise ValueError("packet is too long")
            _FIXED.pack_into(buffer, 0, b0, b1, seq, ts, ssrc)
            buffer[12:n] = tail
            length[0] = n
            if srtp_protect(srtp, cdata, length):
                raise pylibsrtp.Error("srtp_protect failed")
            sendto(view[:length[0]], addr)
        except BlockingIOError:  # the kernel's buffer is full: dropped, as UDP would
            self.send_dropped += 1
        except Exception:  # a closing socket or a bad packet: this copy only
            self.send_errors += 1

    def send_rtcp(self, packet: bytes) -> None:
        if self._sendto is None:
            return
        try:
            self._sendto(self._tx.protect_rtcp(packet), self._addr)
        except BlockingIOError:
            self.send_dropped += 1
        except Exception:
            self.send_errors += 1

    def send(self, packet: bytes) -> None:
        """RTP or RTCP, told apart by the packet type byte."""
        if len(packet) > 1 and 191 < packet[1] < 224:
            self.send_rtcp(packet)
            return
        # send_rtp, inlined: this runs once per forwarded packet and copy
        sendto, protect = self._sendto, self._protect
        if sendto is None or protect is None:
            return
        try:
            if self._sock is not None:
                sendto(protect.view[:protect.protect_in_place(packet)], self._addr)
            else:
                sendto(protect(packet), self._addr)
        except BlockingIOError:
            self.send_dropped += 1
        except Exception:
            self.send_errors += 1
