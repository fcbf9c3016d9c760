"""Storage of parties, devices, rooms, enrollment codes and the audit log.

:class:`Store` is the repository interface the server uses; :class:`SqliteStore` is
the default implementation (SQLite in WAL mode, one file in the data directory).
A PostgreSQL implementation only has to provide the same methods.

Nothing secret is stored: devices are public keys, and enrollment codes are kept as
SHA-256 hashes (a code has 123 random bits, so a plain hash is enough). The audit log
holds metadata only (who joined or left which room, when).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hotline.crypto.ed25519_checks import public_key_problem
from hotline.errors import ConfigError, UsageError
from hotline.signaling.messages import DEFAULT_ROLE, ROLES

SCHEMA_VERSION = 2
DB_NAME = "hotline.sqlite3"
CODE_TTL_SECONDS = 7 * 24 * 3600
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L

_SCHEMA = """
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


@dataclass(frozen=True, slots=True)
class Party:
    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Device:
    id: int
    party: str
    identity_key: bytes
    label: str
    revoked: bool


@dataclass(frozen=True, slots=True)
class Room:
    id: int
    name: str
    members: tuple[str, ...]
    roles: dict[str, str]  # member party -> role (signaling.messages.ROLES)

    def role_of(self, party: str) -> str:
        return self.roles.get(party, DEFAULT_ROLE)


@dataclass(frozen=True, slots=True)
class Hotline:
    """A standing link between two parties, with their device keys pinned."""

    id: int
    name: str
    parties: tuple[str, str]
    pins: dict[str, frozenset[bytes]]  # party -> pinned identity keys


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: float
    kind: str
    room: str | None
    party: str | None
    device_id: int | None
    detail: dict[str, object]


class Store(Protocol):
    """What the server needs from storage."""

    def add_party(self, name: str) -> Party: ...
    def get_party(self, name: str) -> Party | None: ...
    def list_parties(self) -> list[Party]: ...
    def new_enrollment_code(self, party: str, ttl: float = CODE_TTL_SECONDS) -> str: ...
    def enroll(self, code: str, identity_key: bytes, label: str = "") -> Device: ...
    def device_by_key(self, identity_key: bytes) -> Device | None: ...
    def revoke_device(self, device_id: int) -> None: ...
    def add_room(self, name: str, members: list[str],
                 roles: dict[str, str] | None = None) -> Room: ...
    def set_member(self, room: str, party: str, role: str | None) -> None: ...
    def get_room(self, name: str) -> Room | None: ...
    def rooms_of(self, party: str) -> list[Room]: ...
    def add_hotline(self, name: str, party_a: str, party_b: str) -> Hotline: ...
    def get_hotline(self, name: str) -> Hotline | None: ...
    def list_hotlines(self) -> list[Hotline]: ...
    def repin(self, name: str, party: str) -> Hotline: ...
    def append_log(self, hotline: str, seq: int, entry: bytes) -> None: ...
    def log_entries(self, hotline: str) -> list[bytes]: ...
    def last_log_entry(self, hotline: str) -> bytes | None: ...
    def hotline_interval(self, hotline: str) -> float | None: ...
    def set_hotline_interval(self, hotline: str, seconds: float | None) -> None: ...
    def audit(self, kind: str, *, room: str | None = None, party: str | None = None,
              device_id: int | None = None, **detail: object) -> None: ...
    def audit_log(self, limit: int = 100) -> list[AuditEntry]: ...
    def close(self) -> None: ...


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role


def check_name(kind: str, name: str) -> str:
    """Names of parties and rooms: 1-64 printable characters, no surrounding spaces."""
    if not name or len(name) > MAX_NAME or name != name.strip() or not name.isprintable():
        raise UsageError(f"{kind} name must be 1-{MAX_NAME} printable characters")
    return name


def hash_code(code: str) -> str:
    normalized = code.replace("-", "").replace(" ", "").upper()
    return hashlib.sha256(b"hotline/v1 enrollment code\x00" + normalized.encode()).hexdigest()


