"""A participant in an E2EE call: signaling, keys, and media through the SFU.

:class:`Call` joins a room with :class:`~hotline.client.signaling.SignalingClient`,
publishes its audio and video on one connection to the SFU and receives everyone
else's on another. Every frame is SFrame-encrypted before packetization and
decrypted after reassembly (:mod:`hotline.rtc.aiortc_e2ee`), with the keys the key
schedule installs. Per remote party it counts decrypted frames, failures and the
time from join to the first decrypted frame; it can record what it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import threading
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer, MediaRecorder, MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hotline.client.signaling import ClientEvent, SignalingClient, trust
from hotline.client.synthetic import PatternTrack
from hotline.crypto.callkey import Kem
from hotline.crypto.frames import Codec
from hotline.crypto.identity import Identity
from hotline.crypto.kid import Slot
from hotline.errors import ConfigError
from hotline.rtc import aiortc_adapter as adapter
from hotline.rtc.aiortc_e2ee import MediaE2ee, SendKeys, StreamDecryptor
from hotline.rtc.opus_fec import with_inband_fec
from hotline.signaling import messages as m

log = logging.getLogger("hotline.call")


class CountingSendKeys(SendKeys):
    """Counts frames per slot after they were encrypted."""

    def __init__(self) -> None:
        super().__init__()
        self._count_lock = threading.Lock()
        self.encrypted: dict[Slot, int] = {}

    def protect(self, slot: Slot, codec: Codec, frame: bytes) -> bytes:
        out = super().protect(slot, codec, frame)
        with self._count_lock:
            self.encrypted[slot] = self.encrypted.get(slot, 0) + 1
        return out


@dataclass
class RemoteStream:
    participant_id: int
    kind: str
    decryptor: StreamDecryptor
    first_frame_at: float | None = None
    frames_decoded: int = 0


@dataclass
class CallStats:
    group_code: str
    group_words: str
    participants: list[str]
    remote: dict[str, dict[str, Any]]
    sent: dict[str, int]
    key_messages_rejected: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"group_code": self.group_code, "group_words": self.group_words,
                "participants": self.participants, "remote": self.remote, "sent": self.sent,
                "key_messages_rejected": self.key_messages_rejected, **self.extra}


def _loopback_server(server: str) -> str | None:
    host = urllib.parse.urlsplit(server).hostname or ""
    try:
        return host if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return "127.0.0.1" if host == "localhost" else None


class Call:
    def __init__(self, server: str, identity: Identity, room: str, *,
                 kem: Kem = Kem.X25519, record_dir: Path | None = None,
                 media_file: Path | None = None, camera: str | None = None,
                 microphone: str | None = None, tls_ca: str | None = None,
                 video_size: tuple[int, int] = (320, 240),
                 join_request: m.HotlineJoin | None = None,
                 signaling: SignalingClient | None = None) -> None:
        self.server, self.room = server, room
        self.signaling = signaling if signaling is not None else SignalingClient(
            server, identity, kem=kem, ssl_context=trust(tls_ca))
        self.join_request = join_request
        self.send_keys = CountingSendKeys()
        self.e2ee: MediaE2ee | None = None
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.tracks: list[PatternTrack] = []
        self.streams: dict[str, RemoteStream] = {}  # by mid
        self.parties: dict[int, str] = {}
        self.record_dir = record_dir
        self.media_file = media_file
        self.camera, self.microphone = camera, microphone
        self.video_size = video_size
        self._players: list[MediaPlayer] = []
        self._relay = MediaRelay()
        self._recorders: dict[int, MediaRecorder] = {}
        self._record_tracks: dict[int, list[MediaStreamTrack]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._offers: asyncio.Queue[m.SubscribeOffer] = asyncio.Queue()
        self.joined_at = 0.0
        self.path_state = "new"  # of the connection that carries our media (via the SFU)
        self.setup_at: float | None = None  # loop time it first connected
        loopback = _loopback_server(server)
        if loopback is not None:
            adapter.use_host_addresses([loopback])

    # -- life cycle ------------------------------------------------------------------------

    async def start(self, *, enroll_code: str | None = None) -> None:
        """Connect, authenticate (or enroll), join, and start sending synthetic media."""
        sig = self.signaling
        await sig.connect()
        if enroll_code:
            await sig.enroll(enroll_code)
        else:
            await sig.authenticate()
        await self.enter()

    async def enter(self) -> None:
        """Join and publish on a connected, authenticated signaling client."""
        sig = self.signaling
        self.e2ee = MediaE2ee(sig.keys.context, self.send_keys)
        sig.keys.on_senders = self.send_keys.replace
        sig.on_keys_changed = self._keys_changed
        sig.on_subscribe_offer = self._offers.put_nowait
        self._spawn(self._answer_offers())
        loop = asyncio.get_running_loop()
        self.joined_at = loop.time()
        await sig.join(self.room, request=self.join_request)
        self.send_keys.replace(sig.keys.senders)
        if sig.role in m.LISTEN_ONLY:
            log.info("role %s listens only: nothing published", sig.role)
            return
        await self._publish()

    async def _publish(self) -> None:
        assert self.e2ee is not None
        pc = self.publish_pc = RTCPeerConnection(adapter.configuration())
        self.e2ee.attach(pc)
        for track in self._media_tracks():
            pc.addTransceiver(track, direction="sendonly")

        @pc.on("connectionstatechange")
        def _path() -> None:
            self.path_state = pc.connectionState
            if pc.connectionState == "connected":
                adapter.raise_buffers(pc)
                if self.setup_at is None:
                    self.setup_at = asyncio.get_running_loop().time()
            self.signaling.events.put_nowait(ClientEvent("path", {"via": "sfu",
                                                                  "state": pc.connectionState}))

        offer = await pc.createOffer()
        await pc.setLocalDescription(RTCSessionDescription(with_inband_fec(offer.sdp),
                                                           offer.type))
        assert pc.localDescription is not None
        answer = await self.signaling.publish(pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    def _media_tracks(self) -> list[MediaStreamTrack]:
        """What we send: a camera (v4l2) and/or microphone (ALSA), a media file (looped),
        or the synthetic test pattern and tone."""
        if self.camera is None and self.microphone is None and self.media_file is None:
            self.tracks = [PatternTrack("audio"), PatternTrack("video", self.video_size)]
            return list(self.tracks)
        tracks: list[MediaStreamTrack] = []
        if self.media_file is not None:
            player = self._player(str(self.media_file), loop=True)
            tracks += [t for t in (player.audio, player.video) if t is not None]
        if self.microphone is not None:
            audio = self._player(self.microphone, format="alsa").audio
            tracks += [audio] if audio is not None else []
        if self.camera is not None:
            video = self._player(self.camera, format="v4l2",
                                 options={"framerate": "30", "video_size": "640x480"}).video
            tracks += [video] if video is not None else []
        if not tracks:
            raise ConfigError("the chosen media has no audio or video")
        return tracks

    def _player(self, source: str, **kwargs: Any) -> MediaPlayer:
        try:
            player = MediaPlayer(source, **kwargs)
        except Exception as exc:  # av raises many kinds (no device, no permission, ...)
            raise ConfigError(f"cannot open {source}: {exc}") from None
        self._players.append(player)
        return player

    def _keys_changed(self) -> None:
        if self.e2ee is not None:
            self.e2ee.keys_changed()

    async def _answer_offers(self) -> None:
        while True:
            offer = await self._offers.get()
            try:
                await self._answer(offer)
            except Exception as exc:  # a bad offer must not end the call
                log.warning("subscribe offer failed: %s", exc)

    async def _answer(self, offer: m.SubscribeOffer) -> None:
        assert self.e2ee is not None
        if self.subscribe_pc is None:
            self.subscribe_pc = RTCPeerConnection(adapter.configuration())
            self.e2ee.attach(self.subscribe_pc)
            self.subscribe_pc.on("track", self._on_track)
            sub = self.subscribe_pc

            @sub.on("connectionstatechange")
            def _connected() -> None:
                if sub.connectionState == "connected":
                    adapter.raise_buffers(sub)
        pc = self.subscribe_pc
        await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        infos = {s.mid: s for s in offer.streams}
        for t in pc.getTransceivers():
            info = infos.get(str(t.mid))
            if info is not None and t.mid not in self.streams:
                self.streams[str(t.mid)] = RemoteStream(
                    info.participant_id, info.kind,
                    self.e2ee.protect_receiver(t.receiver, t.kind))
        answer = await pc.createAnswer()  # useinbandfec=1: we decode Opus FEC
        await pc.setLocalDescription(RTCSessionDescription(with_inband_fec(answer.sdp),
                                                           answer.type))
        assert pc.localDescription is not None
        self.signaling.answer_subscription(pc.localDescription.sdp)

    def _on_track(self, track: MediaStreamTrack) -> None:
        # aiortc fires this inside setRemoteDescription, before _answer has mapped the
        # new m-lines to their publishers: finish on the next turn of the loop.
        self._spawn(self._track_ready(track))

    async def _track_ready(self, track: MediaStreamTrack) -> None:
        await asyncio.sleep(0)
        assert self.subscribe_pc is not None
        mid = next((str(t.mid) for t in self.subscribe_pc.getTransceivers()
                    if t.receiver.track is track), None)
        stream = self.streams.get(mid) if mid is not None else None
        if stream is None:
            log.warning("track on an unknown m-line %s", mid)
            return
        if self.record_dir is not None:
            self._record(stream, track)
            track = self._relay.subscribe(track)
        self._spawn(self._consume(stream, track))

    async def _consume(self, stream: RemoteStream, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                if stream.first_frame_at is None:
                    stream.first_frame_at = loop.time()
                stream.frames_decoded += 1

    def _record(self, stream: RemoteStream, track: MediaStreamTrack) -> None:
        pid = stream.participant_id
        tracks = self._record_tracks.setdefault(pid, [])
        tracks.append(self._relay.subscribe(track))
        kinds = {s.kind for s in self.streams.values() if s.participant_id == pid}
        if len(tracks) == len(kinds) and pid not in self._recorders:
            assert self.record_dir is not None
            self.record_dir.mkdir(parents=True, exist_ok=True)
            name = self.signaling.names.get(pid, f"participant-{pid}")
            recorder = MediaRecorder(str(self.record_dir / f"{name}-{pid}.mkv"))
            for t in tracks:
                recorder.addTrack(t)
            self._recorders[pid] = recorder
            self._spawn(recorder.start())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for recorder in self._recorders.values():
            with contextlib.suppress(Exception):
                await recorder.stop()
        for task in list(self._tasks):
            task.cancel()
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await pc.close()
        with contextlib.suppress(Exception):
            if self.signaling.participant_id is not None:
                await asyncio.wait_for(self.signaling.leave(), 2)
        await self.signaling.close()

    # -- figures ---------------------------------------------------------------------------

    def stats(self) -> CallStats:
        names = self.signaling.names
        remote: dict[str, dict[str, Any]] = {}
        for s in self.streams.values():
            name = names.get(s.participant_id, f"participant-{s.participant_id}")
            r = remote.setdefault(name, {"participant_id": s.participant_id,
                                         "video_frames_decrypted": 0,
                                         "audio_frames_decrypted": 0,
                                         "decrypt_failures": 0, "first_frame_ms": None})
            r[f"{s.kind}_frames_decrypted"] += s.decryptor.decrypted
            r["decrypt_failures"] += sum(s.decryptor.dropped().values())
            if s.first_frame_at is not None:
                ms = round((s.first_frame_at - self.joined_at) * 1000, 1)
                r["first_frame_ms"] = ms if r["first_frame_ms"] is None else min(
                    r["first_frame_ms"], ms)
        code = self.signaling.code
        enc = self.send_keys.encrypted
        return CallStats(
            group_code=code.digits if code else "", group_words=code.words if code else "",
            participants=sorted(set(names.values())), remote=remote,
            sent={"video_frames": enc.get(Slot.VIDEO, 0), "audio_frames": enc.get(Slot.AUDIO, 0)},
            key_messages_rejected=self.signaling.rejected_key_messages)
