"""The SQLite database under the store: its schema, migrations and transactions.

:class:`Database` opens ``hotline.sqlite3`` in the data directory (WAL, foreign keys on)
and gives its subclasses one transaction per change; :class:`hotline.server.store.
SqliteStore` (parties, devices, rooms, audit) and :class:`hotline.server.hotline.records.
HotlineRecords` (hotlines, pins, uptime records) are built on it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hotline.errors import ConfigError, UsageError

SCHEMA_VERSION = 2
DB_NAME = "hotline.sqlite3"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parties (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS enrollment_codes (
    id INTEGER PRIMARY KEY,
    party_id INTEGER NOT NULL REFERENCES parties(id) ON DELETE CASCADE,
    code_hash TEXT NOT NULL UNIQUE, created_at REAL NOT NULL, expires_at REAL NOT NULL,
    used_at REAL, device_id INTEGER REFERENCES devices(id));
CREATE TABLE IF NOT EXISTS devices (
    id INTEGER PRIMARY KEY,
    party_id INTEGER NOT NULL REFERENCES parties(id) ON DELETE CASCADE,
    identity_key BLOB NOT NULL UNIQUE, label TEXT NOT NULL DEFAULT '',
    enrolled_at REAL NOT NULL, revoked_at REAL);
CREATE TABLE IF NOT EXISTS rooms (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS room_members (
    room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    party_id INTEGER NOT NULL REFERENCES parties(id) ON DELETE CASCADE,
    role TEXT NOT NULL DEFAULT 'delegate',
    PRIMARY KEY (room_id, party_id));
CREATE TABLE IF NOT EXISTS room_options (
    room_id INTEGER PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
    direct INTEGER NOT NULL DEFAULT 0,
    channels TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS hotlines (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,
    party_a INTEGER NOT NULL REFERENCES parties(id),
    party_b INTEGER NOT NULL REFERENCES parties(id),
    created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS hotline_pins (
    hotline_id INTEGER NOT NULL REFERENCES hotlines(id) ON DELETE CASCADE,
    party_id INTEGER NOT NULL REFERENCES parties(id), identity_key BLOB NOT NULL,
    PRIMARY KEY (hotline_id, identity_key));
CREATE TABLE IF NOT EXISTS uptime_log (
    hotline_id INTEGER NOT NULL REFERENCES hotlines(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL, entry BLOB NOT NULL, PRIMARY KEY (hotline_id, seq));
CREATE TABLE IF NOT EXISTS hotline_options (
    hotline_id INTEGER PRIMARY KEY REFERENCES hotlines(id) ON DELETE CASCADE,
    linktest_interval REAL);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, kind TEXT NOT NULL,
    room TEXT, party TEXT, device_id INTEGER, detail TEXT NOT NULL DEFAULT '{}');
"""
MAX_NAME = 64


def check_name(kind: str, name: str) -> str:
    """Names of parties and rooms: 1-64 printable characters, no surrounding spaces."""
    if not name or len(name) > MAX_NAME or name != name.strip() or not name.isprintable():
        raise UsageError(f"{kind} name must be 1-{MAX_NAME} printable characters")
    return name


class Database:
    """One SQLite connection with the Hotline schema; ``clock`` gives every timestamp."""

    def __init__(self, data_dir: str | Path, *, clock: Callable[[], float] = time.time) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._db = sqlite3.connect(self.data_dir / DB_NAME, timeout=10,
                                       isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise ConfigError(f"cannot open the data directory {self.data_dir}: {exc}") from None
        self._now = clock
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._check_version()
        self._add_columns()

    def _check_version(self) -> None:
        row = self._db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            self._db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) == 1:
            self._migrate_1_to_2()
        elif int(row[0]) != SCHEMA_VERSION:
            raise ConfigError(f"data directory has schema {row[0]}, this Hotline "
                              f"understands {SCHEMA_VERSION}")

    def _migrate_1_to_2(self) -> None:
        """Schema 2 gives each room member a role (everyone was a delegate before)."""
        with self._tx() as db:
            columns = {r[1] for r in db.execute("PRAGMA table_info(room_members)")}
            if "role" not in columns:
                db.execute("ALTER TABLE room_members ADD COLUMN role TEXT NOT NULL"
                           " DEFAULT 'delegate'")
            db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))

    def _add_columns(self) -> None:
        """Columns added to a table of schema 2 after it shipped (each with a default, so
        an older Hotline still reads the table): added to an existing database here."""
        columns = {r[1] for r in self._db.execute("PRAGMA table_info(room_options)")}
        if "channels" not in columns:  # interpretation channels, space-separated
            with self._tx() as db:
                db.execute("ALTER TABLE room_options ADD COLUMN channels TEXT NOT NULL"
                           " DEFAULT ''")

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()

    def _party_id(self, name: str) -> int:
        row = self._db.execute("SELECT id FROM parties WHERE name=?", (name,)).fetchone()
        if row is None:
            raise UsageError(f"no party named {name!r}")
        return int(row[0])
