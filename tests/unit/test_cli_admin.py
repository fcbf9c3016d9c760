"""``hotline admin``: parties and rooms on the data directory."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hotline.cli.main import app
from hotline.server.store import SqliteStore

runner = CliRunner()


def test_party_add_json_and_room_add(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    out = runner.invoke(app, ["admin", "party", "add", "alice", "--data", data, "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["party"] == "alice" and len(doc["enrollment_code"]) == 29
    assert runner.invoke(app, ["admin", "party", "add", "bob", "--data", data]).exit_code == 0
    out = runner.invoke(app, ["admin", "room", "add", "summit", "--member", "alice",
                              "--member", "bob", "--data", data])
    assert out.exit_code == 0 and "alice, bob" in out.stdout
    store = SqliteStore(data)
    assert store.enroll(doc["enrollment_code"], b"\x01" * 32).party == "alice"
    store.close()


def test_data_dir_from_environment(tmp_path: Path) -> None:
    out = runner.invoke(app, ["admin", "party", "add", "p"], env={"HOTLINE_DATA": str(tmp_path)})
    assert out.exit_code == 0
    assert runner.invoke(app, ["admin", "party", "list"],
                         env={"HOTLINE_DATA": str(tmp_path)}).stdout.split() == ["p"]


def test_errors_are_one_clear_line(tmp_path: Path) -> None:
    data = str(tmp_path)
    runner.invoke(app, ["admin", "party", "add", "alice", "--data", data])
    for args in (["admin", "party", "add", "alice"], ["admin", "room", "add", "r",
                                                       "--member", "nobody"],
                 ["admin", "party", "code", "nobody"]):
        out = runner.invoke(app, [*args, "--data", data])
        assert out.exit_code == 1
        assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1
        assert "Traceback" not in out.output
