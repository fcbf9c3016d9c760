"""Frame encryption on aiortc (hotline.rtc.media_e2ee), with no network.

Frames go through aiortc's own encoders, packetizers, jitter buffer, depayloader and
decoders; the last tests run real RTCRtpSender/RTCRtpReceiver objects over an in-memory
transport.
"""

from __future__ import annotations

import asyncio
from typing import Any

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCRtpSender
from aiortc.codecs import depayload, get_decoder, get_encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtcrtpparameters import (
    RTCRtpCodecParameters,
    RTCRtpReceiveParameters,
    RTCRtpSendParameters,
)
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, is_rtcp

from hotline.crypto.frames import Codec, clear_length
from hotline.crypto.kid import Slot, make_kid
from hotline.crypto.sframe import SFrameContext
from hotline.errors import UsageError
from hotline.rtc import decoder_hook
from hotline.rtc.media_e2ee import MediaE2ee, e2ee_codec_preferences
from tests.support.media_e2ee import (
    KEY0,
    KEY1,
    OPUS,
    VP8,
    WRONG,
    FakeClock,
    Pipe,
    RecordingKeys,
    VideoCall,
    audio_frame,
    install_receive_key,
    install_send_key,
    receiver_side,
    sender_side,
    video_frame,
    windows,
)


def test_codec_preferences_only_protected_codecs() -> None:
    assert [c.mimeType for c in e2ee_codec_preferences("video")] == ["video/VP8", "video/rtx"]
    assert [c.mimeType for c in e2ee_codec_preferences("audio")] == ["audio/opus"]


# --------------------------------------------------------------------------- VP8 and Opus


def test_vp8_round_trip() -> None:
    sender, _ = sender_side()
    receiver = receiver_side((0, KEY0))
    call = VideoCall(sender, receiver)
    decoded, pipe = call.run(range(6)), call.pipe
    # the last frame stays in the jitter buffer until a later one starts
    assert len(decoded) == 5
    assert all((f.width, f.height) == (320, 240) for f in decoded)
    assert all(abs(f.pts - i * 3000) <= 1 for i, f in enumerate(decoded))  # libvpx rounds
    assert len(pipe.wire) > 6  # key frame spans several packets
    s, r = sender.stats(), receiver.stats()
    assert s.frames_encrypted == 6 and not s.encrypt_failures
    assert r.frames_decrypted == 5 and not r.decrypt_failures


def test_opus_round_trip() -> None:
    sender, _ = sender_side()
    receiver = receiver_side((0, KEY0))
    encoder = sender.wrap_encoder(get_encoder(OPUS), OPUS.mimeType, Slot.AUDIO)
    decoder = receiver.wrap_decoder(get_decoder(OPUS), OPUS, "audio")
    pipe = Pipe(OPUS)
    decoded = []
    for i in range(10):
        payloads, timestamp = encoder.encode(audio_frame(i))
        assert len(payloads) == 1
        for jf in pipe.send(payloads, timestamp):
            decoded += decoder.decode(jf)
    assert len(decoded) == 10 - 4  # aiortc's audio jitter buffer prefetches 4 frames
    assert all(isinstance(f, av.AudioFrame) for f in decoded)
    assert all(f.samples == 960 and f.sample_rate == 48000 for f in decoded)
    assert receiver.stats().frames_decrypted == 6
    assert sender.stats().frames_encrypted == 10


def test_vp8_payloads_carry_no_plaintext() -> None:
    sender, _ = sender_side()
    receiver = receiver_side((0, KEY0))
    call = VideoCall(sender, receiver)
    decoded, pipe = call.run(range(4)), call.pipe
    keys = sender.send_keys
    assert isinstance(keys, RecordingKeys) and len(keys.frames) == 4
    wire = b"".join(pipe.wire)
    for index, frame in enumerate(keys.frames):
        n = clear_length(Codec.VP8, frame)
        assert n == (10 if index == 0 else 3)  # a key frame, then delta frames
        secret = frame[n:]
        assert len(secret) > 100
        leaked = [w for w in windows(secret) if w in wire]
        assert not leaked, f"frame {index}: {len(leaked)} plaintext windows on the wire"
        assert frame[:n] in wire  # the clear part is there, as specified
    # and the receiver got the very same frames back
    assert len(decoded) == 3


# ----------------------------------------------------------- wrong key, tampering, unknown KIDs


def test_wrong_key_decodes_nothing_and_counts_failures() -> None:
    sender, _ = sender_side()
    receiver = receiver_side((0, WRONG))
    decoded = VideoCall(sender, receiver).run(range(5))
    assert decoded == []
    stats = receiver.stats()
    assert stats.frames_decrypted == 0
    assert stats.decrypt_failures == {"auth_failed": 4}


