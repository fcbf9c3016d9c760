"""Media end-to-end encryption on aiortc 1.16.0 (the client side of hotline.rtc).

aiortc has no encoded-frame hook: ``Encoder.encode`` returns a frame already split into
RTP payloads, and the receiver hands reassembled frames straight to its decoder thread.
This module protects WHOLE encoded frames (``hotline.crypto.frames.protect``) just before
packetization and unprotects them just after reassembly, at these seams::

    sender    track -> aiortc encoder -> [protect] -> aiortc packetizer -> RTP
    receiver  RTP -> depayload -> jitter buffer -> [unprotect] -> aiortc decoder thread

* VP8 (send): ``Vp8Encoder.encode`` and ``.pack`` pass each whole encoded frame to
  ``self._packetize(buffer, picture_id)``. :class:`E2eeEncoder` overrides ``_packetize``
  on its own inner encoder instance: protect the frame, then call aiortc's packetizer.
* Opus (send): each payload ``OpusEncoder`` returns is one whole Opus frame (RFC 7587),
  so :class:`E2eeEncoder` protects each payload.
* Sender: ``RTCRtpSender._next_encoded_frame(codec)`` runs once per frame and creates the
  private ``RTCRtpSender.__encoder`` when it is ``None``. :meth:`MediaE2ee.protect_sender`
  wraps it per sender instance: it presets that encoder with an :class:`E2eeEncoder`
  around aiortc's own encoder for the negotiated codec, and drops any encoded frame whose
  payloads did not come out of that :class:`E2eeEncoder` (fail closed: plaintext is
  never sent, even if aiortc changed underneath).
* Receiver: ``RTCRtpReceiver._handle_rtp_packet`` puts ``(codec, JitterFrame)`` for each
  reassembled frame on the private ``RTCRtpReceiver.__decoder_queue``, read by the
  decoder thread. :meth:`MediaE2ee.protect_receiver` replaces that queue, before
  ``receive()`` starts the thread, by one that decrypts in ``put`` (on the event loop)
  with a :class:`~hotline.crypto.frames.FrameReceiver` and passes on only frames that
  authenticated. A stream bound to its participant (:meth:`StreamDecryptor.bind`, from
  the subscribe offer) drops, before anything else, every frame whose KID is another
  participant's or whose slot is not the stream's kind (counted as ``wrong_participant``
  or ``wrong_slot`` when the KID is a member's, as ``unknown_kid`` when no key has it;
  hotline.crypto.kid.stream_kid_verdict); an unbound stream checks the slot only.
  Frames under an unknown KID are held (0.5 s, 64 per stream) until
  :meth:`MediaE2ee.keys_changed`; failures are counted and dropped, never decoded. After
  a dropped video frame the next delta frame asks the sender for a key frame (PLI) via
  the private ``RTCRtpReceiver.__decoder_error`` event, at most once a second.
* Bitrate: aiortc's sender hands REMB to ``E2eeEncoder.target_bitrate``. For VP8 the
  E2EE encoder keeps its own target (below aiortc's 250 kbit/s floor) and gives
  aiortc's encoder a libvpx context that may drop frames to hold it (made again only
  for a real change: each new context starts with a key frame). Opus runs at
  :data:`OPUS_BITRATE`.
* Opus FEC and PLC (:mod:`hotline.rtc.opus_fec`): the Opus encoder is created with
  in-band FEC on; decrypted Opus frames go to the decoder thread tagged so that the
  thread's ``get_decoder`` (the module global of ``aiortc.rtcrtpreceiver``, replaced
  once) makes an :class:`~hotline.rtc.opus_fec.OpusFecDecoder` for them, which rebuilds
  a lost frame from the next packet's FEC data or conceals it, and counts both in
  :attr:`StreamDecryptor.audio`.

Every private aiortc/aioice name relied on is in :data:`AIORTC_INTERNALS`;
:func:`check_aiortc_internals` (run by :class:`MediaE2ee`) checks each one still exists,
keeps its signature and is still used where we hook it, and that aiortc is
:data:`AIORTC_VERSION`. Only VP8 and Opus are protected: any other negotiated codec
(H.264, G.711, G.722) has every frame dropped on both sides.

Usage, one :class:`MediaE2ee` per call, next to the call's
:class:`~hotline.crypto.mediakeys.MediaKeys`::

    keys = MediaKeys()
    e2ee = MediaE2ee(keys.context, SendKeys(keys.senders))
    e2ee.attach(pc)                           # right after RTCPeerConnection()
    ...
    messages = keys.apply(schedule.handle(event))
    e2ee.send_keys.replace(keys.senders)      # a new sending key is used at once
    e2ee.keys_changed()                       # frames held for new keys go on (loop thread)

Threads: aiortc encodes in executor threads, so :class:`SendKeys` serialises encryption
under a lock; decryption and :meth:`MediaE2ee.keys_changed` run on the event loop thread.
Not protected, as in every SFrame deployment: RTP headers and their extensions, among
them the audio level aiortc computes from each raw audio frame and sends in the clear.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import multiprocessing
import queue
import threading
import time
import types
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import aiortc
import av
from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCSessionDescription
from aiortc.codecs import get_capabilities, get_encoder
from aiortc.codecs.base import Decoder, Encoder
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder, number_of_threads
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.rtcrtpsender import RTCEncodedFrame
from av.frame import Frame
from av.packet import Packet
from av.video.codeccontext import VideoCodecContext

from hotline.crypto.frames import Codec, FrameReceiver, clear_length, frame_kid, protect
from hotline.crypto.kid import GENERATION_BITS, SLOT_BITS, Slot, stream_kid_verdict
from hotline.crypto.sframe import SFrameContext, SFrameHeader, SFrameSender
from hotline.errors import ConfigError, Reason, SFrameError, UsageError
from hotline.rtc import aiortc_adapter as adapter
from hotline.rtc import jitter, opus_fec

__all__ = [
    "AIORTC_INTERNALS",
    "AIORTC_VERSION",
    "AiortcInternalsError",
    "E2eeDecoder",
    "E2eeEncoder",
    "E2eeStats",
    "Internal",
    "MediaE2ee",
    "SendKeys",
    "StreamDecryptor",
    "check_aiortc_internals",
    "e2ee_codec_preferences",
    "use_loopback_ice",
]

AIORTC_VERSION = "1.16.0"


class Internal(NamedTuple):
    """One aiortc/aioice name this module relies on although it is not public API."""

    owner: str  # dotted path of the module or class that has it
    name: str  # as looked up; ``__private`` attributes in their mangled form
    params: tuple[str, ...] | None  # parameters of a callable, as inspect sees them
    used_by: tuple[str, ...]  # functions that must still refer to ``name``
    why: str


#: Every private (or undocumented) aiortc/aioice name this module relies on.
AIORTC_INTERNALS: tuple[Internal, ...] = (
    Internal("aiortc.codecs.vpx.Vp8Encoder", "_packetize", ("buffer", "picture_id"),
             ("aiortc.codecs.vpx.Vp8Encoder.encode", "aiortc.codecs.vpx.Vp8Encoder.pack"),
             "gets each whole VP8 frame, returns its RTP payloads; overridden per encoder"),
    Internal("aiortc.codecs.vpx.Vp8Encoder", "_Vp8Encoder__target_bitrate", None,
             ("aiortc.codecs.vpx.Vp8Encoder.__init__", "aiortc.codecs.vpx.Vp8Encoder.encode"),
             "compared with the open context's bitrate: set to ours so that aiortc keeps "
             "the libvpx context E2eeEncoder made"),
    Internal("aiortc.codecs.vpx", "number_of_threads", ("pixels", "cpus"),
             ("aiortc.codecs.vpx.Vp8Encoder.encode",),
             "libvpx threads for a picture size, as aiortc chooses them"),
    Internal("aiortc.rtcrtpsender.RTCRtpSender", "_next_encoded_frame", ("self", "codec"),
             ("aiortc.rtcrtpsender.RTCRtpSender._run_rtp",),
             "called by the RTP loop once per frame; wrapped per sender instance"),
    Internal("aiortc.rtcrtpsender.RTCRtpSender", "_RTCRtpSender__encoder", None,
             ("aiortc.rtcrtpsender.RTCRtpSender._next_encoded_frame",),
             "the sender's encoder, made by get_encoder only while None: preset with ours"),
    Internal("aiortc.rtcrtpsender.RTCEncodedFrame", "payloads", None,
             ("aiortc.rtcrtpsender.RTCEncodedFrame.__init__",
              "aiortc.rtcrtpsender.RTCRtpSender._run_rtp"),
             "the list the encoder returned, sent as is: checked to be ours"),
    Internal("aiortc.rtcrtpreceiver.RTCRtpReceiver", "_RTCRtpReceiver__decoder_queue", None,
             ("aiortc.rtcrtpreceiver.RTCRtpReceiver.receive",
              "aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet"),
             "(codec, JitterFrame) of each reassembled frame, or None to stop: replaced"),
    Internal("aiortc.rtcrtpreceiver.RTCRtpReceiver", "_RTCRtpReceiver__decoder_thread", None,
             ("aiortc.rtcrtpreceiver.RTCRtpReceiver.receive",),
             "None until receive() starts the decoder thread with the queue"),
    Internal("aiortc.rtcrtpreceiver.RTCRtpReceiver", "_RTCRtpReceiver__decoder_error", None,
             ("aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet",),
             "threading.Event; once set, the next video packet sends a PLI"),
    Internal("aiortc.rtcrtpreceiver", "decoder_worker",
             ("loop", "input_q", "output_q", "decode_error"),
             ("aiortc.rtcrtpreceiver.RTCRtpReceiver.receive",),
             "the decoder thread: reads the queue we replace"),
    Internal("aiortc.rtcrtpreceiver", "get_decoder", ("codec",),
             ("aiortc.rtcrtpreceiver.decoder_worker",),
             "looked up by the decoder thread for each codec: replaced by one that makes "
             "an OpusFecDecoder for the Opus frames of a protected receiver"),
    Internal("aiortc.jitterbuffer", "JitterFrame", ("data", "timestamp"),
             ("aiortc.jitterbuffer.JitterBuffer._remove_frame",),
             "a reassembled frame, as queued for the decoder; we build decrypted ones"),
    Internal("aiortc.rtcrtpreceiver.RTCRtpReceiver", "_RTCRtpReceiver__jitter_buffer", None,
             ("aiortc.rtcrtpreceiver.RTCRtpReceiver._handle_rtp_packet",),
             "the receiver's JitterBuffer: replaced by hotline.rtc.jitter's"),
    Internal("aiortc.jitterbuffer.JitterBuffer", "_remove_frame", ("self", "sequence_number"),
             ("aiortc.jitterbuffer.JitterBuffer.add",),
             "hands out the frame at the origin; SkippingJitterBuffer calls it after a skip"),
    Internal("aiortc.jitterbuffer.JitterBuffer", "_origin", None,
             ("aiortc.jitterbuffer.JitterBuffer.add", "aiortc.jitterbuffer.JitterBuffer.remove"),
             "sequence number of the oldest slot: SkippingJitterBuffer moves it past a hole"),
    Internal("aiortc.jitterbuffer.JitterBuffer", "_packets", None,
             ("aiortc.jitterbuffer.JitterBuffer.add", "aiortc.jitterbuffer.JitterBuffer.remove"),
             "the ring of buffered packets, read by SkippingJitterBuffer"),
    Internal("aiortc.rtcicetransport.RTCIceGatherer", "_connection", None,
             ("aiortc.rtcicetransport.RTCIceGatherer.gather",),
             "its aioice Connection (use_loopback_ice only)"),
    Internal("aioice.ice.Connection", "get_component_candidates",
             ("self", "component", "addresses", "timeout"),
             ("aioice.ice.Connection.gather_candidates",),
             "binds the host candidates: told to use 127.0.0.1 (use_loopback_ice only)"),
)

_SENDER_ENCODER = "_RTCRtpSender__encoder"
_RECEIVER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RECEIVER_THREAD = "_RTCRtpReceiver__decoder_thread"
_RECEIVER_DECODE_ERROR = "_RTCRtpReceiver__decoder_error"
_RECEIVER_JITTER = "_RTCRtpReceiver__jitter_buffer"

log = logging.getLogger("hotline.e2ee")

#: MIME types (lower case) protected, and how.
_CODECS: dict[str, Codec] = {"audio/opus": Codec.OPUS, "video/vp8": Codec.VP8}
_SLOTS: dict[str, Slot] = {"audio": Slot.AUDIO, "video": Slot.VIDEO}

# Drop reasons of our own, next to the SFrame ``Reason`` codes.
UNSUPPORTED_CODEC = "unsupported_codec"
NOT_PROTECTED = "not_protected"
INTERNAL_ERROR = "internal_error"
#: A frame of a member this device has not verified: it has, on purpose, no key for it.
UNVERIFIED = "unverified"

KEYFRAME_REQUEST_INTERVAL = 1.0  # seconds between two PLIs asked for by one stream

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


# --------------------------------------------------------------------------- checks


class AiortcInternalsError(ConfigError):
    """The installed aiortc is not the one this adapter was written against."""


def _resolve(path: str) -> Any:
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(path)


def _code_names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _problems(item: Internal) -> list[str]:
    where = f"{item.owner}.{item.name}"
    try:
        owner = _resolve(item.owner)
    except (ImportError, AttributeError):
        return [f"{item.owner} is missing"]
    problems = []
    if item.params is not None:
        target = getattr(owner, item.name, None)
        if target is None:
            return [f"{where} is missing"]
        try:
            params = tuple(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            params = ()
        if params != item.params:
            problems.append(f"{where}{params} changed: expected {item.params}")
    for user in item.used_by:
        try:
            code = inspect.unwrap(_resolve(user)).__code__
        except (ImportError, AttributeError):
            problems.append(f"{user} is missing")
            continue
        if item.name not in _code_names(code):
            problems.append(f"{user} no longer uses {item.name}")
    return problems


def check_aiortc_internals() -> None:
    """Raise :class:`AiortcInternalsError` unless every hooked internal is as expected."""
    problems = []
    if aiortc.__version__ != AIORTC_VERSION:
        problems.append(f"aiortc {aiortc.__version__} installed, {AIORTC_VERSION} required")
    for item in AIORTC_INTERNALS:
        problems += _problems(item)
    if problems:
        raise AiortcInternalsError(
            "media E2EE cannot hook this aiortc: " + "; ".join(problems)
        )


_checked = False


def _ensure_checked() -> None:
    global _checked
    if not _checked:
        check_aiortc_internals()
        _checked = True


# --------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class E2eeStats:
    """Counters of one :class:`MediaE2ee` (a snapshot)."""

    frames_encrypted: int = 0
    frames_decrypted: int = 0
    encrypt_failures: dict[str, int] = field(default_factory=dict)
    decrypt_failures: dict[str, int] = field(default_factory=dict)
    frames_held: int = 0


def _add(counts: dict[str, int], reason: str, n: int = 1) -> None:
    key = str(reason)  # a Reason becomes its plain value
    counts[key] = counts.get(key, 0) + n


class _SendCounters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.encrypted = 0
        self.failures: dict[str, int] = {}

    def ok(self) -> None:
        with self._lock:
            self.encrypted += 1

    def fail(self, reason: str) -> None:
        with self._lock:
            _add(self.failures, reason)

    def snapshot(self) -> tuple[int, dict[str, int]]:
        with self._lock:
            return self.encrypted, dict(self.failures)


# --------------------------------------------------------------------------- sending


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
                 counters: _SendCounters | None = None) -> None:
        self.inner = inner
        self.codec = _CODECS.get(mime_type.lower())
        self.slot = slot
        self.keys = keys
        self._counters = counters or _SendCounters()
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
            # Shadows the classmethod for this instance only: see AIORTC_INTERNALS.
            setattr(inner, "_packetize", self._packetize_vp8)  # noqa: B010

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


# --------------------------------------------------------------------------- receiving

_Item = tuple[RTCRtpCodecParameters, JitterFrame]


@dataclass
class _Held:
    since: float
    kid: int
    wire: bytes
    params: RTCRtpCodecParameters
    timestamp: int


def _is_vp8_keyframe(frame: bytes) -> bool:
    return bool(frame) and frame[0] & 0x01 == 0


class StreamDecryptor:
    """Decrypts the reassembled frames of one incoming stream (one RTCRtpReceiver).

    One :class:`FrameReceiver` per codec does the work (holding frames under unknown
    KIDs, counting failures); this class keeps each held frame's RTP timestamp and codec
    so that frames released by :meth:`keys_changed` reach the decoder as they came.
    """

    def __init__(self, context: SFrameContext, kind: str, *,
                 clock: Callable[[], float] = time.monotonic, hold_seconds: float = 0.5,
                 max_held: int = 64, request_keyframe: Callable[[], None] | None = None,
                 withheld: Callable[[int], bool] | None = None) -> None:
        self.kind = kind
        #: Whether a participant is one this device has not verified (no key on purpose):
        #: its frames are counted as UNVERIFIED, not held and not failures.
        self._withheld = withheld
        self._ctx = context
        self._clock = clock
        self._hold = hold_seconds
        self._max_held = max_held
        self._request_keyframe = request_keyframe
        self._lock = threading.Lock()
        self._receivers: dict[Codec, FrameReceiver] = {}
        self._held: dict[Codec, deque[_Held]] = {}
        self._dropped: dict[str, int] = {}
        #: What became of this audio stream's frames at its decoder (FEC, PLC).
        self.audio: opus_fec.AudioRecovery | None = (
            opus_fec.AudioRecovery() if kind == "audio" else None)
        self._gap = False  # frames were lost since the last VP8 key frame
        self._last_request = -KEYFRAME_REQUEST_INTERVAL
        #: Where :meth:`MediaE2ee.keys_changed` delivers released frames.
        self.sink: Callable[[list[_Item]], None] = lambda items: None
        #: The participant this stream is attributed to (:meth:`bind`); None: unbound,
        #: only the KID's slot is checked.
        self.participant_id: int | None = None

    def bind(self, participant_id: int) -> None:
        """Show only ``participant_id``'s frames of this stream's kind: every other KID is
        dropped (and counted) before decryption. -1 binds to nobody: all are dropped."""
        with self._lock:
            self.participant_id = participant_id

    def _misattributed(self, kid: int) -> str | None:
        if self.participant_id is None:
            verdict = stream_kid_verdict(  # the slot only
                kid, kid >> (GENERATION_BITS + SLOT_BITS), self.kind)
        else:
            verdict = stream_kid_verdict(kid, self.participant_id, self.kind)
        if verdict is None:
            return None
        if not self._ctx.has_decryption_key(kid):
            # No member's key: garbage (a damaged frame) or a key not here yet; dropped
            # all the same, counted apart from the swaps that a known KID proves.
            return str(Reason.UNKNOWN_KID)
        if verdict not in self._dropped:
            log.warning("a %s stream of participant %s carries frames under KID %d: dropped "
                        "(%s; the server swapped or relabelled streams)", self.kind,
                        self.participant_id, kid, verdict)
        return verdict

    # counters
    @property
    def decrypted(self) -> int:
        return sum(r.stats.decrypted for r in self._receivers.values())

    @property
    def held(self) -> int:
        return sum(r.held for r in self._receivers.values())

    def dropped(self) -> dict[str, int]:
        counts = dict(self._dropped)
        for receiver in self._receivers.values():
            for reason, n in receiver.stats.dropped.items():
                _add(counts, reason, n)
        return counts

    def _dropped_total(self) -> int:
        return sum(self._dropped.values()) + sum(
            sum(r.stats.dropped.values()) for r in self._receivers.values())

    # decryption
    def decrypt(self, params: RTCRtpCodecParameters, frame: JitterFrame) -> list[_Item]:
        """The frames (zero or one) to decode for one reassembled wire frame."""
        with self._lock:
            before = self._dropped_total()
            try:
                out = self._decrypt(params, frame)
            except Exception:  # never let a bug pass a frame on, nor kill the receiver
                log.exception("frame decryption failed")
                _add(self._dropped, INTERNAL_ERROR)
                out = []
            return self._after(out, before)

    def _decrypt(self, params: RTCRtpCodecParameters, frame: JitterFrame) -> list[_Item]:
        codec = _CODECS.get(params.mimeType.lower())
        if codec is None:
            _add(self._dropped, UNSUPPORTED_CODEC)
            return []
        receiver = self._receivers.get(codec)
        if receiver is None:
            receiver = self._receivers[codec] = FrameReceiver(
                self._ctx, codec, hold_seconds=self._hold, max_held=self._max_held)
            self._held[codec] = deque()
        held = self._held[codec]
        now = self._clock()
        self._expire(held, now)
        try:
            kid: int | None = frame_kid(codec, frame.data)
        except SFrameError:
            kid = None
        if kid is not None and (verdict := self._misattributed(kid)) is not None:
            _add(self._dropped, verdict)  # never decrypted, held or decoded
            return []
        will_hold = kid is not None and not self._ctx.has_decryption_key(kid)
        if will_hold and kid is not None and self._withheld is not None and self._withheld(
                kid >> (GENERATION_BITS + SLOT_BITS)):
            _add(self._dropped, UNVERIFIED)  # no key on purpose: nothing to wait for
            return []
        plain = receiver.receive(frame.data, now)
        if will_hold and kid is not None:
            if len(held) >= self._max_held:
                held.popleft()
            held.append(_Held(now, kid, frame.data, params, frame.timestamp))
        self._resync(held, receiver)
        return [(params, JitterFrame(p, frame.timestamp)) for p in plain]

    def keys_changed(self) -> list[_Item]:
        """Held frames that decrypt now that keys were installed, in arrival order."""
        with self._lock:
            before = self._dropped_total()
            out: list[_Item] = []
            now = self._clock()
            for codec, receiver in self._receivers.items():
                held = self._held[codec]
                self._expire(held, now)
                ready = [h for h in held if self._ctx.has_decryption_key(h.kid)]
                self._held[codec] = deque(
                    h for h in held if not self._ctx.has_decryption_key(h.kid))
                out += self._match(codec, ready, receiver.keys_changed(now))
                self._resync(self._held[codec], receiver)
            return self._after(out, before)

    def expire(self) -> None:
        """Drop (and count) held frames past the hold time."""
        with self._lock:
            before = self._dropped_total()
            now = self._clock()
            for codec, receiver in self._receivers.items():
                self._expire(self._held[codec], now)
                receiver.expire(now)
            self._after([], before)

    def _expire(self, held: deque[_Held], now: float) -> None:
        while held and now - held[0].since > self._hold:
            held.popleft()

    @staticmethod
    def _resync(held: deque[_Held], receiver: FrameReceiver) -> None:
        # Same rules as FrameReceiver's own queue; if they ever part, trust its count.
        if len(held) != receiver.held:
            log.warning("held-frame bookkeeping out of step (%d != %d)",
                        len(held), receiver.held)
            while len(held) > receiver.held:
                held.popleft()

    def _match(self, codec: Codec, ready: list[_Held], plain: list[bytes]) -> list[_Item]:
        """Pair released plaintexts with the held frames they came from (some of
        ``ready`` may have failed to decrypt and have no plaintext)."""
        if len(plain) == len(ready):
            return [(h.params, JitterFrame(p, h.timestamp)) for h, p in zip(ready, plain,
                                                                          strict=True)]
        out: list[_Item] = []
        i = 0
        for p in plain:
            while i < len(ready) and not self._could_be(codec, ready[i].wire, p):
                i += 1
            if i == len(ready):
                break
            out.append((ready[i].params, JitterFrame(p, ready[i].timestamp)))
            i += 1
        return out

    def _could_be(self, codec: Codec, wire: bytes, plain: bytes) -> bool:
        try:
            n = clear_length(codec, wire)
            header = SFrameHeader.decode(wire[n:])
        except SFrameError:
            return False
        return (len(plain) == len(wire) - header.size - self._ctx.tag_size
                and plain[:n] == wire[:n])

    def _after(self, out: list[_Item], dropped_before: int) -> list[_Item]:
        """Key frame requests: after a lost video frame, the next frames cannot decode
        until a key frame comes."""
        if self.kind != "video" or self._request_keyframe is None:
            return out
        if self._dropped_total() > dropped_before:
            self._gap = True
        for _, frame in out:
            if not self._gap:
                break
            if _is_vp8_keyframe(frame.data):
                self._gap = False
            else:
                now = self._clock()
                if now - self._last_request >= KEYFRAME_REQUEST_INTERVAL:
                    self._last_request = now
                    self._request_keyframe()
        return out


class E2eeDecoder(Decoder):
    """Wraps one aiortc decoder: each reassembled frame is decrypted, then decoded.

    For decoding outside an RTCRtpReceiver (tests, tools); :meth:`MediaE2ee.protect_receiver`
    does the same inside aiortc's receiver. Frames released by
    :meth:`MediaE2ee.keys_changed` are decoded at the next call.
    """

    def __init__(self, inner: Decoder, params: RTCRtpCodecParameters,
                 decryptor: StreamDecryptor) -> None:
        self.inner = inner
        self.params = params
        self.decryptor = decryptor
        self._pending: deque[_Item] = deque()
        decryptor.sink = self._pending.extend

    def decode(self, encoded_frame: JitterFrame) -> list[Frame]:
        items = list(self._pending)
        self._pending.clear()
        items += self.decryptor.decrypt(self.params, encoded_frame)
        frames: list[Frame] = []
        for _, frame in items:
            frames += self.inner.decode(frame)
        return frames


@dataclass
class _FecOpus(RTCRtpCodecParameters):
    """The negotiated Opus codec of one protected audio stream, as the decoder thread
    sees it: :func:`_get_decoder` makes an :class:`~hotline.rtc.opus_fec.OpusFecDecoder`
    for it that counts into ``recovery``."""

    recovery: opus_fec.AudioRecovery | None = field(default=None, compare=False)


_original_get_decoder = None


def _get_decoder(codec: RTCRtpCodecParameters) -> Decoder:
    if isinstance(codec, _FecOpus):
        return opus_fec.OpusFecDecoder(codec.recovery)
    assert _original_get_decoder is not None
    decoder: Decoder = _original_get_decoder(codec)
    return decoder


def _install_decoder_hook() -> None:
    """aiortc's decoder threads make their decoders with our :func:`_get_decoder`."""
    global _original_get_decoder
    module: Any = importlib.import_module("aiortc.rtcrtpreceiver")
    if module.get_decoder is not _get_decoder:
        _original_get_decoder = module.get_decoder
        module.get_decoder = _get_decoder


