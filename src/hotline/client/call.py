"""A participant in an E2EE call: signaling, keys, and media through the SFU.

:class:`Call` joins a room with :class:`~hotline.client.signaling.SignalingClient`,
publishes its audio and video on one connection to the SFU and receives everyone
else's on another. Every frame is SFrame-encrypted before packetization and
decrypted after reassembly (:mod:`hotline.rtc.media_e2ee`), with the keys the key
schedule installs. Each received stream is bound to the participant the subscribe offer
attributes it to: frames of anyone else in it are dropped and counted
(``wrong_stream_frames``), never decoded. Frames of a member this device has not
verified have no key on purpose and are counted apart (``unverified_frames``), not as
failures. Per remote party it counts decrypted frames, failures and the time from join to
the first decrypted frame; it can record what it receives.
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
from hotline.client.trustpolicy import TrustPolicy
from hotline.crypto.callkey import Kem
from hotline.crypto.frames import Codec
from hotline.crypto.identity import Identity
from hotline.crypto.kid import WRONG_PARTICIPANT, WRONG_SLOT, Slot
from hotline.errors import ConfigError
from hotline.logtext import safe
from hotline.rtc import aiortc_adapter as adapter
from hotline.rtc.e2ee_sender import SendKeys
from hotline.rtc.e2ee_stats import UNVERIFIED
from hotline.rtc.media_e2ee import MediaE2ee
from hotline.rtc.opus_fec import with_inband_fec
from hotline.rtc.stream_decryptor import StreamDecryptor
from hotline.signaling import messages as m

log = logging.getLogger("hotline.call")

#: The SFU sends a receiver report every second on the publish connection: nothing at
#: all received on it for this long means the path is dead.
DEAD_AFTER = 3.0
#: Listening only (no publish connection): media, or at least the SFU's consent checks
#: (every 1.6-2.4 s), arrive on the subscribe connection.
DEAD_AFTER_LISTENING = 6.0
#: New connections not up this long after a media restart are restarted again.
SETUP_TIMEOUT = 6.0
WATCH_INTERVAL = 0.25
_RESTART = "restart"  # in the offers queue: drop the connections, ask for new ones


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
    #: Members this device has not verified (no key sealed to them): party, fingerprint,
    #: verdict (new_party, new_device, changed, refused, unpinned).
    unverified: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"group_code": self.group_code, "group_words": self.group_words,
                "participants": self.participants, "remote": self.remote, "sent": self.sent,
                "key_messages_rejected": self.key_messages_rejected,
                "unverified": self.unverified, **self.extra}


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
                 signaling: SignalingClient | None = None,
                 host_addresses: list[str] | None = None,
                 media_restart: bool = True,
                 trust_policy: TrustPolicy | None = None) -> None:
        self.server, self.room = server, room
        self.signaling = signaling if signaling is not None else SignalingClient(
            server, identity, kem=kem, ssl_context=trust(tls_ca), trust=trust_policy)
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
        self._offers: asyncio.Queue[m.SubscribeOffer | m.MediaRestarted | str] = asyncio.Queue()
        self.joined_at = 0.0
        self.path_state = "new"  # of the connection that carries our media (via the SFU)
        self.setup_at: float | None = None  # loop time it first connected
        #: Addresses to gather ICE candidates on (None: the server's loopback address, or
        #: every interface); :meth:`set_host_addresses` changes them for later connections.
        self.host_addresses = host_addresses
        #: Media restarts (path loss): restart the connections when the path dies.
        self.auto_restart = media_restart
        self.media_restarts: list[dict[str, Any]] = []  # reason, requested_at, connected_at
        self.old_streams: list[RemoteStream] = []  # of connections dropped by a restart
        self._sending: list[MediaStreamTrack] = []
        self._publish_clock: adapter.ReceiveClock | None = None
        self._subscribe_clock: adapter.ReceiveClock | None = None
        self._media_since: float | None = None  # loop time the current connections started
        self._connected_at: float | None = None  # ... and when they connected
        self._restart_queued = False
        self._restarts_pending = 0  # media_restart sent, media_restarted not yet back
        loopback = _loopback_server(server)
        if loopback is not None and host_addresses is None:
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
        self.e2ee = MediaE2ee(sig.keys.context, self.send_keys,
                              withheld=lambda pid: pid in sig.unverified)
        sig.keys.on_senders = self.send_keys.replace
        sig.on_keys_changed = self._keys_changed
        sig.on_subscribe_offer = self._offers.put_nowait
        self._spawn(self._answer_offers())
        loop = asyncio.get_running_loop()
        self.joined_at = loop.time()
        await sig.join(self.room, request=self.join_request)
        if sig.pin_failure is not None:  # a hotline's far end is not the pinned key
            raise sig.pin_failure
        self.send_keys.replace(sig.keys.senders)
        self._media_since = loop.time()
        self._spawn(self._watch_path())
        if sig.role in m.LISTEN_ONLY:
            log.info("role %s listens only: nothing published", sig.role)
            return
        await self._publish()

    def set_host_addresses(self, addresses: list[str] | None) -> None:
        """Our addresses changed (the network moved us): gather on ``addresses`` from now
        on, and restart the media at once if they differ (the old path may be gone)."""
        new = None if addresses is None else list(addresses)
        changed = new != self.host_addresses
        self.host_addresses = new
        if changed and self._media_since is not None and self.auto_restart:
            self.restart_media("address change")

    async def _publish(self) -> None:
        assert self.e2ee is not None
        pc = self.publish_pc = RTCPeerConnection(adapter.configuration())
        self.e2ee.attach(pc)
        if not self._sending:
            self._sending = self._media_tracks()
        for track in self._sending:  # the same tracks after a media restart
            pc.addTransceiver(track, direction="sendonly")

        @pc.on("connectionstatechange")
        def _path() -> None:
            if pc is not self.publish_pc:
                return  # dropped by a media restart
            self.path_state = pc.connectionState
            if pc.connectionState == "connected":
                adapter.raise_buffers(pc)
                self._media_connected()
            self.signaling.events.put_nowait(ClientEvent("path", {"via": "sfu",
                                                                  "state": pc.connectionState}))

        with adapter.gathering_on(self.host_addresses):
            offer = await pc.createOffer()
            await pc.setLocalDescription(RTCSessionDescription(with_inband_fec(offer.sdp),
                                                               offer.type))
        if pc is self.publish_pc:
            self._publish_clock = adapter.watch_received(pc)
        assert pc.localDescription is not None
        answer = await self.signaling.publish(pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    def _media_connected(self) -> None:
        now = asyncio.get_running_loop().time()
        if self.setup_at is None:
            self.setup_at = now
        if self._connected_at is None:
            self._connected_at = now
            if self.media_restarts and self.media_restarts[-1]["connected_at"] is None:
                self.media_restarts[-1]["connected_at"] = now
                self.signaling.events.put_nowait(ClientEvent("media_restored", {
                    "after_s": round(now - self.media_restarts[-1]["requested_at"], 2)}))

    # -- path loss: media restart ------------------------------------------------------------

    def _path_dead(self, now: float) -> str | None:
        """Why the current media connections are to be replaced, or None."""
        if self._media_since is None or self._restart_queued:
            return None
        if self._restarts_pending:
            return ("no media_restarted from the server" if now - self._media_since
                    > SETUP_TIMEOUT else None)
        pcs = [pc for pc in (self.publish_pc, self.subscribe_pc) if pc is not None]
        if not pcs:
            return None  # listening only, and nobody publishes yet: nothing to watch
        for pc in pcs:
            if pc.connectionState in ("failed", "closed"):
                return f"media connection {pc.connectionState}"
        if self._connected_at is None:
            return ("media connections not up" if now - self._media_since > SETUP_TIMEOUT
                    else None)
        if self.publish_pc is not None and self._publish_clock is not None:
            quiet, limit = now - self._publish_clock.last, DEAD_AFTER
        elif self.subscribe_pc is not None and self._subscribe_clock is not None:
            quiet, limit = now - self._subscribe_clock.last, DEAD_AFTER_LISTENING
        else:
            return None
        return f"nothing received for {quiet:.1f} s" if quiet > limit else None

    async def _watch_path(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            reason = self._path_dead(loop.time()) if self.auto_restart else None
            if reason is not None:
                self.restart_media(reason)

    def restart_media(self, reason: str = "requested") -> None:
        """Replace our media connections with the SFU (publish and subscribe) by new
        ones, in the same seat and with the same keys: ``media_restart``."""
        if self._restart_queued:
            return  # one is on its way (and will use the current addresses)
        now = asyncio.get_running_loop().time()
        log.warning("media path lost (%s): restarting media", reason)
        self.media_restarts.append({"reason": reason, "requested_at": now,
                                    "connected_at": None})
        self._media_since, self._connected_at = now, None
        self._restart_queued = True
        self.path_state = "reconnecting media"
        self.signaling.events.put_nowait(ClientEvent("media_restart", {"reason": reason}))
        self._offers.put_nowait(_RESTART)  # after the offers already queued

    async def _send_restart(self) -> None:
        old = [pc for pc in (self.publish_pc, self.subscribe_pc) if pc is not None]
        self.publish_pc = self.subscribe_pc = None
        self._publish_clock = self._subscribe_clock = None
        self.old_streams.extend(self.streams.values())
        self.streams.clear()
        self._restarts_pending += 1
        self._restart_queued = False
        self._media_since = asyncio.get_running_loop().time()
        self.signaling.request_media_restart(self.media_restarts[-1]["reason"]
                                             if self.media_restarts else "")
        for pc in old:
            self._spawn(_close_quietly(pc))

    async def _republish(self) -> None:
        if self.signaling.role in m.LISTEN_ONLY:
            return  # the SFU's new subscribe offer is all
        try:
            await self._publish()
        except Exception as exc:  # the watchdog tries again
            log.warning("publishing after a media restart failed: %s", safe(exc))

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
        """Subscribe offers, media restarts and their answers, strictly in order: an
        offer of a connection we dropped is never answered after ``media_restart``."""
        while True:
            offer = await self._offers.get()
            if offer == _RESTART:
                await self._send_restart()
                continue
            if isinstance(offer, m.MediaRestarted):
                self._restarts_pending = max(0, self._restarts_pending - 1)
                if not self._restarts_pending:
                    self._media_since = asyncio.get_running_loop().time()
                    self._spawn(self._republish())
                continue
            if self._restarts_pending or not isinstance(offer, m.SubscribeOffer):
                continue  # for the connection the restart dropped
            try:
                await self._answer(offer)
            except Exception as exc:  # a bad offer must not end the call
                log.warning("subscribe offer failed: %s", safe(exc))

    async def _answer(self, offer: m.SubscribeOffer) -> None:
        assert self.e2ee is not None
        if self.subscribe_pc is None:
            self.subscribe_pc = RTCPeerConnection(adapter.configuration())
            self.e2ee.attach(self.subscribe_pc)
            self.subscribe_pc.on("track", self._on_track)
            sub = self.subscribe_pc

            @sub.on("connectionstatechange")
            def _connected() -> None:
                if sub.connectionState == "connected" and sub is self.subscribe_pc:
                    adapter.raise_buffers(sub)
                    if self.publish_pc is None:  # listening only: this is our path
                        self.path_state = "connected"
                        self._media_connected()
        pc = self.subscribe_pc
        first = pc.localDescription is None
        await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
        infos = {s.mid: s for s in offer.streams}
        for t in pc.getTransceivers():
            # Each stream is bound to the participant the offer attributes it to: only
            # that participant's frames of the m-line's kind are decrypted (the rest are
            # dropped and counted); one the offer does not attribute is bound to nobody.
            # No await since setRemoteDescription: bound before any of its media.
            info = infos.get(str(t.mid))
            decryptor = self.e2ee.protect_receiver(t.receiver, t.kind)
            if t.mid in self.streams:
                continue  # bound when it came (a later offer cannot relabel it)
            decryptor.bind(info.participant_id if info is not None else -1)
            if info is not None:
                self.streams[str(t.mid)] = RemoteStream(info.participant_id, t.kind, decryptor)
        with adapter.gathering_on(self.host_addresses):
            answer = await pc.createAnswer()  # useinbandfec=1: we decode Opus FEC
            await pc.setLocalDescription(RTCSessionDescription(with_inband_fec(answer.sdp),
                                                               answer.type))
        if first and pc is self.subscribe_pc:
            self._subscribe_clock = adapter.watch_received(pc)
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
            log.warning("track on an unknown m-line %s", safe(mid))
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
                await _close_quietly(pc)
        with contextlib.suppress(Exception):
            if self.signaling.participant_id is not None:
                await asyncio.wait_for(self.signaling.leave(), 2)
        await self.signaling.close()

    # -- figures ---------------------------------------------------------------------------

    def stats(self) -> CallStats:
        names = self.signaling.names
        remote: dict[str, dict[str, Any]] = {}
        for s in [*self.old_streams, *self.streams.values()]:
            name = names.get(s.participant_id, f"participant-{s.participant_id}")
            r = remote.setdefault(name, {"participant_id": s.participant_id,
                                         "video_frames_decrypted": 0,
                                         "audio_frames_decrypted": 0,
                                         "decrypt_failures": 0, "first_frame_ms": None,
                                         "wrong_stream_frames": 0, "unverified_frames": 0})
            r[f"{s.kind}_frames_decrypted"] += s.decryptor.decrypted
            dropped = s.decryptor.dropped()
            # frames of a member not verified here: no key on purpose, not a failure
            r["unverified_frames"] += dropped.pop(UNVERIFIED, 0)
            r["decrypt_failures"] += sum(dropped.values())
            # frames of another participant (or kind) in this participant's stream
            r["wrong_stream_frames"] += (dropped.get(WRONG_PARTICIPANT, 0)
                                         + dropped.get(WRONG_SLOT, 0))
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
            key_messages_rejected=self.signaling.rejected_key_messages,
            unverified=[{"participant_id": p.participant_id, "party": p.party,
                         "fingerprint": p.fingerprint, "verdict": p.verdict.value}
                        for p in self.signaling.unverified.values()],
            extra={"media_restarts": len(self.media_restarts)} if self.media_restarts else {})


async def _close_quietly(pc: RTCPeerConnection) -> None:
    """Close a connection whose path may be dead; never raises."""
    try:
        await asyncio.wait_for(pc.close(), 5.0)
    except Exception as exc:
        log.info("closing a media connection failed: %r", exc)
