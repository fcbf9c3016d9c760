"""The ``hotline`` command, driven through typer's CliRunner."""

from __future__ import annotations

import base64
import re
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from hotline import __version__
from hotline.cli.main import app
from hotline.cli.selfcheck import CHECKS
from hotline.crypto.identity import Identity

FINGERPRINT_RE = re.compile(r"fingerprint: ((?:[0-9a-f]{4} ){7}[0-9a-f]{4})$", re.MULTILINE)
PASSPHRASE = "tr0ub4dor & 3"
# wide terminal so rich never wraps a table row or an error box
ENV = {"COLUMNS": "400", "NO_COLOR": "1"}


def run(*args: object, input: str | None = None) -> Result:
    return CliRunner().invoke(app, [str(a) for a in args], input=input, env=ENV)


def assert_clean_exit(result: Result) -> None:
    """The command ended on purpose (no uncaught exception, no traceback)."""
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        result.exception
    )
    assert "Traceback" not in result.output


def fingerprint_in(result: Result) -> str:
    match = FINGERPRINT_RE.search(result.stdout)
    assert match, result.output
    return match.group(1)


@pytest.fixture
def pass_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase.txt"
    path.write_text(PASSPHRASE + "\n", encoding="utf-8")
    return path


# -- version and selfcheck --------------------------------------------------------------


def test_version() -> None:
    result = run("version")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == __version__ == "0.1.0"


def test_no_arguments_shows_help() -> None:
    result = run()
    assert result.exit_code != 0
    assert_clean_exit(result)
    assert "identity" in result.output
    assert "selfcheck" in result.output


def test_selfcheck_reports_ok_rows() -> None:
    result = run("selfcheck")
    assert_clean_exit(result)
    assert result.exit_code == 0, result.output
    assert "FAILED" not in result.output
    rows = [line for line in result.stdout.splitlines() if "│" in line]
    for name, _ in CHECKS:
        row = next((r for r in rows if name in r), None)
        assert row is not None, (name, result.stdout)
        cells = [c.strip() for c in row.split("│")]
        assert "ok" in cells, row
    assert len(CHECKS) == 4


# -- identity new / show --------------------------------------------------------------


def test_identity_new_then_show_same_fingerprint(tmp_path: Path, pass_file: Path) -> None:
    key = tmp_path / "id.pem"
    created = run("identity", "new", key, "--passphrase-file", pass_file)
    assert created.exit_code == 0, created.output
    assert str(key) in created.stdout
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()

    shown = run("identity", "show", key, "--passphrase-file", pass_file)
    assert shown.exit_code == 0, shown.output
    assert fingerprint_in(shown) == fingerprint_in(created)

    loaded = Identity.load(key, PASSPHRASE.encode())
    assert fingerprint_in(shown) == loaded.fingerprint
    assert f"public key:  {loaded.public_key.hex()}" in shown.stdout
    assert PASSPHRASE not in created.output + shown.output


def test_identity_new_without_passphrase(tmp_path: Path) -> None:
    key = tmp_path / "id.pem"
    created = run("identity", "new", key)
    assert created.exit_code == 0, created.output
    assert b"ENCRYPTED" not in key.read_bytes()
    shown = run("identity", "show", key)
    assert shown.exit_code == 0, shown.output
    assert fingerprint_in(shown) == fingerprint_in(created)


def test_passphrase_file_trailing_newline_is_ignored(tmp_path: Path) -> None:
    with_newline, without = tmp_path / "a.txt", tmp_path / "b.txt"
    with_newline.write_text("pw\r\n", encoding="utf-8")
    without.write_text("pw", encoding="utf-8")
    key = tmp_path / "id.pem"
    created = run("identity", "new", key, "--passphrase-file", with_newline)
    assert created.exit_code == 0, created.output
    shown = run("identity", "show", key, "--passphrase-file", without)
    assert shown.exit_code == 0, shown.output
    assert fingerprint_in(shown) == fingerprint_in(created)


def test_ask_passphrase(tmp_path: Path, pass_file: Path) -> None:
    key = tmp_path / "id.pem"
    created = run("identity", "new", key, "--ask-passphrase",
                  input=f"{PASSPHRASE}\n{PASSPHRASE}\n")
    assert created.exit_code == 0, created.output
    shown = run("identity", "show", key, "--passphrase-file", pass_file)
    assert shown.exit_code == 0, shown.output
    assert fingerprint_in(shown) == fingerprint_in(created)
    asked = run("identity", "show", key, "--ask-passphrase", input=f"{PASSPHRASE}\n")
    assert asked.exit_code == 0, asked.output
    assert fingerprint_in(asked) == fingerprint_in(created)


def test_identity_new_refuses_existing_file(tmp_path: Path, pass_file: Path) -> None:
    key = tmp_path / "id.pem"
    first = run("identity", "new", key, "--passphrase-file", pass_file)
    assert first.exit_code == 0, first.output
    before = key.read_bytes()

    again = run("identity", "new", key, "--passphrase-file", pass_file)
    assert again.exit_code == 1
    assert_clean_exit(again)
    assert "error:" in again.stderr
    assert "exists" in again.stderr
    assert "fingerprint" not in again.stdout
    assert key.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id.pem", "passphrase.txt"]

    shown = run("identity", "show", key, "--passphrase-file", pass_file)
    assert fingerprint_in(shown) == fingerprint_in(first)


