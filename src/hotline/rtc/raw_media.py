"""The SFU's raw media path: SRTP straight from and to the ICE sockets.

Once DTLS is up, :class:`RawMediaPath` takes the SRTP sessions aiortc made
(``RTCDtlsTransport._rx_srtp`` / ``_tx_srtp``), hooks each ICE socket's
``datagram_received`` so RTP/RTCP datagrams come to us straight from the socket (STUN
and DTLS still go to aioice/aiortc, so consent checks and DTLS alerts keep working),
and sends on the nominated pair's socket itself, synchronously: one SRTP protect into
pylibsrtp's own buffer (:class:`FastProtect`) and one ``sendto`` per packet, with none
of the event loop's transport bookkeeping.

The private names used are listed in :mod:`hotline.rtc.aiortc_internals`.
"""

from __future__ import annotations

import logging
import socket
import struct
from collections.abc import Callable
from typing import Any

import pylibsrtp
from aiortc import RTCDtlsTransport, RTCPeerConnection

from hotline.rtc.aiortc_adapter import dtls_transport, raise_socket_buffers
from hotline.rtc.batch_reads import own_socket, read_in_batches

log = logging.getLogger("hotline.rtc")

_FIXED = struct.Struct("!BBHII")  # the RTP fixed header (RFC 3550 §5.1)


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
        sock = own_socket(pair.protocol.transport)
        self.attach_session(dtls._tx_srtp, dtls._rx_srtp, sock, pair.remote_addr,
                            fallback=pair.protocol.transport.sendto)
        for proto in conn._protocols:
            proto.datagram_received = self._hook(proto.datagram_received)  # type: ignore[method-assign, assignment]
            if proto.transport is not None:
                raise_socket_buffers(proto.transport.get_extra_info("socket"))
                read_in_batches(proto)  # a publisher's packets, not one per turn of the loop
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
