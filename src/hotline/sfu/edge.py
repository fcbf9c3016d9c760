"""The SFU's I/O edge: WebRTC connections per participant, feeding the pure router.

Each participant has up to two connections with the SFU, both negotiated over the
signaling WebSocket:

* **publish**: the client offers its audio and video (sendonly); the SFU answers,
  accepting Opus and VP8 only (the codecs with an E2EE frame layout);
* **subscribe**: the SFU offers one sendonly m-line per stream published by the
  others, renegotiating as publishers arrive; the client answers.

aiortc does SDP, ICE and DTLS; media bypasses it (:mod:`hotline.rtc.raw_media`):
datagrams come straight from the socket, are SRTP-decrypted, routed by
:mod:`hotline.sfu.forwarding` on raw bytes, re-encrypted per subscriber and sent at once.
The SFU reads RTP headers only; payloads are SFrame ciphertext it cannot open.

A little over 400 lines on purpose: a participant's two connections and the offers of
its room are one negotiation sharing one lock and one state; the pure parts are already
out (forwarding, nack, reception, uplink, sdp).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aiortc import RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import SessionDescription

from hotline.errors import ProtocolError
from hotline.logtext import safe
from hotline.rtc import aiortc_adapter as adapter
from hotline.rtc.aiortc_internals import check_internals
from hotline.rtc.opus_fec import with_inband_fec
from hotline.rtc.raw_media import RawMediaPath
from hotline.sfu.channels import ChannelRouting
from hotline.sfu.forwarding import ForwardedCopy, PublishedStream, Router
from hotline.sfu.sdp import MIME, codecs, extensions, rtx

log = logging.getLogger("hotline.sfu")

ANSWER_TIMEOUT = 10.0
MAX_STREAMS_PER_PUBLISHER = 4
REPORT_INTERVAL = 1.0  # seconds between the SFU's receiver reports to publishers
#: ICE consent freshness (RFC 7675) of the SFU's connections, by default: a check every
#: 5 s (±20 %), consent lost after 6 checks in a row without an answer (about 30 s, as
#: RFC 7675 §5.1 says). Shorter is not better: a client whose CPU is starved for a few
#: seconds (the benchmark's load generator at 20x20 was) would lose its media for
#: nothing; a client whose path died restarts its media itself after 3 s of silence.
CONSENT_INTERVAL = 5.0
CONSENT_FAILURES = 6
ESTIMATE_TICK = 0.25  # seconds between two looks at the publishers' uplink estimates


@dataclass(frozen=True, slots=True)
class StreamInfo:
    mid: str
    participant_id: int
    kind: str


#: How the SFU sends a subscribe offer to a client: (room, participant, sdp, streams).
OfferSink = Callable[[str, int, str, list[StreamInfo]], None]


class SfuParticipant:
    def __init__(self, sfu: Sfu, room: str, participant_id: int) -> None:
        self.sfu, self.room, self.participant_id = sfu, room, participant_id
        self.router = Router(participant_id)
        self.publish_pc: RTCPeerConnection | None = None
        self.subscribe_pc: RTCPeerConnection | None = None
        self.publish_path = RawMediaPath(self.router.on_rtp, self._rtcp)
        self.subscribe_path = RawMediaPath(self.router.drop_rtp, self._rtcp)
        self._negotiation = asyncio.Lock()
        self._answer: asyncio.Future[str] | None = None
        self.closed = False
        #: Why this participant's media was freed without a request (consent lost, ICE
        #: failed); it gets media again with ``media_restart``.
        self.lost: str | None = None

    def _now(self) -> float:
        return asyncio.get_running_loop().time()

    def _rtcp(self, compound: bytes) -> None:
        self.router.on_rtcp(compound, self._now())

    # -- publishing --------------------------------------------------------------------

    def _watch_state(self, pc: RTCPeerConnection) -> None:
        """A connection that was up and fails (consent expired, ICE failed) frees this
        participant's media: nothing is sent to a path that is gone. One that never came
        up frees nothing: the client sees that and restarts its media itself (and a
        participant may leave one of its connections unused on purpose)."""
        was_up = False

        @pc.on("connectionstatechange")
        def _state() -> None:
            nonlocal was_up
            if pc.connectionState == "connected":
                was_up = True
            elif was_up and pc.connectionState in ("failed", "closed") and not self.closed \
                    and pc in (self.publish_pc, self.subscribe_pc):
                which = "publish" if pc is self.publish_pc else "subscribe"
                self.sfu.media_lost(self, f"{which} connection {pc.connectionState}")

    async def publish(self, offer_sdp: str) -> str:
        if self.closed:
            raise ProtocolError("this media session was restarted or freed; "
                                "send media_restart first")
        if self.publish_pc is not None:
            raise ProtocolError("already publishing; renegotiation is not supported yet")
        try:
            parsed = SessionDescription.parse(offer_sdp)
        except Exception:  # aiortc's parser raises many types on bad input
            raise ProtocolError("offer is not valid SDP") from None
        media = [m for m in parsed.media if m.kind in MIME]
        if not media or len(media) > MAX_STREAMS_PER_PUBLISHER:
            raise ProtocolError("offer must have 1-4 audio/video m-lines")
        mids = [m.rtp.muxId for m in parsed.media]
        if not all(mids) or len(set(mids)) != len(mids):
            raise ProtocolError("every m-line of the offer needs its own a=mid")
        pc = RTCPeerConnection(adapter.configuration())
        self.publish_pc = pc
        try:
            await pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
            adapter.detach_media(pc)
            for t in pc.getTransceivers():
                t.setCodecPreferences(codecs(t.kind))  # type: ignore[arg-type]
            answer = await pc.createAnswer()
            # useinbandfec=1: the publisher's Opus encoder adds FEC (browsers do only then).
            await pc.setLocalDescription(RTCSessionDescription(with_inband_fec(answer.sdp),
                                                               answer.type))
            adapter.detach_media(pc)
            if self.closed:
                raise ProtocolError("the media session was restarted meanwhile")
        except Exception as exc:  # bad SDP, no common codec, ...
            log.info("room=%s participant=%d publish refused: %s", safe(self.room),
                     self.participant_id, safe(exc))
            # Nothing of a refused offer stays: the participant may offer again.
            self.publish_pc = None
            await _close_quietly(pc)
            raise ProtocolError(f"cannot accept this offer: {exc}") from None
        by_mid = {t.mid: t for t in pc.getTransceivers()}
        for m in media:
            found = by_mid.get(m.rtp.muxId)
            if found is None or not m.ssrc or found.direction == "inactive":
                continue
            # Only the extensions our answer accepted may appear in the publisher's packets.
            accepted = extensions(pc.localDescription.sdp if pc.localDescription else "",
                                  str(found.mid))
            ssrc, payload_type = m.ssrc[0].ssrc, adapter.negotiated_payload_type(found)
            rtx_ssrc, rtx_payload_type = rtx(m, found, ssrc, payload_type)
            self.router.publish(PublishedStream(
                self.participant_id, m.kind, ssrc, payload_type,
                {i: u for u, i in accepted.items()}, self.publish_path.send_rtcp,
                rtx_ssrc=rtx_ssrc, rtx_payload_type=rtx_payload_type))
        self.publish_path.watch(pc, lambda: self.sfu.publisher_ready(self))
        self._watch_state(pc)
        log.info("room=%s participant=%d publishes %s", self.room, self.participant_id,
                 [s.kind for s in self.router.published.values()])
        assert pc.localDescription is not None
        return pc.localDescription.sdp

    # -- subscribing -------------------------------------------------------------------

    def answer(self, sdp: str) -> None:
        if self._answer is None or self._answer.done():
            raise ProtocolError("no subscribe offer is waiting for an answer")
        self._answer.set_result(sdp)

    async def sync_subscriptions(self) -> None:
        """Subscribe to every stream the others publish that we do not get yet."""
        async with self._negotiation:
            while not self.closed:
                wanted = [s for s in self.sfu.streams(self.room)
                          if s.publisher != self.participant_id and s not in self.subscribed]
                if not wanted:
                    return
                await self._negotiate(wanted)

    async def _negotiate(self, wanted: list[PublishedStream]) -> None:
        first = self.subscribe_pc is None
        if self.subscribe_pc is None:
            self.subscribe_pc = RTCPeerConnection(adapter.configuration())
        pc = self.subscribe_pc
        added = []
        for s in wanted:
            t = pc.addTransceiver(s.kind, direction="sendonly")
            t.setCodecPreferences(codecs(s.kind))  # type: ignore[arg-type]
            adapter.set_stream_ids(t, f"participant-{s.publisher}",
                                   f"participant-{s.publisher}-{s.kind}-{s.ssrc}")
            added.append((t, s))
        adapter.detach_media(pc)
        if first:
            self.subscribe_path.watch(pc, self._subscriber_ready)
            self._watch_state(pc)
        offer = await pc.createOffer()
        await pc.setLocalDescription(RTCSessionDescription(with_inband_fec(offer.sdp),
                                                           offer.type))
        adapter.detach_media(pc)
        assert pc.localDescription is not None
        infos = [StreamInfo(str(t.mid), s.publisher, s.kind) for t, s in added]
        self._answer = asyncio.get_running_loop().create_future()
        self.sfu.send_offer(self.room, self.participant_id, pc.localDescription.sdp, infos)
        try:
            answer = await asyncio.wait_for(self._answer, ANSWER_TIMEOUT)
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        except TimeoutError:
            raise ProtocolError("no answer to the subscribe offer") from None
        except Exception as exc:
            raise ProtocolError(f"bad subscribe answer: {exc}") from None
        finally:
            adapter.detach_media(pc)
            self._answer = None
        for t, s in added:
            owner = self.sfu.participants(self.room).get(s.publisher)
            if owner is None or not owner.router.publishes(s) or owner.closed:
                continue  # left, restarted or lost its media while we negotiated
            copy = ForwardedCopy(s, self.participant_id, adapter.sender_ssrc(t),
                                 adapter.negotiated_payload_type(t), self.subscribe_path.send,
                                 subscriber_exts=extensions(answer, str(t.mid)),
                                 send_parts=self.subscribe_path.send_parts)
            self.router.subscribe(copy)
            if self.subscribe_path.attached:
                self._start(copy)

    def _subscriber_ready(self) -> None:
        for copy in self.subscribed.values():
            self._start(copy)

    def _start(self, copy: ForwardedCopy) -> None:
        if self.sfu.routing(self.room).start(copy):  # unless in a channel not listened to
            copy.stream.request_keyframe(self._now())  # a decoder must start somewhere

    @property
    def subscribed(self) -> Mapping[PublishedStream, ForwardedCopy]:
        """The copy this participant gets of each stream it subscribed to."""
        return self.router.subscriptions

    async def close(self) -> None:
        self.closed = True
        self.publish_path.detach()
        self.subscribe_path.detach()
        if self._answer is not None and not self._answer.done():
            self._answer.cancel()
        for pc in (self.publish_pc, self.subscribe_pc):
            if pc is not None:
                await _close_quietly(pc)


async def _close_quietly(pc: RTCPeerConnection) -> None:
    """Close ``pc``; aiortc can fail half-way on a connection set up from odd SDP, and
    that must not stop a leave or a server shutdown."""
    try:
        await pc.close()
    except Exception as exc:
        log.info("closing a peer connection failed: %r", exc)


class Sfu:
    """All rooms' media. ``send_offer`` delivers subscribe offers to clients."""

    def __init__(self, media_host: str, send_offer: OfferSink, *,
                 consent_interval: float = CONSENT_INTERVAL,
                 consent_failures: int = CONSENT_FAILURES) -> None:
        check_internals()
        adapter.use_host_addresses(adapter.host_addresses_for(media_host))
        adapter.use_consent_timing(consent_interval, consent_failures)
        self.send_offer = send_offer
        self._rooms: dict[str, dict[int, SfuParticipant]] = {}
        self._routing: dict[str, ChannelRouting] = {}  # interpretation channels, by room
        self._tasks: set[asyncio.Task[None]] = set()
        self._reporter: asyncio.Future[None] | None = None

    def participant(self, room: str, participant_id: int) -> SfuParticipant:
        if self._reporter is None:
            self._reporter = asyncio.ensure_future(self._reports())
        members = self._rooms.setdefault(room, {})
        p = members.get(participant_id)
        if p is None:
            p = members[participant_id] = SfuParticipant(self, room, participant_id)
        return p

    def participants(self, room: str) -> dict[int, SfuParticipant]:
        return self._rooms.get(room, {})

    def streams(self, room: str) -> list[PublishedStream]:
        return [s for p in self.participants(room).values() if p.publish_path.attached
                for s in p.router.published.values()]

    def routing(self, room: str) -> ChannelRouting:
        return self._routing.setdefault(room, ChannelRouting())

    def set_channels(self, room: str, participant_id: int, *, channel: str | None = None,
                     listening: frozenset[str] | None = None) -> int:
        """An interpreter's channel or a subscriber's listen set changed: forwarding
        follows at once (:meth:`ChannelRouting.update`)."""
        return self.routing(room).update(participant_id, channel, listening, [
            p.router for p in self.participants(room).values()
            if p.subscribe_path.attached and not p.closed])

    def listen(self, room: str, participant_id: int) -> SfuParticipant:
        """A participant that publishes nothing: offered the others' streams at once."""
        p = self.participant(room, participant_id)
        self.sync_room(room)
        return p

    async def publish(self, room: str, participant_id: int, offer_sdp: str) -> str:
        """The answer to a publish offer; the others are offered its streams once its
        DTLS is up (:meth:`publisher_ready`), and it theirs."""
        answer = await self.participant(room, participant_id).publish(offer_sdp)
        self.sync_room(room)
        return answer

    def subscribe_answer(self, room: str, participant_id: int, sdp: str) -> None:
        p = self.participants(room).get(participant_id)
        if p is None:
            raise ProtocolError("no media session")
        p.answer(sdp)

    def publisher_ready(self, publisher: SfuParticipant) -> None:
        """A publisher's DTLS is up: everyone else subscribes to its streams."""
        self.sync_room(publisher.room)

    def sync_room(self, room: str) -> None:
        members = list(self.participants(room).values())
        if len(members) < 2:
            return  # nobody's streams to offer to anybody
        for p in members:
            self._spawn(p.sync_subscriptions(), p)

    def _spawn(self, coro: object, p: SfuParticipant) -> None:
        async def run() -> None:
            try:
                await coro  # type: ignore[misc]
            except ProtocolError as exc:
                log.info("room=%s participant=%d: %s", safe(p.room), p.participant_id, safe(exc))

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reports(self) -> None:
        """Once a second, a receiver report to every publisher for each of its streams;
        every ESTIMATE_TICK, its uplink estimate and REMB."""
        loop = asyncio.get_running_loop()
        next_report = loop.time() + REPORT_INTERVAL
        while True:
            await asyncio.sleep(ESTIMATE_TICK)
            for room in list(self._rooms):
                self.relay_remb(room)
            now = loop.time()
            if now < next_report:
                continue
            next_report = now + REPORT_INTERVAL
            for members in list(self._rooms.values()):
                for p in list(members.values()):
                    if p.publish_path.attached:
                        p.router.send_receiver_reports(now)

    def relay_remb(self, room: str) -> None:
        """To each publisher, a REMB for its video: the SFU's own loss-based estimate of
        its uplink, once it has one (see :mod:`hotline.sfu.uplink`). Sent at every tick
        while the estimate holds; aiortc and browsers take it as their video target."""
        now = asyncio.get_running_loop().time()
        for p in self.participants(room).values():
            packet = p.router.uplink_remb(now)
            if packet is not None:
                p.publish_path.send_rtcp(packet)

    def _drop_media(self, p: SfuParticipant) -> None:
        """Nothing of ``p`` is forwarded any more, and nothing to it."""
        for other in self.participants(p.room).values():
            if other is not p:
                other.router.remove_publisher(p.participant_id)
        p.router.unsubscribe_all()

    async def restart(self, room: str, participant_id: int) -> SfuParticipant:
        """``media_restart``: drop the participant's connections (publish and subscribe)
        and give it a fresh media session in the same seat; the others stop getting its
        old streams and subscribe to its new ones once it publishes again."""
        members = self._rooms.setdefault(room, {})
        old = members.get(participant_id)
        fresh = SfuParticipant(self, room, participant_id)
        members[participant_id] = fresh
        if self._reporter is None:
            self._reporter = asyncio.ensure_future(self._reports())
        if old is not None:
            self._drop_media(old)
            await old.close()
        log.info("room=%s participant=%d media restarted%s", room, participant_id,
                 f" (was lost: {old.lost})" if old is not None and old.lost else "")
        self.sync_room(room)  # the others' streams, on a new connection
        return fresh

    def media_lost(self, p: SfuParticipant, reason: str) -> None:
        """One of ``p``'s connections failed (ICE consent expired, checks failed): free
        its media at once; its seat stays, and ``media_restart`` brings media back."""
        if p.closed or self.participants(p.room).get(p.participant_id) is not p:
            return
        p.lost = reason
        log.info("room=%s participant=%d media lost (%s); connections freed", p.room,
                 p.participant_id, reason)
        self._drop_media(p)
        task = asyncio.ensure_future(p.close())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def remove(self, room: str, participant_id: int) -> None:
        members = self._rooms.get(room, {})
        p = members.pop(participant_id, None)
        if p is None:
            return
        for other in members.values():
            other.router.remove_publisher(participant_id)
        p.router.unsubscribe_all()  # nothing may be forwarded to the leaver any more
        self.routing(room).forget(participant_id)
        await p.close()
        if not members:
            self._rooms.pop(room, None)
            self._routing.pop(room, None)

    async def close(self) -> None:
        if self._reporter is not None:
            self._reporter.cancel()
        for task in list(self._tasks):
            task.cancel()
        for room in list(self._rooms):
            for pid in list(self._rooms.get(room, {})):
                await self.remove(room, pid)
