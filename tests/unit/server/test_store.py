"""SqliteStore: parties, one-time enrollment codes, devices, rooms, audit log."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from hotline.errors import ConfigError, UsageError
from hotline.server.database import DB_NAME
from hotline.server.store import SqliteStore, hash_code

KEY_A, KEY_B = b"\xaa" * 32, b"\xbb" * 32


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    s = SqliteStore(tmp_path / "data")
    yield s  # type: ignore[misc]
    s.close()


def test_party_and_code_round_trip(store: SqliteStore) -> None:
    store.add_party("alice")
    code = store.new_enrollment_code("alice")
    assert len(code) == 29 and code.count("-") == 4
    device = store.enroll(code, KEY_A, "laptop")
    assert device.party == "alice" and not device.revoked
    assert store.device_by_key(KEY_A) == device


def test_code_is_one_time_and_case_insensitive(store: SqliteStore) -> None:
    store.add_party("alice")
    code = store.new_enrollment_code("alice")
    store.enroll(code.lower().replace("-", " "), KEY_A)
    with pytest.raises(UsageError):
        store.enroll(code, KEY_B)  # a stolen, already used code
    assert store.device_by_key(KEY_B) is None


def test_expired_and_unknown_codes(tmp_path: Path) -> None:
    now = [1000.0]
    s = SqliteStore(tmp_path, clock=lambda: now[0])
    s.add_party("p")
    code = s.new_enrollment_code("p", ttl=60)
    now[0] += 61
    with pytest.raises(UsageError):
        s.enroll(code, KEY_A)
    with pytest.raises(UsageError):
        s.enroll("AAAAA-AAAAA-AAAAA-AAAAA-AAAAA", KEY_A)
    s.close()


def test_same_key_cannot_enroll_twice_and_code_stays_unused(store: SqliteStore) -> None:
    store.add_party("a")
    store.enroll(store.new_enrollment_code("a"), KEY_A)
    second = store.new_enrollment_code("a")
    with pytest.raises(UsageError):
        store.enroll(second, KEY_A)
    store.enroll(second, KEY_B)  # the failed attempt did not burn the code


def test_only_code_hashes_are_stored(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path)
    s.add_party("a")
    code = s.new_enrollment_code("a")
    s.close()
    raw = (tmp_path / DB_NAME).read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.glob(DB_NAME + "-*"))
    normalized = code.replace("-", "").encode()
    assert code.encode() not in raw and normalized not in raw
    rows = sqlite3.connect(tmp_path / DB_NAME).execute(
        "SELECT code_hash FROM enrollment_codes").fetchall()
    assert rows == [(hash_code(code),)]


def test_rooms_and_membership(store: SqliteStore) -> None:
    for p in ("alice", "bob", "carol"):
        store.add_party(p)
    room = store.add_room("summit", ["bob", "alice", "alice"])
    assert room.members == ("alice", "bob")
    assert [r.name for r in store.rooms_of("alice")] == ["summit"]
    assert store.rooms_of("carol") == []
    with pytest.raises(UsageError):
        store.add_room("summit", ["carol"])
    with pytest.raises(UsageError):
        store.add_room("other", ["nobody"])
    assert store.get_room("other") is None


@pytest.mark.parametrize("name", ["", " x", "x" * 65, "tab\there"])
def test_bad_names(store: SqliteStore, name: str) -> None:
    with pytest.raises(UsageError):
        store.add_party(name)


def test_revoke_and_audit(store: SqliteStore) -> None:
    store.add_party("a")
    dev = store.enroll(store.new_enrollment_code("a"), KEY_A)
    store.revoke_device(dev.id)
    assert store.device_by_key(KEY_A).revoked  # type: ignore[union-attr]
    with pytest.raises(UsageError):
        store.revoke_device(dev.id)
    store.audit("join", room="summit", party="a", device_id=dev.id, participant=3)
    kinds = [(e.kind, e.detail) for e in store.audit_log()]
    assert kinds == [("enroll", {}), ("revoke", {}), ("join", {"participant": 3})]


def test_survives_reopen(tmp_path: Path) -> None:
    s = SqliteStore(tmp_path)
    s.add_party("a")
    s.add_room("r", ["a"])
    s.close()
    s2 = SqliteStore(tmp_path)
    assert s2.get_room("r").members == ("a",)  # type: ignore[union-attr]
    assert s2.device_by_key(KEY_A) is None
    s2.close()


def test_unusable_data_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError):
        SqliteStore(blocker / "data")


def test_schema_version_mismatch(tmp_path: Path) -> None:
    SqliteStore(tmp_path).close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute("UPDATE meta SET value='99' WHERE key='schema'")
    db.commit()
    db.close()
    with pytest.raises(ConfigError):
        SqliteStore(tmp_path)


def test_schema_1_gains_member_roles(tmp_path: Path) -> None:
    """A data directory of schema 1 (no roles) opens: its members become delegates."""
    s = SqliteStore(tmp_path)
    s.add_party("alice")
    s.add_room("summit", ["alice"])
    s.close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.executescript("""
        CREATE TABLE old_members (room_id INTEGER, party_id INTEGER);
        INSERT INTO old_members SELECT room_id, party_id FROM room_members;
        DROP TABLE room_members;
        CREATE TABLE room_members (room_id INTEGER NOT NULL REFERENCES rooms(id),
            party_id INTEGER NOT NULL REFERENCES parties(id), PRIMARY KEY (room_id, party_id));
        INSERT INTO room_members SELECT * FROM old_members;
        DROP TABLE old_members;
        UPDATE meta SET value='1' WHERE key='schema';""")
    db.close()
    s = SqliteStore(tmp_path)
    room = s.get_room("summit")
    assert room is not None and room.role_of("alice") == "delegate"
    s.set_member("summit", "alice", "principal")
    assert s.get_room("summit").roles == {"alice": "principal"}  # type: ignore[union-attr]
    s.close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("2",)
    db.close()


def test_roles_are_checked(store: SqliteStore) -> None:
    store.add_party("alice")
    store.add_party("bob")
    with pytest.raises(UsageError, match="unknown role"):
        store.add_room("r", ["alice"], {"alice": "emperor"})
    with pytest.raises(UsageError, match="not a member"):
        store.add_room("r", ["alice"], {"bob": "press"})
    room = store.add_room("r", ["alice", "bob"], {"bob": "press"})
    assert room.role_of("bob") == "press" and room.role_of("alice") == "delegate"
    store.set_member("r", "bob", None)
    assert store.get_room("r").members == ("alice",)  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="not a member"):
        store.set_member("r", "bob", None)


def test_a_room_allows_direct_connections_only_when_marked(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "data")
    store.add_party("alice")
    store.add_room("pair", ["alice"])
    assert store.get_room("pair").direct is False  # type: ignore[union-attr]
    store.set_room_direct("pair", True)
    assert store.get_room("pair").direct is True  # type: ignore[union-attr]
    with pytest.raises(UsageError, match="no room"):
        store.set_room_direct("nowhere", True)
    store.close()
    again = SqliteStore(tmp_path / "data")  # kept across restarts
    assert again.get_room("pair").direct is True  # type: ignore[union-attr]
    again.set_room_direct("pair", False)
    assert again.get_room("pair").direct is False  # type: ignore[union-attr]
    assert [e.kind for e in again.audit_log()][:2] == ["room_direct", "room_direct"]
    again.close()


def test_a_room_has_interpretation_channels_when_set(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path)
    store.add_party("alice")
    store.add_room("summit", ["alice"])
    assert store.get_room("summit").channels == ()  # type: ignore[union-attr]
    store.set_room_channels("summit", ["ru", "zh", "pt-br"])
    store.set_room_direct("summit", True)  # the other option keeps them
    assert store.get_room("summit").channels == ("ru", "zh", "pt-br")  # type: ignore[union-attr]
    for bad, why in ((["RU"], "bad channel name"), (["ru", "ru"], "twice"),
                     ([f"a{c}" for c in "abcdefghi"], "at most 8"), (["r u"], "bad channel"),
                     (["russian"], "bad channel")):
        with pytest.raises(UsageError, match=why):
            store.set_room_channels("summit", bad)
    with pytest.raises(UsageError, match="no room"):
        store.set_room_channels("nowhere", ["ru"])
    store.close()
    again = SqliteStore(tmp_path)
    assert again.get_room("summit").channels == ("ru", "zh", "pt-br")  # type: ignore[union-attr]
    assert again.get_room("summit").direct is True  # type: ignore[union-attr]
    again.set_room_channels("summit", [])
    assert again.get_room("summit").channels == ()  # type: ignore[union-attr]
    assert [e.kind for e in again.audit_log()][:3] == ["room_channels", "room_direct",
                                                     "room_channels"]
    again.close()


def test_a_database_without_the_channels_column_gains_it(tmp_path: Path) -> None:
    """A data directory made before channels (room_options without the column) opens,
    keeps its options, and takes channels."""
    s = SqliteStore(tmp_path)
    s.add_party("alice")
    s.add_room("pair", ["alice"])
    s.set_room_direct("pair", True)
    s.close()
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.executescript("""
        CREATE TABLE old_options AS SELECT room_id, direct FROM room_options;
        DROP TABLE room_options;
        CREATE TABLE room_options (
            room_id INTEGER PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
            direct INTEGER NOT NULL DEFAULT 0);
        INSERT INTO room_options SELECT * FROM old_options;
        DROP TABLE old_options;""")
    db.close()
    s = SqliteStore(tmp_path)
    room = s.get_room("pair")
    assert room is not None and room.direct is True and room.channels == ()
    s.set_room_channels("pair", ["en"])
    assert s.get_room("pair").channels == ("en",)  # type: ignore[union-attr]
    s.close()