def test_tampered_frame_is_dropped_not_decoded() -> None:
    sender, _ = sender_side()
    receiver = receiver_side((0, KEY0))
    decoder = receiver.wrap_decoder(get_decoder(VP8), VP8, "video")
    encoder = sender.wrap_encoder(get_encoder(VP8), VP8.mimeType, Slot.VIDEO)
    payloads, timestamp = encoder.encode(video_frame(0))
    wire = bytearray(b"".join(depayload(VP8, p) for p in payloads))
    wire[0] ^= 0x01  # claim a delta frame: the SFrame header is then read elsewhere
    assert decoder.decode(JitterFrame(bytes(wire), timestamp)) == []
    wire[0] ^= 0x01
    wire[7] ^= 0x01  # change the width: the clear bytes are authenticated
    assert decoder.decode(JitterFrame(bytes(wire), timestamp)) == []
    wire[7] ^= 0x01
    wire[-1] ^= 0x80
    assert decoder.decode(JitterFrame(bytes(wire), timestamp)) == []
    wire[-1] ^= 0x80
    assert len(decoder.decode(JitterFrame(bytes(wire), timestamp))) == 1
    assert decoder.decode(JitterFrame(bytes(wire), timestamp)) == []  # replayed
    stats = receiver.stats()
    # The flipped frame names some other KID; its slot (2) is not video's: dropped at
    # once (before KIDs were bound to their stream, it waited), as unknown_kid (no key).
    assert stats.decrypt_failures == {"auth_failed": 2, "replayed": 1, "unknown_kid": 1}
    assert stats.frames_decrypted == 1
    assert stats.frames_held == 0


def test_unknown_kid_is_held_then_dropped() -> None:
    clock = FakeClock()
    sender, _ = sender_side()
    receiver = receiver_side(clock=clock)
    decoded = VideoCall(sender, receiver).run(range(4))
    assert decoded == []
    assert receiver.stats().frames_held == 3
    clock.now += 0.6
    receiver.expire()
    stats = receiver.stats()
    assert stats.frames_held == 0
    assert stats.decrypt_failures == {"unknown_kid": 3}
    install_receive_key(receiver.context, 0, KEY0)
    assert receiver.keys_changed() == 0


# --------------------------------------------------------------------------- rotation


def test_key_rotation_mid_stream() -> None:
    sender, _ = sender_side(0, KEY0)
    receiver = receiver_side((0, KEY0))
    call = VideoCall(sender, receiver)
    call.run(range(0, 5))
    # new key: the receiver gets it first, then the sender switches at once
    install_receive_key(receiver.context, 1, KEY1)
    install_send_key(sender, 1, KEY1)
    call.run(range(5, 10))
    # the old key is retired on both sides; frames keep flowing
    for slot in (Slot.AUDIO, Slot.VIDEO):
        sender.context.remove_encryption_key(make_kid(7, 0, slot))
        receiver.context.remove_decryption_key(make_kid(7, 0, slot))
    call.run(range(10, 15))
    assert len(call.decoded) == 14
    assert all((f.width, f.height) == (320, 240) for f in call.decoded)
    assert all(abs(f.pts - i * 3000) <= 1 for i, f in enumerate(call.decoded))
    stats = receiver.stats()
    assert stats.frames_decrypted == 14 and not stats.decrypt_failures
    keys = sender.send_keys
    assert isinstance(keys, RecordingKeys) and len(keys.frames) == 15
    assert sender.stats().frames_encrypted == 15


def test_frames_under_a_new_key_wait_for_it() -> None:
    """The sender rotates before the receiver has the key: frames are held, then
    released with their own timestamps when the key arrives."""
    clock = FakeClock()
    sender, _ = sender_side(0, KEY0)
    receiver = receiver_side((0, KEY0), clock=clock)
    encoder = sender.wrap_encoder(get_encoder(VP8), VP8.mimeType, Slot.VIDEO)
    decoder = receiver.wrap_decoder(get_decoder(VP8), VP8, "video")
    pipe = Pipe(VP8)
    decoded: list[Any] = []

    def step(i: int) -> None:
        payloads, timestamp = encoder.encode(video_frame(i))
        for jf in pipe.send(payloads, timestamp):
            decoded.extend(decoder.decode(jf))

    for i in range(4):
        step(i)
    install_send_key(sender, 1, KEY1)
    for i in range(4, 8):
        step(i)
        clock.now += 0.03
    assert len(decoded) == 4  # frames 0-3; 4-6 held, 7 still in the jitter buffer
    assert receiver.stats().frames_held == 3
    install_receive_key(receiver.context, 1, KEY1)
    assert receiver.keys_changed() == 3
    step(8)  # released frames are decoded at the next call, before frame 7
    assert len(decoded) == 8
    assert all(abs(f.pts - i * 3000) <= 1 for i, f in enumerate(decoded))  # in order
    stats = receiver.stats()
    assert stats.frames_decrypted == 8 and not stats.decrypt_failures


# --------------------------------------------------------------------------- RTCRtpSender/Receiver


class PatternTrack(MediaStreamTrack):
    def __init__(self, kind: str, count: int) -> None:
        super().__init__()
        self.kind = kind
        self._i = 0
        self._count = count

    async def recv(self) -> av.VideoFrame | av.AudioFrame:
        if self._i >= self._count:
            await asyncio.Event().wait()  # then stay silent
        await asyncio.sleep(0.001)
        self._i += 1
        return video_frame(self._i - 1) if self.kind == "video" else audio_frame(self._i - 1)


