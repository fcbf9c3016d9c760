"""Opus in-band FEC is negotiated (issue #7): the SDP the SFU produces, its publish
answers and its subscribe offers, says ``useinbandfec=1`` on Opus, which is what makes
a browser's Opus encoder add FEC; the Python client says it too, and its frames carry
FEC data. Real ICE gathering on loopback: runs in the loopback-only namespace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from hotline.client.call import Call
from hotline.rtc.opus_fec import fec_payload_types
from hotline.sfu.edge import Sfu

from ..support.calls import calls_in_room
from ..support.sdp import aiortc_offer

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]


async def _offer(fmtp: str | None) -> str:
    """An aiortc offer; with ``fmtp``, its Opus payload type gets that a=fmtp line (as a
    browser's offer has: ``minptime=10;useinbandfec=1``)."""
    sdp = await aiortc_offer()
    assert fec_payload_types(sdp) == set()  # aiortc itself writes no Opus fmtp
    if fmtp is not None:
        sdp = sdp.replace("a=rtpmap:96 opus/48000/2\r\n",
                          f"a=rtpmap:96 opus/48000/2\r\na=fmtp:96 {fmtp}\r\n")
    return sdp


@pytest.mark.parametrize("fmtp", [None, "minptime=10;useinbandfec=1", "useinbandfec=0"])
async def test_publish_answer_asks_for_fec(fmtp: str | None) -> None:
    sfu = Sfu("127.0.0.1", lambda *a: None)
    try:
        answer = await sfu.publish("room", 1, await _offer(fmtp))
        assert fec_payload_types(answer) == {96}, answer
        assert answer.count("a=fmtp:96") == 1
    finally:
        await sfu.close()


@pytest_asyncio.fixture
async def two_calls(tmp_path: Path) -> AsyncIterator[list[Call]]:
    async with calls_in_room(tmp_path / "data", "fec", ["alice", "bob"],
                             join_timeout=5.0) as (_, calls):
        yield calls


async def test_every_description_of_a_call_has_fec_and_frames_carry_it(
        two_calls: list[Call]) -> None:
    bob = two_calls[1]
    for _ in range(200):
        streams = [s for s in bob.streams.values() if s.kind == "audio"]
        if streams and streams[0].decryptor.audio and streams[0].decryptor.audio.decoded > 50:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("no audio decoded")
    for call in two_calls:
        for pc in (call.publish_pc, call.subscribe_pc):
            assert pc is not None
            assert pc.remoteDescription is not None and pc.localDescription is not None
            # the SFU's publish answer / subscribe offer, and the client's offer / answer
            assert fec_payload_types(pc.remoteDescription.sdp), pc.remoteDescription.sdp
            assert fec_payload_types(pc.localDescription.sdp), pc.localDescription.sdp
    # Bob decodes Alice's audio with the FEC-aware decoder, and most of her packets
    # carry FEC data (all but those of the test tone's quietest moments).
    audio = next(s for s in bob.streams.values() if s.kind == "audio").decryptor.audio
    assert audio is not None
    assert audio.decode_errors == 0
    assert audio.with_fec_data > 0.5 * audio.decoded, audio
