"""Media sockets read at the rate datagrams come, not one per turn of the event loop.

asyncio reads one datagram per readable event, that is one per turn of the loop: a busy
client loop (nine parties in one process, about 100 turns a second) fell behind a
subscribe connection of a few hundred packets a second, and with 4 MiB buffers the
queue only grew: an interpreter's audio came 1.4-3 s after the SFU sent it, while the
channel change (signaling) came at once (tests/integration/test_leader_call.py).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

import pytest
from aiortc import RTCPeerConnection

from hotline.rtc import aiortc_adapter as adapter
from hotline.rtc.batch_reads import READ_BATCH, read_in_batches

pytestmark = pytest.mark.asyncio
BURST = 40  # datagrams queued at once, fewer than READ_BATCH


async def _turns_until(received: Any, count: int) -> int:
    """Turns of the event loop until ``received()`` reaches ``count`` (at most 10 s)."""
    loop = asyncio.get_running_loop()
    turns = 0
    deadline = loop.time() + 10.0
    while received() < count and loop.time() < deadline:
        await asyncio.sleep(0)
        turns += 1
    assert received() == count
    return turns


def _burst(to: tuple[str, int], n: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
        for i in range(n):
            out.sendto(bytes([0x80, 111]) + i.to_bytes(2, "big") + bytes(60), to)


async def test_a_client_connection_reads_a_queue_in_one_turn_not_one_per_datagram() -> None:
    """Through the client's own path: ``raise_buffers`` on a connection's ICE sockets."""
    descriptors = len(os.listdir("/proc/self/fd"))
    pc = RTCPeerConnection(adapter.configuration())
    try:
        pc.addTransceiver("audio", direction="recvonly")
        with adapter.gathering_on(["127.0.0.1"]):
            await pc.setLocalDescription(await pc.createOffer())
        clock = adapter.watch_received(pc)  # counts every datagram the sockets deliver
        adapter.raise_buffers(pc)
        adapter.raise_buffers(pc)  # again (each "connected"): still one batch reader
        protocols = adapter.dtls_transport(pc).transport._connection._protocols
        assert protocols
        addr = protocols[0].transport.get_extra_info("sockname")[:2]
        _burst(addr, BURST)
        turns = await _turns_until(lambda: clock.count, BURST)
        # asyncio alone: one datagram per turn (BURST turns); in batches: a turn or two.
        assert turns <= 3, f"{BURST} queued datagrams took {turns} turns of the loop"
    finally:
        await pc.close()
    for _ in range(10):  # the transports close (and our duplicates with them) soon after
        await asyncio.sleep(0)
    assert len(os.listdir("/proc/self/fd")) == descriptors


class _Counting(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.transport: Any = None
        self.lost = False

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.data.append(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True


async def test_batches_keep_order_are_bounded_and_close_with_the_transport() -> None:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Counting,
                                                           local_addr=("127.0.0.1", 0))
    seen_by_outer_hook: list[bytes] = []
    try:
        assert read_in_batches(proto)
        assert not read_in_batches(proto)  # once only
        inner = proto.datagram_received

        def outer(data: bytes, addr: Any) -> None:  # a hook set later sees the batch too
            seen_by_outer_hook.append(data)
            inner(data, addr)

        proto.datagram_received = outer  # type: ignore[method-assign]
        n = READ_BATCH * 2 + 5
        _burst(transport.get_extra_info("sockname")[:2], n)
        turns = await _turns_until(lambda: len(proto.data), n)
        assert 3 <= turns <= 6  # READ_BATCH per readable event, no more
        assert [int.from_bytes(d[2:4], "big") for d in proto.data] == list(range(n))
        assert seen_by_outer_hook == proto.data
    finally:
        transport.close()
    await _turns_until(lambda: int(proto.lost), 1)
