"""Opus in-band FEC and packet-loss concealment for the Python client.

Opus can carry, in each packet, a low-bitrate copy of the previous frame (in-band FEC,
the SILK layer's "LBRR" data, RFC 6716 §4.2.4). It costs the sender some bits and helps
only if the receiver's decoder uses it. Three pieces:

* **SDP** (:func:`with_inband_fec`): ``useinbandfec=1`` on every Opus payload type of an
  SDP. aiortc 1.16.0 writes no ``a=fmtp`` for Opus at all; a browser turns FEC on in its
  Opus encoder only when the remote description says ``useinbandfec=1`` (RFC 7587
  §6.1), so the SFU puts it in its publish answers and subscribe offers, and the
  Python client in its own offer and answer.
* **Encoder** (:func:`enable_inband_fec`): aiortc's Opus encoder is FFmpeg's
  ``libopus`` wrapper; its ``fec`` and ``packet_loss`` options are
  ``OPUS_SET_INBAND_FEC(1)`` and ``OPUS_SET_PACKET_LOSS_PERC``. The expected loss is
  fixed at :data:`FEC_LOSS_PERCENT` (FFmpeg's wrapper cannot change it on an open
  encoder). With FEC on and that much expected loss, libopus codes speech in SILK or
  hybrid mode, which is what carries FEC; it adds FEC to frames its voice detector
  finds active (speech, not a steady tone or background noise).
* **Decoder** (:class:`OpusFecDecoder`): libopus itself, through ``ctypes`` (FFmpeg's
  Opus decoders never ask libopus for FEC and never conceal). Frames come decrypted
  out of the jitter buffer (SFrame hides the Opus payload from everything before);
  a gap in RTP timestamps is a lost frame. The lost frame just before a packet that
  arrived is rebuilt from that packet's FEC data (``opus_decode(..., decode_fec=1)``),
  when it has some; every other lost frame is concealed by libopus's PLC
  (``opus_decode(NULL)``). Gaps longer than :data:`MAX_CONCEALED` frames (a blackout,
  a pause in sending) are not filled in. :class:`AudioRecovery` counts each case.

The libopus used is the one bundled with the pinned PyAV wheel (the same library
FFmpeg encodes with), or else the system's ``libopus.so.0``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import fractions
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import av
from aiortc.codecs.base import Decoder
from aiortc.codecs.opus import OpusEncoder
from aiortc.jitterbuffer import JitterFrame
from av.frame import Frame

from hotline.errors import ConfigError

SAMPLE_RATE = 48_000
CHANNELS = 2
TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
MAX_FRAME_SAMPLES = 5760  # 120 ms, the longest Opus packet
#: The loss the encoder is told to expect (OPUS_SET_PACKET_LOSS_PERC): enough for
#: libopus to code speech with FEC in SILK/hybrid mode.
FEC_LOSS_PERCENT = 10
#: Longest gap (in frames, 20 ms each) that is concealed; longer ones are left silent.
MAX_CONCEALED = 10


class OpusLibraryError(ConfigError):
    """No usable libopus was found."""


class _Opus:
    """The few libopus decoder functions used, with their C types."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        c_int, c_int32, ptr = ctypes.c_int, ctypes.c_int32, ctypes.c_void_p
        self.decoder_create = lib.opus_decoder_create
        self.decoder_create.argtypes = [c_int32, c_int, ctypes.POINTER(c_int)]
        self.decoder_create.restype = ptr
        self.decoder_destroy = lib.opus_decoder_destroy
        self.decoder_destroy.argtypes = [ptr]
        self.decoder_destroy.restype = None
        self.decode = lib.opus_decode
        self.decode.argtypes = [ptr, ctypes.c_char_p, c_int32,
                                ctypes.POINTER(ctypes.c_int16), c_int, c_int]
        self.decode.restype = c_int
        self.packet_get_nb_samples = lib.opus_packet_get_nb_samples
        self.packet_get_nb_samples.argtypes = [ctypes.c_char_p, c_int32, c_int32]
        self.packet_get_nb_samples.restype = c_int
        self.packet_has_lbrr = lib.opus_packet_has_lbrr
        self.packet_has_lbrr.argtypes = [ctypes.c_char_p, c_int32]
        self.packet_has_lbrr.restype = c_int
        self.get_version_string = lib.opus_get_version_string
        self.get_version_string.argtypes = []
        self.get_version_string.restype = ctypes.c_char_p


