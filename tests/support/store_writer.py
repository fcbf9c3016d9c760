"""Hammer a data directory with writes through the store API, as the server does, until
killed: one uptime-log entry for HOTLINE (signed, hash-chained, appended by
:class:`hotline.server.hotline.uptime.UptimeRecord`), an enrollment code, a room and an audit
entry per round. Prints ``seq N`` after each committed log entry (flushed), so that the
test knows what must survive a kill -9. Bounded: at most ROUNDS rounds and SECONDS s.

    python -m tests.support.store_writer DATA_DIR HOTLINE [ROUNDS] [SECONDS]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hotline.server.hotline.uptime import UptimeRecord, node_identity
from hotline.server.store import SqliteStore


def main() -> None:
    data, hotline = Path(sys.argv[1]), sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 100_000
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 60.0
    store = SqliteStore(data)
    record = UptimeRecord(store, node_identity(data))
    tag = f"{hotline}-{time.monotonic_ns() % 10**9}"
    deadline = time.monotonic() + seconds
    for i in range(rounds):
        if time.monotonic() > deadline:
            break
        entry = record.append(hotline, "link_test", {"ok": True, "rtt_ms": i % 97,
                                                     "path": "sfu", "pad": "x" * (i % 300)})
        print(f"seq {entry.seq}", flush=True)
        store.new_enrollment_code("alice")
        store.add_room(f"r-{tag}-{i}", ["alice", "bob"])
        store.audit("writer", room=f"r-{tag}-{i}", party="alice")
    store.close()


if __name__ == "__main__":
    main()