def make_code() -> str:
    """A one-time enrollment code: 25 characters of a 31-letter alphabet (123 bits),
    in 5 groups of 5."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(25))
    return "-".join(raw[i : i + 5] for i in range(0, 25, 5))


class SqliteStore:
    """:class:`Store` on SQLite (WAL, foreign keys on, one transaction per change)."""

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
        self._db.executescript(_SCHEMA)
        self._check_version()

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

    # -- parties -----------------------------------------------------------------------

    def add_party(self, name: str) -> Party:
        check_name("party", name)
        with self._tx() as db:
            try:
                cur = db.execute("INSERT INTO parties (name, created_at) VALUES (?, ?)",
                                 (name, self._now()))
            except sqlite3.IntegrityError:
                raise UsageError(f"party {name!r} exists already") from None
        assert cur.lastrowid is not None
        return Party(cur.lastrowid, name)

    def get_party(self, name: str) -> Party | None:
        row = self._db.execute("SELECT id, name FROM parties WHERE name=?", (name,)).fetchone()
        return Party(*row) if row else None

    def list_parties(self) -> list[Party]:
        return [Party(*r) for r in self._db.execute("SELECT id, name FROM parties ORDER BY name")]

    def _party_id(self, name: str) -> int:
        party = self.get_party(name)
        if party is None:
            raise UsageError(f"no party named {name!r}")
        return party.id

    # -- enrollment and devices ----------------------------------------------------------

    def new_enrollment_code(self, party: str, ttl: float = CODE_TTL_SECONDS) -> str:
        """A fresh one-time code for ``party``; only its hash is stored."""
        party_id = self._party_id(party)
        code, now = make_code(), self._now()
        with self._tx() as db:
            db.execute("INSERT INTO enrollment_codes (party_id, code_hash, created_at, "
                       "expires_at) VALUES (?, ?, ?, ?)", (party_id, hash_code(code), now,
                                                           now + ttl))
        return code

    def enroll(self, code: str, identity_key: bytes, label: str = "") -> Device:
        """Use ``code`` once to register ``identity_key`` for the code's party.

        The caller has already checked that the device holds the private key.
        """
        problem = public_key_problem(identity_key)
        if problem is not None:  # small order, non-canonical: such a key proves nothing
            raise UsageError(f"not a usable Ed25519 identity key ({problem})")
        now = self._now()
        with self._tx() as db:
            row = db.execute(
                "SELECT c.id, c.party_id, c.expires_at, c.used_at, p.name FROM enrollment_codes c"
                " JOIN parties p ON p.id = c.party_id WHERE c.code_hash=?",
                (hash_code(code),)).fetchone()
            if row is None or row[3] is not None or row[2] < now:
                raise UsageError("enrollment code is unknown, used or expired")
            code_id, party_id, _, _, party = row
            try:
                cur = db.execute("INSERT INTO devices (party_id, identity_key, label, "
                                 "enrolled_at) VALUES (?, ?, ?, ?)",
                                 (party_id, identity_key, label[:MAX_NAME], now))
            except sqlite3.IntegrityError:
                raise UsageError("this identity key is enrolled already") from None
            device_id = cur.lastrowid
            db.execute("UPDATE enrollment_codes SET used_at=?, device_id=? WHERE id=?",
                       (now, device_id, code_id))
            db.execute("INSERT INTO audit (at, kind, party, device_id) VALUES (?, 'enroll', ?, ?)",
                       (now, party, device_id))
        assert device_id is not None
        return Device(device_id, party, identity_key, label[:MAX_NAME], False)

    def device_by_key(self, identity_key: bytes) -> Device | None:
        row = self._db.execute(
            "SELECT d.id, p.name, d.identity_key, d.label, d.revoked_at FROM devices d"
            " JOIN parties p ON p.id = d.party_id WHERE d.identity_key=?",
            (identity_key,)).fetchone()
        if row is None:
            return None
        return Device(row[0], row[1], bytes(row[2]), row[3], row[4] is not None)

    def revoke_device(self, device_id: int) -> None:
        with self._tx() as db:
            cur = db.execute("UPDATE devices SET revoked_at=? WHERE id=? AND revoked_at IS NULL",
                             (self._now(), device_id))
            if cur.rowcount != 1:
                raise UsageError(f"no active device {device_id}")
            db.execute("INSERT INTO audit (at, kind, device_id) VALUES (?, 'revoke', ?)",
                       (self._now(), device_id))

    # -- rooms ---------------------------------------------------------------------------

    def add_room(self, name: str, members: list[str],
                 roles: dict[str, str] | None = None) -> Room:
        """Create a room; ``roles`` gives some members a role other than delegate."""
        check_name("room", name)
        if not members:
            raise UsageError("a room needs at least one member party")
        roles = roles or {}
        for party, role in roles.items():
            check_role(role)
            if party not in members:
                raise UsageError(f"{party!r} has a role but is not a member")
        party_ids = [(self._party_id(p), roles.get(p, DEFAULT_ROLE))
                     for p in dict.fromkeys(members)]
        with self._tx() as db:
            try:
                cur = db.execute("INSERT INTO rooms (name, created_at) VALUES (?, ?)",
                                 (name, self._now()))
            except sqlite3.IntegrityError:
                raise UsageError(f"room {name!r} exists already") from None
            db.executemany("INSERT INTO room_members (room_id, party_id, role) VALUES (?, ?, ?)",
                           [(cur.lastrowid, p, r) for p, r in party_ids])
        room = self.get_room(name)
        assert room is not None
        return room

    def get_room(self, name: str) -> Room | None:
        row = self._db.execute("SELECT id FROM rooms WHERE name=?", (name,)).fetchone()
        if row is None:
            return None
        rows = list(self._db.execute(
            "SELECT p.name, m.role FROM room_members m JOIN parties p ON p.id = m.party_id"
            " WHERE m.room_id=? ORDER BY p.name", (row[0],)))
        return Room(row[0], name, tuple(r[0] for r in rows), {r[0]: r[1] for r in rows})

    def set_member(self, room: str, party: str, role: str | None) -> None:
        """Add ``party`` to ``room`` or change its role; ``role=None`` removes it.

        Takes effect at the member's next join (a live call keeps the roster it had).
        """
        if role is not None:
            check_role(role)
        room_row = self._db.execute("SELECT id FROM rooms WHERE name=?", (room,)).fetchone()
        if room_row is None:
            raise UsageError(f"no room {room!r}")
        party_id = self._party_id(party)
        with self._tx() as db:
            if role is None:
                cur = db.execute("DELETE FROM room_members WHERE room_id=? AND party_id=?",
                                 (room_row[0], party_id))
                if cur.rowcount == 0:
                    raise UsageError(f"{party!r} is not a member of room {room!r}")
            else:
                db.execute("INSERT INTO room_members (room_id, party_id, role) VALUES (?, ?, ?)"
                           " ON CONFLICT (room_id, party_id) DO UPDATE SET role=excluded.role",
                           (room_row[0], party_id, role))
            db.execute("INSERT INTO audit (at, kind, room, party, detail) VALUES (?, ?, ?, ?, ?)",
                       (self._now(), "member_remove" if role is None else "member_set", room,
                        party, json.dumps({"role": role} if role else {})))

    def room_names(self) -> list[str]:
        return [r[0] for r in self._db.execute("SELECT name FROM rooms ORDER BY name")]

    def rooms_of(self, party: str) -> list[Room]:
        names = [r[0] for r in self._db.execute(
            "SELECT r.name FROM rooms r JOIN room_members m ON m.room_id = r.id"
            " JOIN parties p ON p.id = m.party_id WHERE p.name=? ORDER BY r.name", (party,))]
        return [room for n in names if (room := self.get_room(n)) is not None]

    # -- hotlines and their uptime record ------------------------------------------------

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

    # -- audit log -----------------------------------------------------------------------

    def audit(self, kind: str, *, room: str | None = None, party: str | None = None,
              device_id: int | None = None, **detail: object) -> None:
        with self._tx() as db:
            db.execute("INSERT INTO audit (at, kind, room, party, device_id, detail)"
                       " VALUES (?, ?, ?, ?, ?, ?)",
                       (self._now(), kind, room, party, device_id,
                        json.dumps(detail, sort_keys=True)))

    def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        rows = self._db.execute("SELECT id, at, kind, room, party, device_id, detail FROM audit"
                                " ORDER BY id DESC LIMIT ?", (limit,)).fetchall()
        return [AuditEntry(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]))
                for r in reversed(rows)]
