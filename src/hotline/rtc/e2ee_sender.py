"""The sending side of media E2EE: whole encoded frames protected before packetization.

aiortc has no encoded-frame hook: ``Encoder.encode`` returns a frame already split into
RTP payloads. :class:`E2eeEncoder` wraps aiortc's encoder for the negotiated codec::

    track -> aiortc encoder -> [protect] -> aiortc packetizer -> RTP

* VP8: ``Vp8Encoder.encode`` and ``.pack`` pass each whole encoded frame to
  ``self._packetize(buffer, picture_id)``. :class:`E2eeEncoder` overrides ``_packetize``
  on its own inner encoder instance: protect the frame, then call aiortc's packetizer.
* Opus: each payload ``OpusEncoder`` returns is one whole Opus frame (RFC 7587), so
  :class:`E2eeEncoder` protects each payload. The encoder is created with in-band FEC on
  (:mod:`hotline.rtc.opus_fec`) and runs at :data:`OPUS_BITRATE`.
* Bitrate: aiortc's sender hands REMB to ``E2eeEncoder.target_bitrate``. For VP8 the
  E2EE encoder keeps its own target (below aiortc's 250 kbit/s floor) and gives
  aiortc's encoder a libvpx context that may drop frames to hold it (made again only
  for a real change: each new context starts with a key frame).

Threads: aiortc encodes in executor threads, so :class:`SendKeys` serialises encryption
under a lock. The private names used are listed in :mod:`hotline.rtc.aiortc_internals`.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Mapping
from typing import Any

import av
from aiortc.codecs.base import Encoder
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder, number_of_threads
from av.frame import Frame
from av.packet import Packet
from av.video.codeccontext import VideoCodecContext

from hotline.crypto.frames import Codec, protect
from hotline.crypto.kid import Slot
from hotline.crypto.sframe import SFrameSender
from hotline.errors import Reason, SFrameError, UsageError
from hotline.rtc import opus_fec
from hotline.rtc.e2ee_stats import CODECS, NOT_PROTECTED, UNSUPPORTED_CODEC, SendCounters

#: VP8 bitrates (bit/s) the sender follows REMB between; aiortc's floor is 250 kbit/s,
#: which with the audio does not fit a 300 kbit/s uplink.
VP8_MIN_BITRATE = 50_000
VP8_MAX_BITRATE = 1_500_000
VP8_START_BITRATE = 500_000  # aiortc's default
VP8_RETARGET_INTERVAL = 1.0  # seconds between two raises of the VP8 bitrate
#: libvpx options: aiortc 1.16.0's (CBR, real time), plus frame dropping and a bound on
#: key frames.
VP8_OPTIONS = {
    "cpu-used": "-6", "deadline": "realtime", "lag-in-frames": "0",
    "noise-sensitivity": "4", "overshoot-pct": "15", "partitions": "0",
    "static-thresh": "1", "undershoot-pct": "100",
    "drop-threshold": "30",  # drop a frame rather than overshoot the rate
    # A key frame at most 3 frames' worth of the rate: an unbounded one (about 20 kB at
    # 320x240) overflows a narrow uplink's queue for half a second, audio with it.
    "max-intra-rate": "300",
}
#: Opus bitrate (aiortc: 96 kbit/s); speech with in-band FEC needs far less, and audio
#: must still fit beside video on a narrow uplink.
OPUS_BITRATE = 32_000
_VP8_TARGET = "_Vp8Encoder__target_bitrate"


class SendKeys:
    """The current :class:`SFrameSender` of each slot, swapped when keys rotate.

    Encryption happens under the same lock as a swap, so once :meth:`replace` or
    :meth:`set` returns, no frame is encrypted under the previous sender any more.
    """

    def __init__(self, senders: Mapping[Slot, SFrameSender] | None = None) -> None:
        self._lock = threading.Lock()
        self._senders: dict[Slot, SFrameSender] = dict(senders or {})

    def set(self, slot: Slot, sender: SFrameSender | None) -> None:
        with self._lock:
            if sender is None:
                self._senders.pop(slot, None)
            else:
                self._senders[slot] = sender

    def replace(self, senders: Mapping[Slot, SFrameSender]) -> None:
        """Swap every slot at once (slots not in ``senders`` stop sending)."""
        with self._lock:
            self._senders = dict(senders)

    def get(self, slot: Slot) -> SFrameSender | None:
        with self._lock:
            return self._senders.get(slot)

    def protect(self, slot: Slot, codec: Codec, frame: bytes) -> bytes:
        """Encrypt one encoded frame with the slot's current sender."""
        with self._lock:
            sender = self._senders.get(slot)
            if sender is None:
                raise SFrameError(Reason.UNKNOWN_KID, "no sending key for this slot")
            return protect(sender, codec, frame)


