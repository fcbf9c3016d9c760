"""The media paths of a two-party call: via the SFU and direct, one active (hot standby).

:class:`CallPaths` belongs to one :class:`~hotline.client.call.Call` made with
``direct=True``. When the room holds exactly two members it sets up a
:class:`~hotline.client.direct.DirectLink` to the other (the lower participant id
offers; the room must allow it: hotline calls and link tests do, other rooms when their
operator marked them). Both paths then stay up; the senders of each read
:class:`~hotline.client.direct.GatedTrack` s that pass frames only while their path is
the active one. :class:`~hotline.client.pathswitch.PathPolicy` says which (checked every
0.1 s with what each path received of the far end's media); a switch moves nothing but
the gates (same keys, same SFrame counters, same group code: no rekey), asks the new
path's video for a key frame, and is shown: ``Call.path``, ``Call.path_changes``,
``Call.on_path_change`` and a ``path_change`` event.

With ``direct_only`` (a link test of the direct path) nothing is published to the SFU
and the direct path is the only one.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Protocol

from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from hotline.client.callstats import RemoteStream
from hotline.client.direct import DirectLink, GatedTrack
from hotline.client.pathswitch import LABELS, Path, PathPolicy
from hotline.client.signaling import ClientEvent, SignalingClient
from hotline.logtext import safe
from hotline.rtc.media_e2ee import MediaE2ee
from hotline.signaling import messages as m

log = logging.getLogger("hotline.paths")
#: How often the active path is checked (the policy's thresholds are tenths of seconds).
CHECK_INTERVAL = 0.1
#: A direct link we left is replaced by a new one (by the offerer) after these seconds,
#: doubling up to the last while new ones do not carry the far end's media.
RETRY_FIRST, RETRY_MAX = 3.0, 30.0
SETUP_TIMEOUT = 10.0  # a direct link not connected by then is no use


class Call(Protocol):
    """What :class:`CallPaths` uses of its :class:`hotline.client.call.Call`."""

    signaling: SignalingClient
    e2ee: MediaE2ee | None
    host_addresses: list[str] | None
    publish_pc: RTCPeerConnection | None
    streams: dict[str, RemoteStream]

    def sending_tracks(self) -> list[MediaStreamTrack]: ...
    def consume_track(self, stream: RemoteStream, track: MediaStreamTrack) -> None: ...
    def set_path(self, label: str, now: float) -> None: ...


class CallPaths:
    def __init__(self, call: Call, *, prefer: Path = "direct", direct_only: bool = False,
                 addresses: list[str] | None = None) -> None:
        self.call = call
        self.policy = PathPolicy("direct" if direct_only else prefer)
        self.direct_only = direct_only
        self.addresses = addresses  # where the direct connection gathers (None: the call's)
        self.link: DirectLink | None = None
        self.old_links: list[DirectLink] = []
        self.ignored_signals = 0  # direct_from of anyone but the far end, or out of turn
        self._relay = MediaRelay()
        self._gated: dict[Path, list[MediaStreamTrack]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._queue: asyncio.Queue[m.DirectFrom | None] = asyncio.Queue()
        self._retry_after = RETRY_FIRST
        self._retry_at: float | None = None
        self.retries = 0  # direct links made again after we left one

    # -- what the call tells us ------------------------------------------------------------

    def listen(self) -> None:
        """Before the join: keep the far end's signals (an offer may come right after
        ``joined``) until :meth:`start`."""
        self.call.signaling.on_direct = self._queue.put_nowait

    def start(self) -> None:
        """After the join: set up the direct link when we are two, and follow the roster."""
        self.call.signaling.on_roster = self.roster_changed
        self._spawn(self._signals())
        self._spawn(self._watch())
        self.roster_changed()

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(CHECK_INTERVAL)
            self.check(loop.time())

    def tracks(self, path: Path, sources: list[MediaStreamTrack]) -> list[MediaStreamTrack]:
        """What ``path``'s senders read: ``sources``' frames while it is the active path."""
        if path not in self._gated:
            def is_open() -> bool:
                return self.policy.active == path
            self._gated[path] = [GatedTrack(self._relay.subscribe(s, buffered=False), is_open)
                                 for s in sources]
        return self._gated[path]

    def sfu_state(self, state: str, now: float) -> None:
        """The SFU path's connection (our publish connection) changed state."""
        if not self.direct_only:
            self.policy.connection("sfu", state, now)
            self.check(now)

    def roster_changed(self) -> None:
        """Exactly two of us: a direct link to the other (if there is none to it yet);
        else none."""
        sig = self.call.signaling
        me = sig.participant_id
        others = sorted(sig.present - {me}) if me is not None else []
        far = others[0] if len(others) == 1 else None
        if self.link is not None and self.link.far != far:
            self._drop_link()
        if far is not None and self.link is None and me is not None and me < far:
            self._spawn(self._offer(self._new_link(far)))

    # -- the direct link ---------------------------------------------------------------------

    def _new_link(self, far: int) -> DirectLink:
        call = self.call
        assert call.e2ee is not None
        self.link = DirectLink(call.signaling, call.e2ee, far,
                               self.tracks("direct", call.sending_tracks()),
                               addresses=self.addresses if self.addresses is not None
                               else call.host_addresses,
                               on_state=self._link_state, on_track=call.consume_track)
        self.policy.connection("direct", "new", asyncio.get_running_loop().time())
        return self.link

    async def _offer(self, link: DirectLink) -> None:
        try:
            await link.offer()
        except Exception as exc:
            log.warning("direct: offer failed: %s", safe(exc))

    def _drop_link(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            self.old_links.append(link)
            self.policy.connection("direct", "closed", asyncio.get_running_loop().time())
            self._spawn(link.close())
            self.check(asyncio.get_running_loop().time())

    async def _signals(self) -> None:
        """The far end's signals, in order."""
        while (msg := await self._queue.get()) is not None:
            sig = self.call.signaling
            me = sig.participant_id
            others = sig.present - {me}
            if others != {msg.sender} or me is None:
                self.ignored_signals += 1
                continue
            if msg.description is not None and msg.description.kind == "offer":
                if me < msg.sender:
                    self.ignored_signals += 1  # we offer to it, not it to us
                    continue
                if self.link is not None:
                    self._drop_link()  # the far end started again
                self._new_link(msg.sender)
            if self.link is None or self.link.far != msg.sender:
                self.ignored_signals += 1
                continue
            try:
                await self.link.receive(msg)
            except Exception as exc:  # a bad description must not end the call
                log.warning("direct: signal refused: %s", safe(exc))

    def _link_state(self, link: DirectLink) -> None:
        if link is not self.link:
            return
        now = asyncio.get_running_loop().time()
        self.policy.connection("direct", link.state, now)
        self.call.signaling.events.put_nowait(ClientEvent("path", {"via": "direct",
                                                                   "state": link.state}))
        self.check(now)

    # -- the decision ------------------------------------------------------------------------

    def check(self, now: float) -> None:
        """Feed the policy what each path received; switch if it says so."""
        policy = self.policy
        before = policy.active
        if self.link is not None:  # the far party's frames that decrypted, per path
            for path, streams in (("sfu", self.call.streams.values()),
                                  ("direct", self.link.streams)):
                last = [s.last_frame_at for s in streams
                        if s.participant_id == self.link.far and s.last_frame_at is not None]
                if last:
                    policy.media(path, max(last))  # type: ignore[arg-type]
        decision = policy.decide(now)
        if decision is not None:
            log.warning("media path: %s -> %s (%s)", LABELS[decision.to] if before is None
                        else LABELS[before], LABELS[decision.to], decision.text)
            policy.switched(decision.to, now)
            self._keyframe(decision.to)
            self.call.signaling.events.put_nowait(ClientEvent("path_change", {
                "path": LABELS[decision.to], "reason": decision.reason,
                "detail": decision.text}))
        if policy.active is not None:
            self.call.set_path(LABELS[policy.active], now)
        self._retry(now)

    def _retry(self, now: float) -> None:
        """The offerer replaces a direct link that is no use (we left it: it died or the
        far end never came onto it; it failed; or it did not connect in SETUP_TIMEOUT)
        by a new one, with a growing delay; the answerer takes the new offer."""
        link, me = self.link, self.call.signaling.participant_id
        if link is None or me is None or me > link.far:
            return
        stuck = link.connected_at is None and now - link.started_at > SETUP_TIMEOUT
        if not (self.policy.left("direct") or link.state in ("failed", "closed") or stuck):
            if link.connected_at is not None:
                self._retry_after, self._retry_at = RETRY_FIRST, None
            return
        if self._retry_at is None:
            self._retry_at = now + self._retry_after
        elif now >= self._retry_at:
            self._retry_at = None
            self._retry_after = min(RETRY_MAX, self._retry_after * 2)
            self.retries += 1
            log.info("direct: a new direct connection (try %d)", self.retries)
            far = link.far
            self._drop_link()
            self._spawn(self._offer(self._new_link(far)))

    def _keyframe(self, path: Path) -> None:
        if path == "direct" and self.link is not None:
            sender = self.link.sender("video")
        else:
            pc = self.call.publish_pc
            sender = next((t.sender for t in pc.getTransceivers() if t.kind == "video"),
                          None) if pc is not None else None
        if sender is not None:
            MediaE2ee.request_keyframe(sender)

    # -- figures and the end -------------------------------------------------------------

    def streams(self) -> list[RemoteStream]:
        links = [*self.old_links, *([self.link] if self.link is not None else [])]
        return [s for link in links for s in link.streams]

    async def direct_figures(self) -> dict[str, float | None] | None:
        """The direct connection's set-up time, round trip, loss and jitter (None: no
        direct connection)."""
        return None if self.link is None else await self.link.figures()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        self._queue.put_nowait(None)
        for task in list(self._tasks):
            task.cancel()
        for link in [*self.old_links, *([self.link] if self.link is not None else [])]:
            await link.close()