_lib: _Opus | None = None
_lib_lock = threading.Lock()


def _candidates() -> list[str]:
    bundled = Path(av.__file__).resolve().parent.parent / "av.libs"
    found = sorted(str(p) for p in bundled.glob("libopus*.so*"))
    system = ctypes.util.find_library("opus")
    return found + ([system] if system else []) + ["libopus.so.0"]


def libopus() -> _Opus:
    """The loaded libopus (PyAV's bundled copy first)."""
    global _lib
    with _lib_lock:
        if _lib is None:
            errors = []
            for name in _candidates():
                try:
                    _lib = _Opus(ctypes.CDLL(name))
                    break
                except (OSError, AttributeError) as exc:  # missing, or too old (no lbrr)
                    errors.append(f"{name}: {exc}")
            else:
                raise OpusLibraryError("no usable libopus (>= 1.5): " + "; ".join(errors))
        return _lib


def version() -> str:
    return bytes(libopus().get_version_string()).decode()


# -- SDP ----------------------------------------------------------------------------------

_RTPMAP = re.compile(r"^a=rtpmap:(\d+) opus/48000(/\d+)?$", re.IGNORECASE)


def with_inband_fec(sdp: str) -> str:
    """``sdp`` with ``useinbandfec=1`` in the ``a=fmtp`` of every Opus payload type
    (an ``a=fmtp`` line is added after the ``a=rtpmap`` if there is none)."""
    newline = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(newline)
    opus = {m.group(1) for line in lines if (m := _RTPMAP.match(line))}
    if not opus:
        return sdp
    out: list[str] = []
    has_fmtp = {line.split(":", 1)[1].split(" ", 1)[0] for line in lines
                if line.startswith("a=fmtp:")} & opus
    for line in lines:
        if line.startswith("a=fmtp:"):
            pt, _, params = line[len("a=fmtp:"):].partition(" ")
            if pt in opus:
                kept = [p for p in params.split(";") if p.strip() and
                        p.split("=", 1)[0].strip().lower() != "useinbandfec"]
                line = f"a=fmtp:{pt} " + ";".join([*kept, "useinbandfec=1"])
        out.append(line)
        m = _RTPMAP.match(line)
        if m and m.group(1) not in has_fmtp:
            out.append(f"a=fmtp:{m.group(1)} useinbandfec=1")
    return newline.join(out)


def fec_payload_types(sdp: str) -> set[int]:
    """Opus payload types of ``sdp`` whose ``a=fmtp`` says ``useinbandfec=1``."""
    lines = sdp.replace("\r\n", "\n").split("\n")
    opus = {m.group(1) for line in lines if (m := _RTPMAP.match(line))}
    found = set()
    for line in lines:
        if line.startswith("a=fmtp:"):
            pt, _, params = line[len("a=fmtp:"):].partition(" ")
            if pt in opus and "useinbandfec=1" in [p.strip().lower() for p in params.split(";")]:
                found.add(int(pt))
    return found


# -- encoder ------------------------------------------------------------------------------


def enable_inband_fec(encoder: OpusEncoder, loss_percent: int = FEC_LOSS_PERCENT) -> None:
    """Turn in-band FEC on in aiortc's Opus encoder (before its first frame: FFmpeg
    opens the codec then, with these options)."""
    if encoder.codec.is_open:
        raise ConfigError("the Opus encoder is already open")
    encoder.codec.options = {**encoder.codec.options, "fec": "1",
                             "packet_loss": str(int(loss_percent))}


# -- decoder ------------------------------------------------------------------------------


