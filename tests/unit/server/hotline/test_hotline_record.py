"""Hotlines in the store (pinned keys, re-pinning) and their uptime record on disk:
`hotline log verify` pinpoints any altered byte, removed or reordered entry."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline.cli.main import app
from hotline.crypto.identity import Identity
from hotline.errors import UsageError
from hotline.server.database import DB_NAME
from hotline.server.hotline.uptime import UptimeRecord, node_identity
from hotline.server.store import SqliteStore

runner = CliRunner()
# real Ed25519 public keys: the store refuses what is not one (non-canonical, small order)
K1, K2, K3 = (Identity.from_seed(bytes([n]) * 32).public_key for n in (1, 2, 3))


def setup_hotline(data: Path) -> SqliteStore:
    store = SqliteStore(data)
    for party, key in (("washington", K1), ("moscow", K2)):
        store.add_party(party)
        store.enroll(store.new_enrollment_code(party), key)
    return store


def test_pins_and_repin(tmp_path: Path) -> None:
    store = setup_hotline(tmp_path)
    h = store.add_hotline("wm", "washington", "moscow")
    assert h.pins == {"washington": frozenset({K1}), "moscow": frozenset({K2})}
    with pytest.raises(UsageError):
        store.add_hotline("wm", "washington", "moscow")
    with pytest.raises(UsageError):
        store.add_hotline("self", "moscow", "moscow")
    store.add_party("nobody")
    with pytest.raises(UsageError, match="no enrolled device"):
        store.add_hotline("x", "washington", "nobody")
    store.enroll(store.new_enrollment_code("moscow"), K3)  # a second terminal
    assert store.get_hotline("wm").pins["moscow"] == frozenset({K2})  # type: ignore[union-attr]
    repinned = store.repin("wm", "moscow")
    assert repinned.pins["moscow"] == frozenset({K2, K3})
    assert [e.kind for e in store.audit_log()][-1] == "repin"
    store.close()


def test_record_appends_and_verifies(tmp_path: Path) -> None:
    store = setup_hotline(tmp_path)
    store.add_hotline("wm", "washington", "moscow")
    record = UptimeRecord(store, node_identity(tmp_path))
    for i in range(5):
        record.append("wm", "link_test", {"outcome": "ok", "rtt_ms": i}, time_ms=1000 * i)
    assert record.verify("wm").ok
    assert [e.seq for e in record.entries("wm")] == [0, 1, 2, 3, 4]
    assert node_identity(tmp_path).public_key == record.node.public_key  # reused
    assert (tmp_path / "node.key").stat().st_mode & 0o777 == 0o600
    store.close()


def cli_setup(tmp_path: Path) -> str:
    data = str(tmp_path)
    setup_hotline(tmp_path).close()
    out = runner.invoke(app, ["admin", "hotline", "add", "wm", "--between", "washington",
                              "moscow", "--data", data])
    assert out.exit_code == 0, out.output
    record = UptimeRecord(SqliteStore(tmp_path), node_identity(tmp_path))
    for i in range(4):
        record.append("wm", "link_test", {"outcome": "ok", "rtt_ms": 40 + i})
    return data


def rows(tmp_path: Path) -> list[tuple[int, bytes]]:
    db = sqlite3.connect(tmp_path / DB_NAME)
    return db.execute("SELECT rowid, entry FROM uptime_log ORDER BY rowid").fetchall()


def write(tmp_path: Path, sql: str, *args: object) -> None:
    db = sqlite3.connect(tmp_path / DB_NAME)
    db.execute(sql, args)
    db.commit()
    db.close()


def verify(data: str) -> tuple[int, str]:
    out = runner.invoke(app, ["log", "verify", "wm", "--data", data])
    return out.exit_code, out.output


def test_verify_intact_then_every_altered_byte_is_found(tmp_path: Path) -> None:
    data = cli_setup(tmp_path)
    code, output = verify(data)  # the chain, then the endpoint evidence (none here)
    ok = "ok: 5 entries, chain and signatures intact"  # after admin's data folder line
    assert code == 0 and ok in output.splitlines(), output
    assert "0 of 0 link tests signed by both ends" in output
    shown = runner.invoke(app, ["log", "show", "wm", "--data", data, "--json"])
    assert shown.exit_code == 0 and shown.output.count("link_test") == 4
    rowid, entry = rows(tmp_path)[2]
    for i in range(0, len(entry), 7):  # a sample of byte positions across the entry
        bad = bytearray(entry)
        bad[i] ^= 0x01
        write(tmp_path, "UPDATE uptime_log SET entry=? WHERE rowid=?", bytes(bad), rowid)
        code, output = verify(data)
        assert code == 1 and "entry 2" in output, (i, output)
    write(tmp_path, "UPDATE uptime_log SET entry=? WHERE rowid=?", entry, rowid)
    assert verify(data)[0] == 0


def test_removed_and_reordered_entries_are_found(tmp_path: Path) -> None:
    data = cli_setup(tmp_path)
    (r1, e1), (r2, e2) = rows(tmp_path)[1:3]
    write(tmp_path, "UPDATE uptime_log SET entry=? WHERE rowid=?", e2, r1)
    write(tmp_path, "UPDATE uptime_log SET entry=? WHERE rowid=?", e1, r2)
    code, output = verify(data)
    assert code == 1 and "entry 1" in output
    write(tmp_path, "UPDATE uptime_log SET entry=? WHERE rowid=?", e1, r1)
    write(tmp_path, "UPDATE uptime_log SET entry=? WHERE rowid=?", e2, r2)
    write(tmp_path, "DELETE FROM uptime_log WHERE rowid=?", r2)
    code, output = verify(data)
    assert code == 1 and "entry 2" in output
