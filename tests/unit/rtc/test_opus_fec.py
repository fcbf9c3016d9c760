"""Opus in-band FEC and PLC (hotline.rtc.opus_fec): SDP, encoder, decoder."""

from __future__ import annotations

import asyncio
import struct

import pytest
from aiortc.codecs.opus import OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.sdp import SessionDescription
from av.audio.frame import AudioFrame
from av.frame import Frame

from hotline.client.synthetic import PatternTrack
from hotline.crypto.kid import Slot
from hotline.rtc import opus_fec
from hotline.rtc.e2ee_sender import E2eeEncoder, SendKeys
from hotline.rtc.opus_fec import MAX_CONCEALED, OpusFecDecoder, with_inband_fec

OFFER = "\r\n".join([
    "v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE 0 1",
    "m=audio 9 UDP/TLS/RTP/SAVPF 96 0 8", "c=IN IP4 0.0.0.0", "a=mid:0",
    "a=rtpmap:96 opus/48000/2", "a=rtpmap:0 PCMU/8000", "a=rtpmap:8 PCMA/8000",
    "m=video 9 UDP/TLS/RTP/SAVPF 97 98", "c=IN IP4 0.0.0.0", "a=mid:1",
    "a=rtpmap:97 VP8/90000", "a=rtpmap:98 rtx/90000", "a=fmtp:98 apt=97", "",
])


def test_sdp_gets_useinbandfec_on_opus_only() -> None:
    out = with_inband_fec(OFFER)
    assert "a=rtpmap:96 opus/48000/2\r\na=fmtp:96 useinbandfec=1\r\n" in out
    assert opus_fec.fec_payload_types(out) == {96}
    assert "a=fmtp:98 apt=97" in out and out.count("a=fmtp:") == 2
    assert with_inband_fec(out) == out  # idempotent
    parsed = SessionDescription.parse(out)
    opus = parsed.media[0].rtp.codecs[0]
    assert opus.mimeType.lower() == "audio/opus" and opus.parameters["useinbandfec"] == 1


def test_sdp_existing_fmtp_is_kept_and_fec_turned_on() -> None:
    sdp = OFFER.replace("a=rtpmap:96 opus/48000/2\r\n",
                        "a=rtpmap:96 opus/48000/2\r\na=fmtp:96 minptime=10;useinbandfec=0\r\n")
    out = with_inband_fec(sdp)
    assert "a=fmtp:96 minptime=10;useinbandfec=1\r\n" in out
    assert out.count("a=fmtp:96") == 1
    assert with_inband_fec("v=0\r\n") == "v=0\r\n"


def _tone(count: int) -> list[AudioFrame]:
    track = PatternTrack("audio")
    track._start = -1e9  # no pacing

    async def frames() -> list[AudioFrame]:
        out = []
        for _ in range(count):
            frame = await track.recv()
            assert isinstance(frame, AudioFrame)
            out.append(frame)
        return out

    return asyncio.run(frames())


def _packets(count: int, fec: bool = True) -> list[tuple[bytes, int]]:
    encoder = OpusEncoder()
    if fec:
        opus_fec.enable_inband_fec(encoder)
    out = []
    for frame in _tone(count):
        payloads, timestamp = encoder.encode(frame)
        out += [(p, timestamp + 5000) for p in payloads]
    return out


@pytest.fixture(scope="module")
def packets() -> list[tuple[bytes, int]]:
    return _packets(150)


def test_encoder_sends_fec_for_the_test_tone(packets: list[tuple[bytes, int]]) -> None:
    lib = opus_fec.libopus()
    assert opus_fec.version().startswith("libopus 1.")
    with_fec = sum(lib.packet_has_lbrr(p, len(p)) > 0 for p, _ in packets)
    assert with_fec > 0.5 * len(packets)
    without = _packets(60, fec=False)
    assert all(lib.packet_has_lbrr(p, len(p)) == 0 for p, _ in without)


