"""Media E2EE on aiortc without a network: codecs, keys, frames, and a pipe through
aiortc's own packetizer, depayloader and jitter buffer (hotline.rtc tests)."""

from __future__ import annotations

import fractions
import math
import struct
import time
from typing import Any

import av
from aiortc.codecs import depayload, get_decoder, get_encoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import VIDEO_TIME_BASE
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

from hotline.crypto.frames import Codec
from hotline.crypto.kid import Slot, make_kid
from hotline.crypto.sframe import SFrameContext, SFrameSender
from hotline.rtc.e2ee_sender import SendKeys
from hotline.rtc.media_e2ee import MediaE2ee

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2,
                             payloadType=96)
PCMU = RTCRtpCodecParameters(mimeType="audio/PCMU", clockRate=8000, channels=1,
                             payloadType=0)
AUDIO_TIME_BASE = fractions.Fraction(1, 48000)
KEY0 = bytes(range(16))
KEY1 = bytes(range(16, 32))
WRONG = bytes(range(100, 116))


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def video_frame(i: int, width: int = 320, height: int = 240) -> av.VideoFrame:
    """A moving diagonal test pattern."""
    frame = av.VideoFrame(width, height, "yuv420p")
    for k, plane in enumerate(frame.planes):
        pad = bytes(plane.line_size - plane.width)
        rows = [bytes(((x + y + 4 * i) * (k + 1)) & 0xFF for x in range(plane.width)) + pad
                for y in range(plane.height)]
        plane.update(b"".join(rows))
    frame.pts = i * 3000
    frame.time_base = VIDEO_TIME_BASE
    return frame


def audio_frame(i: int, samples: int = 960) -> av.AudioFrame:
    """20 ms of a 440 Hz tone, s16 stereo, 48 kHz."""
    frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
    frame.sample_rate = 48000
    frame.pts = i * samples
    frame.time_base = AUDIO_TIME_BASE
    start = i * samples
    values = (int(8000 * math.sin(2 * math.pi * 440 * (start + n) / 48000))
              for n in range(samples))
    frame.planes[0].update(b"".join(struct.pack("<hh", v, v) for v in values))
    return frame


class RecordingKeys(SendKeys):
    """SendKeys that also keeps each plaintext encoded frame it was given."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.frames: list[bytes] = []

    def protect(self, slot: Slot, codec: Codec, frame: bytes) -> bytes:
        self.frames.append(frame)
        return super().protect(slot, codec, frame)


def sender_side(generation: int = 0, key: bytes = KEY0, *, keys: SendKeys | None = None,
                ) -> tuple[MediaE2ee, SFrameContext]:
    ctx = SFrameContext()
    send_keys = keys if keys is not None else RecordingKeys()
    e2ee = MediaE2ee(ctx, send_keys)
    install_send_key(e2ee, generation, key)
    return e2ee, ctx


def install_send_key(e2ee: MediaE2ee, generation: int, key: bytes) -> None:
    senders = {}
    for slot in (Slot.AUDIO, Slot.VIDEO):
        kid = make_kid(7, generation, slot)
        e2ee.context.add_encryption_key(kid, key)
        senders[slot] = SFrameSender(e2ee.context, kid)
    e2ee.send_keys.replace(senders)


def receiver_side(*keys: tuple[int, bytes], clock: FakeClock | None = None) -> MediaE2ee:
    ctx = SFrameContext()
    for generation, key in keys:
        install_receive_key(ctx, generation, key)
    return MediaE2ee(ctx, clock=clock or time.monotonic)


def install_receive_key(ctx: SFrameContext, generation: int, key: bytes) -> None:
    for slot in (Slot.AUDIO, Slot.VIDEO):
        ctx.add_decryption_key(make_kid(7, generation, slot), key)


class Pipe:
    """Payloads -> RTP packets -> depayload -> aiortc's jitter buffer, as RTCRtpReceiver."""

    def __init__(self, params: RTCRtpCodecParameters) -> None:
        self.params = params
        video = params.mimeType.lower().startswith("video")
        self.buffer = (JitterBuffer(capacity=512, is_video=True) if video
                       else JitterBuffer(capacity=16, prefetch=4))
        self.seq = 1000
        self.wire: list[bytes] = []

    def send(self, payloads: list[bytes], timestamp: int) -> list[JitterFrame]:
        out = []
        for i, payload in enumerate(payloads):
            self.wire.append(payload)
            packet = RtpPacket(payload_type=self.params.payloadType,
                               sequence_number=self.seq, timestamp=timestamp)
            packet.payload = payload
            packet.marker = int(i == len(payloads) - 1)
            packet._data = depayload(self.params, payload)  # type: ignore[attr-defined]
            self.seq += 1
            _, frame = self.buffer.add(packet)
            if frame is not None:
                out.append(frame)
        return out


class VideoCall:
    """A wrapped VP8 encoder -> Pipe -> a wrapped VP8 decoder."""

    def __init__(self, sender: MediaE2ee, receiver: MediaE2ee) -> None:
        self.encoder = sender.wrap_encoder(get_encoder(VP8), VP8.mimeType, Slot.VIDEO)
        self.decoder = receiver.wrap_decoder(get_decoder(VP8), VP8, "video")
        self.pipe = Pipe(VP8)
        self.decoded: list[av.VideoFrame] = []

    def run(self, frames: range) -> list[av.VideoFrame]:
        out: list[Any] = []
        for i in frames:
            payloads, timestamp = self.encoder.encode(video_frame(i))
            for jf in self.pipe.send(payloads, timestamp):
                out += self.decoder.decode(jf)
        self.decoded += out
        return out


def windows(data: bytes, size: int = 12, step: int = 7) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data) - size + 1, step)]
