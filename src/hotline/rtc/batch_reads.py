"""Read a media socket at the rate its datagrams come, not one per event-loop turn.

asyncio's datagram transport reads **one** datagram each time the event loop finds its
socket readable, that is once per turn of the loop. A client whose loop is busy (many
streams to decrypt and decode, a mix to make, or other work in the same process) turns
maybe 100 times a second; a subscribe connection brings a few hundred packets a second
(every audio stream 50, video more). The rest waits in the kernel's receive buffer, and
with the large buffers media sockets get (:data:`~hotline.rtc.aiortc_adapter.SOCKET_BUFFER`)
nothing is dropped: the queue only grows, and everything the connection carries comes
seconds late (measured: 1.4 s growing to 2.4 s in a nine-party call in one process), while
signaling (a channel change, a phase change) comes at once. :func:`read_in_batches` makes
each readable event read up to :data:`READ_BATCH` datagrams, so one busy turn no longer
caps a connection at one packet.

The datagrams read here go through the protocol's ``datagram_received`` as it is at that
moment (every hook on it sees them), in the order the kernel queued them.
"""

from __future__ import annotations

import os
import socket
from typing import Any

#: Datagrams read at most per readable event of one socket (the first by asyncio itself):
#: enough to empty a queue of a few hundred milliseconds of a busy connection in a few
#: turns, few enough that the loop's other sockets and callbacks still get their turn.
READ_BATCH = 64
MAX_DATAGRAM = 65536


def own_socket(transport: Any) -> socket.socket | None:
    """A non-blocking socket object on a duplicate of the transport's file descriptor
    (same queue, same address), or None if the transport does not expose one."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return None
    try:
        own = socket.socket(fileno=os.dup(sock.fileno()))
    except OSError:
        return None
    own.setblocking(False)
    return own


def read_in_batches(protocol: Any) -> bool:
    """Make ``protocol`` (an asyncio datagram protocol with its ``transport``, e.g. one
    of aioice's ICE sockets) read up to :data:`READ_BATCH` datagrams per readable event.
    Returns False if it cannot (no socket) or already does. The duplicate descriptor is
    closed when the transport is."""
    if getattr(protocol, "_hotline_batched", False):
        return False
    sock = own_socket(getattr(protocol, "transport", None))
    if sock is None:
        return False
    protocol._hotline_batched = True
    received = protocol.datagram_received
    lost = protocol.connection_lost
    draining = False

    def datagram_received(data: bytes, addr: Any) -> None:
        nonlocal draining
        received(data, addr)
        if draining:  # a datagram of the batch, back through the outer hooks
            return
        draining = True
        try:
            for _ in range(READ_BATCH - 1):
                try:
                    data, addr = sock.recvfrom(MAX_DATAGRAM)
                except OSError:  # empty (BlockingIOError), or closed: asyncio sees the rest
                    return
                protocol.datagram_received(data, addr)  # with whatever hooks it has now
        finally:
            draining = False

    def connection_lost(exc: Exception | None) -> None:
        sock.close()
        lost(exc)

    protocol.datagram_received = datagram_received
    protocol.connection_lost = connection_lost
    return True
