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
* ``decrypt_failures``: frames that failed authentication or had no key (must stay 0).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import shlex
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aioice.ice
from aiohttp import web

from hotline.client.call import Call, RemoteStream
from hotline.crypto.identity import Identity
from hotline.rtc.opus_fec import AudioRecovery
from hotline.server.app import STATE, make_app
from hotline.server.settings import Settings
from hotline.server.store import SqliteStore

FREEZE = 0.2  # seconds without a new video frame that count as a freeze
SAMPLE = 0.01
RECOVERY_WINDOW = 12.0  # seconds after a burst in which recovery is looked for


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


def install(imp: Impairment) -> None:
    """Put ``imp`` on every aioice socket of this process (the clients' ICE sockets; the
    SFU's media bypasses aioice and is impaired at the clients' ends)."""
    received = aioice.ice.StunProtocol.datagram_received

    def datagram_received(self: Any, data: bytes, addr: Any) -> None:
        imp.apply(lambda: received(self, data, addr))

    async def send_data(self: Any, data: bytes, addr: Any) -> None:
        transport = self.transport
        imp.apply(lambda: transport.sendto(data, addr) if not transport.is_closing() else None)

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


async def measure(imp: Impairment, tbf: str | None, seconds: float,
                  burst: float) -> dict[str, Any]:
    install(imp)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        store = SqliteStore(data)
        for name in ("alice", "bob"):
            store.add_party(name)
        store.add_room("link", ["alice", "bob"])
        app = make_app(Settings(host="127.0.0.1", port=0, data_dir=data, join_timeout=10.0),
                       store=store)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        alice = Call(url, Identity.generate(), "link", video_size=(160, 120))
        bob = Call(url, Identity.generate(), "link", video_size=(160, 120))
        loop = asyncio.get_running_loop()
        try:
            await alice.start(enroll_code=store.new_enrollment_code("alice"))
            await bob.start(enroll_code=store.new_enrollment_code("bob"))
            for _ in range(200):  # warm-up: media flows both ways
                v = stream_of(bob, "video")
                if v is not None and v.frames_decoded > 30:
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("media did not start")
            imp.on = True
            set_tbf(tbf)
            sampler = Sampler(bob)
            start = loop.time()
            sent0, got0, fail0 = counts(alice, bob)
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
            for c in (alice, bob):
                await c.close()
            await runner.cleanup()
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--impair", default="", help="e.g. loss=0.05,delay=0.04,jitter=0.01")
    parser.add_argument("--tbf", default="", help='tbf options, e.g. "rate 300kbit ..."')
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--burst", type=float, default=0.0)
    args = parser.parse_args()
    if [n for _, n in socket.if_nameindex()] != ["lo"]:
        sys.exit("refusing to run outside a loopback-only network namespace")
    result = asyncio.run(measure(Impairment.parse(args.impair), args.tbf or None, args.seconds,
                                 args.burst))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
