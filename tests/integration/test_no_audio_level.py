"""The Python client never negotiates nor sends the clear RFC 6464 audio level.

The audio-level header extension (urn:ietf:params:rtp-hdrext:ssrc-audio-level) carries
each packet's loudness in clear text: the SFU would learn who speaks when, and a rough
envelope of the speech, despite end-to-end encryption. The browser never offers it; the
aiortc clients (hotline.rtc.media_e2ee strips it from every transceiver) must not either.
Here two real Python clients call through the real SFU: every SDP they send is checked,
and every RTP packet the SFU receives from them is parsed for its header extensions.
"""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import pytest

from hotline.client.call import Call
from hotline.client.signaling import SignalingClient
from hotline.crypto.identity import Identity
from hotline.sfu.forwarding import Router

from ..support.server import start_server
from ..support.trust import accept_all

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]
AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"


def extension_ids(packet: bytes) -> list[int]:
    """The ids of the one-byte header extension elements of an RTP packet (RFC 8285)."""
    if len(packet) < 12 or not packet[0] & 0x10:
        return []
    offset = 12 + 4 * (packet[0] & 0x0F)
    profile, words = struct.unpack_from("!HH", packet, offset)
    if profile != 0xBEDE:
        return []
    ids, i, end = [], offset + 4, offset + 4 + 4 * words
    while i < end:
        element_id, length = packet[i] >> 4, (packet[i] & 0x0F) + 1
        if element_id == 15:
            break
        if element_id == 0:
            i += 1
            continue
        ids.append(element_id)
        i += 1 + length
    return ids


def audio_ids(sdp: str) -> tuple[set[int], set[str]]:
    """Payload types and offered extension URIs of the audio m-line(s) of ``sdp``."""
    pts: set[int] = set()
    uris: set[str] = set()
    audio = False
    for line in sdp.splitlines():
        if line.startswith("m="):
            audio = line.startswith("m=audio")
            if audio:
                pts.update(int(p) for p in line.split()[3:])
        elif audio and line.startswith("a=extmap:"):
            uris.add(line.split()[1])
    return pts, uris


async def test_no_sdp_offers_and_no_packet_carries_the_audio_level(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sdps: list[str] = []
    received: list[bytes] = []
    original_publish = SignalingClient.publish
    original_answer = SignalingClient.answer_subscription

    async def publish(self: SignalingClient, offer_sdp: str, timeout: float = 15.0) -> str:
        sdps.append(offer_sdp)
        return await original_publish(self, offer_sdp, timeout)

    def answer(self: SignalingClient, answer_sdp: str) -> None:
        sdps.append(answer_sdp)
        original_answer(self, answer_sdp)

    original_on_rtp = Router.on_rtp

    def on_rtp(self: Router, packet: bytes) -> None:
        if len(received) < 5000:
            received.append(packet)
        original_on_rtp(self, packet)

    monkeypatch.setattr(SignalingClient, "publish", publish)
    monkeypatch.setattr(SignalingClient, "answer_subscription", answer)
    monkeypatch.setattr(Router, "on_rtp", on_rtp)

    srv = await start_server(tmp_path / "data", join_timeout=5.0)
    calls: list[Call] = []
    try:
        for name in ("alice", "bob"):
            srv.store.add_party(name)
        srv.store.add_room("r", ["alice", "bob"])
        for name in ("alice", "bob"):
            call = Call(srv.url, Identity.generate(), "r", video_size=(160, 120),
                        trust_policy=accept_all())
            await call.start(enroll_code=srv.store.new_enrollment_code(name))
            calls.append(call)
        await asyncio.sleep(4.0)
        assert calls[0].stats().remote["bob"]["audio_frames_decrypted"] > 50  # media flowed
    finally:
        for c in calls:
            await c.close()
        await srv.close()

    offers = [s for s in sdps if "a=sendonly" in s]
    assert len(offers) == 2 and len(sdps) >= 4  # 2 publish offers, subscribe answers
    assert not [s for s in sdps if AUDIO_LEVEL in s], "an SDP offers the clear audio level"
    audio_pts: set[int] = set()
    for offer in offers:
        pts, uris = audio_ids(offer)
        audio_pts |= pts
        assert uris == {"urn:ietf:params:rtp-hdrext:sdes:mid"}, uris
    audio = [p for p in received if (p[1] & 0x7F) in audio_pts]
    assert len(audio) > 100
    # mid (id 1, one per packet of a bundle) is all an audio packet carries: no level
    ids = {i for p in audio for i in extension_ids(p)}
    assert ids <= {1}, f"extension ids in audio packets: {sorted(ids)}"
    with_level = sum(1 for p in audio if any(i != 1 for i in extension_ids(p)))
    print(f"audio packets received by the SFU: {len(audio)}, with an audio level: {with_level}")
    assert with_level == 0
