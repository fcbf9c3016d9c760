"""Where decrypted frames meet aiortc's decoders.

* :class:`DecryptingQueue` stands in for ``RTCRtpReceiver``'s private decoder queue
  (``(codec, JitterFrame)`` of each reassembled frame, read by the decoder thread): it
  decrypts in ``put`` (on the event loop) with a
  :class:`~hotline.rtc.stream_decryptor.StreamDecryptor` and passes on only frames that
  authenticated.
* Opus FEC and PLC (:mod:`hotline.rtc.opus_fec`): decrypted Opus frames go to the
  decoder thread tagged (:class:`FecOpus`) so that the thread's ``get_decoder`` (the
  module global of ``aiortc.rtcrtpreceiver``, replaced once by
  :func:`install_decoder_hook`) makes an :class:`~hotline.rtc.opus_fec.OpusFecDecoder`
  for them, which rebuilds a lost frame from the next packet's FEC data or conceals it,
  and counts both in :attr:`StreamDecryptor.audio
  <hotline.rtc.stream_decryptor.StreamDecryptor.audio>`.
* :class:`E2eeDecoder` does the same around one decoder, outside a receiver.

The private names used are listed in :mod:`hotline.rtc.aiortc_internals`.
"""

from __future__ import annotations

import importlib
import queue
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiortc.codecs.base import Decoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from av.frame import Frame

from hotline.rtc import opus_fec
from hotline.rtc.stream_decryptor import Item, StreamDecryptor


class E2eeDecoder(Decoder):
    """Wraps one aiortc decoder: each reassembled frame is decrypted, then decoded.

    For decoding outside an RTCRtpReceiver (tests, tools); :class:`DecryptingQueue` does
    the same inside aiortc's receiver. Frames released by
    :meth:`~hotline.rtc.media_e2ee.MediaE2ee.keys_changed` are decoded at the next call.
    """

    def __init__(self, inner: Decoder, params: RTCRtpCodecParameters,
                 decryptor: StreamDecryptor) -> None:
        self.inner = inner
        self.params = params
        self.decryptor = decryptor
        self._pending: deque[Item] = deque()
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
class FecOpus(RTCRtpCodecParameters):
    """The negotiated Opus codec of one protected audio stream, as the decoder thread
    sees it: :func:`_get_decoder` makes an :class:`~hotline.rtc.opus_fec.OpusFecDecoder`
    for it that counts into ``recovery``."""

    recovery: opus_fec.AudioRecovery | None = field(default=None, compare=False)


_original_get_decoder = None


def _get_decoder(codec: RTCRtpCodecParameters) -> Decoder:
    if isinstance(codec, FecOpus):
        return opus_fec.OpusFecDecoder(codec.recovery)
    assert _original_get_decoder is not None
    decoder: Decoder = _original_get_decoder(codec)
    return decoder


def install_decoder_hook() -> None:
    """aiortc's decoder threads make their decoders with our :func:`_get_decoder`."""
    global _original_get_decoder
    module: Any = importlib.import_module("aiortc.rtcrtpreceiver")
    if module.get_decoder is not _get_decoder:
        _original_get_decoder = module.get_decoder
        module.get_decoder = _get_decoder


class DecryptingQueue(queue.Queue[Item | None]):
    """Stands in for RTCRtpReceiver's decoder queue: only authenticated frames get in.
    Opus frames go to the decoder thread tagged for an OpusFecDecoder."""

    def __init__(self, decryptor: StreamDecryptor) -> None:
        super().__init__()
        self.decryptor = decryptor
        self._fec: tuple[RTCRtpCodecParameters, FecOpus] | None = None

    def _tag(self, item: Item) -> Item:
        params, frame = item
        if self.decryptor.audio is None or params.mimeType.lower() != "audio/opus":
            return item
        if self._fec is None or self._fec[0] is not params:
            tagged = FecOpus(params.mimeType, params.clockRate, params.channels,
                              params.payloadType, list(params.rtcpFeedback),
                              dict(params.parameters), recovery=self.decryptor.audio)
            self._fec = (params, tagged)
        return self._fec[1], frame

    def put(self, item: Item | None, block: bool = True, timeout: float | None = None,
            ) -> None:
        if item is None:  # the receiver stopping its decoder thread
            super().put(None, block, timeout)
            return
        params, frame = item
        for out in self.decryptor.decrypt(params, frame):
            super().put(self._tag(out), block, timeout)

    def put_clear(self, items: list[Item]) -> None:
        for item in items:
            super().put(self._tag(item))
