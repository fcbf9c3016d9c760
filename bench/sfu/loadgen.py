"""The load generator: publishers that send pre-encoded RTP, subscribers that count it.

One process plays one role, started by :mod:`bench.sfu.run` inside the benchmark's
network namespace and pinned to the client core:

``pubs``   N publishers. aiortc does ICE, DTLS and SRTP only; the RTP packets are built
           here from pre-encoded VP8 and Opus (:mod:`bench.media`) and handed straight
           to the DTLS transport. No encoder runs. Every payload ends in a 12-byte
           trailer (``HL``, publisher index, send time in CLOCK_MONOTONIC ns).
``subs``   K subscribers, each one connection receiving every publisher. Packets never
           reach a jitter buffer or decoder: mode ``full`` SRTP-decrypts and reads the
           trailer (latency), mode ``count`` counts SRTP datagrams at the ICE socket.
``probe``  one publisher and one subscriber in a room of their own, meant to run under
           SCHED_FIFO: the latency the SFU adds, without queueing on the client core.

The SFU-specific part (signaling) is an adapter from :mod:`bench.sfu.adapters`; the media,
packet rates and measurements are the same for every SFU. Every role has a deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import heapq
import json
import os
import random
import struct
import time
from pathlib import Path
from typing import Any

import aioice.ice
from aiortc import RTCPeerConnection, RTCRtpSender, RTCSessionDescription, rtcdtlstransport

from bench import media
from bench.sfu import adapters
from hotline.rtc import aiortc_adapter

MAGIC = b"HL"
TRAILER = struct.Struct("!2sHQ")
VP8_CHUNK = 1296  # payload bytes per VP8 packet after the 4-byte descriptor (aiortc's 1300)
#: The address clients gather ICE candidates on: the veth in the namespace (Janus 1.1.2
#: gathers no candidates on loopback devices), the same for every SFU.
CLIENT_ADDRESS = "127.0.0.2"


# -- receiving -----------------------------------------------------------------------------


class Rx:
    """What subscribers received during the measurement window."""

    def __init__(self) -> None:
        self.on = False
        self.packets = 0
        self.bytes = 0
        self.per_conn: collections.Counter[int] = collections.Counter()
        self.latency_ns: list[int] = []


RX = Rx()
SEND_ERRORS: collections.Counter[str] = collections.Counter()


def install_receive_hooks(mode: str) -> None:
    """Cut aiortc's receive path short (no jitter buffer, no depacketizer, no decoder)."""
    original = aioice.ice.StunProtocol.datagram_received

    def datagram_received(self: Any, data: bytes, addr: Any) -> None:
        if len(data) > 1 and 127 < data[0] < 192:  # RTP or RTCP (RFC 7983)
            if mode == "count" and not 191 < data[1] < 224:
                if RX.on:
                    RX.packets += 1
                    RX.bytes += len(data)
                    RX.per_conn[id(self.receiver)] += 1
                return
            self.receiver.data_received(data, self.local_candidate.component)
            return
        original(self, data, addr)

    aioice.ice.StunProtocol.datagram_received = datagram_received  # type: ignore[method-assign]

    async def handle_rtp(self: Any, data: bytes, arrival_time_ms: int) -> None:
        if not RX.on:
            return
        RX.packets += 1
        RX.bytes += len(data)
        RX.per_conn[id(self)] += 1
        if data[-12:-10] == MAGIC:
            RX.latency_ns.append(time.monotonic_ns() - int.from_bytes(data[-8:], "big"))

    rtcdtlstransport.RTCDtlsTransport._handle_rtp_data = handle_rtp  # type: ignore[method-assign]


