"""DTLS and SRTP are accepted only from the ICE-validated address (REQUIREMENTS E7).

During a real two-party call through the SFU, another local address (127.0.0.2, inside
the loopback-only namespace) sends the SFU's media sockets forged SRTP and SRTCP with the
publisher's real SSRC, a well-formed DTLS ClientHello, a plaintext DTLS close_notify
alert and junk. Every one is counted as foreign and dropped; the DTLS transport stays
connected with the same SRTP sessions, and the call keeps decrypting.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from OpenSSL import SSL

from hotline.client.call import Call
from hotline.rtc import aiortc_adapter as adapter
from hotline.server.app import STATE
from hotline.sfu.edge import SfuParticipant

from ..support.calls import calls_in_room
from ..support.server import Server

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]
FORGER = "127.0.0.2"


def client_hello() -> bytes:
    """A real DTLS 1.2 ClientHello, as any DTLS client would send first."""
    ctx = SSL.Context(SSL.DTLS_METHOD)
    conn = SSL.Connection(ctx, None)
    conn.set_connect_state()
    try:
        conn.do_handshake()
    except SSL.WantReadError:
        pass
    return conn.bio_read(4096)


def close_notify_alert() -> bytes:
    """A DTLS alert record (epoch 0, not encrypted): close_notify, warning level."""
    return struct.pack("!BHHIHH", 21, 0xFEFD, 0, 0, 7, 2) + b"\x01\x00"


def forged_srtp(ssrc: int, seq: int) -> bytes:
    return struct.pack("!BBHII", 0x80, 96, seq, seq * 960, ssrc) + os.urandom(120)


def forged_srtcp(ssrc: int) -> bytes:
    return struct.pack("!BBHII", 0x81, 201, 7, 0xAAAA, ssrc) + os.urandom(34)


def media_addresses(p: SfuParticipant) -> list[tuple[str, int]]:
    """The local addresses of the SFU's ICE sockets for this participant."""
    out = []
    for pc in (p.publish_pc, p.subscribe_pc):
        if pc is None:
            continue
        conn = adapter.dtls_transport(pc).transport._connection
        for proto in conn._protocols:
            if proto.transport is not None:
                out.append(proto.transport.get_extra_info("sockname")[:2])
    return out


@pytest_asyncio.fixture
async def call_pair(tmp_path: Path) -> AsyncIterator[tuple[Server, list[Call]]]:
    async with calls_in_room(tmp_path / "data", "summit", ["alice", "bob"],
                             join_timeout=5.0) as (srv, calls):
        yield srv, calls


def decrypted(calls: list[Call]) -> int:
    return sum(r["video_frames_decrypted"] + r["audio_frames_decrypted"]
               for c in calls for r in c.stats().remote.values())


async def wait_for_media(calls: list[Call], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if all(r["video_frames_decrypted"] > 10 for c in calls for r in c.stats().remote.values()
               ) and all(c.stats().remote for c in calls):
            return
        await asyncio.sleep(0.2)
    raise AssertionError("media did not start")


async def test_forged_dtls_and_srtp_from_another_address_change_nothing(
        call_pair: tuple[Server, list[Call]]) -> None:
    srv, calls = call_pair
    await wait_for_media(calls)
    sfu = srv.app[STATE].sfu
    participants = list(sfu.participants("summit").values())
    assert len(participants) == 2
    state: dict[int, Any] = {}
    for p in participants:
        assert p.publish_pc is not None and p.subscribe_pc is not None
        dtls = [adapter.dtls_transport(pc) for pc in (p.publish_pc, p.subscribe_pc)]
        state[p.participant_id] = [(d.state, d._rx_srtp, d._tx_srtp) for d in dtls]
    ssrcs = [s.ssrc for p in participants for s in p.router.published.values()]
    targets = [a for p in participants for a in media_addresses(p)]
    assert ssrcs and targets

    hello, alert = client_hello(), close_notify_alert()
    assert hello[0] == 22 and len(hello) > 60  # a handshake record
    frames_before = decrypted(calls)
    forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    forger.bind((FORGER, 0))
    sent = 0
    try:
        for round_ in range(20):
            for target in targets:
                datagrams = [hello, alert, os.urandom(80), forged_srtcp(ssrcs[0])]
                datagrams += [forged_srtp(ssrc, 1000 + round_) for ssrc in ssrcs]
                for d in datagrams:
                    forger.sendto(d, target)
                    sent += 1
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)
    finally:
        forger.close()

    foreign = sum(path.foreign_datagrams for p in participants
                  for path in (p.publish_path, p.subscribe_path))
    assert foreign == sent, f"{foreign} of {sent} forged datagrams counted as foreign"
    for p in participants:
        assert p.publish_path.srtp_errors == 0 and p.subscribe_path.srtp_errors == 0
        assert p.publish_path.handler_errors == 0
        assert p.publish_pc is not None and p.subscribe_pc is not None
        dtls = [adapter.dtls_transport(pc) for pc in (p.publish_pc, p.subscribe_pc)]
        assert [(d.state, d._rx_srtp, d._tx_srtp) for d in dtls] == state[p.participant_id]
        assert p.publish_pc.connectionState == "connected"
    for c in calls:
        assert c.path_state == "connected"
        for r in c.stats().remote.values():
            assert r["decrypt_failures"] <= 2
    assert decrypted(calls) > frames_before + 100  # the call went on