class _DecryptingQueue(queue.Queue[_Item | None]):
    """Stands in for RTCRtpReceiver's decoder queue: only authenticated frames get in.
    Opus frames go to the decoder thread tagged for an OpusFecDecoder."""

    def __init__(self, decryptor: StreamDecryptor) -> None:
        super().__init__()
        self.decryptor = decryptor
        self._fec: tuple[RTCRtpCodecParameters, _FecOpus] | None = None

    def _tag(self, item: _Item) -> _Item:
        params, frame = item
        if self.decryptor.audio is None or params.mimeType.lower() != "audio/opus":
            return item
        if self._fec is None or self._fec[0] is not params:
            tagged = _FecOpus(params.mimeType, params.clockRate, params.channels,
                              params.payloadType, list(params.rtcpFeedback),
                              dict(params.parameters), recovery=self.decryptor.audio)
            self._fec = (params, tagged)
        return self._fec[1], frame

    def put(self, item: _Item | None, block: bool = True, timeout: float | None = None,
            ) -> None:
        if item is None:  # the receiver stopping its decoder thread
            super().put(None, block, timeout)
            return
        params, frame = item
        for out in self.decryptor.decrypt(params, frame):
            super().put(self._tag(out), block, timeout)

    def put_clear(self, items: list[_Item]) -> None:
        for item in items:
            super().put(self._tag(item))