class E2eeEncoder(Encoder):
    """Wraps one aiortc encoder: whole encoded frames are protected before packetization.

    VP8 and Opus only; for any other codec every frame is dropped (and counted). A frame
    that cannot be encrypted (no key yet, counter exhausted) is dropped; for VP8 the next
    frame is then forced to be a key frame, and no frame is even encoded while the slot
    has no key.
    """

    def __init__(self, inner: Encoder, mime_type: str, slot: Slot, keys: SendKeys,
                 counters: SendCounters | None = None) -> None:
        self.inner = inner
        self.codec = CODECS.get(mime_type.lower())
        self.slot = slot
        self.keys = keys
        self._counters = counters or SendCounters()
        self._force_keyframe = False
        self._vp8_output: list[bytes] | None = None
        self._vp8_target = VP8_START_BITRATE
        self._vp8_retargeted = -VP8_RETARGET_INTERVAL
        self.vp8_contexts = 0  # libvpx contexts made (one per bitrate change)
        #: The payload list of the last encode/pack call (the sender checks it is ours).
        self.last_payloads: list[bytes] | None = None
        if self.codec is Codec.OPUS and isinstance(inner, OpusEncoder) and (
                not inner.codec.is_open):
            opus_fec.enable_inband_fec(inner)
            inner.codec.bit_rate = OPUS_BITRATE
        if self.codec is Codec.VP8:
            if not isinstance(inner, Vp8Encoder):
                raise UsageError("VP8 needs aiortc's Vp8Encoder")
            # Shadows the classmethod for this instance only (see aiortc_internals).
            setattr(inner, "_packetize", self._packetize_vp8)  # noqa: B010

    def request_keyframe(self) -> None:
        """Make the next VP8 frame a key frame (e.g. its stream moved to another path)."""
        self._force_keyframe = True

    # aiortc's sender adapts VP8's bitrate to REMB through this (if the encoder has it).
    @property
    def target_bitrate(self) -> int:
        if self.codec is Codec.VP8:
            return self._vp8_target
        value = getattr(self.inner, "target_bitrate", None)
        if not isinstance(value, int):
            raise AttributeError("target_bitrate")
        return value

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        if self.codec is Codec.VP8:
            self._vp8_target = max(VP8_MIN_BITRATE, min(int(bitrate), VP8_MAX_BITRATE))
            return
        if not hasattr(self.inner, "target_bitrate"):
            raise AttributeError("target_bitrate")
        setattr(self.inner, "target_bitrate", bitrate)  # noqa: B010

    def _vp8_context(self, frame: Frame) -> None:
        """Give aiortc's VP8 encoder a libvpx context for the current target, made here:
        aiortc's own floor is 250 kbit/s, and its libvpx never drops a frame, so with
        hard content (the test pattern at 320x240 needs about 450 kbit/s at 30 fps) it
        ignores any lower target. Ours may drop frames to keep the rate (the frame rate
        falls before the uplink overflows). A new context starts with a key frame, so
        it is made again only for a real change: down by 10 %, up by 20 %, at most once
        per VP8_RETARGET_INTERVAL (a cut is applied at once)."""
        inner = self.inner
        assert isinstance(inner, Vp8Encoder)
        current = inner.codec
        wanted = self._vp8_target
        now = time.monotonic()
        if current is not None and (current.width, current.height) == (
                frame.width, frame.height):  # type: ignore[attr-defined]
            rate = current.bit_rate or 1
            ratio = wanted / rate
            due = now - self._vp8_retargeted >= VP8_RETARGET_INTERVAL
            if not (ratio < 0.9 or (ratio > 1.2 and due)):
                # keep it; aiortc re-creates its context when its target differs by 10 %
                setattr(inner, _VP8_TARGET, rate)
                return
        codec = av.CodecContext.create("libvpx", "w")
        assert isinstance(codec, VideoCodecContext)
        codec.width, codec.height = frame.width, frame.height  # type: ignore[attr-defined]
        codec.bit_rate = wanted
        codec.pix_fmt = "yuv420p"
        codec.gop_size = 3000
        codec.qmin, codec.qmax = 2, 56
        codec.options = {**VP8_OPTIONS, "bufsize": str(wanted), "minrate": str(wanted),
                         "maxrate": str(wanted)}
        codec.thread_count = number_of_threads(codec.width * codec.height,
                                               multiprocessing.cpu_count())
        inner.codec = codec
        setattr(inner, _VP8_TARGET, wanted)
        self._vp8_retargeted = now
        self.vp8_contexts += 1

    def _protect(self, frame: bytes) -> bytes | None:
        assert self.codec is not None
        try:
            wire = self.keys.protect(self.slot, self.codec, frame)
        except SFrameError as exc:
            self._counters.fail(exc.reason)
            self._force_keyframe = True
            return None
        self._counters.ok()
        return wire

    def _packetize_vp8(self, buffer: bytes, picture_id: int) -> list[bytes]:
        out: list[bytes] = []
        if buffer:  # an encoder may return no data for a frame
            wire = self._protect(buffer)
            if wire is not None:
                out = Vp8Encoder._packetize(wire, picture_id)
        self._vp8_output = out
        return out

    def _finish(self, payloads: list[bytes]) -> list[bytes]:
        if self.codec is Codec.VP8:
            produced, self._vp8_output = self._vp8_output, None
            if payloads and payloads is not produced:
                self._counters.fail(NOT_PROTECTED)  # aiortc did not packetize through us
                payloads = []
        else:
            payloads = [w for p in payloads if (w := self._protect(p)) is not None]
        self.last_payloads = payloads
        return payloads

    def _refuse(self) -> bool:
        if self.codec is None:
            self._counters.fail(UNSUPPORTED_CODEC)
        elif self.keys.get(self.slot) is None:
            self._counters.fail(Reason.UNKNOWN_KID)
            self._force_keyframe = True
        else:
            return False
        self.last_payloads = []
        return True

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        if self._refuse():
            return [], 0
        force = force_keyframe or (self._force_keyframe and self.codec is Codec.VP8)
        self._force_keyframe = False
        if self.codec is Codec.VP8 and isinstance(self.inner, Vp8Encoder):
            self._vp8_context(frame)
        payloads, timestamp = self.inner.encode(frame, force)
        return self._finish(payloads), timestamp

    def pack(self, packet: Packet[Any]) -> tuple[list[bytes], int]:
        if self._refuse():
            return [], 0
        payloads, timestamp = self.inner.pack(packet)
        return self._finish(payloads), timestamp

