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
the first decrypted frame (:mod:`hotline.client.callstats`). It records nothing itself:
a recorder seat (:mod:`hotline.client.recording`) taps its tracks and writes only with the
principals' consent. When the media path dies it replaces its media connections (``media_restart``)
as :mod:`hotline.client.mediarestart` decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import urllib.parse
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from hotline.client.callstats import CallStats, CountingSendKeys, RemoteStream, call_stats
from hotline.client.channelcall import ChannelListener
from hotline.client.mediapath import DIRECT, VIA_SFU, PathShown, path_label
from hotline.client.mediarestart import Connection, MediaRestartPolicy
from hotline.client.mediasources import open_media
from hotline.client.paths import CallPaths
from hotline.client.pathswitch import Path as MediaPath
from hotline.client.relay import MediaRoute
from hotline.client.signaling import ClientEvent, SignalingClient, trust
from hotline.client.synthetic import PatternTrack
from hotline.client.trustpolicy import TrustPolicy
from hotline.crypto.callkey import Kem
from hotline.crypto.identity import Identity
from hotline.logtext import safe
from hotline.rtc import aiortc_adapter as adapter
from hotline.rtc.media_e2ee import MediaE2ee
from hotline.rtc.opus_fec import with_inband_fec
from hotline.signaling import messages as m

log = logging.getLogger("hotline.call")

#: How often the media path is checked (the thresholds are the policy's).
WATCH_INTERVAL = 0.25
_RESTART = "restart"  # in the offers queue: drop the connections, ask for new ones


def _loopback_server(server: str) -> str | None:
    host = urllib.parse.urlsplit(server).hostname or ""
    try:
        return host if ipaddress.ip_address(host).is_loopback else None
    except ValueError:
        return "127.0.0.1" if host == "localhost" else None


