"""``hotline admin``: parties and rooms on the data directory."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from hotline.cli.main import app
from hotline.server.store import SqliteStore

runner = CliRunner()


def said(out: Result) -> list[str]:
    """What admin said on stderr besides its data folder line and no-server warning."""
    return [line for line in out.stderr.splitlines()
            if not line.startswith(("data: ", "warning: no `hotline serve`"))]


def test_admin_names_its_data_folder(tmp_path: Path) -> None:
    out = runner.invoke(app, ["admin", "party", "list", "--data", str(tmp_path)])
    assert out.exit_code == 0
    assert out.stderr.splitlines() == [
        f"data: {tmp_path.resolve()}",
        "warning: no `hotline serve` is using this data folder (give admin the server's "
        "folder: --data or HOTLINE_DATA)"]


def test_party_that_exists_already_points_to_party_code(tmp_path: Path) -> None:
    data = str(tmp_path)
    assert runner.invoke(app, ["admin", "party", "add", "alice", "--data", data]).exit_code == 0
    out = runner.invoke(app, ["admin", "party", "add", "alice", "--data", data])
    assert out.exit_code == 1 and said(out) == [
        "error: party 'alice' exists already; a code for another of its devices: "
        "hotline admin party code alice"]


def test_party_add_json_and_room_add(tmp_path: Path) -> None:
    data = str(tmp_path / "d")
    out = runner.invoke(app, ["admin", "party", "add", "alice", "--data", data, "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    assert doc["party"] == "alice" and len(doc["enrollment_code"]) == 29
    assert runner.invoke(app, ["admin", "party", "add", "bob", "--data", data]).exit_code == 0
    out = runner.invoke(app, ["admin", "room", "add", "summit", "--member", "alice",
                              "--member", "bob", "--data", data])
    assert out.exit_code == 0 and "alice (delegate), bob (delegate)" in out.stdout
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
        assert len(said(out)) == 1 and said(out)[0].startswith("error: ")
        assert "Traceback" not in out.output


def test_room_roles(tmp_path: Path) -> None:
    data = str(tmp_path)
    for name in ("alice", "bob", "carol"):
        assert runner.invoke(app, ["admin", "party", "add", name, "--data", data]).exit_code == 0
    out = runner.invoke(app, ["admin", "room", "add", "summit", "--member", "alice:principal",
                              "--member", "bob", "--data", data])
    assert out.exit_code == 0, out.output
    assert "alice (principal), bob (delegate)" in out.stdout
    out = runner.invoke(app, ["admin", "room", "member", "summit", "carol", "--role", "aide",
                              "--data", data])
    assert out.exit_code == 0 and "carol (aide)" in out.stdout
    out = runner.invoke(app, ["admin", "room", "member", "summit", "bob", "--remove",
                              "--data", data])
    assert out.exit_code == 0 and "bob" not in out.stdout
    out = runner.invoke(app, ["admin", "room", "list", "--data", data])
    assert out.stdout.strip() == "summit: alice (principal), carol (aide)"
    store = SqliteStore(data)
    room = store.get_room("summit")
    store.close()
    assert room is not None and room.roles == {"alice": "principal", "carol": "aide"}
    for args in (["room", "add", "r2", "--member", "alice:king"],
                 ["room", "member", "summit", "alice", "--role", "pope"],
                 ["room", "member", "summit", "bob", "--remove"],
                 ["room", "member", "nowhere", "alice", "--role", "press"]):
        out = runner.invoke(app, ["admin", *args, "--data", data])
        assert out.exit_code == 1, args
        assert said(out)[0].startswith("error: ") and "Traceback" not in out.output
    out = runner.invoke(app, ["admin", "room", "member", "summit", "alice", "--data", data])
    assert out.exit_code != 0 and "--role ROLE or --remove" in out.output


def test_room_direct_allow_and_deny(tmp_path: Path) -> None:
    data = str(tmp_path)
    assert runner.invoke(app, ["admin", "party", "add", "alice", "--data", data]).exit_code == 0
    assert runner.invoke(app, ["admin", "room", "add", "pair", "--member", "alice",
                               "--data", data]).exit_code == 0
    out = runner.invoke(app, ["admin", "room", "direct", "pair", "--allow", "--data", data])
    assert out.exit_code == 0 and "direct connections allowed" in out.stdout
    out = runner.invoke(app, ["admin", "room", "list", "--data", data])
    assert out.stdout.strip() == "pair: alice (delegate) [direct allowed]"
    out = runner.invoke(app, ["admin", "room", "direct", "pair", "--deny", "--data", data])
    assert out.exit_code == 0 and "denied" in out.stdout
    out = runner.invoke(app, ["admin", "room", "direct", "nowhere", "--allow", "--data", data])
    assert out.exit_code == 1 and said(out)[0].startswith("error: ")
    assert "Traceback" not in out.output
    out = runner.invoke(app, ["admin", "room", "direct", "pair", "--data", data])
    assert out.exit_code != 0  # --allow or --deny is required


def test_room_channels_set_listed_and_cleared(tmp_path: Path) -> None:
    data = str(tmp_path)
    assert runner.invoke(app, ["admin", "party", "add", "alice", "--data", data]).exit_code == 0
    assert runner.invoke(app, ["admin", "room", "add", "summit", "--member", "alice",
                               "--data", data]).exit_code == 0
    out = runner.invoke(app, ["admin", "room", "channels", "summit", "ru", "zh", "en",
                              "--data", data])
    assert out.exit_code == 0 and "channels ru zh en" in out.stdout
    out = runner.invoke(app, ["admin", "room", "list", "--data", data])
    assert out.stdout.strip() == "summit: alice (delegate) [channels: ru zh en]"
    for bad, why in ((["RU"], "bad channel name 'RU'"), (["ru", "ru"], "given twice"),
                     ([f"a{c}" for c in "abcdefghi"], "too many channels (9)")):
        out = runner.invoke(app, ["admin", "room", "channels", "summit", *bad, "--data", data])
        assert out.exit_code == 1 and why in out.stderr and "Traceback" not in out.output
    out = runner.invoke(app, ["admin", "room", "channels", "nowhere", "ru", "--data", data])
    assert out.exit_code == 1 and "no room 'nowhere'" in out.stderr
    for args in ([], ["ru", "--clear"]):
        out = runner.invoke(app, ["admin", "room", "channels", "summit", *args, "--data", data])
        assert out.exit_code == 2 and "--clear" in out.output
    out = runner.invoke(app, ["admin", "room", "channels", "summit", "--clear", "--data", data])
    assert out.exit_code == 0 and "channels none" in out.stdout
    out = runner.invoke(app, ["admin", "room", "list", "--data", data])
    assert out.stdout.strip() == "summit: alice (delegate)"
