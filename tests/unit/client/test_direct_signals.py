"""The client's side of the direct path without a server: ``direct_from`` goes to the
direct path's handler (never to a waiting request); a path's senders read frames only
while it is the active path."""

from __future__ import annotations

import asyncio

import pytest

from hotline.client.direct import GatedTrack
from hotline.client.signaling import SignalingClient
from hotline.crypto.identity import Identity
from hotline.signaling import messages as m

OFFER = m.DirectDescription(kind="offer", sdp="v=0\r\n")


@pytest.mark.asyncio
async def test_direct_from_goes_to_its_handler_and_not_to_a_request() -> None:
    c = SignalingClient("http://127.0.0.1:1", Identity.generate())
    got: list[m.DirectFrom] = []
    c.on_direct = got.append
    signal = m.DirectFrom(sender=2, description=OFFER)
    c._dispatch(signal)
    assert got == [signal]
    assert c._replies.empty()
    c.on_direct = None
    c._dispatch(signal)  # nobody listens: dropped, not a reply
    assert c._replies.empty()


class _Source:
    kind = "audio"

    def __init__(self) -> None:
        self.n = 0

    async def recv(self) -> int:
        await asyncio.sleep(0.001)  # a frame every millisecond
        self.n += 1
        return self.n


@pytest.mark.asyncio
async def test_a_gated_track_passes_frames_only_while_open() -> None:
    source = _Source()
    open_ = {"now": False}
    gated = GatedTrack(source, lambda: open_["now"])  # type: ignore[arg-type]
    reading = asyncio.ensure_future(gated.recv())
    for _ in range(500):  # until 10 frames were read (a loaded machine is slow)
        await asyncio.sleep(0.01)
        if source.n > 10:
            break
    assert not reading.done() and source.n > 10  # frames read and dropped while closed
    open_["now"] = True
    first = await asyncio.wait_for(reading, 1)
    assert first > 10 and await gated.recv() == first + 1