# --------------------------------------------------------------------------- wiring


_HOOKED: weakref.WeakKeyDictionary[object, MediaE2ee] = weakref.WeakKeyDictionary()


def e2ee_codec_preferences(kind: str) -> list[RTCRtpCodecCapability]:
    """Codec preferences that negotiate only protected codecs (VP8 with RTX, or Opus)."""
    wanted = {"audio": {"audio/opus"}, "video": {"video/vp8", "video/rtx"}}[kind]
    return [c for c in get_capabilities(kind).codecs if c.mimeType.lower() in wanted]


class MediaE2ee:
    """Frame encryption for the senders and receivers of one call.

    ``context`` is the :class:`SFrameContext` the key schedule installs keys into;
    ``send_keys`` holds the current sender per slot (audio -> ``Slot.AUDIO``, video ->
    ``Slot.VIDEO``).
    """

    def __init__(self, context: SFrameContext, send_keys: SendKeys | None = None, *,
                 clock: Callable[[], float] = time.monotonic, hold_seconds: float = 0.5,
                 max_held: int = 64, withheld: Callable[[int], bool] | None = None) -> None:
        _ensure_checked()
        _install_decoder_hook()
        self.context = context
        self.send_keys = send_keys if send_keys is not None else SendKeys()
        self._clock = clock
        self._hold = hold_seconds
        self._max_held = max_held
        self._send = _SendCounters()
        self._streams: list[StreamDecryptor] = []
        self._withheld = withheld

    # building blocks
    def wrap_encoder(self, inner: Encoder, mime_type: str, slot: Slot) -> E2eeEncoder:
        return E2eeEncoder(inner, mime_type, slot, self.send_keys, self._send)

    def new_stream(self, kind: str, *,
                   request_keyframe: Callable[[], None] | None = None) -> StreamDecryptor:
        stream = StreamDecryptor(self.context, kind, clock=self._clock,
                                 hold_seconds=self._hold, max_held=self._max_held,
                                 request_keyframe=request_keyframe,
                                 withheld=self._withheld)
        self._streams.append(stream)
        return stream

    def wrap_decoder(self, inner: Decoder, params: RTCRtpCodecParameters,
                     kind: str) -> E2eeDecoder:
        return E2eeDecoder(inner, params, self.new_stream(kind))

    # aiortc objects
    def _claim(self, obj: object) -> bool:
        owner = _HOOKED.get(obj)
        if owner is self:
            return False
        if owner is not None:
            raise UsageError("already protected by another MediaE2ee")
        _HOOKED[obj] = self
        return True

    def protect_sender(self, sender: RTCRtpSender, slot: Slot | None = None) -> None:
        """Encrypt every frame ``sender`` sends. Call before its first frame is encoded."""
        use_slot = slot if slot is not None else _SLOTS[sender.kind]
        if not self._claim(sender):
            return
        original = sender._next_encoded_frame
        counters = self._send

        async def next_encoded_frame(codec: RTCRtpCodecParameters) -> RTCEncodedFrame | None:
            encoder = getattr(sender, _SENDER_ENCODER)
            if not (isinstance(encoder, E2eeEncoder) and encoder.slot == use_slot
                    and encoder.keys is self.send_keys):
                encoder = self.wrap_encoder(get_encoder(codec), codec.mimeType, use_slot)
                setattr(sender, _SENDER_ENCODER, encoder)
            encoded = await original(codec)
            if encoded is None:
                return None
            if (getattr(sender, _SENDER_ENCODER) is not encoder
                    or encoded.payloads is not encoder.last_payloads):
                log.error("aiortc encoded a frame outside the E2EE encoder: dropped")
                counters.fail(NOT_PROTECTED)
                return None
            return encoded

        setattr(sender, "_next_encoded_frame", next_encoded_frame)  # noqa: B010

    def protect_receiver(self, receiver: RTCRtpReceiver, kind: str) -> StreamDecryptor:
        """Decrypt every frame ``receiver`` decodes. Call before ``receive()`` runs."""
        current = getattr(receiver, _RECEIVER_QUEUE)
        if isinstance(current, _DecryptingQueue):
            if _HOOKED.get(receiver) is not self:
                raise UsageError("already protected by another MediaE2ee")
            return current.decryptor
        if getattr(receiver, _RECEIVER_THREAD) is not None:
            raise UsageError("receiver already decoding: protect it before receive()")
        if not isinstance(current, queue.Queue) or not current.empty():
            raise AiortcInternalsError("unexpected RTCRtpReceiver decoder queue")
        self._claim(receiver)
        decode_error = getattr(receiver, _RECEIVER_DECODE_ERROR)
        assert isinstance(decode_error, threading.Event)
        stream = self.new_stream(kind, request_keyframe=decode_error.set)
        replacement = _DecryptingQueue(stream)
        stream.sink = replacement.put_clear
        setattr(receiver, _RECEIVER_QUEUE, replacement)
        # A lost packet must not freeze the stream until hundreds more arrive.
        if type(getattr(receiver, _RECEIVER_JITTER, None)) is JitterBuffer:
            setattr(receiver, _RECEIVER_JITTER, jitter.for_receiver(kind))
        return stream

    def _protect_transceivers(self, pc: RTCPeerConnection) -> None:
        for transceiver in pc.getTransceivers():
            # the clear audio level would tell the SFU who speaks when (RFC 6464): never
            adapter.drop_header_extension(transceiver, adapter.AUDIO_LEVEL)
            if _HOOKED.get(transceiver) is self:
                continue
            self._claim(transceiver)
            transceiver.setCodecPreferences(e2ee_codec_preferences(transceiver.kind))
            self.protect_sender(transceiver.sender)
            self.protect_receiver(transceiver.receiver, transceiver.kind)

    def attach(self, pc: RTCPeerConnection) -> None:
        """Protect every sender and receiver of ``pc``, present and future.

        Call right after creating ``pc``. Transceivers are protected, and told to
        prefer VP8/Opus, in ``createOffer`` and on both sides of ``setLocalDescription``
        and ``setRemoteDescription``: always before aiortc starts any media, which it
        only schedules in those two. A remote offer that leads with another codec still
        gets it negotiated, and all its frames are then dropped; to answer with VP8/Opus
        whatever the offer's order, add the transceivers (``addTransceiver``) before
        ``setRemoteDescription``.
        """
        if not self._claim(pc):
            return
        self._protect_transceivers(pc)
        create_offer = pc.createOffer
        set_local = pc.setLocalDescription
        set_remote = pc.setRemoteDescription

        async def createOffer() -> RTCSessionDescription:
            self._protect_transceivers(pc)
            offer = await create_offer()
            self._protect_transceivers(pc)  # createOffer copied aiortc's extension table
            return RTCSessionDescription(adapter.without_extension(offer.sdp, adapter.AUDIO_LEVEL),
                                         offer.type)

        async def setLocalDescription(
            sessionDescription: RTCSessionDescription | None = None,
        ) -> None:
            self._protect_transceivers(pc)
            await set_local(sessionDescription)
            self._protect_transceivers(pc)

        async def setRemoteDescription(
            sessionDescription: RTCSessionDescription,
        ) -> None:
            self._protect_transceivers(pc)
            await set_remote(sessionDescription)
            # It created the transceivers of a remote offer and scheduled the start of
            # media; this line runs before that task does.
            self._protect_transceivers(pc)

        setattr(pc, "createOffer", createOffer)  # noqa: B010
        setattr(pc, "setLocalDescription", setLocalDescription)  # noqa: B010
        setattr(pc, "setRemoteDescription", setRemoteDescription)  # noqa: B010

    # keys and counters
    def keys_changed(self) -> int:
        """Call after installing decryption keys (on the event loop thread): held frames
        that now decrypt go to their decoders. Returns how many."""
        released = 0
        for stream in self._streams:
            items = stream.keys_changed()
            if items:
                stream.sink(items)
                released += len(items)
        return released

    def expire(self) -> None:
        """Drop held frames past the hold time (also done as frames arrive)."""
        for stream in self._streams:
            stream.expire()

    def stats(self) -> E2eeStats:
        encrypted, encrypt_failures = self._send.snapshot()
        decrypt_failures: dict[str, int] = {}
        for stream in self._streams:
            for reason, n in stream.dropped().items():
                _add(decrypt_failures, reason, n)
        return E2eeStats(
            frames_encrypted=encrypted,
            frames_decrypted=sum(s.decrypted for s in self._streams),
            encrypt_failures=encrypt_failures,
            decrypt_failures=decrypt_failures,
            frames_held=sum(s.held for s in self._streams),
        )