class MemoryTransport:
    """Enough of RTCDtlsTransport for one sender and one receiver, in memory."""

    state = "connected"
    _stats_id = "memory"

    def __init__(self) -> None:
        self.receiver: RTCRtpReceiver | None = None
        self.payloads: list[bytes] = []
        self._map = HeaderExtensionsMap()

    def _register_rtp_sender(self, sender: object, parameters: object) -> None: ...
    def _unregister_rtp_sender(self, sender: object) -> None: ...
    def _register_rtp_receiver(self, receiver: object, parameters: object) -> None: ...
    def _unregister_rtp_receiver(self, receiver: object) -> None: ...

    async def _send_rtp(self, data: bytes) -> None:
        if is_rtcp(data):
            return
        packet = RtpPacket.parse(data, self._map)
        self.payloads.append(packet.payload)
        if self.receiver is not None:
            await self.receiver._handle_rtp_packet(packet, arrival_time_ms=0)


async def rtp_call(kind: str, params: RTCRtpCodecParameters, sender_e2ee: MediaE2ee,
                   receiver_e2ee: MediaE2ee, count: int, want: int,
                   ) -> tuple[list[Any], MemoryTransport]:
    transport: Any = MemoryTransport()
    sender = RTCRtpSender(PatternTrack(kind, count), transport)
    receiver = RTCRtpReceiver(kind, transport)
    receiver._track = RemoteStreamTrack(kind=kind)
    transport.receiver = receiver
    sender_e2ee.protect_sender(sender)
    receiver_e2ee.protect_receiver(receiver, kind)
    await receiver.receive(RTCRtpReceiveParameters(codecs=[params]))
    await sender.send(RTCRtpSendParameters(codecs=[params], muxId="0"))
    frames = []
    try:
        for _ in range(want):
            frames.append(await asyncio.wait_for(receiver.track.recv(), 10))
    finally:
        await sender.stop()
        await receiver.stop()
    return frames, transport


def test_real_sender_and_receiver_video() -> None:
    sender, _ = sender_side()
    receiver = receiver_side((0, KEY0))
    frames, transport = asyncio.run(rtp_call("video", VP8, sender, receiver, 8, 5))
    assert [(f.width, f.height) for f in frames] == [(320, 240)] * 5
    keys = sender.send_keys
    assert isinstance(keys, RecordingKeys)
    wire = b"".join(transport.payloads)
    assert not [w for w in windows(keys.frames[0][10:]) if w in wire]
    assert receiver.stats().frames_decrypted >= 5
    assert not receiver.stats().decrypt_failures
    assert not sender.stats().encrypt_failures


def test_real_sender_and_receiver_audio() -> None:
    sender, _ = sender_side()
    receiver = receiver_side((0, KEY0))
    frames, _ = asyncio.run(rtp_call("audio", OPUS, sender, receiver, 12, 5))
    assert all(isinstance(f, av.AudioFrame) and f.samples == 960 for f in frames)
    assert receiver.stats().frames_decrypted >= 5


def test_real_receiver_with_wrong_key_passes_nothing_to_its_decoder() -> None:
    sender, _ = sender_side()
    receiver = receiver_side((0, WRONG))
    with pytest.raises(TimeoutError):
        asyncio.run(asyncio.wait_for(rtp_call("video", VP8, sender, receiver, 6, 1), 1.5))
    stats = receiver.stats()
    assert stats.frames_decrypted == 0
    assert stats.decrypt_failures.get("auth_failed", 0) >= 3


def test_receiver_must_be_protected_before_it_starts() -> None:
    async def main() -> None:
        transport: Any = MemoryTransport()
        receiver = RTCRtpReceiver("video", transport)
        receiver._track = RemoteStreamTrack(kind="video")
        await receiver.receive(RTCRtpReceiveParameters(codecs=[VP8]))
        try:
            with pytest.raises(UsageError):
                receiver_side().protect_receiver(receiver, "video")
        finally:
            await receiver.stop()

    asyncio.run(main())


def test_attach_protects_every_transceiver_and_offers_only_protected_codecs() -> None:
    async def main() -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        e2ee = receiver_side()
        try:
            e2ee.attach(pc)
            pc.addTrack(PatternTrack("video", 1))
            pc.addTransceiver("audio", direction="recvonly")
            offer = await pc.createOffer()  # no description set: nothing is gathered
            assert "VP8" in offer.sdp and "opus" in offer.sdp
            assert "H264" not in offer.sdp and "PCMU" not in offer.sdp
            for transceiver in pc.getTransceivers():
                assert "_next_encoded_frame" in vars(transceiver.sender)
                queue = vars(transceiver.receiver)["_RTCRtpReceiver__decoder_queue"]
                assert isinstance(queue, decoder_hook.DecryptingQueue)
            with pytest.raises(UsageError):
                MediaE2ee(SFrameContext()).protect_sender(pc.getSenders()[0])
        finally:
            await pc.close()

    asyncio.run(main())
