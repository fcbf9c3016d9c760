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
from dataclasses import dataclass
from typing import Protocol

from hotline.crypto.ed25519_checks import public_key_problem
from hotline.errors import UsageError
from hotline.roles import DEFAULT_ROLE, check_role
from hotline.server.database import MAX_NAME, check_name
from hotline.server.hotline.records import Hotline, HotlineRecords
from hotline.signaling.channels import check_channels

CODE_TTL_SECONDS = 7 * 24 * 3600
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


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
    roles: dict[str, str]  # member party -> role (hotline.roles.ROLES)
    #: Its two members may connect directly (peer to peer) when they are alone in it.
    direct: bool = False
    #: Its interpretation channels (hotline.signaling.channels), in the operator's order.
    channels: tuple[str, ...] = ()

    def role_of(self, party: str) -> str:
        return self.roles.get(party, DEFAULT_ROLE)


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
    def set_room_direct(self, room: str, allow: bool) -> None: ...
    def set_room_channels(self, room: str, channels: list[str]) -> None: ...
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


def hash_code(code: str) -> str:
    normalized = code.replace("-", "").replace(" ", "").upper()
    return hashlib.sha256(b"hotline/v1 enrollment code\x00" + normalized.encode()).hexdigest()


def make_code() -> str:
    """A one-time enrollment code: 25 characters of a 31-letter alphabet (123 bits),
    in 5 groups of 5."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(25))
    return "-".join(raw[i : i + 5] for i in range(0, 25, 5))


class SqliteStore(HotlineRecords):
    """:class:`Store` on SQLite (WAL, foreign keys on, one transaction per change); the
    database itself is :class:`hotline.server.database.Database`, the hotline records
    :class:`hotline.server.hotline.records.HotlineRecords`."""

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
        option = self._db.execute("SELECT direct, channels FROM room_options WHERE room_id=?",
                                  (row[0],)).fetchone()
        return Room(row[0], name, tuple(r[0] for r in rows), {r[0]: r[1] for r in rows},
                    direct=bool(option and option[0]),
                    channels=tuple(option[1].split()) if option else ())

    def set_room_direct(self, room: str, allow: bool) -> None:
        """Whether the two members of ``room`` may connect directly (peer to peer)."""
        self._set_room_option(room, "direct", int(allow), "room_direct", {"allow": allow})

    def set_room_channels(self, room: str, channels: list[str]) -> None:
        """The interpretation channels of ``room`` (checked names; [] removes them)."""
        names = check_channels(channels)
        self._set_room_option(room, "channels", " ".join(names), "room_channels",
                              {"channels": names})

    def _set_room_option(self, room: str, column: str, value: object, kind: str,
                         detail: dict[str, object]) -> None:
        """One column of ``room``'s options (a name of this module, never input), audited."""
        assert column in ("direct", "channels")
        found = self.get_room(room)
        if found is None:
            raise UsageError(f"no room {room!r}")
        with self._tx() as db:
            db.execute(f"INSERT INTO room_options (room_id, {column}) VALUES (?, ?)"  # noqa: S608
                       f" ON CONFLICT (room_id) DO UPDATE SET {column}=excluded.{column}",
                       (found.id, value))
            db.execute("INSERT INTO audit (at, kind, room, detail) VALUES (?, ?, ?, ?)",
                       (self._now(), kind, room, json.dumps(detail)))

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
