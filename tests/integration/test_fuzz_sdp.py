"""Fuzzing the SFU's publish path with garbage and mutated SDP offers (issue #7).

Every offer either gets an answer or a :class:`ProtocolError`; a refused offer leaves
nothing behind (no half-open peer connection, the participant can still publish a good
offer), and nothing else escapes. Real ICE gathering happens on loopback, so this runs in
the loopback-only namespace.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.errors import ProtocolError
from hotline.sfu.edge import Sfu

from ..support.sdp import aiortc_offer

pytestmark = pytest.mark.usefixtures("loopback_netns")
DEADLINE = 5.0
SOAK = 10 if os.environ.get("HOTLINE_HYPOTHESIS_PROFILE") == "soak" else 1


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


@pytest.fixture(scope="module")
def good_offer(loop: asyncio.AbstractEventLoop) -> str:
    return loop.run_until_complete(aiortc_offer())


WEIRD_LINES = [
    "m=video 0 UDP/TLS/RTP/SAVPF 96", "m=audio 9 RTP/AVP 0", "m=application 9 foo",
    "a=ssrc:abc cname:x", "a=ssrc:4294967296 cname:x", "a=rtpmap:96 VP8/notanumber",
    "a=rtpmap:300 opus/48000/2", "a=extmap:999 urn:x", "a=extmap:0 urn:x", "a=mid:",
    "a=mid:0", "a=group:BUNDLE 7 8 9", "a=fingerprint:sha-256 00", "a=setup:bogus",
    "a=ice-ufrag:", "a=candidate:1 1 udp 1 999.1.1.1 1 typ host", "a=fmtp:96 x=\x00",
    "a=sendrecv", "a=inactive", "c=IN IP6 ::1", "a=rtcp-fb:* nack", "a=msid:- -",
    "a=ssrc-group:FID 1", "a=rid:h send", "a=simulcast:send h;m;l", "v=1", "", "a=",
]


@st.composite
def mutated(draw: st.DrawFn, base: str) -> str:
    lines = base.split("\r\n")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["drop", "dup", "insert", "edit", "truncate"]))
        i = draw(st.integers(0, len(lines) - 1))
        if op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "insert":
            lines.insert(i, draw(st.sampled_from(WEIRD_LINES)))
        elif op == "edit" and lines[i]:
            j = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:j] + draw(st.text(max_size=3)) + lines[i][j + 1:]
        else:
            lines = lines[: i + 1]
    return "\r\n".join(lines)


async def _publish_once(sfu: Sfu, pid: int, offer: str) -> str | None:
    try:
        return await asyncio.wait_for(sfu.publish("fuzz", pid, offer), DEADLINE)
    except ProtocolError:
        return None


def _check(loop: asyncio.AbstractEventLoop, offer: str, good_offer: str) -> None:
    async def run() -> None:
        sfu = Sfu("127.0.0.1", lambda *a: None)
        try:
            start = time.monotonic()
            answer = await _publish_once(sfu, 1, offer)
            assert time.monotonic() - start < DEADLINE
            p = sfu.participant("fuzz", 1)
            if answer is None:
                # Refused: nothing left behind, and a good offer still works.
                assert p.publish_pc is None
                assert p.router.published == {}
                assert await _publish_once(sfu, 1, good_offer) is not None
        finally:
            await sfu.close()

    loop.run_until_complete(run())


@settings(max_examples=40 * SOAK)
@given(data=st.data())
def test_mutated_offers_are_answered_or_refused_cleanly(
        loop: asyncio.AbstractEventLoop, good_offer: str, data: st.DataObject) -> None:
    _check(loop, data.draw(mutated(good_offer)), good_offer)


@settings(max_examples=20 * SOAK)
@given(junk=st.text(min_size=1, max_size=500))
def test_garbage_offers_are_refused(loop: asyncio.AbstractEventLoop, good_offer: str,
                                    junk: str) -> None:
    _check(loop, junk, good_offer)


def test_an_offer_refused_after_parsing_leaves_no_peer_connection(
        loop: asyncio.AbstractEventLoop, good_offer: str) -> None:
    # Parses, but aiortc refuses it: the fingerprint is not a valid one.
    broken = "\r\n".join(
        "a=fingerprint:sha-256 00" if line.startswith("a=fingerprint") else line
        for line in good_offer.split("\r\n"))
    _check(loop, broken, good_offer)
    # No common codec: refused by the SFU, which accepts Opus and VP8 only.
    no_codec = good_offer.replace("VP8/90000", "H265/90000").replace("opus/48000", "PCMU/8000")
    _check(loop, no_codec, good_offer)
