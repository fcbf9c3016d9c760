"""Frame encryption and rekey costs, in Python (no network).

* SFrame (RFC 9605) protect / unprotect of one frame per cipher suite, through the
  same code the client uses (:mod:`hotline.crypto.frames`: codec bytes kept clear), for
  an Opus frame and VP8 delta and key frames of the benchmark media;
* bytes added per frame with the default suite (audio and video);
* rekey after a leave in rooms of 2, 5, 10, 25 and 50 simulated participants
  (:class:`~hotline.crypto.localroom.LocalRoom`: every key schedule, HPKE seal/open and
  signature of the real clients, with the server's relay in memory). ``serial`` is the
  wall time until every remaining participant holds every new key with all the work
  done on one core; ``per participant`` divides it by the participants left, which is
  what each client spends when they work in parallel (signaling latency not included).

    python -m bench.crypto
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench.common import machine, percentiles, table, write_json
from hotline.crypto.frames import Codec, protect, unprotect
from hotline.crypto.localroom import LocalRoom
from hotline.crypto.sframe import SFrameContext, SFrameSender
from hotline.crypto.suites import DEFAULT_SUITE, CipherSuite

ROOMS = (2, 5, 10, 25, 50)
BUDGET_S = 0.5  # per suite and frame kind
MAX_ITER = 20000


def frames() -> dict[str, bytes]:
    from bench import media

    video, audio = media.load()
    key = next(f["data"] for f in video if f["key"])
    deltas = sorted((f["data"] for f in video if not f["key"]), key=len)
    return {"opus": audio[10], "vp8_delta": deltas[len(deltas) // 2], "vp8_key": key}


def _timed(fn: Any, max_iter: int = MAX_ITER) -> float:
    """Median µs of ``fn()`` over at most BUDGET_S seconds / ``max_iter`` calls."""
    samples = []
    t_end = time.perf_counter() + BUDGET_S
    for _ in range(max_iter):
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
        if t > t_end:
            break
    p = percentiles(samples)
    assert p is not None
    return p["p50"] * 1e6


def sframe_costs() -> tuple[list[dict[str, Any]], dict[str, int]]:
    rows = []
    overhead = {}
    fr = frames()
    for suite in CipherSuite:
        ctx = SFrameContext(suite)
        base = os.urandom(16)
        ctx.add_encryption_key(5, base)
        ctx.add_decryption_key(5, base)
        sender = SFrameSender(ctx, 5)
        for name, frame in fr.items():
            codec = Codec.OPUS if name == "opus" else Codec.VP8
            wire = protect(sender, codec, frame)
            enc = _timed(lambda s=sender, c=codec, f=frame: protect(s, c, f))
            dec_ctx = SFrameContext(suite)
            dec_ctx.add_decryption_key(5, base)
            wires = iter([protect(sender, codec, frame) for _ in range(2000)])
            dec = _timed(lambda c=codec, d=dec_ctx, i=wires: unprotect(d, c, next(i)), 2000)
            rows.append({"suite": suite.name, "suite_id": int(suite), "frame": name,
                         "bytes": len(frame), "encrypt_us": round(enc, 1),
                         "decrypt_us": round(dec, 1), "overhead_bytes": len(wire) - len(frame)})
            if suite == DEFAULT_SUITE:
                overhead[name] = len(wire) - len(frame)
    return rows, overhead


def rekey_times() -> list[dict[str, Any]]:
    rows = []
    for n in ROOMS:
        room = LocalRoom(f"bench-{n}")
        members = [room.join(f"p{i}") for i in range(n)]
        delivered = room.delivered
        t = time.perf_counter()
        room.leave(members[0].participant_id)
        serial = time.perf_counter() - t
        left = max(1, n - 1)
        ok = len(room.codes()) <= 1
        rows.append({"participants": n, "serial_ms": round(serial * 1000, 1),
                     "per_participant_ms": round(serial * 1000 / left, 2),
                     "key_messages": room.delivered - delivered, "one_group_code": ok})
    return rows


def main() -> None:
    rows, overhead = sframe_costs()
    print("SFrame per frame (Python, median µs), through hotline.crypto.frames:\n")
    print(table(["suite", "frame", "bytes", "encrypt µs", "decrypt µs", "overhead B"],
                [[r["suite"], r["frame"], r["bytes"], r["encrypt_us"], r["decrypt_us"],
                  r["overhead_bytes"]] for r in rows]))
    print(f"\nDefault suite {DEFAULT_SUITE.name}: bytes added per frame: "
          + ", ".join(f"{k} {v}" for k, v in overhead.items()))
    rk = rekey_times()
    print("\nRekey after a leave (simulated participants, Python):\n")
    print(table(["participants", "serial ms (all on one core)", "per participant ms",
                 "key messages", "one group code after"],
                [[r["participants"], r["serial_ms"], r["per_participant_ms"],
                  r["key_messages"], r["one_group_code"]] for r in rk]))
    path = write_json("crypto", {"machine": machine(), "sframe": rows,
                                 "default_suite": DEFAULT_SUITE.name,
                                 "overhead_default": overhead, "rekey": rk})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
