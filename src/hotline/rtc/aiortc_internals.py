"""Every private aiortc, aioice and pylibsrtp name hotline.rtc relies on, in one table.

aiortc has no public hooks for what Hotline does with it (frames encrypted between the
encoder and the packetizer, the SFU's media path straight on the ICE sockets, host
candidates on loopback). Each module of this package that reaches into a private part
lists it here, as an :class:`Internal`: where it lives, its parameters if it is a
callable, and the functions of the library that must still use it where we hook it.

:func:`check_internals` checks every entry and the pinned :data:`VERSIONS`; the SFU
runs it at start, :class:`~hotline.rtc.media_e2ee.MediaE2ee` before its first call, and
a unit test always, so an upgrade that moves anything fails loudly instead of silently.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import types
from typing import Any, NamedTuple

from hotline.errors import ConfigError

#: The versions Hotline is tested with, and the only ones it runs on.
VERSIONS = {"aiortc": "1.16.0", "aioice": "0.13.0", "pylibsrtp": "1.0.0"}


class AiortcInternalsError(ConfigError):
    """The installed aiortc/aioice/pylibsrtp lack something hotline.rtc hooks."""


class Internal(NamedTuple):
    """One library name relied on although it is not public API."""

    owner: str  # dotted path of the module or class that has it
    name: str  # as looked up; ``__private`` attributes in their mangled form
    params: tuple[str, ...] | None  # parameters of a callable, as inspect sees them
    used_by: tuple[str, ...]  # functions that must still refer to ``name``; if none,
    why: str  # ``name`` must be an attribute of ``owner``


_VPX = "aiortc.codecs.vpx.Vp8Encoder"
_SENDER = "aiortc.rtcrtpsender.RTCRtpSender"
_RECEIVER = "aiortc.rtcrtpreceiver.RTCRtpReceiver"
_JITTER = "aiortc.jitterbuffer.JitterBuffer"
_SDP_WRITER = "aiortc.rtcpeerconnection.create_media_description_for_transceiver"
_CONNECTION = "aioice.ice.Connection"
_SRTP = "pylibsrtp.Session"

#: Media E2EE (:mod:`.e2ee_sender`, :mod:`.media_e2ee`, :mod:`.decoder_hook`, :mod:`.jitter`).
E2EE_INTERNALS: tuple[Internal, ...] = (
    Internal(_VPX, "_packetize", ("buffer", "picture_id"), (f"{_VPX}.encode", f"{_VPX}.pack"),
             "gets each whole VP8 frame, returns its RTP payloads; overridden per encoder"),
    Internal(_VPX, "_Vp8Encoder__target_bitrate", None, (f"{_VPX}.__init__", f"{_VPX}.encode"),
             "compared with the open context's bitrate: set to ours so that aiortc keeps "
             "the libvpx context E2eeEncoder made"),
    Internal("aiortc.codecs.vpx", "number_of_threads", ("pixels", "cpus"), (f"{_VPX}.encode",),
             "libvpx threads for a picture size, as aiortc chooses them"),
    Internal(_SENDER, "_next_encoded_frame", ("self", "codec"), (f"{_SENDER}._run_rtp",),
             "called by the RTP loop once per frame; wrapped per sender instance"),
    Internal(_SENDER, "_RTCRtpSender__encoder", None, (f"{_SENDER}._next_encoded_frame",),
             "the sender's encoder, made by get_encoder only while None: preset with ours"),
    Internal("aiortc.rtcrtpsender.RTCEncodedFrame", "payloads", None,
             ("aiortc.rtcrtpsender.RTCEncodedFrame.__init__", f"{_SENDER}._run_rtp"),
             "the list the encoder returned, sent as is: checked to be ours"),
    Internal(_RECEIVER, "_RTCRtpReceiver__decoder_queue", None,
             (f"{_RECEIVER}.receive", f"{_RECEIVER}._handle_rtp_packet"),
             "(codec, JitterFrame) of each reassembled frame, or None to stop: replaced"),
    Internal(_RECEIVER, "_RTCRtpReceiver__decoder_thread", None, (f"{_RECEIVER}.receive",),
             "None until receive() starts the decoder thread with the queue"),
    Internal(_RECEIVER, "_RTCRtpReceiver__decoder_error", None,
             (f"{_RECEIVER}._handle_rtp_packet",),
             "threading.Event; once set, the next video packet sends a PLI"),
    Internal("aiortc.rtcrtpreceiver", "decoder_worker",
             ("loop", "input_q", "output_q", "decode_error"), (f"{_RECEIVER}.receive",),
             "the decoder thread: reads the queue we replace"),
    Internal("aiortc.rtcrtpreceiver", "get_decoder", ("codec",),
             ("aiortc.rtcrtpreceiver.decoder_worker",),
             "looked up by the decoder thread for each codec: replaced by one that makes "
             "an OpusFecDecoder for the Opus frames of a protected receiver"),
    Internal("aiortc.jitterbuffer", "JitterFrame", ("data", "timestamp"),
             (f"{_JITTER}._remove_frame",),
             "a reassembled frame, as queued for the decoder; we build decrypted ones"),
    Internal(_RECEIVER, "_RTCRtpReceiver__jitter_buffer", None,
             (f"{_RECEIVER}._handle_rtp_packet",),
             "the receiver's JitterBuffer: replaced by hotline.rtc.jitter's"),
    Internal(_JITTER, "_remove_frame", ("self", "sequence_number"), (f"{_JITTER}.add",),
             "hands out the frame at the origin; SkippingJitterBuffer calls it after a skip"),
    Internal(_JITTER, "_origin", None, (f"{_JITTER}.add", f"{_JITTER}.remove"),
             "sequence number of the oldest slot: SkippingJitterBuffer moves it past a hole"),
    Internal(_JITTER, "_packets", None, (f"{_JITTER}.add", f"{_JITTER}.remove"),
             "the ring of buffered packets, read by SkippingJitterBuffer"),
)

#: ICE, SDP and the SFU's raw media path (:mod:`.aiortc_adapter`, :mod:`.raw_media`).
ADAPTER_INTERNALS: tuple[Internal, ...] = (
    Internal("aioice.ice", "get_host_addresses", ("use_ipv4", "use_ipv6"),
             (f"{_CONNECTION}.gather_candidates",),
             "looked up at each gathering: replaced to choose the host candidates"),
    Internal("aioice.ice", "CONSENT_INTERVAL", None, (f"{_CONNECTION}.query_consent",),
             "seconds between consent checks (RFC 7675), read at each check: set"),
    Internal("aioice.ice", "CONSENT_FAILURES", None, (f"{_CONNECTION}.query_consent",),
             "unanswered consent checks before the connection fails, read at each check"),
    Internal(_CONNECTION, "_protocols", None, (f"{_CONNECTION}.__init__",),
             "the connection's ICE sockets (StunProtocol): their datagram_received hooked"),
    Internal(_CONNECTION, "_nominated", None, (f"{_CONNECTION}.__init__",),
             "the nominated candidate pair per component: where the SFU sends"),
    Internal(_CONNECTION, "turn_ssl", None, (f"{_CONNECTION}.get_component_candidates",),
             "TURN over TLS (aiortc sets True): use_turn_tls sets our SSLContext"),
    Internal(_CONNECTION, "turn_transport", None,
             (f"{_CONNECTION}.get_component_candidates",),
             "udp or tcp to the TURN server: the relay transport of the path label"),
    Internal("aioice.ice.StunProtocol", "datagram_received", ("self", "data", "addr"), (),
             "every datagram of an ICE socket: wrapped per socket"),
    Internal("aiortc.rtcicetransport.RTCIceTransport", "_connection", None,
             ("aiortc.rtcicetransport.RTCIceTransport.__init__",),
             "its aioice Connection (sockets, nominated pair)"),
    Internal("aiortc.rtcicetransport.RTCIceGatherer", "_connection", None,
             ("aiortc.rtcicetransport.RTCIceGatherer.gather",),
             "its aioice Connection: use_loopback_ice checks it has no STUN/TURN server"),
    Internal("aiortc.rtcdtlstransport.RTCDtlsTransport", "_rx_srtp", None,
             ("aiortc.rtcdtlstransport.RTCDtlsTransport._setup_srtp",),
             "the SRTP session for received packets, once DTLS is up"),
    Internal("aiortc.rtcdtlstransport.RTCDtlsTransport", "_tx_srtp", None,
             ("aiortc.rtcdtlstransport.RTCDtlsTransport._setup_srtp",),
             "the SRTP session for sent packets, once DTLS is up"),
    Internal(_SENDER, "_ssrc", None, (f"{_SENDER}.__init__", _SDP_WRITER),
             "the SSRC written into the SDP"),
    Internal(_SENDER, "_stream_id", None, (f"{_SENDER}.__init__", _SDP_WRITER),
             "first half of the m-line's a=msid: set"),
    Internal(_SENDER, "_track_id", None, (f"{_SENDER}.replaceTrack", _SDP_WRITER),
             "second half of the m-line's a=msid: set"),
    Internal("aiortc.rtcrtptransceiver.RTCRtpTransceiver", "_codecs", None,
             ("aiortc.rtcrtptransceiver.RTCRtpTransceiver.__init__", _SDP_WRITER),
             "the negotiated codecs, first the one sent"),
    Internal("aiortc.rtcrtptransceiver.RTCRtpTransceiver", "_headerExtensions", None,
             ("aiortc.rtcrtptransceiver.RTCRtpTransceiver.__init__", _SDP_WRITER),
             "the header extensions offered and written: the audio level taken out"),
    Internal(_SRTP, "_srtp", None, (f"{_SRTP}.__init__", f"{_SRTP}._Session__process"),
             "the libsrtp context, for FastProtect"),
    Internal(_SRTP, "_cdata", None, (f"{_SRTP}.__init__", f"{_SRTP}._Session__process"),
             "the session's packet buffer as cffi data, for FastProtect"),
    Internal(_SRTP, "_buffer", None, (f"{_SRTP}.__init__", f"{_SRTP}._Session__process"),
             "the same buffer, written by FastProtect"),
    Internal("pylibsrtp._binding.lib", "srtp_protect", None, (),
             "libsrtp's protect, called by FastProtect on the session's buffer"),
)

#: Every private name hotline.rtc relies on.
AIORTC_INTERNALS: tuple[Internal, ...] = E2EE_INTERNALS + ADAPTER_INTERNALS


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
    if item.params is not None or not item.used_by:
        target = getattr(owner, item.name, None)
        if target is None:
            return [f"{where} is missing"]
        if item.params is not None:
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


def _version_problems() -> list[str]:
    problems = []
    for package, version in VERSIONS.items():
        # the distribution installed, and the module imported (one could shadow the other)
        found = {importlib.metadata.version(package),
                 getattr(importlib.import_module(package), "__version__", version)}
        problems += [f"{package} {v} installed, {version} required"
                     for v in sorted(found - {version})]
    return problems


def check_internals() -> None:
    """Raise :class:`AiortcInternalsError` unless the versions are the pinned ones and
    every entry of :data:`AIORTC_INTERNALS` is as expected."""
    problems = _version_problems()
    for item in AIORTC_INTERNALS:
        problems += _problems(item)
    if problems:
        raise AiortcInternalsError("hotline.rtc cannot hook this aiortc: " + "; ".join(problems))


_checked = False


def ensure_checked() -> None:
    """:func:`check_internals`, once per process."""
    global _checked
    if not _checked:
        check_internals()
        _checked = True