class Subscriber:
    """One receiving connection; answers the SFU's offers (and renegotiations)."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(aiortc_adapter.configuration())

    async def answer(self, offer_sdp: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(offer_sdp, "offer"))
        aiortc_adapter.detach_media(self.pc)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        aiortc_adapter.detach_media(self.pc)
        assert self.pc.localDescription is not None
        return self.pc.localDescription.sdp

    async def connected(self, timeout: float = 30) -> None:
        t_end = time.monotonic() + timeout
        while self.pc.connectionState != "connected":
            if time.monotonic() > t_end:
                raise TimeoutError("subscriber did not connect")
            await asyncio.sleep(0.05)
        aiortc_adapter.raise_buffers(self.pc)


# -- sending -------------------------------------------------------------------------------


def vp8_packets(frame: bytes, picture_id: int) -> list[bytes]:
    """RFC 7741 payloads: descriptor with a 15-bit PictureID, S=1 on the first."""
    pid = picture_id & 0x7FFF
    out = []
    for i in range(0, len(frame), VP8_CHUNK):
        start = 0x10 if i == 0 else 0
        out.append(bytes([0x80 | start, 0x80, 0x80 | (pid >> 8), pid & 0xFF])
                   + frame[i:i + VP8_CHUNK])
    return out


class Stream:
    """RTP headers for one sending m-line: our SSRC, the negotiated payload type, MID."""

    def __init__(self, transceiver: Any, clock_step: int) -> None:
        self.dtls = transceiver.sender.transport
        ssrc = transceiver.sender._ssrc
        self.pt = next(c.payloadType for c in transceiver._codecs
                       if not c.mimeType.lower().endswith("/rtx"))
        ext = b""
        mid_ids = [e.id for e in transceiver._headerExtensions if e.uri.endswith("sdes:mid")]
        if mid_ids:
            mid = str(transceiver.mid).encode()
            elem = bytes([(mid_ids[0] << 4) | (len(mid) - 1)]) + mid
            elem += b"\x00" * (-len(elem) % 4)
            ext = b"\xbe\xde" + struct.pack("!H", len(elem) // 4) + elem
        self.header = bytearray(struct.pack("!BBHII", 0x90 if ext else 0x80, self.pt, 0, 0, ssrc)
                                + ext)
        self.seq = random.randrange(65536)
        self.ts = random.randrange(2**32)
        self.step = clock_step
        self.sent = 0
        self.sent_bytes = 0

    async def send(self, payload: bytes, marker: bool, index: int) -> None:
        h = self.header
        h[1] = (0x80 if marker else 0) | self.pt
        struct.pack_into("!HI", h, 2, self.seq, self.ts)
        self.seq = (self.seq + 1) & 0xFFFF
        packet = bytes(h) + payload + TRAILER.pack(MAGIC, index, time.monotonic_ns())
        await self.dtls._send_rtp(packet)
        self.sent += 1
        self.sent_bytes += len(packet)


class Publisher:
    """Audio + video, sendonly, VP8 only; media injected below aiortc's RTP sender."""

    def __init__(self, index: int, video: list[list[bytes]], audio: list[bytes]) -> None:
        self.index = index
        self.video, self.audio = video, audio
        self.vi = random.randrange(len(video))
        self.ai = 0
        self.pc = RTCPeerConnection(aiortc_adapter.configuration())
        self.a: Stream | None = None
        self.v: Stream | None = None

    async def offer(self) -> str:
        self.ta = self.pc.addTransceiver("audio", direction="sendonly")
        self.tv = self.pc.addTransceiver("video", direction="sendonly")
        self.tv.setCodecPreferences([c for c in RTCRtpSender.getCapabilities("video").codecs
                                     if c.mimeType == "video/VP8"])
        await self.pc.setLocalDescription(await self.pc.createOffer())
        assert self.pc.localDescription is not None
        return self.pc.localDescription.sdp

    async def accept(self, answer_sdp: str, timeout: float = 30) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(answer_sdp, "answer"))
        t_end = time.monotonic() + timeout
        while self.pc.connectionState != "connected":
            if time.monotonic() > t_end:
                raise TimeoutError(f"publisher {self.index} did not connect")
            await asyncio.sleep(0.05)
        for t in (self.ta, self.tv):  # a trackless sender would wake up every 20 ms
            task = getattr(t.sender, "_RTCRtpSender__rtp_task", None)
            if task is not None:
                task.cancel()
        self.a = Stream(self.ta, 960)
        self.v = Stream(self.tv, 90000 // media.FPS)
        aiortc_adapter.raise_buffers(self.pc)

    async def send_video(self) -> None:
        assert self.v is not None
        packets = self.video[self.vi]
        self.vi = (self.vi + 1) % len(self.video)
        last = len(packets) - 1
        for i, p in enumerate(packets):
            await self.v.send(p, i == last, self.index)
        self.v.ts = (self.v.ts + self.v.step) & 0xFFFFFFFF

    async def send_audio(self) -> None:
        assert self.a is not None
        await self.a.send(self.audio[self.ai], False, self.index)
        self.ai = (self.ai + 1) % len(self.audio)
        self.a.ts = (self.a.ts + self.a.step) & 0xFFFFFFFF

    def counters(self) -> tuple[int, int, int]:
        streams = [s for s in (self.a, self.v) if s is not None]
        return (sum(s.sent for s in streams), sum(s.sent_bytes for s in streams),
                self.v.sent if self.v else 0)


def load_media() -> tuple[list[list[bytes]], list[bytes]]:
    video, audio = media.load()
    return [vp8_packets(f["data"], i) for i, f in enumerate(video)], audio


async def send_loop(pubs: list[Publisher], t_stop: float) -> None:
    """Video every 1/30 s and audio every 20 ms for every publisher, staggered; late
    sends go out at once (bursty) when the client core is saturated."""
    now = time.monotonic()
    heap: list[tuple[float, int, int]] = []
    for i in range(len(pubs)):
        heap.append((now + random.random() / media.FPS, 0, i))
        heap.append((now + random.random() * 0.02, 1, i))
    heapq.heapify(heap)
    while heap:
        due, kind, i = heap[0]
        now = time.monotonic()
        if now > t_stop:
            return
        if due > now:
            await asyncio.sleep(due - now)
            continue
        heapq.heappop(heap)
        try:
            await (pubs[i].send_video() if kind == 0 else pubs[i].send_audio())
        except Exception as exc:  # one publisher's transport failing must not stop the rest
            SEND_ERRORS[type(exc).__name__] += 1
        heapq.heappush(heap, (due + (1 / media.FPS if kind == 0 else 0.02), kind, i))


# -- the go protocol with the orchestrator --------------------------------------------------


async def ready_then_go(args: argparse.Namespace, info: dict[str, Any]) -> tuple[float, float]:
    """Write our ready file, wait for the orchestrator's go file: the window (monotonic)."""
    Path(args.ready).write_text(json.dumps(info))
    t_end = time.monotonic() + args.deadline
    while not os.path.exists(args.go):
        if time.monotonic() > t_end:
            raise TimeoutError("no go from the orchestrator")
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.05)
    go = json.loads(Path(args.go).read_text())
    return float(go["t0"]), float(go["t1"])


