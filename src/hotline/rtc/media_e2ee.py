"""Media end-to-end encryption on aiortc 1.16.0: one :class:`MediaE2ee` per call.

aiortc has no encoded-frame hook. Hotline protects WHOLE encoded frames
(``hotline.crypto.frames.protect``) just before packetization and unprotects them just
after reassembly, at these seams::

    sender    track -> aiortc encoder -> [protect] -> aiortc packetizer -> RTP
    receiver  RTP -> depayload -> jitter buffer -> [unprotect] -> aiortc decoder thread

The pieces: :mod:`.e2ee_sender` (:class:`E2eeEncoder`, :class:`SendKeys`, VP8 rate
control), :mod:`.stream_decryptor` (:class:`StreamDecryptor`: holding, binding, key
frame requests), :mod:`.decoder_hook` (the decoder queue and Opus FEC decoders), and
this module, which hooks them into aiortc's objects:

* Sender: ``RTCRtpSender._next_encoded_frame(codec)`` runs once per frame and creates the
  private ``RTCRtpSender.__encoder`` when it is ``None``. :meth:`MediaE2ee.protect_sender`
  wraps it per sender instance: it presets that encoder with an :class:`E2eeEncoder`
  around aiortc's own encoder for the negotiated codec, and drops any encoded frame whose
  payloads did not come out of that :class:`E2eeEncoder` (fail closed: plaintext is
  never sent, even if aiortc changed underneath).
* Receiver: ``RTCRtpReceiver._handle_rtp_packet`` puts ``(codec, JitterFrame)`` for each
  reassembled frame on the private ``RTCRtpReceiver.__decoder_queue``, read by the
  decoder thread. :meth:`MediaE2ee.protect_receiver` replaces that queue, before
  ``receive()`` starts the thread, by a :class:`~.decoder_hook.DecryptingQueue`; a
  dropped video frame asks for a key frame through the private
  ``RTCRtpReceiver.__decoder_error`` event.

Every private aiortc name relied on is in :mod:`hotline.rtc.aiortc_internals`, checked
before the first :class:`MediaE2ee` is made. Only VP8 and Opus are protected: any other
negotiated codec (H.264, G.711, G.722) has every frame dropped on both sides.

Usage, one :class:`MediaE2ee` per call, next to the call's
:class:`~hotline.crypto.mediakeys.MediaKeys`::

    keys = MediaKeys()
    e2ee = MediaE2ee(keys.context, SendKeys(keys.senders))
    e2ee.attach(pc)                           # right after RTCPeerConnection()
    ...
    messages = keys.apply(schedule.handle(event))
    e2ee.send_keys.replace(keys.senders)      # a new sending key is used at once
    e2ee.keys_changed()                       # frames held for new keys go on (loop thread)

Threads: aiortc encodes in executor threads (:class:`SendKeys` serialises encryption
under a lock); decryption and :meth:`MediaE2ee.keys_changed` run on the event loop thread.
Not protected, as in every SFrame deployment: RTP headers and their extensions; the
audio level aiortc would compute from each raw audio frame and send in the clear is
never negotiated.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import weakref
from collections.abc import Callable

from aiortc import RTCPeerConnection, RTCRtpReceiver, RTCRtpSender, RTCSessionDescription
from aiortc.codecs import get_capabilities, get_encoder
from aiortc.codecs.base import Decoder, Encoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import RTCRtpCodecCapability, RTCRtpCodecParameters
from aiortc.rtcrtpsender import RTCEncodedFrame

from hotline.crypto.kid import Slot
from hotline.crypto.sframe import SFrameContext
from hotline.errors import UsageError
from hotline.rtc import aiortc_adapter as adapter
from hotline.rtc import jitter
from hotline.rtc.aiortc_internals import AiortcInternalsError, ensure_checked
from hotline.rtc.decoder_hook import DecryptingQueue, E2eeDecoder, install_decoder_hook
from hotline.rtc.e2ee_sender import E2eeEncoder, SendKeys
from hotline.rtc.e2ee_stats import NOT_PROTECTED, E2eeStats, SendCounters, add_count
from hotline.rtc.stream_decryptor import StreamDecryptor

_SENDER_ENCODER = "_RTCRtpSender__encoder"
_RECEIVER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_RECEIVER_THREAD = "_RTCRtpReceiver__decoder_thread"
_RECEIVER_DECODE_ERROR = "_RTCRtpReceiver__decoder_error"
_RECEIVER_JITTER = "_RTCRtpReceiver__jitter_buffer"
_SLOTS: dict[str, Slot] = {"audio": Slot.AUDIO, "video": Slot.VIDEO}

log = logging.getLogger("hotline.e2ee")


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
        ensure_checked()
        install_decoder_hook()
        self.context = context
        self.send_keys = send_keys if send_keys is not None else SendKeys()
        self._clock = clock
        self._hold = hold_seconds
        self._max_held = max_held
        self._send = SendCounters()
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

    @staticmethod
    def request_keyframe(sender: RTCRtpSender) -> None:
        """The next frame ``sender`` encodes is a key frame (VP8; nothing for audio or
        before its first frame, which is one anyway)."""
        encoder = getattr(sender, _SENDER_ENCODER, None)
        if isinstance(encoder, E2eeEncoder):
            encoder.request_keyframe()

    def protect_receiver(self, receiver: RTCRtpReceiver, kind: str) -> StreamDecryptor:
        """Decrypt every frame ``receiver`` decodes. Call before ``receive()`` runs."""
        current = getattr(receiver, _RECEIVER_QUEUE)
        if isinstance(current, DecryptingQueue):
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
        replacement = DecryptingQueue(stream)
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
                add_count(decrypt_failures, reason, n)
        return E2eeStats(
            frames_encrypted=encrypted,
            frames_decrypted=sum(s.decrypted for s in self._streams),
            encrypt_failures=encrypt_failures,
            decrypt_failures=decrypt_failures,
            frames_held=sum(s.held for s in self._streams),
        )