class Call(PathShown, ChannelListener):
    def __init__(self, server: str, identity: Identity, room: str, *,
                 kem: Kem = Kem.X25519,
                 media_file: Path | None = None, camera: str | None = None,
                 microphone: str | None = None, tls_ca: str | None = None,
                 video_size: tuple[int, int] = (320, 240),
                 join_request: m.HotlineJoin | None = None,
                 signaling: SignalingClient | None = None,
                 host_addresses: list[str] | None = None,
                 media_restart: bool = True,
                 trust_policy: TrustPolicy | None = None,
                 direct: bool = False, prefer_path: MediaPath = "direct",
                 direct_only: bool = False,
                 direct_addresses: list[str] | None = None,
                 relay_only: bool = False, use_relay: bool = True,
                 turn_ca: str | None = None,
                 listen: list[str] | tuple[str, ...] = (), floor_db: float | None = 0.0,
                 channel: str = "", mix: bool = False, mix_out: Path | None = None) -> None:
        self.server, self.room = server, room
        #: TURN (``relay_only``: media through TURN or not at all; ``use_relay`` False:
        #: never through TURN); the path shown
        self.route = MediaRoute(relay_only=relay_only, use_relay=use_relay,
                                tls=trust(turn_ca))
        self._init_path()
        self.signaling = signaling if signaling is not None else SignalingClient(
            server, identity, kem=kem, ssl_context=trust(tls_ca), trust=trust_policy)
        self.join_request = join_request
        #: Interpretation channels heard and the floor level; the channel we publish into
        #: (an interpreter); the mix of what we hear (hotline.client.channelcall).
        self._init_channels(listen, floor_db, channel, mix, mix_out)
        self.send_keys = CountingSendKeys()
        self.e2ee: MediaE2ee | None = None
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.tracks: list[PatternTrack] = []
        self.streams: dict[str, RemoteStream] = {}  # by mid
        self.parties: dict[int, str] = {}
        self.media_file = media_file
        self.camera, self.microphone = camera, microphone
        self.video_size = video_size
        self._players: list[MediaPlayer] = []
        #: Given each incoming decrypted track before it is consumed; returns the track to
        #: consume (hotline.client.recording, which writes only with consent).
        self.track_tap: Callable[[RemoteStream, MediaStreamTrack], MediaStreamTrack] | None = None
        #: Awaited by close() first (the recorder closes its file).
        self.on_close: Callable[[], Awaitable[None]] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._offers: asyncio.Queue[m.SubscribeOffer | m.MediaRestarted | str] = asyncio.Queue()
        self.joined_at = 0.0
        self.path_state = "new"  # of the connection that carries our media (via the SFU)
        self.setup_at: float | None = None  # loop time it first connected
        #: Addresses to gather ICE candidates on (None: every interface; given none, the
        #: server's loopback address if it has one); :meth:`set_host_addresses` changes
        #: them for later connections. Only this call's gathering: an SFU in the same
        #: process (tests) keeps its own media address.
        loopback = _loopback_server(server)
        self.host_addresses = host_addresses if host_addresses is not None or loopback is None \
            else [loopback]
        #: Media restarts (path loss): restart the connections when the path dies.
        self.auto_restart = media_restart
        self.media_restarts: list[dict[str, Any]] = []  # reason, requested_at, connected_at
        self.old_streams: list[RemoteStream] = []  # of connections dropped by a restart
        self._sending: list[MediaStreamTrack] = []
        self._publish_clock: adapter.ReceiveClock | None = None
        self._subscribe_clock: adapter.ReceiveClock | None = None
        #: When to restart the media (fed with loop time); it also counts the restarts
        #: queued and sent but not answered yet.
        self.restart_policy = MediaRestartPolicy()
        self.audio_times: deque[float] = deque(maxlen=100_000)  # decoded audio frames
        #: A direct path beside the SFU in a two-party room that allows it (hot standby;
        #: direct_only: the direct path alone, nothing published to the SFU).
        self.paths = CallPaths(self, prefer=prefer_path, direct_only=direct_only,
                               addresses=direct_addresses) if direct or direct_only else None

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
        if self.paths is not None:
            self.paths.listen()
        await sig.join(self.room, request=self.join_request)
        if sig.pin_failure is not None:  # a hotline's far end is not the pinned key
            raise sig.pin_failure
        self.send_keys.replace(sig.keys.senders)
        self.restart_policy.start(loop.time())
        self._spawn(self._watch_path())
        await self._enter_channels()
        if self.paths is not None and sig.role not in m.LISTEN_ONLY:
            self.paths.start()
            if self.paths.direct_only:
                return  # nothing published to the SFU
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
        if changed and self.auto_restart:
            self.restart_policy.address_change()
            self._check_path()

    async def _publish(self) -> None:
        assert self.e2ee is not None
        pc = self.publish_pc = await self.route.connection(self.signaling.ice_servers)
        self._connection_state("publish", pc)
        self.e2ee.attach(pc)
        sending = self.sending_tracks()
        if self.paths is not None:
            sending = self.paths.tracks("sfu", sending)  # while the SFU path is active
        for track in sending:  # the same tracks after a media restart
            pc.addTransceiver(track, direction="sendonly")

        @pc.on("connectionstatechange")
        def _path() -> None:
            if pc is not self.publish_pc:
                return  # dropped by a media restart
            self.path_state = pc.connectionState
            if pc.connectionState == "connected":
                adapter.raise_buffers(pc)
                if self.paths is None or self.paths.policy.active in (None, "sfu"):
                    self.set_path(self.path_label("sfu"))
            self.signaling.events.put_nowait(ClientEvent("path", {"via": "sfu",
                                                                  "state": pc.connectionState}))
            self._connection_state("publish", pc)

        with adapter.gathering_on(self.host_addresses):
            offer = await pc.createOffer()
            await pc.setLocalDescription(RTCSessionDescription(with_inband_fec(offer.sdp),
                                                               offer.type))
        if pc is self.publish_pc:
            self._publish_clock = adapter.watch_received(pc)
        assert pc.localDescription is not None
        answer = await self.signaling.publish(pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))

    def sending_tracks(self) -> list[MediaStreamTrack]:
        """What we send (made on first use)."""
        if not self._sending:
            self._sending = self._media_tracks()
        return self._sending

    def path_label(self, active: MediaPath) -> str:
        """What path ``active`` is called where people see it: "via SFU" or "relay over
        X" for the SFU path (from its selected ICE pair), "direct" or "direct, relayed over
        X" for the direct one."""
        if active == "sfu":
            pc = self.publish_pc or self.subscribe_pc
            return (self.route.label(pc) if pc is not None else "") or VIA_SFU
        link = self.paths.link if self.paths is not None else None
        pair = adapter.selected_pair(link.pc) if link is not None else None
        return path_label("direct", *pair) if pair is not None else DIRECT

    def _media_connected(self, now: float) -> None:
        """The connection that carries our media connected (first since it was made)."""
        if self.setup_at is None:
            self.setup_at = now
        if self.media_restarts and self.media_restarts[-1]["connected_at"] is None:
            self.media_restarts[-1]["connected_at"] = now
            self.signaling.events.put_nowait(ClientEvent("media_restored", {
                "after_s": round(now - self.media_restarts[-1]["requested_at"], 2)}))

    # -- path loss: media restart ------------------------------------------------------------

    def _connection_state(self, conn: Connection, pc: RTCPeerConnection) -> None:
        """A media connection was made or changed state: tell the policy, ask it."""
        now = asyncio.get_running_loop().time()
        was = self.restart_policy.connected
        self.restart_policy.connection(conn, pc.connectionState, now)
        if not was and self.restart_policy.connected:
            self._media_connected(now)
        if self.paths is not None and conn == "publish":
            self.paths.sfu_state(pc.connectionState, now)
        self._check_path()

    def _check_path(self) -> None:
        """Restart the media if the policy says so (what was received, noted first)."""
        policy = self.restart_policy
        clocks: list[tuple[Connection, adapter.ReceiveClock | None]] = [
            ("publish", self._publish_clock), ("subscribe", self._subscribe_clock)]
        for conn, clock in clocks:
            if clock is not None:
                policy.media(conn, clock.last)
        decision = policy.decide(asyncio.get_running_loop().time())
        if decision is not None and self.auto_restart:
            self.restart_media(decision.text)

    async def _watch_path(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL)
            self._check_path()

    def restart_media(self, reason: str = "requested") -> None:
        """Replace our media connections with the SFU (publish and subscribe) by new
        ones, in the same seat and with the same keys: ``media_restart``."""
        if self.restart_policy.queued:
            return  # one is on its way (and will use the current addresses)
        now = asyncio.get_running_loop().time()
        log.warning("media path lost (%s): restarting media", reason)
        self.media_restarts.append({"reason": reason, "requested_at": now,
                                    "connected_at": None})
        self.restart_policy.restart(now)
        self.path_state = "reconnecting media"
        self.signaling.events.put_nowait(ClientEvent("media_restart", {"reason": reason}))
        self._offers.put_nowait(_RESTART)  # after the offers already queued

    async def _send_restart(self) -> None:
        old = [pc for pc in (self.publish_pc, self.subscribe_pc) if pc is not None]
        self.publish_pc = self.subscribe_pc = None
        self._publish_clock = self._subscribe_clock = None
        self.old_streams.extend(self.streams.values())
        self.streams.clear()
        self.restart_policy.restart_sent(asyncio.get_running_loop().time())
        self.route.forget()
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
        """What we send (:func:`~hotline.client.mediasources.open_media`)."""
        media = open_media(camera=self.camera, microphone=self.microphone,
                           media_file=self.media_file, video_size=self.video_size)
        self.tracks, self._players = media.patterns, media.players
        return media.tracks

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
                if self.restart_policy.restarted(asyncio.get_running_loop().time()):
                    self._spawn(self._republish())
                continue
            if self.restart_policy.pending or not isinstance(offer, m.SubscribeOffer):
                continue  # for the connection the restart dropped
            try:
                await self._answer(offer)
            except Exception as exc:  # a bad offer must not end the call
                log.warning("subscribe offer failed: %s", safe(exc))

    async def _answer(self, offer: m.SubscribeOffer) -> None:
        assert self.e2ee is not None
        if self.subscribe_pc is None:
            sub = self.subscribe_pc = await self.route.connection(self.signaling.ice_servers)
            self._connection_state("subscribe", sub)
            self.e2ee.attach(sub)
            sub.on("track", self._on_track)

            @sub.on("connectionstatechange")
            def _state() -> None:
                if sub is not self.subscribe_pc:
                    return  # dropped by a media restart
                if sub.connectionState == "connected":
                    adapter.raise_buffers(sub)
                    if self.publish_pc is None:  # listening only: this is our path
                        self.path_state = "connected"
                        self.set_path(self.route.label(sub))
                self._connection_state("subscribe", sub)
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
        if self.track_tap is not None:
            track = self.track_tap(stream, track)
        self.consume_track(stream, track)

    def consume_track(self, stream: RemoteStream, track: MediaStreamTrack) -> None:
        """Decode (and count) an incoming track's frames from now on."""
        self._spawn(self._consume(stream, track))

    async def _consume(self, stream: RemoteStream, track: MediaStreamTrack) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if stream.kind == "audio" and self.mix is not None:
                    self.mix.push(stream.participant_id, frame)  # type: ignore[arg-type]
                if stream.first_frame_at is None:
                    stream.first_frame_at = loop.time()
                stream.frames_decoded += 1
                stream.last_frame_at = loop.time()
                if stream.kind == "audio":
                    self.audio_times.append(stream.last_frame_at)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        self.auto_restart = False  # connections closed from here on are no path loss
        if self.on_close is not None:
            await self.on_close()
        for task in list(self._tasks):
            task.cancel()
        self._close_channels()
        if self.paths is not None:
            await self.paths.close()
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await _close_quietly(pc)
        with contextlib.suppress(Exception):
            if self.signaling.participant_id is not None:
                await asyncio.wait_for(self.signaling.leave(), 2)
        await self.signaling.close()

    # -- phases (L3): open, or closed to the press ---------------------------------------

    @property
    def phase(self) -> m.Phase:
        """"open" or "closed", as this client believes it (hotline.client.phase)."""
        return self.signaling.phases.phase

    @property
    def phase_changes(self) -> list[tuple[float, m.Phase]]:
        """Every phase change this client took: (loop time, phase)."""
        return self.signaling.phases.changes

    @property
    def on_phase_change(self) -> Callable[[m.Phase], None] | None:
        return self.signaling.phases.on_change

    @on_phase_change.setter
    def on_phase_change(self, callback: Callable[[m.Phase], None] | None) -> None:
        self.signaling.phases.on_change = callback

    async def set_phase(self, phase: m.Phase) -> None:
        """Close the call (the press is shown out) or reopen it (signed by this device:
        only a principal's reopening is believed); principals and operators may."""
        await self.signaling.set_phase(phase)

    # -- figures ---------------------------------------------------------------------------

    async def direct_figures(self) -> dict[str, float | None] | None:
        """The direct connection's figures: ``setup_ms`` (start -> connected), ``rtt_ms``,
        ``loss`` (fraction, far end -> us) and ``jitter_ms``; None without one."""
        return None if self.paths is None else await self.paths.direct_figures()

    def stats(self) -> CallStats:
        return call_stats(self.signaling, self.send_keys,
                          [*self.old_streams, *self.streams.values(),
                           *(self.paths.streams() if self.paths is not None else [])],
                          self.joined_at,
                          len(self.media_restarts))


async def _close_quietly(pc: RTCPeerConnection) -> None:
    """Close a connection whose path may be dead; never raises."""
    try:
        await asyncio.wait_for(pc.close(), 5.0)
    except Exception as exc:
        log.info("closing a media connection failed: %r", exc)