async def window(t0: float, t1: float) -> None:
    await asyncio.sleep(max(0.0, t0 - time.monotonic()))
    RX.on = True
    await asyncio.sleep(max(0.0, t1 - time.monotonic()))
    RX.on = False


def latency_ms() -> dict[str, float] | None:
    from bench.common import percentiles

    return percentiles([x / 1e6 for x in RX.latency_ns])


# -- roles ---------------------------------------------------------------------------------


async def role_pubs(args: argparse.Namespace, sfu: adapters.Adapter) -> dict[str, Any]:
    video, audio = load_media()
    pubs = [Publisher(args.first + i, video, audio) for i in range(args.n)]
    for p in pubs:
        await sfu.publish(f"pub{p.index}", args.room, p)
    sender = asyncio.ensure_future(send_loop(pubs, time.monotonic() + args.deadline))
    t0, t1 = await ready_then_go(args, {"publishers": len(pubs)})
    await asyncio.sleep(max(0.0, t0 - time.monotonic()))
    c0 = [sum(x) for x in zip(*(p.counters() for p in pubs), strict=True)]
    await asyncio.sleep(max(0.0, t1 - time.monotonic()))
    c1 = [sum(x) for x in zip(*(p.counters() for p in pubs), strict=True)]
    dt = t1 - t0
    await asyncio.sleep(args.tail)
    sender.cancel()
    result = {"role": "pubs", "n": args.n, "sent_pps": (c1[0] - c0[0]) / dt,
              "sent_mbps": (c1[1] - c0[1]) * 8 / dt / 1e6,
              "sent_video_pps": (c1[2] - c0[2]) / dt, "send_errors": dict(SEND_ERRORS),
              "sender_alive": not sender.done()}
    Path(args.out).write_text(json.dumps(result))  # before closing, which can be slow
    await asyncio.gather(*(p.pc.close() for p in pubs), return_exceptions=True)
    return result


