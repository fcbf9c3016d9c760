"""One two-party call through the SFU on an impaired network, measured.

    python -m tests.support.impaired_call --impair loss=0.05 --seconds 10 [--burst 1.0]
    python -m tests.support.impaired_call --tbf "rate 300kbit burst 16kb latency 100ms"

The kernel of the test machines has no ``sch_netem`` ("Specified qdisc kind is unknown"),
so loss, burst loss, delay, jitter and reordering are emulated in user space, in this
process, at the clients' ICE sockets (:class:`Impairment`): every datagram a client sends
(its media uplink, RTCP feedback, STUN, DTLS) and every datagram it receives (the SFU's
forwarded media) goes through it, so each direction of each client's access link is
impaired once, as netem on both ends would. A bandwidth cap uses the kernel's ``tbf``
qdisc on ``lo``, which does exist: run the script only in a network namespace of its own
(``tests/integration/test_impaired_network.py`` does ``unshare -n``).

Alice sends synthetic audio and video to Bob through the SFU. After a warm-up the
impairment is switched on; for ``--seconds`` the script samples, every 10 ms, how many of
Alice's frames Bob decrypted and decoded. Then (``--burst``) every datagram is dropped for
that long, the impairment is restored, and the script measures how long until Bob decodes
audio and video again. It prints one JSON object:

* ``audio_loss_pct``: Alice's audio frames that Bob did not decrypt, during the impaired
  period (the burst excluded): lost before any recovery;
* what Bob's Opus decoder made of them: ``audio_fec_recovered`` (lost frames rebuilt
  from the next packet's in-band FEC), ``audio_plc_concealed`` (concealed by PLC),
  ``audio_lost_before_fec_pct`` / ``audio_lost_after_fec_pct`` (of the frames on the
  decoder's timeline: not decoded from their own packet / neither decoded nor rebuilt
  by FEC, so concealed or silent) and ``audio_longest_plc_ms`` (longest run of PLC);
* ``video_fps``, ``video_freeze_s`` (sum of gaps between decoded video frames over
  200 ms) and ``video_longest_gap_s``;
* ``recovery_video_s`` / ``recovery_audio_s``: from the end of the burst to the next
  decoded video / decrypted audio frame;
* ``decrypt_failures``: frames that failed authentication or had no key, audio and
  video; ``audio_decrypt_failures``: of those, audio. A video frame still incomplete
  after the jitter buffer gave up on a lost packet fails authentication and is dropped,
  never shown (fail-closed), so a few can happen under heavy loss; an audio frame (one
  packet) never should.

One file (over 400 lines) on purpose: the call, the impairment and the figures are one
measurement, run from the soak tests and bench/call.py alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aioice.ice
from aiohttp import web

from hotline.client.call import Call
from hotline.client.callstats import RemoteStream
from hotline.crypto.identity import Identity
from hotline.rtc import aiortc_adapter as adapter
from hotline.rtc.opus_fec import AudioRecovery
from hotline.server.app import STATE

from .server import start_server
from .trust import accept_all

FREEZE = 0.2  # seconds without a new video frame that count as a freeze
SAMPLE = 0.01
RECOVERY_WINDOW = 12.0  # seconds after a burst in which recovery is looked for
PRE_CAP = 6.0  # seconds of uncapped media before a cap (the first is not counted)


def set_tbf(spec: str | None) -> None:
    subprocess.run(["tc", "qdisc", "del", "dev", "lo", "root"], capture_output=True)
    if spec:
        subprocess.run(["tc", "qdisc", "add", "dev", "lo", "root", "tbf", *shlex.split(spec)],
                       check=True, capture_output=True)


@dataclass
class Impairment:
    """netem's model, per datagram: random loss, Gilbert-Elliott burst loss (``burst_p``
    good->bad, ``burst_r`` bad->good, every datagram lost while bad), a delay with
    uniform jitter, and reordering (a datagram sent at once, ahead of delayed ones)."""

    loss: float = 0.0
    burst_p: float = 0.0
    burst_r: float = 1.0
    delay: float = 0.0
    jitter: float = 0.0
    reorder: float = 0.0
    on: bool = False
    blackout: bool = False
    seed: int = 7

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.bad = False
        self.passed = self.dropped = 0

    @classmethod
    def parse(cls, spec: str) -> Impairment:
        fields = dict(kv.split("=") for kv in spec.split(",") if kv)
        return cls(**{k: float(v) for k, v in fields.items()})

    def apply(self, deliver: Callable[[], None]) -> None:
        if not self.on:
            deliver()
            return
        r = self.rng
        if self.burst_p:
            self.bad = (r.random() >= self.burst_r) if self.bad else r.random() < self.burst_p
        if self.blackout or self.bad or r.random() < self.loss:
            self.dropped += 1
            return
        self.passed += 1
        wait = max(0.0, self.delay + r.uniform(-self.jitter, self.jitter))
        if wait == 0 or r.random() < self.reorder:
            deliver()
        else:
            asyncio.get_running_loop().call_later(wait, deliver)


@dataclass
class RateCap:
    """A bottleneck link of ``rate`` bit/s (a FIFO drained at that rate, each datagram
    counted with 28 bytes of IP/UDP header; a datagram that would wait more than
    ``max_queue`` seconds is dropped, like tbf's ``latency``). ``rate`` 0: no cap.
    Only the sockets in ``sockets`` (by aioice protocol) are capped."""

    rate: float = 0.0
    max_queue: float = 0.1
    sockets: set[int] | None = None

    def __post_init__(self) -> None:
        self._free_at = 0.0  # loop time at which the link finishes what it has queued
        self.passed = self.dropped = 0
        self.bytes_passed = 0

    def applies(self, proto: Any) -> bool:
        return self.rate > 0 and (self.sockets is None or id(proto) in self.sockets)

    def apply(self, size: int, deliver: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        start = max(now, self._free_at)
        if start - now > self.max_queue:
            self.dropped += 1
            return
        self._free_at = start + (size + 28) * 8 / self.rate
        self.passed += 1
        self.bytes_passed += size
        loop.call_at(self._free_at, deliver)


def install(imp: Impairment, cap: RateCap | None = None) -> None:
    """Put ``imp`` on every aioice socket of this process (the clients' ICE sockets; the
    SFU's media bypasses aioice and is impaired at the clients' ends), and ``cap`` on
    what the sockets it names send."""
    received = aioice.ice.StunProtocol.datagram_received

    def datagram_received(self: Any, data: bytes, addr: Any) -> None:
        imp.apply(lambda: received(self, data, addr))

    async def send_data(self: Any, data: bytes, addr: Any) -> None:
        transport = self.transport

        def send() -> None:
            if not transport.is_closing():
                transport.sendto(data, addr)

        if cap is not None and cap.applies(self):
            imp.apply(lambda: cap.apply(len(data), send))
        else:
            imp.apply(send)

    aioice.ice.StunProtocol.datagram_received = datagram_received  # type: ignore[method-assign]
    aioice.ice.StunProtocol.send_data = send_data  # type: ignore[method-assign]


def stream_of(bob: Call, kind: str) -> RemoteStream | None:
    return next((s for s in bob.streams.values() if s.kind == kind), None)


class Sampler:
    """Times at which Bob's count of decoded video / decrypted audio frames grew."""

    def __init__(self, bob: Call) -> None:
        self.bob = bob
        self.video: list[float] = []
        self.audio: list[float] = []
        self._last = (0, 0)

    def sample(self, now: float) -> None:
        v, a = stream_of(self.bob, "video"), stream_of(self.bob, "audio")
        counts = (v.frames_decoded if v else 0, a.decryptor.decrypted if a else 0)
        if counts[0] > self._last[0]:
            self.video.append(now)
        if counts[1] > self._last[1]:
            self.audio.append(now)
        self._last = counts

    async def run(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        while (now := loop.time()) < end:
            self.sample(now)
            await asyncio.sleep(SAMPLE)


def gaps(times: list[float], start: float, end: float) -> list[float]:
    points = [start, *[t for t in times if start <= t <= end], end]
    return [b - a for a, b in itertools.pairwise(points)]


def counts(alice: Call, bob: Call) -> tuple[int, int, int]:
    sent = alice.stats().sent["audio_frames"]
    a = stream_of(bob, "audio")
    v = stream_of(bob, "video")
    fails = sum(sum(s.decryptor.dropped().values()) for s in (a, v) if s is not None)
    return sent, (a.decryptor.decrypted if a else 0), fails


def audio_failures(bob: Call) -> int:
    """Audio frames of Alice's that Bob could not authenticate (an Opus frame is one
    packet: unlike a video frame, it is never left incomplete by a loss)."""
    a = stream_of(bob, "audio")
    return sum(a.decryptor.dropped().values()) if a is not None else 0


def recovery(bob: Call) -> AudioRecovery:
    """A copy of the counters of Bob's Opus decoder (FEC, PLC) for Alice's audio."""
    a = stream_of(bob, "audio")
    return replace(a.decryptor.audio) if a is not None and a.decryptor.audio else (
        AudioRecovery())


def audio_figures(before: AudioRecovery, after: AudioRecovery) -> dict[str, Any]:
    """What became of Alice's audio frames at Bob's decoder: decoded from their own
    packet, rebuilt by FEC, concealed by PLC, or left out (a gap too long to conceal)."""
    d = {k: getattr(after, k) - getattr(before, k) for k in (
        "decoded", "fec_recovered", "plc_concealed", "not_concealed", "plc_runs")}
    # Shares of the frames that reached the decoder's timeline (a frame still in the
    # jitter buffer at either end of the period is then counted consistently).
    timeline = d["decoded"] + d["fec_recovered"] + d["plc_concealed"] + d["not_concealed"]
    lost_before = timeline - d["decoded"]
    lost_after = d["plc_concealed"] + d["not_concealed"]
    return {
        "audio_timeline_frames": timeline,
        "audio_lost_before_fec_pct": round(100 * lost_before / max(1, timeline), 2),
        "audio_decoded": d["decoded"], "audio_fec_recovered": d["fec_recovered"],
        "audio_plc_concealed": d["plc_concealed"],
        "audio_not_concealed": d["not_concealed"], "audio_plc_runs": d["plc_runs"],
        "audio_lost_after_fec_pct": round(100 * lost_after / max(1, timeline), 2),
        "audio_longest_plc_ms": 20 * after.longest_plc_run,
    }


@contextlib.asynccontextmanager
async def call_pair(video_size: tuple[int, int] = (160, 120)
                    ) -> AsyncIterator[tuple[web.Application, Call, Call]]:
    """A server and two clients, Alice and Bob, in room "link", media flowing."""
    with tempfile.TemporaryDirectory() as tmp:
        srv = await start_server(Path(tmp), join_timeout=10.0)
        codes = srv.room("link", ["alice", "bob"])
        url = srv.url
        alice = Call(url, Identity.generate(), "link", video_size=video_size,
                     trust_policy=accept_all())
        bob = Call(url, Identity.generate(), "link", video_size=video_size,
                   trust_policy=accept_all())
        try:
            await alice.start(enroll_code=codes["alice"])
            await bob.start(enroll_code=codes["bob"])
            for _ in range(200):  # warm-up: media flows both ways
                v = stream_of(bob, "video")
                if v is not None and v.frames_decoded > 30:
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("media did not start")
            yield srv.app, alice, bob
        finally:
            for c in (alice, bob):
                await c.close()
            await srv.close()


async def measure(imp: Impairment, tbf: str | None, seconds: float,
                  burst: float) -> dict[str, Any]:
    install(imp)
    loop = asyncio.get_running_loop()
    async with call_pair() as (app, alice, bob):
        try:
            imp.on = True
            set_tbf(tbf)
            sampler = Sampler(bob)
            start = loop.time()
            sent0, got0, fail0 = counts(alice, bob)
            audio_fail0 = audio_failures(bob)
            rec0 = recovery(bob)
            rec0.longest_plc_run = 0
            stream = stream_of(bob, "audio")
            if stream is not None and stream.decryptor.audio is not None:
                stream.decryptor.audio.longest_plc_run = 0  # count this period's only
            await sampler.run(seconds)
            sent1, got1, _ = counts(alice, bob)
            await asyncio.sleep(0.2)  # the frames in Bob's jitter buffer reach his decoder
            rec1 = recovery(bob)
            end = loop.time()
            video_gaps = gaps(sampler.video, start, end)
            result: dict[str, Any] = {
                "impairment": {k: v for k, v in vars(imp).items() if k in (
                    "loss", "burst_p", "burst_r", "delay", "jitter", "reorder") and v},
                "tbf": tbf or "", "seconds": seconds,
                "audio_sent": sent1 - sent0, "audio_decrypted": got1 - got0,
                "audio_loss_pct": round(100 * max(0, (sent1 - sent0) - (got1 - got0))
                                        / max(1, sent1 - sent0), 2),
                **audio_figures(rec0, rec1),
                "video_fps": round(len([t for t in sampler.video if start <= t <= end])
                                   / seconds, 1),
                "video_freeze_s": round(sum(g for g in video_gaps if g > FREEZE), 2),
                "video_longest_gap_s": round(max(video_gaps), 2),
            }
            if burst > 0:
                imp.blackout = True
                await asyncio.sleep(burst)
                imp.blackout = False
                cut = loop.time()
                after = Sampler(bob)
                after.sample(cut)
                after.video.clear()
                after.audio.clear()
                await after.run(RECOVERY_WINDOW)
                result["burst_s"] = burst
                result["recovery_video_s"] = (round(after.video[0] - cut, 2) if after.video
                                              else None)
                result["recovery_audio_s"] = (round(after.audio[0] - cut, 2) if after.audio
                                              else None)
            result["decrypt_failures"] = counts(alice, bob)[2] - fail0
            result["audio_decrypt_failures"] = audio_failures(bob) - audio_fail0
            result["datagrams_dropped_pct"] = round(100 * imp.dropped / max(
                1, imp.dropped + imp.passed), 2)
            sfu = app[STATE].sfu
            result["sfu"] = {f"{s.kind}_{k}": v for p in sfu.participants("link").values()
                             for s in p.router.published.values()
                             for k, v in vars(s.stats).items() if k != "bytes_in"}
            if bob.subscribe_pc is not None:
                buffers = {t.kind: getattr(t.receiver, "_RTCRtpReceiver__jitter_buffer", None)
                           for t in bob.subscribe_pc.getTransceivers()}
                result["jitter_buffer"] = {k: type(b).__name__ for k, b in buffers.items()}
                result["holes_skipped"] = {k: getattr(b, "skipped", None)
                                           for k, b in buffers.items()}
            return result
        finally:
            imp.on = False
            if tbf:
                set_tbf(None)


def _published(app: web.Application, call: Call, kind: str) -> Any:
    p = app[STATE].sfu.participants("link").get(call.signaling.participant_id)
    return next((s for s in p.router.published.values() if s.kind == kind), None) if p else None


def _uplink(app: web.Application, call: Call) -> Any:
    return app[STATE].sfu.participants("link")[call.signaling.participant_id].router.uplink


def _sfu_estimate(app: web.Application, call: Call) -> int | None:
    bitrate = _uplink(app, call).bitrate
    return int(bitrate // 1000) if bitrate is not None else None


def _target_bitrate(call: Call) -> int | None:
    """The bitrate the publisher's VP8 encoder is told to make (REMB), if known."""
    if call.publish_pc is None:
        return None
    for t in call.publish_pc.getTransceivers():
        if t.kind == "video":
            encoder = getattr(t.sender, "_RTCRtpSender__encoder", None)
            value = getattr(encoder, "target_bitrate", None)
            return value if isinstance(value, int) else None
    return None


async def measure_cap(kbit: float, cap_seconds: float, after_seconds: float,
                      video_size: tuple[int, int]) -> dict[str, Any]:
    """Alice's uplink (every datagram her ICE sockets send) capped at ``kbit`` for
    ``cap_seconds``, then lifted. Per second: Alice's video and audio bitrate as the SFU
    receives them, her encoder's target, and Bob's audio."""
    cap = RateCap(sockets=set())
    imp = Impairment()
    install(imp, cap)
    loop = asyncio.get_running_loop()
    async with call_pair(video_size) as (app, alice, bob):
        for pc in (alice.publish_pc, alice.subscribe_pc):
            if pc is not None:
                conn = adapter.dtls_transport(pc).transport._connection
                cap.sockets.update(id(proto) for proto in conn._protocols)  # type: ignore[union-attr]
        await asyncio.sleep(PRE_CAP)  # the encoder settles at its uncapped rate
        series: list[dict[str, Any]] = []
        phases = [("pre", PRE_CAP), ("cap", cap_seconds), ("after", after_seconds)]
        marks: dict[str, tuple[int, int, AudioRecovery]] = {}
        sampler = Sampler(bob)
        t0 = loop.time()
        for phase, seconds in phases:
            cap.rate = kbit * 1000 if phase == "cap" else 0.0
            sent, got, _ = counts(alice, bob)
            marks[phase] = (sent, got, recovery(bob))
            if phase == "cap":
                stream = stream_of(bob, "audio")
                if stream is not None and stream.decryptor.audio is not None:
                    stream.decryptor.audio.longest_plc_run = 0
            for _ in range(int(seconds)):
                v, a = _published(app, alice, "video"), _published(app, alice, "audio")
                vb, ab = (v.stats.bytes_in if v else 0), (a.stats.bytes_in if a else 0)
                await sampler.run(1.0)
                v, a = _published(app, alice, "video"), _published(app, alice, "audio")
                series.append({
                    "t": round(loop.time() - t0, 1), "phase": phase,
                    "video_kbps": round(((v.stats.bytes_in if v else 0) - vb) * 8 / 1000, 1),
                    "audio_kbps": round(((a.stats.bytes_in if a else 0) - ab) * 8 / 1000, 1),
                    "target_kbps": (t // 1000) if (t := _target_bitrate(alice)) else None,
                    "sfu_estimate_kbps": _sfu_estimate(app, alice),
                    "uplink_loss": round(_uplink(app, alice).loss, 3),
                })
            if phase == "cap":
                sent1, got1, _ = counts(alice, bob)
                await asyncio.sleep(0.2)
                marks["cap_end"] = (sent1, got1, recovery(bob))
                cap_audio_gaps = gaps(sampler.audio, t0 + PRE_CAP, t0 + PRE_CAP + cap_seconds)
        pre = [x["video_kbps"] for x in series if x["phase"] == "pre"][1:]
        capped = [x for x in series if x["phase"] == "cap"]
        after = [x for x in series if x["phase"] == "after"]
        pre_kbps = statistics.median(pre) if pre else 0.0  # a CPU stall makes spikes
        back = next((i + 1 for i, x in enumerate(after) if x["video_kbps"] >= 0.9 * pre_kbps),
                    None)
        sent0, got0, rec0 = marks["cap"]
        sent1, got1, rec1 = marks["cap_end"]
        half = capped[len(capped) // 2:]
        return {
            "cap_kbit": kbit, "cap_seconds": cap_seconds, "video_size": list(video_size),
            "pre_video_kbps": round(pre_kbps, 1),
            "cap_video_kbps": round(sum(x["video_kbps"] for x in half) / max(1, len(half)), 1),
            "cap_audio_kbps": round(sum(x["audio_kbps"] for x in half) / max(1, len(half)), 1),
            "cap_audio_sent": sent1 - sent0, "cap_audio_decrypted": got1 - got0,
            "cap_audio_loss_pct": round(100 * max(0, (sent1 - sent0) - (got1 - got0))
                                        / max(1, sent1 - sent0), 2),
            **{f"cap_{k}": v for k, v in audio_figures(rec0, rec1).items()},
            "cap_audio_longest_gap_s": round(max(cap_audio_gaps), 2),
            "recovery_s": back,  # seconds after the cap was lifted to >= 90 % of pre_kbps
            "cap_dropped_pct": round(100 * cap.dropped / max(1, cap.dropped + cap.passed), 2),
            "sfu": {f"{s.kind}_{k}": v for s in app[STATE].sfu.participants("link")[
                alice.signaling.participant_id].router.published.values()
                for k, v in vars(s.stats).items() if k != "bytes_in"},
            "series": series,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impair", default="", help="e.g. loss=0.05,delay=0.04,jitter=0.01")
    parser.add_argument("--tbf", default="", help='tbf options, e.g. "rate 300kbit ..."')
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst", type=float, default=0.0)
    parser.add_argument("--cap-kbit", type=float, default=0.0,
                        help="cap Alice's uplink at this rate for --seconds, then lift it")
    parser.add_argument("--after", type=float, default=15.0)
    parser.add_argument("--video-size", default="320x240")
    args = parser.parse_args()
    if [n for _, n in socket.if_nameindex()] != ["lo"]:
        sys.exit("refusing to run outside a loopback-only network namespace")
    if args.cap_kbit:
        w, h = (int(x) for x in args.video_size.split("x"))
        result = asyncio.run(measure_cap(args.cap_kbit, args.seconds, args.after, (w, h)))
    else:
        result = asyncio.run(measure(Impairment.parse(args.impair), args.tbf or None,
                                     args.seconds, args.burst))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