def test_identity_new_force_replaces(tmp_path: Path) -> None:
    key = tmp_path / "id.pem"
    first = run("identity", "new", key)
    second = run("identity", "new", key, "--force")
    assert second.exit_code == 0, second.output
    assert fingerprint_in(second) != fingerprint_in(first)
    assert fingerprint_in(run("identity", "show", key)) == fingerprint_in(second)


def test_identity_show_missing_file(tmp_path: Path) -> None:
    key = tmp_path / "missing.pem"
    result = run("identity", "show", key)
    assert result.exit_code != 0
    assert_clean_exit(result)
    assert "error:" in result.stderr
    assert "missing.pem" in result.stderr
    assert result.stdout == ""


def test_identity_new_into_missing_folder(tmp_path: Path) -> None:
    result = run("identity", "new", tmp_path / "nope" / "id.pem")
    assert result.exit_code == 1
    assert_clean_exit(result)
    assert "error:" in result.stderr


@pytest.mark.parametrize("content", ["", "\n", "\r\n\n"], ids=["empty", "newline", "newlines"])
@pytest.mark.parametrize("command", ["new", "show"])
def test_empty_passphrase_file_is_refused(tmp_path: Path, content: str, command: str) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text(content, encoding="utf-8")
    key = tmp_path / "id.pem"
    if command == "show":
        Identity.generate().save(key, b"x")
    result = run("identity", command, key, "--passphrase-file", empty)
    assert result.exit_code != 0
    assert_clean_exit(result)
    assert "empty" in result.output
    if command == "new":
        assert not key.exists()
    else:
        assert "fingerprint" not in result.stdout


def test_unreadable_passphrase_file_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "id.pem"
    result = run("identity", "new", key, "--passphrase-file", tmp_path / "nope.txt")
    assert result.exit_code != 0
    assert_clean_exit(result)
    assert "nope.txt" in result.output
    assert not key.exists()


def test_show_protected_identity_without_passphrase(tmp_path: Path, pass_file: Path) -> None:
    key = tmp_path / "id.pem"
    run("identity", "new", key, "--passphrase-file", pass_file)
    result = run("identity", "show", key)
    assert result.exit_code == 1
    assert_clean_exit(result)
    assert "passphrase" in result.stderr


def test_show_with_wrong_passphrase(tmp_path: Path, pass_file: Path) -> None:
    key = tmp_path / "id.pem"
    run("identity", "new", key, "--passphrase-file", pass_file)
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("not-it-at-all\n", encoding="utf-8")
    result = run("identity", "show", key, "--passphrase-file", wrong)
    assert result.exit_code == 1
    assert_clean_exit(result)
    assert "wrong passphrase" in result.stderr
    assert "not-it-at-all" not in result.output
    assert PASSPHRASE not in result.output


def test_show_world_readable_identity(tmp_path: Path) -> None:
    key = tmp_path / "id.pem"
    run("identity", "new", key)
    key.chmod(0o644)
    result = run("identity", "show", key)
    assert result.exit_code == 1
    assert_clean_exit(result)
    assert "chmod 600" in result.stderr


def test_show_garbage_file(tmp_path: Path) -> None:
    key = tmp_path / "id.pem"
    key.write_bytes(b"hello")
    key.chmod(0o600)
    result = run("identity", "show", key)
    assert result.exit_code == 1
    assert_clean_exit(result)
    assert "not a Hotline identity" in result.stderr


def test_show_pkcs8_with_unknown_algorithm_fails_cleanly(tmp_path: Path) -> None:
    """BUG (fails at the time of writing): Identity.load lets UnsupportedAlgorithm
    escape for a PKCS#8 PEM with an unknown algorithm OID, so the CLI crashes
    with a traceback instead of printing an error and exiting 1."""
    der = bytes.fromhex("302e020100300506032b657f04220420") + bytes(32)
    key = tmp_path / "odd.pem"
    key.write_bytes(
        b"-----BEGIN PRIVATE KEY-----\n" + base64.encodebytes(der)
        + b"-----END PRIVATE KEY-----\n"
    )
    key.chmod(0o600)
    result = run("identity", "show", key)
    assert_clean_exit(result)
    assert result.exit_code == 1
    assert "error:" in result.stderr


def test_new_with_overlong_passphrase_fails_cleanly(tmp_path: Path) -> None:
    """BUG (fails at the time of writing): a passphrase file of more than 1023 bytes
    makes Identity.save raise a bare ValueError from cryptography, so the CLI crashes
    instead of refusing the passphrase with a message."""
    long_pass = tmp_path / "long.txt"
    long_pass.write_text("a" * 2000, encoding="utf-8")
    key = tmp_path / "id.pem"
    result = run("identity", "new", key, "--passphrase-file", long_pass)
    assert_clean_exit(result)
    assert result.exit_code != 0
    assert not key.exists()
