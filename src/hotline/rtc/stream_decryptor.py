"""The receiving side of media E2EE: one incoming stream's frames, decrypted.

aiortc hands reassembled frames straight to its decoder thread; they are unprotected
just after reassembly (the wiring is in :mod:`.media_e2ee` and :mod:`.decoder_hook`)::

    RTP -> depayload -> jitter buffer -> [unprotect] -> aiortc decoder thread

A stream bound to its participant (:meth:`StreamDecryptor.bind`, from the subscribe
offer) drops, before anything else, every frame whose KID is another participant's or
whose slot is not the stream's kind (counted as ``wrong_participant`` or ``wrong_slot``
when the KID is a member's, as ``unknown_kid`` when no key has it;
hotline.crypto.kid.stream_kid_verdict); an unbound stream checks the slot only. Frames
under an unknown KID are held (0.5 s, 64 per stream) until
:meth:`~hotline.rtc.media_e2ee.MediaE2ee.keys_changed`; failures are counted and
dropped, never decoded. After a dropped video frame the next delta frame asks the
sender for a key frame (PLI), at most once a second.

Decryption runs on the event loop thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from hotline.crypto.frames import Codec, FrameReceiver, frame_kid
from hotline.crypto.kid import GENERATION_BITS, SLOT_BITS, stream_kid_verdict
from hotline.crypto.sframe import SFrameContext
from hotline.errors import Reason, SFrameError
from hotline.rtc import opus_fec
from hotline.rtc.e2ee_stats import CODECS, INTERNAL_ERROR, UNSUPPORTED_CODEC, UNVERIFIED, add_count

log = logging.getLogger("hotline.e2ee")

KEYFRAME_REQUEST_INTERVAL = 1.0  # seconds between two PLIs asked for by one stream

#: A reassembled frame with its codec, as aiortc queues it for its decoder thread.
Item = tuple[RTCRtpCodecParameters, JitterFrame]
#: What a frame is to its FrameReceiver: its codec parameters and RTP timestamp.
_Tag = tuple[RTCRtpCodecParameters, int]


def _items(released: list[tuple[_Tag, bytes]]) -> list[Item]:
    return [(params, JitterFrame(plain, timestamp)) for (params, timestamp), plain in released]


def is_vp8_keyframe(frame: bytes) -> bool:
    return bool(frame) and frame[0] & 0x01 == 0


class StreamDecryptor:
    """Decrypts the reassembled frames of one incoming stream (one RTCRtpReceiver).

    One :class:`FrameReceiver` per codec does the work (holding frames under unknown
    KIDs, counting failures); each frame goes in tagged with its codec parameters and
    RTP timestamp, so that frames released by :meth:`keys_changed` reach the decoder as
    they came.
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
        self._receivers: dict[Codec, FrameReceiver[_Tag]] = {}
        self._dropped: dict[str, int] = {}
        #: What became of this audio stream's frames at its decoder (FEC, PLC).
        self.audio: opus_fec.AudioRecovery | None = (
            opus_fec.AudioRecovery() if kind == "audio" else None)
        self._gap = False  # frames were lost since the last VP8 key frame
        self._last_request = -KEYFRAME_REQUEST_INTERVAL
        #: Where :meth:`MediaE2ee.keys_changed` delivers released frames.
        self.sink: Callable[[list[Item]], None] = lambda items: None
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
                add_count(counts, reason, n)
        return counts

    def _dropped_total(self) -> int:
        return sum(self._dropped.values()) + sum(
            sum(r.stats.dropped.values()) for r in self._receivers.values())

    # decryption
    def decrypt(self, params: RTCRtpCodecParameters, frame: JitterFrame) -> list[Item]:
        """The frames (zero or one) to decode for one reassembled wire frame."""
        with self._lock:
            before = self._dropped_total()
            try:
                out = self._decrypt(params, frame)
            except Exception:  # never let a bug pass a frame on, nor kill the receiver
                log.exception("frame decryption failed")
                add_count(self._dropped, INTERNAL_ERROR)
                out = []
            return self._after(out, before)

    def _decrypt(self, params: RTCRtpCodecParameters, frame: JitterFrame) -> list[Item]:
        codec = CODECS.get(params.mimeType.lower())
        if codec is None:
            add_count(self._dropped, UNSUPPORTED_CODEC)
            return []
        receiver = self._receivers.get(codec)
        if receiver is None:
            receiver = self._receivers[codec] = FrameReceiver(
                self._ctx, codec, hold_seconds=self._hold, max_held=self._max_held)
        try:
            kid: int | None = frame_kid(codec, frame.data)
        except SFrameError:
            kid = None
        if kid is not None and (verdict := self._misattributed(kid)) is not None:
            add_count(self._dropped, verdict)  # never decrypted, held or decoded
            return []
        if (kid is not None and self._withheld is not None
                and not self._ctx.has_decryption_key(kid)
                and self._withheld(kid >> (GENERATION_BITS + SLOT_BITS))):
            add_count(self._dropped, UNVERIFIED)  # no key on purpose: nothing to wait for
            return []
        return _items(receiver.receive(frame.data, self._clock(), (params, frame.timestamp)))

    def keys_changed(self) -> list[Item]:
        """Held frames that decrypt now that keys were installed, in arrival order."""
        with self._lock:
            before = self._dropped_total()
            now = self._clock()
            out: list[Item] = []
            for receiver in self._receivers.values():
                out += _items(receiver.keys_changed(now))
            return self._after(out, before)

    def expire(self) -> None:
        """Drop (and count) held frames past the hold time."""
        with self._lock:
            before = self._dropped_total()
            now = self._clock()
            for receiver in self._receivers.values():
                receiver.expire(now)
            self._after([], before)

    def _after(self, out: list[Item], dropped_before: int) -> list[Item]:
        """Key frame requests: after a lost video frame, the next frames cannot decode
        until a key frame comes."""
        if self.kind != "video" or self._request_keyframe is None:
            return out
        if self._dropped_total() > dropped_before:
            self._gap = True
        for _, frame in out:
            if not self._gap:
                break
            if is_vp8_keyframe(frame.data):
                self._gap = False
            else:
                now = self._clock()
                if now - self._last_request >= KEYFRAME_REQUEST_INTERVAL:
                    self._last_request = now
                    self._request_keyframe()
        return out

