"""What the SFU reads of the SDP it negotiates (aiortc's parser): the codecs it accepts,
the header extensions and the RTX stream of an m-line."""

from __future__ import annotations

from aiortc import RTCRtpSender, RTCRtpTransceiver
from aiortc.sdp import MediaDescription, SessionDescription

from hotline.rtc import aiortc_adapter as adapter

#: The codecs the SFU accepts: those with an E2EE frame layout.
MIME = {"audio": "audio/opus", "video": "video/vp8"}


def extensions(sdp: str, mid: str) -> dict[str, int]:
    """URI -> id of the header extensions negotiated on m-line ``mid`` of ``sdp``."""
    try:
        media = SessionDescription.parse(sdp).media
    except Exception:  # an answer we already accepted; be safe anyway
        return {}
    for m in media:
        if m.rtp.muxId == mid:
            return {e.uri: e.id for e in m.rtp.headerExtensions if 0 < e.id < 15}
    return {}


def rtx(media: MediaDescription, transceiver: RTCRtpTransceiver, ssrc: int,
        payload_type: int) -> tuple[int | None, int | None]:
    """The RTX SSRC (``a=ssrc-group:FID``) and negotiated RTX payload type of a published
    m-line, or (None, None) if it has no RTX stream."""
    rtx_ssrc = next((int(g.items[1]) for g in media.ssrc_group if g.semantic == "FID"
                     and len(g.items) == 2 and int(g.items[0]) == ssrc), None)
    rtx_pt = adapter.negotiated_rtx_payload_type(transceiver, payload_type)
    if rtx_ssrc is None or rtx_pt is None or rtx_ssrc == ssrc:
        return None, None
    return rtx_ssrc, rtx_pt


def codecs(kind: str) -> list[object]:
    """The codecs of ``kind`` the SFU accepts, as aiortc's codec preferences."""
    return [c for c in RTCRtpSender.getCapabilities(kind).codecs
            if c.mimeType.lower() == MIME[kind]]
