"""The hotline records in the store: hotlines, their pinned keys, uptime logs and options.

A hotline is a standing link between two parties; it pins every active device key of
both when it is created, and only an explicit ``repin`` changes them. Its uptime record
(:mod:`hotline.server.hotline.uptime`) is kept here as signed entries, written once.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from hotline.errors import UsageError
from hotline.server.database import Database, check_name


@dataclass(frozen=True, slots=True)
class Hotline:
    """A standing link between two parties, with their device keys pinned."""

    id: int
    name: str
    parties: tuple[str, str]
    pins: dict[str, frozenset[bytes]]  # party -> pinned identity keys


class HotlineRecords(Database):
    """The hotline part of :class:`hotline.server.store.SqliteStore`."""

    def _active_keys(self, party_id: int) -> list[bytes]:
        return [bytes(r[0]) for r in self._db.execute(
            "SELECT identity_key FROM devices WHERE party_id=? AND revoked_at IS NULL",
            (party_id,))]

    def add_hotline(self, name: str, party_a: str, party_b: str) -> Hotline:
        """Create a hotline pinning every active device key of both parties."""
        check_name("hotline", name)
        if party_a == party_b:
            raise UsageError("a hotline links two different parties")
        ids = (self._party_id(party_a), self._party_id(party_b))
        pins = {party: self._active_keys(pid) for party, pid in zip((party_a, party_b), ids,
                                                                      strict=True)}
        for party, keys in pins.items():
            if not keys:
                raise UsageError(f"party {party!r} has no enrolled device to pin; enroll one "
                                 "first")
        with self._tx() as db:
            try:
                cur = db.execute("INSERT INTO hotlines (name, party_a, party_b, created_at)"
                                 " VALUES (?, ?, ?, ?)", (name, *ids, self._now()))
            except sqlite3.IntegrityError:
                raise UsageError(f"hotline {name!r} exists already") from None
            for party_id, party in zip(ids, (party_a, party_b), strict=True):
                db.executemany("INSERT INTO hotline_pins VALUES (?, ?, ?)",
                               [(cur.lastrowid, party_id, k) for k in pins[party]])
            db.execute("INSERT INTO audit (at, kind, detail) VALUES (?, 'hotline_add', ?)",
                       (self._now(), json.dumps({"hotline": name, "parties": [party_a,
                                                                              party_b]})))
        hotline = self.get_hotline(name)
        assert hotline is not None
        return hotline

    def get_hotline(self, name: str) -> Hotline | None:
        row = self._db.execute(
            "SELECT h.id, pa.name, pb.name FROM hotlines h JOIN parties pa ON pa.id=h.party_a"
            " JOIN parties pb ON pb.id=h.party_b WHERE h.name=?", (name,)).fetchone()
        if row is None:
            return None
        pins: dict[str, set[bytes]] = {row[1]: set(), row[2]: set()}
        for party, key in self._db.execute(
                "SELECT p.name, k.identity_key FROM hotline_pins k JOIN parties p"
                " ON p.id=k.party_id WHERE k.hotline_id=?", (row[0],)):
            pins[party].add(bytes(key))
        return Hotline(row[0], name, (row[1], row[2]),
                       {p: frozenset(k) for p, k in pins.items()})

    def list_hotlines(self) -> list[Hotline]:
        names = [r[0] for r in self._db.execute("SELECT name FROM hotlines ORDER BY name")]
        return [h for n in names if (h := self.get_hotline(n)) is not None]

    def repin(self, name: str, party: str) -> Hotline:
        """Explicit operator action: pin ``party``'s current active device keys instead."""
        hotline = self.get_hotline(name)
        if hotline is None:
            raise UsageError(f"no hotline named {name!r}")
        if party not in hotline.parties:
            raise UsageError(f"party {party!r} is not an end of hotline {name!r}")
        party_id = self._party_id(party)
        keys = self._active_keys(party_id)
        if not keys:
            raise UsageError(f"party {party!r} has no enrolled device to pin")
        with self._tx() as db:
            db.execute("DELETE FROM hotline_pins WHERE hotline_id=? AND party_id=?",
                       (hotline.id, party_id))
            db.executemany("INSERT INTO hotline_pins VALUES (?, ?, ?)",
                           [(hotline.id, party_id, k) for k in keys])
            db.execute("INSERT INTO audit (at, kind, party, detail) VALUES (?, 'repin', ?, ?)",
                       (self._now(), party, json.dumps({"hotline": name, "keys": len(keys)})))
        repinned = self.get_hotline(name)
        assert repinned is not None
        return repinned

    def append_log(self, hotline: str, seq: int, entry: bytes) -> None:
        """Store one uptime-log entry; a sequence number is written once."""
        found = self.get_hotline(hotline)
        if found is None:
            raise UsageError(f"no hotline named {hotline!r}")
        with self._tx() as db:
            try:
                db.execute("INSERT INTO uptime_log VALUES (?, ?, ?)", (found.id, seq, entry))
            except sqlite3.IntegrityError:
                raise UsageError(f"log entry {seq} of {hotline!r} exists already") from None

    def log_entries(self, hotline: str) -> list[bytes]:
        found = self.get_hotline(hotline)
        if found is None:
            raise UsageError(f"no hotline named {hotline!r}")
        return [bytes(r[0]) for r in self._db.execute(
            "SELECT CAST(entry AS BLOB) FROM uptime_log WHERE hotline_id=? ORDER BY rowid",
            (found.id,))]

    def last_log_entry(self, hotline: str) -> bytes | None:
        found = self.get_hotline(hotline)
        if found is None:
            raise UsageError(f"no hotline named {hotline!r}")
        row = self._db.execute("SELECT CAST(entry AS BLOB) FROM uptime_log WHERE hotline_id=?"
                               " ORDER BY rowid DESC LIMIT 1", (found.id,)).fetchone()
        return bytes(row[0]) if row else None

    def hotline_interval(self, hotline: str) -> float | None:
        """The hotline's own link-test interval in seconds (None: the server's)."""
        row = self._db.execute(
            "SELECT o.linktest_interval FROM hotline_options o JOIN hotlines h"
            " ON h.id = o.hotline_id WHERE h.name=?", (hotline,)).fetchone()
        return float(row[0]) if row and row[0] is not None else None

    def set_hotline_interval(self, hotline: str, seconds: float | None) -> None:
        found = self.get_hotline(hotline)
        if found is None:
            raise UsageError(f"no hotline named {hotline!r}")
        with self._tx() as db:
            db.execute("INSERT INTO hotline_options (hotline_id, linktest_interval) VALUES"
                       " (?, ?) ON CONFLICT (hotline_id) DO UPDATE SET linktest_interval ="
                       " excluded.linktest_interval", (found.id, seconds))
            db.execute("INSERT INTO audit (at, kind, detail) VALUES (?, 'hotline_set', ?)",
                       (self._now(), json.dumps({"hotline": hotline, "interval": seconds})))
