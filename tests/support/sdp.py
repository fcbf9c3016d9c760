"""Session descriptions for the SFU tests."""

from __future__ import annotations

from aiortc import RTCPeerConnection

from hotline.rtc import aiortc_adapter as adapter


async def aiortc_offer() -> str:
    """An aiortc offer to send audio and video, host candidates on 127.0.0.1 only."""
    adapter.use_host_addresses(["127.0.0.1"])
    pc = RTCPeerConnection(adapter.configuration())
    pc.addTransceiver("audio", direction="sendonly")
    pc.addTransceiver("video", direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    sdp = pc.localDescription.sdp
    await pc.close()
    return sdp
