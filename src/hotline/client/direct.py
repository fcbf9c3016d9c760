"""The direct (peer-to-peer) media connection of a two-party call, and the sending gates.

:class:`DirectLink` is one ``RTCPeerConnection`` to the far end (audio and video, both
ways; DTLS-SRTP as every WebRTC connection), set up with ``direct_signal`` through the
server (docs/SIGNALING.md "A direct connection between two members"). It carries the
SAME SFrame layer as the connections to the SFU: it is attached to the call's one
:class:`~hotline.rtc.media_e2ee.MediaE2ee`, so its senders encrypt with the call's one
:class:`~hotline.rtc.e2ee_sender.SendKeys` (one SFrame sender per slot, one counter: a
frame is never encrypted twice under one key and counter, whichever path sends it), and
its receivers decrypt with the call's keys. Both of its incoming streams are bound to
the far party (:meth:`StreamDecryptor.bind`): a frame of anyone else is dropped and
counted, never decoded, as for the SFU's streams.

:class:`GatedTrack` is what a path's senders read: the frames of the call's source track
while that path is the active one (:mod:`hotline.client.pathswitch`), none otherwise, so
media goes out on one path at a time while both stay up.

The lower participant id of the two offers; aiortc puts its candidates in the SDP (no
trickle), a trickled candidate from a browser is added as it comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamTrack
from aiortc.sdp import candidate_from_sdp

from hotline.client.callstats import RemoteStream
from hotline.client.signaling import SignalingClient
from hotline.logtext import safe
from hotline.rtc import aiortc_adapter as adapter
from hotline.rtc.media_e2ee import MediaE2ee
from hotline.rtc.opus_fec import with_inband_fec
from hotline.signaling import messages as m

log = logging.getLogger("hotline.direct")
CLOCK_RATE = {"audio": 48000, "video": 90000}  # RTP clocks of Opus and VP8 (jitter units)


class GatedTrack(MediaStreamTrack):
    """The frames of ``source`` while ``is_open()`` says so; the others are dropped."""

    def __init__(self, source: MediaStreamTrack, is_open: Callable[[], bool]) -> None:
        super().__init__()
        self.kind = source.kind
        self._source = source
        self._open = is_open

    async def recv(self) -> Any:
        while True:
            frame = await self._source.recv()
            if self._open():
                return frame


class DirectLink:
    """One direct connection to participant ``far`` (see the module's docstring)."""

    def __init__(self, signaling: SignalingClient, e2ee: MediaE2ee, far: int,
                 tracks: list[MediaStreamTrack], *, addresses: list[str] | None,
                 on_state: Callable[[DirectLink], None],
                 on_track: Callable[[RemoteStream, MediaStreamTrack], None]) -> None:
        self.signaling, self.e2ee, self.far = signaling, e2ee, far
        self.addresses = addresses
        self._on_state, self._on_track = on_state, on_track
        loop = asyncio.get_running_loop()
        self.started_at = loop.time()
        self.connected_at: float | None = None
        self.streams: list[RemoteStream] = []
        self.closed = False
        pc = self.pc = RTCPeerConnection(adapter.configuration())
        e2ee.attach(pc)
        for track in tracks:  # added before any description: VP8/Opus whatever the offer
            t = pc.addTransceiver(track, direction="sendrecv")
            decryptor = e2ee.protect_receiver(t.receiver, t.kind)
            decryptor.bind(far)  # before any of its media: the far party's frames only
            self.streams.append(RemoteStream(far, t.kind, decryptor))
        pc.on("track", self._track)
        pc.on("connectionstatechange", self._state)

    @property
    def state(self) -> str:
        return "closed" if self.closed else str(self.pc.connectionState)

    @property
    def setup_s(self) -> float | None:
        """Seconds from its start to connected (None: not yet)."""
        return None if self.connected_at is None else self.connected_at - self.started_at

    def _state(self) -> None:
        if self.closed:
            return
        if self.pc.connectionState == "connected" and self.connected_at is None:
            self.connected_at = asyncio.get_running_loop().time()
            adapter.raise_buffers(self.pc)
        self._on_state(self)

    def _track(self, track: MediaStreamTrack) -> None:
        for t, stream in zip(self.pc.getTransceivers(), self.streams, strict=False):
            if t.receiver.track is track:
                self._on_track(stream, track)
                return
        log.warning("direct: a track on an unknown m-line: ignored")

    async def _set_local(self, description: RTCSessionDescription) -> None:
        with adapter.gathering_on(self.addresses):
            await self.pc.setLocalDescription(
                RTCSessionDescription(with_inband_fec(description.sdp), description.type))
        local = self.pc.localDescription
        assert local is not None
        signal = (m.DirectDescription(kind="offer", sdp=local.sdp) if local.type == "offer"
                  else m.DirectDescription(kind="answer", sdp=local.sdp))
        self.signaling.send_direct(self.far, description=signal)

    async def offer(self) -> None:
        """Start it: our offer to the far end."""
        await self._set_local(await self.pc.createOffer())

    async def receive(self, msg: m.DirectFrom) -> None:
        """A signal of the far end: its offer (answered), its answer, or a candidate."""
        if self.closed:
            return
        if msg.description is not None:
            await self.pc.setRemoteDescription(RTCSessionDescription(
                msg.description.sdp, msg.description.kind))
            if msg.description.kind == "offer":
                await self._set_local(await self.pc.createAnswer())
        elif msg.candidate is not None and msg.candidate.candidate:
            candidate = candidate_from_sdp(msg.candidate.candidate.removeprefix("candidate:"))
            candidate.sdpMid = msg.candidate.sdp_mid
            candidate.sdpMLineIndex = msg.candidate.sdp_m_line_index
            if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
                candidate.sdpMLineIndex = 0
            await self.pc.addIceCandidate(candidate)

    def sender(self, kind: str) -> Any:
        return next((t.sender for t in self.pc.getTransceivers() if t.kind == kind), None)

    async def figures(self) -> dict[str, float | None]:
        """Its figures, as a link test measures the SFU path's
        (:func:`hotline.client.hotline.linktest.measure`): ``setup_ms`` (start ->
        connected), ``rtt_ms`` (RTCP round trip, the largest of our senders'), ``loss``
        (fraction of the far end's packets lost) and ``jitter_ms`` (the largest of its
        streams'), from the connection's stats."""
        out: dict[str, float | None] = {"setup_ms": None if self.setup_s is None
                                        else round(self.setup_s * 1000, 1),
                                        "rtt_ms": None, "loss": None, "jitter_ms": None}
        try:
            report = list((await self.pc.getStats()).values())
        except Exception as exc:  # a closed connection has none
            log.info("direct: no stats: %s", safe(exc))
            return out
        inbound = [s for s in report if s.type == "inbound-rtp"]
        received = sum(s.packetsReceived for s in inbound)
        lost = sum(max(0, s.packetsLost) for s in inbound)
        jitters = [s.jitter / CLOCK_RATE.get(s.kind, 90000) * 1000 for s in inbound]
        rtts = [s.roundTripTime * 1000 for s in report
                if s.type == "remote-inbound-rtp" and s.roundTripTime is not None]
        out["rtt_ms"] = round(max(rtts), 2) if rtts else None
        out["loss"] = round(lost / (lost + received), 4) if received + lost else None
        out["jitter_ms"] = round(max(jitters), 2) if jitters else None
        return out

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), 5.0)
