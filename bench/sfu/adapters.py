"""Signaling adapters of the load generator: how a publisher or subscriber gets connected.

Only this module knows an SFU's API. Both adapters give the load generator the same
thing: a publisher connection whose answer came from the SFU, and one subscriber
connection per subscriber receiving every publisher of the room (the SFU offers, the
subscriber answers).

* :class:`HotlineAdapter`: Hotline's WebSocket signaling (``docs/SIGNALING.md``): enroll
  with a one-time code, join, announce a signed call key, ``publish`` /
  ``subscribe_offer``. Hotline subscribes every participant to everyone else, so to get
  Janus's roles (publishers that do not receive, subscribers that do not send), a
  publisher answers the SFU's subscribe offers without ICE candidates (that connection
  never comes up, nothing is forwarded to it), and a subscriber publishes one inactive
  m-line with no SSRC (a connection with no stream, which gets it its subscriptions).
  The key schedule does not run: the SFU never sees keys, so it does not change its work.
* :class:`JanusAdapter`: the VideoRoom plugin over Janus's HTTP long-poll API (a
  subscriber joins with every publisher's feed as one multistream subscription).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import string
import time
from pathlib import Path
from typing import Any, Protocol

import aiohttp
from aiortc import RTCPeerConnection, RTCSessionDescription

from hotline.crypto.auth import Purpose, prove
from hotline.crypto.callkey import CallKeyAnnouncement, CallKeyPair
from hotline.crypto.identity import Identity
from hotline.rtc import aiortc_adapter
from hotline.signaling import messages as m

TIMEOUT = 60.0


class Adapter(Protocol):
    async def publish(self, name: str, room: str, pub: Any) -> None: ...
    async def subscribe(self, name: str, room: str, sub: Any, publishers: int) -> None: ...
    async def close(self) -> None: ...


def make(kind: str, options: dict[str, Any]) -> Adapter:
    return HotlineAdapter(**options) if kind == "hotline" else JanusAdapter(**options)


# -- Hotline -------------------------------------------------------------------------------


def _strip(sdp: str, prefixes: tuple[str, ...]) -> str:
    return "\r\n".join(line for line in sdp.split("\r\n") if not line.startswith(prefixes))


def _inactive(sdp: str) -> str:
    """An offer with no stream: every m-line inactive, no SSRC, no msid."""
    sdp = _strip(sdp, ("a=ssrc", "a=msid"))
    for d in ("a=sendrecv", "a=sendonly", "a=recvonly"):
        sdp = sdp.replace(d + "\r\n", "a=inactive\r\n")
    return sdp


class HotlineParticipant:
    """One signaling connection: enrolled, joined, announced."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/").replace("http://", "ws://") + "/ws"
        self.http: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.replies: asyncio.Queue[m.ServerMessage] = asyncio.Queue()
        self.offers: asyncio.Queue[m.SubscribeOffer] = asyncio.Queue()
        self.reader: asyncio.Task[None] | None = None
        self.sending: set[asyncio.Future[None]] = set()

    async def open(self, code: str, room: str) -> None:
        identity = Identity.generate()
        self.http = aiohttp.ClientSession()
        deadline = time.monotonic() + TIMEOUT
        while True:  # the server may still be starting
            try:
                self.ws = await self.http.ws_connect(self.url, max_msg_size=0)
                break
            except (aiohttp.ClientError, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        self.reader = asyncio.ensure_future(self._read())
        hello = await self._reply(m.Hello)
        self.send(m.Enroll(code=code, identity_key=identity.public_key,
                           signature=prove(identity, Purpose.ENROLL, hello.challenge, code)))
        await self._reply(m.Enrolled)
        self.send(m.Join(room=room))
        ack = await self._reply(m.JoinAck)
        ann = CallKeyAnnouncement.create(identity, room, ack.participant_id, ack.epoch,
                                         CallKeyPair.generate().public, ack.role)
        self.send(m.Announce(announcement=ann.encode()))
        await self._reply(m.Joined)

    def send(self, message: m._Message) -> None:
        assert self.ws is not None
        task = asyncio.ensure_future(self.ws.send_str(m.encode(message)))
        self.sending.add(task)
        task.add_done_callback(self.sending.discard)

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            if '"key_from"' in msg.data[:60] or '"member_' in msg.data[:60]:
                continue  # roster and key traffic: not ours to act on
            message = m.parse_server(msg.data)
            if isinstance(message, m.SubscribeOffer):
                self.offers.put_nowait(message)
            else:
                self.replies.put_nowait(message)

    async def _reply(self, kind: type[Any]) -> Any:
        while True:
            reply = await asyncio.wait_for(self.replies.get(), TIMEOUT)
            if isinstance(reply, m.Error):
                raise RuntimeError(f"hotline refused: {reply.code}: {reply.message}")
            if isinstance(reply, kind):
                return reply

    async def publish(self, offer_sdp: str) -> str:
        self.send(m.Publish(sdp=offer_sdp))
        return str((await self._reply(m.PublishAnswer)).sdp)

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await self.ws.close()
        if self.http is not None:
            await self.http.close()


class HotlineAdapter:
    def __init__(self, url: str, codes_file: str) -> None:
        self.url = url
        self.codes: dict[str, str] = json.loads(Path(codes_file).read_text())
        self.participants: list[HotlineParticipant] = []
        self.tasks: list[asyncio.Task[None]] = []

    async def _open(self, name: str, room: str) -> HotlineParticipant:
        p = HotlineParticipant(self.url)
        self.participants.append(p)
        await p.open(self.codes[name], room)
        return p

    async def publish(self, name: str, room: str, pub: Any) -> None:
        p = await self._open(name, room)
        self.tasks.append(asyncio.ensure_future(self._refuse_offers(p)))
        await pub.accept(await p.publish(await pub.offer()))

    async def _refuse_offers(self, p: HotlineParticipant) -> None:
        """A publisher does not receive: answer without candidates, close at once."""
        while True:
            offer = await p.offers.get()
            pc = RTCPeerConnection(aiortc_adapter.configuration())
            try:
                await pc.setRemoteDescription(RTCSessionDescription(offer.sdp, "offer"))
                aiortc_adapter.detach_media(pc)
                answer = await pc.createAnswer()
                await pc.setLocalDescription(answer)
                assert pc.localDescription is not None
                sdp = _strip(pc.localDescription.sdp, ("a=candidate", "a=end-of-candidates"))
            finally:
                await pc.close()
            p.send(m.SubscribeAnswer(sdp=sdp))

    async def subscribe(self, name: str, room: str, sub: Any, publishers: int) -> None:
        p = await self._open(name, room)
        pc = RTCPeerConnection(aiortc_adapter.configuration())
        pc.addTransceiver("audio", direction="recvonly")
        await pc.setLocalDescription(await pc.createOffer())
        assert pc.localDescription is not None
        answer = await p.publish(_inactive(pc.localDescription.sdp))
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        aiortc_adapter.detach_media(pc)
        self.tasks.append(asyncio.ensure_future(self._keep(pc)))
        deadline = time.monotonic() + TIMEOUT
        mlines = 0
        while mlines < 2 * publishers:
            offer = await asyncio.wait_for(p.offers.get(), max(0.1, deadline - time.monotonic()))
            p.send(m.SubscribeAnswer(sdp=await sub.answer(offer.sdp)))
            mlines = offer.sdp.count("\r\nm=")
        await sub.connected()
        self.tasks.append(asyncio.ensure_future(self._answer_more(p, sub)))

    @staticmethod
    async def _keep(pc: RTCPeerConnection) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await pc.close()

    @staticmethod
    async def _answer_more(p: HotlineParticipant, sub: Any) -> None:
        while True:
            offer = await p.offers.get()
            p.send(m.SubscribeAnswer(sdp=await sub.answer(offer.sdp)))

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for p in self.participants:
            await p.close()


# -- Janus ---------------------------------------------------------------------------------


def _tx() -> str:
    return "".join(random.choices(string.ascii_letters, k=12))


class JanusSession:
    """A Janus session over the HTTP API, with a long-poll task for events."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        self.id: int | None = None
        self.waiting: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self.poller: asyncio.Task[None] | None = None

    async def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body.setdefault("transaction", _tx())
        url = f"{self.url}/{self.id}{path}" if self.id else self.url
        async with self.http.post(url, data=json.dumps(body)) as resp:
            data: dict[str, Any] = await resp.json(content_type=None)
            return data

    async def create(self) -> JanusSession:
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                self.id = (await self.post("", {"janus": "create"}))["data"]["id"]
                break
            except (aiohttp.ClientError, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)
        self.poller = asyncio.ensure_future(self._poll())
        return self

    async def attach(self) -> int:
        r = await self.post("", {"janus": "attach", "plugin": "janus.plugin.videoroom"})
        return int(r["data"]["id"])

    async def request(self, handle: int, body: dict[str, Any]) -> dict[str, Any]:
        """A synchronous plugin request (create, destroy, listparticipants)."""
        r = await self.post(f"/{handle}", {"janus": "message", "body": body})
        data: dict[str, Any] = r.get("plugindata", {}).get("data", {})
        return data

    async def message(self, handle: int, body: dict[str, Any],
                      jsep: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
        """An asynchronous plugin request: the event that carries our transaction."""
        tx = _tx()
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[tx] = fut
        msg: dict[str, Any] = {"janus": "message", "body": body, "transaction": tx}
        if jsep is not None:
            msg["jsep"] = jsep
        r = await self.post(f"/{handle}", msg)
        if r.get("janus") == "success":
            self.waiting.pop(tx, None)
            return r["plugindata"]["data"], r.get("jsep")
        ev = await asyncio.wait_for(fut, TIMEOUT)
        data = ev.get("plugindata", {}).get("data", {})
        if "error" in data:
            raise RuntimeError(f"janus refused: {data}")
        return data, ev.get("jsep")

    async def _poll(self) -> None:
        while True:
            try:
                async with self.http.get(f"{self.url}/{self.id}?maxev=10") as resp:
                    events = await resp.json(content_type=None)
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
                await asyncio.sleep(0.2)
                continue
            for ev in events if isinstance(events, list) else [events]:
                fut = self.waiting.pop(ev.get("transaction") or "", None)
                if fut is not None and not fut.done() and ev.get("janus") == "event":
                    fut.set_result(ev)

    async def close(self) -> None:
        if self.poller is not None:
            self.poller.cancel()
        with contextlib.suppress(Exception):
            await self.post("", {"janus": "destroy"})
        await self.http.close()


class JanusAdapter:
    def __init__(self, url: str = "http://127.0.0.1:8088/janus") -> None:
        self.url = url
        self.session: JanusSession | None = None
        self.rooms_made: set[int] = set()

    async def _session(self) -> JanusSession:
        if self.session is None:
            self.session = await JanusSession(self.url).create()
        return self.session

    async def _room(self, room: str) -> int:
        """Create the room on first use by a publisher (a fresh one if it existed)."""
        rid = int(room)
        if rid not in self.rooms_made:
            s = await self._session()
            h = await s.attach()
            await s.request(h, {"request": "destroy", "room": rid})
            await s.request(h, {"request": "create", "room": rid, "publishers": 64,
                                "bitrate": 2_000_000, "fir_freq": 10,
                                "audiolevel_ext": False})
            self.rooms_made.add(rid)
        return rid

    async def publish(self, name: str, room: str, pub: Any) -> None:
        s = await self._session()
        rid = await self._room(room)
        h = await s.attach()
        await s.message(h, {"request": "join", "ptype": "publisher", "room": rid,
                            "display": name})
        _, jsep = await s.message(h, {"request": "publish", "audio": True, "video": True},
                                  jsep={"type": "offer", "sdp": await pub.offer()})
        await pub.accept(jsep["sdp"])

    async def subscribe(self, name: str, room: str, sub: Any, publishers: int) -> None:
        s = await self._session()
        h = await s.attach()
        deadline = time.monotonic() + TIMEOUT
        while True:  # the publishers are in another process: wait until all are there
            data = await s.request(h, {"request": "listparticipants", "room": int(room)})
            feeds = [p["id"] for p in data.get("participants", []) if p.get("publisher")]
            if len(feeds) >= publishers:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"janus room {room}: {len(feeds)} of {publishers} publishers")
            await asyncio.sleep(0.2)
        _, jsep = await s.message(h, {"request": "join", "ptype": "subscriber",
                                      "room": int(room),
                                      "streams": [{"feed": f} for f in feeds]})
        answer = await sub.answer(jsep["sdp"])
        await s.message(h, {"request": "start"}, jsep={"type": "answer", "sdp": answer})
        await sub.connected()

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
