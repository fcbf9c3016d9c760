"""A real call between two aiortc RTCPeerConnections with frame encryption on.

It runs only inside a network namespace that has nothing but loopback (``make test``
runs the suite in one; the ``loopback_netns`` fixture fails the test anywhere else).
ICE uses no STUN/TURN servers and gathers 127.0.0.1 only (``use_loopback_ice``).
"""

from __future__ import annotations

import asyncio
import fractions
from pathlib import Path
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hotline.client.synthetic import PatternTrack
from hotline.crypto.kid import Slot, make_kid
from hotline.crypto.sframe import SFrameContext, SFrameSender
from hotline.rtc.aiortc_adapter import use_loopback_ice
from hotline.rtc.e2ee_sender import SendKeys
from hotline.rtc.media_e2ee import MediaE2ee

ROOT = Path(__file__).parents[2]
AUDIO_TIME_BASE = fractions.Fraction(1, 48000)
SENDER_ID = 3


# --------------------------------------------------------------------------- media


def _send_key(ctx: SFrameContext, keys: SendKeys, generation: int, key: bytes) -> None:
    senders = {}
    for slot in (Slot.AUDIO, Slot.VIDEO):
        kid = make_kid(SENDER_ID, generation, slot)
        ctx.add_encryption_key(kid, key)
        senders[slot] = SFrameSender(ctx, kid)
    keys.replace(senders)


def _receive_key(ctx: SFrameContext, generation: int, key: bytes) -> None:
    for slot in (Slot.AUDIO, Slot.VIDEO):
        ctx.add_decryption_key(make_kid(SENDER_ID, generation, slot), key)


class Collector:
    def __init__(self) -> None:
        self.frames: dict[str, list[Any]] = {"audio": [], "video": []}
        self.tasks: list[asyncio.Task[None]] = []

    def on_track(self, track: MediaStreamTrack) -> None:
        self.tasks.append(asyncio.ensure_future(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        try:
            while True:
                self.frames[track.kind].append(await track.recv())
        except MediaStreamError:  # the track ended
            pass

    async def wait(self, kind: str, count: int, timeout: float = 15.0) -> None:
        async def enough() -> None:
            while len(self.frames[kind]) < count:
                await asyncio.sleep(0.02)
        await asyncio.wait_for(enough(), timeout)


async def _call() -> None:
    config = RTCConfiguration(iceServers=[])
    alice, bob = RTCPeerConnection(config), RTCPeerConnection(config)
    alice_ctx, alice_keys = SFrameContext(), SendKeys()
    bob_ctx = SFrameContext()
    alice_e2ee, bob_e2ee = MediaE2ee(alice_ctx, alice_keys), MediaE2ee(bob_ctx)
    for pc, e2ee in ((alice, alice_e2ee), (bob, bob_e2ee)):
        use_loopback_ice(pc)
        e2ee.attach(pc)
    _send_key(alice_ctx, alice_keys, 0, b"k0" * 8)
    _receive_key(bob_ctx, 0, b"k0" * 8)

    collector = Collector()
    bob.on("track", collector.on_track)
    alice.addTrack(PatternTrack("video"))
    alice.addTrack(PatternTrack("audio"))
    try:
        await alice.setLocalDescription(await alice.createOffer())
        assert "a=candidate" in alice.localDescription.sdp
        for line in alice.localDescription.sdp.splitlines():
            if line.startswith("a=candidate"):
                assert " 127.0.0.1 " in line, line
        assert "H264" not in alice.localDescription.sdp  # only protected codecs offered
        await bob.setRemoteDescription(alice.localDescription)
        await bob.setLocalDescription(await bob.createAnswer())
        await alice.setRemoteDescription(bob.localDescription)

        await collector.wait("video", 10)
        await collector.wait("audio", 10)
        first = bob_e2ee.stats()
        assert first.frames_decrypted >= 20 and not first.decrypt_failures

        # rotation announced in order: bob has the key before alice uses it
        _receive_key(bob_ctx, 1, b"k1" * 8)
        bob_e2ee.keys_changed()
        _send_key(alice_ctx, alice_keys, 1, b"k1" * 8)
        seen = {k: len(v) for k, v in collector.frames.items()}
        await collector.wait("video", seen["video"] + 10)
        await collector.wait("audio", seen["audio"] + 10)
        assert not bob_e2ee.stats().decrypt_failures

        # rotation whose key message comes late: frames wait, then flow
        _send_key(alice_ctx, alice_keys, 2, b"k2" * 8)
        await asyncio.sleep(0.25)
        assert bob_e2ee.stats().frames_held > 0
        _receive_key(bob_ctx, 2, b"k2" * 8)
        assert bob_e2ee.keys_changed() > 0
        seen = {k: len(v) for k, v in collector.frames.items()}
        await collector.wait("video", seen["video"] + 10)
        await collector.wait("audio", seen["audio"] + 10)

        video = collector.frames["video"]
        assert all((f.width, f.height) == (320, 240) for f in video)
        assert all(f.sample_rate == 48000 for f in collector.frames["audio"])
        sent, got = alice_e2ee.stats(), bob_e2ee.stats()
        assert sent.frames_encrypted > 0 and not sent.encrypt_failures
        assert got.frames_decrypted >= len(video) + len(collector.frames["audio"])
        assert not got.decrypt_failures
    finally:
        await alice.close()
        await bob.close()
        for task in collector.tasks:
            task.cancel()


def test_e2ee_call(loopback_netns: None) -> None:
    asyncio.run(_call())
