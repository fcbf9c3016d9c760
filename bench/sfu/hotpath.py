"""The SFU's forwarding path in one process: CPU per forwarded copy, no network stack
between (beyond one real ``sendto`` per copy to a loopback socket drained by a child
process).

One published video stream with N copies, each on its own :class:`RawMediaPath` with a
real libsrtp session and its own UDP socket, as the SFU has per subscriber. Prints the
CPU time (this process: user + system, so the kernel's ``sendto`` is included) per copy,
and the same without ``sendto`` (the Python and libsrtp part alone). Used to profile and
compare changes to the hot path; the end-to-end comparison with Janus is
:mod:`bench.sfu.compare`.

    python -m bench.sfu.hotpath --copies 19 --packets 20000
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import time
from typing import Any

import pylibsrtp

from bench.common import RESULTS
from hotline.rtc.raw_media import RawMediaPath
from hotline.sfu.forwarding import ForwardedCopy, PublishedStream
from hotline.sfu.rtp import FIXED_HEADER, parse_rtp


def _drain(port_queue: Any, stop: Any) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    port_queue.put(sock.getsockname()[1])
    while not stop.is_set():
        try:
            sock.recv(2048)
        except TimeoutError:
            continue


def _session() -> pylibsrtp.Session:
    # What aiortc and browsers negotiate first (DTLS-SRTP, RFC 7714): AES-256-GCM.
    policy = pylibsrtp.Policy(key=os.urandom(44), ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND,
                              srtp_profile=pylibsrtp.Policy.SRTP_PROFILE_AEAD_AES_256_GCM)
    return pylibsrtp.Session(policy)


def _packets(count: int) -> list[bytes]:
    """VP8-sized RTP packets with one header extension (abs-send-time at id 2)."""
    payload = os.urandom(1100)
    ext = bytes([0xBE, 0xDE, 0, 1, 0x22, 1, 2, 3])
    return [FIXED_HEADER.pack(0x90, 96, i & 0xFFFF, i * 3000, 0x1234) + ext + payload
            for i in range(count)]


class _NoSend:
    """A socket stand-in that sends nothing: to time protect without the kernel."""

    def sendto(self, data: Any, addr: Any) -> None:
        pass

    def close(self) -> None:
        pass


def measure(copies: int, packets: int, send: bool, port: int) -> float:
    stream = PublishedStream(1, "video", 0x1234, 96, {2: "abs-send-time"}, lambda b: None)
    paths = []
    for i in range(copies):
        path = RawMediaPath(lambda b: None, lambda b: None)
        sock: Any = _NoSend()
        if send:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
            sock.setblocking(False)
        path.attach_session(_session(), _session(), sock, ("127.0.0.1", port))
        paths.append(path)
        stream.add_copy(ForwardedCopy(stream, i + 2, 0x5000 + i, 100 + i % 2,
                                           path.send, seq_offset=i, ts_offset=i * 7,
                                           subscriber_exts={"abs-send-time": 3},
                                           send_parts=path.send_parts))
    data = _packets(packets)
    headers = [parse_rtp(p) for p in data]
    start = time.process_time()
    for p, h in zip(data, headers, strict=True):
        assert h is not None
        stream.on_rtp(p, h)
        if send and h.sequence % 64 == 0:
            time.sleep(0)  # let the drain keep up
    elapsed = time.process_time() - start
    dropped = sum(p.send_dropped for p in paths)
    errors = sum(p.send_errors + p.srtp_errors for p in paths)
    for path in paths:
        path.detach()
    if errors:
        raise SystemExit(f"{errors} send/protect errors")
    if dropped:
        print(f"  ({dropped} copies dropped by a full socket buffer)")
    return elapsed / (packets * copies) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--copies", type=int, default=19)
    ap.add_argument("--packets", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    ctx = multiprocessing.get_context("spawn")
    port_queue, stop = ctx.Queue(), ctx.Event()
    drain = ctx.Process(target=_drain, args=(port_queue, stop), daemon=True)
    drain.start()
    port = port_queue.get(timeout=10)
    rows = []
    try:
        for send in (False, True):
            best = min(measure(args.copies, args.packets, send, port)
                       for _ in range(args.rounds))
            rows.append({"sendto": send, "us_per_copy": round(best, 2)})
            label = "protect + sendto" if send else "protect only (no sendto)"
            print(f"{label:26} {best:6.2f} µs CPU per forwarded copy "
                  f"({args.copies} copies, {args.packets} packets, best of {args.rounds})")
    finally:
        stop.set()
        drain.join(2)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sfu_hotpath.json").write_text(json.dumps(
        {"copies": args.copies, "packets": args.packets, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