@dataclass
class AudioRecovery:
    """What became of the audio frames of one stream, at its decoder. Updated by the
    decoder thread; plain integers, read from anywhere."""

    decoded: int = 0  # frames decoded from their own packet
    with_fec_data: int = 0  # packets that carried FEC data (for the frame before them)
    fec_recovered: int = 0  # lost frames rebuilt from the next packet's FEC data
    plc_concealed: int = 0  # lost frames concealed by PLC
    not_concealed: int = 0  # lost frames of gaps longer than MAX_CONCEALED
    late: int = 0  # packets older than what was already played: dropped
    decode_errors: int = 0
    longest_plc_run: int = 0  # most consecutive frames of PLC (frames, 20 ms each)
    plc_runs: int = 0  # runs of PLC (each one or more consecutive frames)


class OpusFecDecoder(Decoder):
    """An Opus decoder for aiortc's receiver (same output as aiortc's: s16 stereo
    48 kHz frames) that uses in-band FEC and conceals lost frames."""

    def __init__(self, recovery: AudioRecovery | None = None) -> None:
        self.lib = libopus()
        error = ctypes.c_int(0)
        self._state = self.lib.decoder_create(SAMPLE_RATE, CHANNELS, ctypes.byref(error))
        if not self._state or error.value != 0:
            raise OpusLibraryError(f"opus_decoder_create failed ({error.value})")
        self._pcm = (ctypes.c_int16 * (MAX_FRAME_SAMPLES * CHANNELS))()
        self.recovery = recovery if recovery is not None else AudioRecovery()
        self._next: int | None = None  # RTP timestamp expected next
        self._frame = 960  # samples per frame, as last seen
        self._run = 0  # current run of PLC frames

    def __del__(self) -> None:
        state, self._state = getattr(self, "_state", None), None
        if state:
            self.lib.decoder_destroy(state)

    def _frame_out(self, samples: int, timestamp: int) -> Frame:
        frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
        frame.planes[0].update(ctypes.string_at(self._pcm, samples * CHANNELS * 2))
        frame.sample_rate = SAMPLE_RATE
        frame.pts = timestamp
        frame.time_base = TIME_BASE
        return frame

    def _decode(self, data: bytes | None, samples: int, fec: bool) -> int:
        n = int(self.lib.decode(self._state, data, len(data) if data else 0, self._pcm,
                                samples, 1 if fec else 0))
        if n < 0:
            self.recovery.decode_errors += 1
        return n

    def _conceal(self, count: int, start: int, out: list[Frame]) -> None:
        for i in range(count):
            n = self._decode(None, self._frame, False)
            if n > 0:
                out.append(self._frame_out(n, (start + i * self._frame) & 0xFFFFFFFF))
                self.recovery.plc_concealed += 1
                self._run += 1
                if self._run == 1:
                    self.recovery.plc_runs += 1
                self.recovery.longest_plc_run = max(self.recovery.longest_plc_run, self._run)

    def decode(self, encoded_frame: JitterFrame) -> list[Frame]:
        data, timestamp = encoded_frame.data, encoded_frame.timestamp
        samples = self.lib.packet_get_nb_samples(data, len(data), SAMPLE_RATE)
        if samples <= 0:
            self.recovery.decode_errors += 1
            return []
        out: list[Frame] = []
        has_fec = self.lib.packet_has_lbrr(data, len(data)) > 0
        if self._next is not None:
            gap = (timestamp - self._next) & 0xFFFFFFFF
            if gap >= 0x80000000:  # before what was played already
                self.recovery.late += 1
                return []
            lost = (gap + self._frame // 2) // self._frame
            if lost > MAX_CONCEALED:
                self.recovery.not_concealed += lost
                self._run = 0
            elif lost > 0:
                self._conceal(lost - 1, self._next, out)
                fec_at = (timestamp - self._frame) & 0xFFFFFFFF
                if has_fec:
                    n = self._decode(data, self._frame, True)
                    if n > 0:
                        out.append(self._frame_out(n, fec_at))
                        self.recovery.fec_recovered += 1
                        self._run = 0
                else:
                    self._conceal(1, fec_at, out)
        n = self._decode(data, MAX_FRAME_SAMPLES, False)
        if n > 0:
            out.append(self._frame_out(n, timestamp))
            self.recovery.decoded += 1
            self.recovery.with_fec_data += has_fec
            self._run = 0
            self._frame = n
        self._next = (timestamp + samples) & 0xFFFFFFFF
        return out