def test_e2ee_encoder_turns_fec_on() -> None:
    inner = OpusEncoder()
    E2eeEncoder(inner, "audio/opus", Slot.AUDIO, SendKeys())
    assert inner.codec.options["fec"] == "1"
    assert inner.codec.options["packet_loss"] == str(opus_fec.FEC_LOSS_PERCENT)


def _pcm(frame: Frame) -> list[int]:
    assert isinstance(frame, AudioFrame)
    data = bytes(frame.planes[0])[:frame.samples * 4]
    return list(struct.unpack(f"<{frame.samples * 2}h", data))


def _decode(packets: list[tuple[bytes, int]], lost: set[int]
            ) -> tuple[OpusFecDecoder, list[Frame]]:
    decoder = OpusFecDecoder()
    out: list[Frame] = []
    for i, (p, ts) in enumerate(packets):
        if i not in lost:
            out += decoder.decode(JitterFrame(p, ts))
    return decoder, out


def _error(a: list[int], b: list[int]) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) / len(a)


def test_one_lost_frame_is_rebuilt_from_fec(packets: list[tuple[bytes, int]]) -> None:
    lib = opus_fec.libopus()
    lost = next(i for i in range(60, 140) if lib.packet_has_lbrr(*_with_len(packets[i + 1])))
    _, reference = _decode(packets, set())
    decoder, frames = _decode(packets, {lost})
    r = decoder.recovery
    assert (r.decoded, r.fec_recovered, r.plc_concealed) == (len(packets) - 1, 1, 0)
    assert [f.pts for f in frames] == [f.pts for f in reference]  # no hole in time
    # The rebuilt frame is the lost one, roughly (FEC is coded at a lower rate); PLC
    # of the same frame (a decoder that ignores FEC) is much further off.
    plc = OpusFecDecoder()
    for p, ts in packets[:lost]:
        plc.decode(JitterFrame(p, ts))
    concealed = plc._frame_out(plc._decode(None, 960, False), 0)
    want = _pcm(reference[lost])
    assert _error(_pcm(frames[lost]), want) < 0.5 * _error(_pcm(concealed), want)


def _with_len(item: tuple[bytes, int]) -> tuple[bytes, int]:
    return item[0], len(item[0])


def test_longer_gaps_are_concealed_then_fec(packets: list[tuple[bytes, int]]) -> None:
    lib = opus_fec.libopus()
    start = next(i for i in range(60, 130) if lib.packet_has_lbrr(*_with_len(packets[i + 3])))
    decoder, frames = _decode(packets, {start, start + 1, start + 2})
    r = decoder.recovery
    assert (r.fec_recovered, r.plc_concealed, r.longest_plc_run, r.plc_runs) == (1, 2, 2, 1)
    assert len(frames) == len(packets)
    assert all(isinstance(f, AudioFrame) and f.samples == 960 for f in frames)


def test_gap_without_fec_data_is_concealed(packets: list[tuple[bytes, int]]) -> None:
    lib = opus_fec.libopus()
    no_fec = [i for i in range(1, len(packets) - 1)
              if lib.packet_has_lbrr(*_with_len(packets[i + 1])) == 0]
    if not no_fec:
        pytest.skip("every packet carried FEC")
    decoder, frames = _decode(packets, {no_fec[0]})
    assert (decoder.recovery.fec_recovered, decoder.recovery.plc_concealed) == (0, 1)
    assert len(frames) == len(packets)


def test_a_blackout_is_not_filled_in_and_late_packets_are_dropped(
        packets: list[tuple[bytes, int]]) -> None:
    lost = set(range(40, 41 + MAX_CONCEALED))
    decoder, frames = _decode(packets, lost)
    r = decoder.recovery
    assert (r.not_concealed, r.plc_concealed, r.fec_recovered) == (len(lost), 0, 0)
    assert len(frames) == len(packets) - len(lost)
    assert decoder.decode(JitterFrame(*packets[10])) == []
    assert r.late == 1
    assert decoder.decode(JitterFrame(b"", 0)) == [] and r.decode_errors == 1