# --------------------------------------------------------------------------- loopback ICE

LOOPBACK = "127.0.0.1"
_LOOPBACK_ONLY: weakref.WeakSet[Any] = weakref.WeakSet()


def _loopback_only(gatherer: object) -> None:
    connection = getattr(gatherer, "_connection")  # noqa: B009
    if connection.stun_server is not None or connection.turn_server is not None:
        raise UsageError("loopback-only ICE with STUN/TURN servers configured")
    if connection in _LOOPBACK_ONLY:
        return
    _LOOPBACK_ONLY.add(connection)
    original = connection.get_component_candidates

    async def get_component_candidates(component: int, addresses: list[str],
                                       timeout: int = 5) -> Any:
        return await original(component=component, addresses=[LOOPBACK], timeout=timeout)

    setattr(connection, "get_component_candidates", get_component_candidates)  # noqa: B010


def use_loopback_ice(pc: RTCPeerConnection) -> None:
    """Make ``pc`` gather exactly one host candidate, on 127.0.0.1, and no others.

    aioice leaves 127.0.0.1 out of its host candidates; this is for tests and local
    demos of two peer connections on one machine. ``pc`` must have no STUN/TURN
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
            _loopback_only(dtls.transport.iceGatherer)
        await set_local(sessionDescription)

    setattr(pc, "setLocalDescription", setLocalDescription)  # noqa: B010
