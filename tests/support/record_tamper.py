"""What a malicious server can do to its uptime record: rewrite it and sign it again with
its own node key, so that the hash chain and every server signature are intact again.

Only the endpoints' signed reports (and the heads the standbys remember) can tell.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hotline.crypto.identity import Identity
from hotline.crypto.uptimelog import LogEntry, append
from hotline.server.store import SqliteStore

Row = dict[str, Any]  # {"kind", "data", "time_ms"}
Transform = Callable[[list[Row]], list[Row]]


def rows(entries: list[LogEntry]) -> list[Row]:
    return [{"kind": e.kind, "data": e.fields, "time_ms": e.time_ms} for e in entries]


def rechain(node: Identity, hotline: str, view: list[Row]) -> list[LogEntry]:
    """``view`` written as a fresh, well-formed chain signed by ``node``."""
    out: list[LogEntry] = []
    for r in view:
        out.append(append(node, out[-1] if out else None, kind=r["kind"], hotline=hotline,
                          data=r["data"], time_ms=r["time_ms"]))
    return out


def rewrite(store: SqliteStore, node: Identity, hotline: str, transform: Transform) -> None:
    """Replace ``hotline``'s whole record by ``transform`` of it, re-chained and re-signed."""
    entries = [LogEntry.decode(raw) for raw in store.log_entries(hotline)]
    new = rechain(node, hotline, transform(rows(entries)))
    found = store.get_hotline(hotline)
    assert found is not None
    with store._tx() as db:  # the attacker owns the database
        db.execute("DELETE FROM uptime_log WHERE hotline_id=?", (found.id,))
    for e in new:
        store.append_log(hotline, e.seq, e.encode())