async def role_subs(args: argparse.Namespace, sfu: adapters.Adapter) -> dict[str, Any]:
    install_receive_hooks(args.mode)
    subs = []
    for i in range(args.n):
        sub = Subscriber()
        await sfu.subscribe(f"sub{args.first + i}", args.room, sub, args.expect)
        subs.append(sub)
    t0, t1 = await ready_then_go(args, {"subscribers": len(subs)})
    await window(t0, t1)
    dt = t1 - t0
    per = sorted(RX.per_conn.values())
    result = {"role": "subs", "n": args.n, "mode": args.mode, "recv_pps": RX.packets / dt,
              "recv_mbps": RX.bytes * 8 / dt / 1e6,
              "per_sub_pps_min": per[0] / dt if per else 0.0,
              "connections_seen": len(per), "latency_ms": latency_ms()}
    Path(args.out).write_text(json.dumps(result))
    await asyncio.gather(*(s.pc.close() for s in subs), return_exceptions=True)
    return result


async def role_probe(args: argparse.Namespace, sfu: adapters.Adapter) -> dict[str, Any]:
    install_receive_hooks("full")
    video, audio = load_media()
    pub = Publisher(999, video, audio)
    await sfu.publish("probepub", args.room, pub)
    sub = Subscriber()
    await sfu.subscribe("probesub", args.room, sub, 1)
    sender = asyncio.ensure_future(send_loop([pub], time.monotonic() + args.deadline))
    t0, t1 = await ready_then_go(args, {"probe": True})
    await window(t0, t1)
    sender.cancel()
    result = {"role": "probe", "recv_pps": RX.packets / (t1 - t0), "latency_ms": latency_ms()}
    Path(args.out).write_text(json.dumps(result))
    await asyncio.gather(pub.pc.close(), sub.pc.close(), return_exceptions=True)
    return result


async def main_async(args: argparse.Namespace) -> None:
    aiortc_adapter.use_host_addresses([CLIENT_ADDRESS])
    sfu = adapters.make(args.sfu, json.loads(args.sfu_args))
    role = {"pubs": role_pubs, "subs": role_subs, "probe": role_probe}[args.role]
    try:
        await role(args, sfu)
    finally:
        await sfu.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--role", required=True, choices=["pubs", "subs", "probe"])
    ap.add_argument("--sfu", required=True, choices=["hotline", "janus"])
    ap.add_argument("--sfu-args", default="{}", help="JSON for the adapter (URLs, codes)")
    ap.add_argument("--room", required=True)
    ap.add_argument("--n", type=int, default=1)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--expect", type=int, default=0, help="(subs) publishers to receive")
    ap.add_argument("--mode", default="full", choices=["full", "count"])
    ap.add_argument("--ready", required=True)
    ap.add_argument("--go", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--deadline", type=float, default=300)
    ap.add_argument("--tail", type=float, default=1.0)
    args = ap.parse_args()
    asyncio.run(asyncio.wait_for(main_async(args), args.deadline + 60))


if __name__ == "__main__":
    main()
