"""The uptime record of each hotline, kept in the store and signed by this node.

The node's own Ed25519 key (``node.key`` in the data directory, mode 0600) signs every
entry it appends; :meth:`UptimeRecord.verify` checks the whole chain
(:mod:`hotline.crypto.uptimelog`) and names the first entry that is broken.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hotline.crypto.identity import Identity
from hotline.crypto.uptimelog import ChainReport, LogEntry, append, verify_chain
from hotline.errors import IdentityError, LogError, Reason
from hotline.server.store import Store

NODE_KEY = "node.key"


def node_identity(data_dir: Path) -> Identity:
    """This server node's signing key: loaded, or created on first use."""
    path = Path(data_dir) / NODE_KEY
    try:
        return Identity.load(path)
    except IdentityError as exc:
        if exc.reason is not Reason.FILE or path.exists():
            raise
    identity = Identity.generate()
    identity.save(path)
    return identity


class UptimeRecord:
    def __init__(self, store: Store, node: Identity) -> None:
        self._store = store
        self.node = node

    def entries(self, hotline: str) -> list[LogEntry]:
        """Every entry, in stored order (raises LogError for one that cannot be parsed)."""
        return [LogEntry.decode(raw) for raw in self._store.log_entries(hotline)]

    def append(self, hotline: str, kind: str, data: Mapping[str, Any],
               time_ms: int | None = None) -> LogEntry:
        last = self._store.last_log_entry(hotline)
        previous = LogEntry.decode(last) if last is not None else None
        entry = append(self.node, previous, kind=kind, hotline=hotline, data=data,
                       time_ms=int(time.time() * 1000) if time_ms is None else time_ms)
        self._store.append_log(hotline, entry.seq, entry.encode())
        return entry

    def verify(self, hotline: str, also_trusted: Iterable[bytes] = ()) -> ChainReport:
        entries = []
        for i, raw in enumerate(self._store.log_entries(hotline)):
            try:
                entries.append(LogEntry.decode(raw))
            except LogError:
                report = verify_chain(entries, [self.node.public_key, *also_trusted])
                if not report.ok:
                    return report
                return ChainReport(i + 1, i, "entry cannot be parsed (altered)")
        return verify_chain(entries, [self.node.public_key, *also_trusted])
