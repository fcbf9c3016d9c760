"""Plain http beyond loopback: the Python client refuses it (the enrollment code and the
signaling would cross the network readable), unless explicitly allowed, then loudly."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hotline.cli.main import app
from hotline.client.transport import INSECURE_ENV, check_transport
from hotline.errors import InsecureServer


@pytest.mark.parametrize("url", ["ws://192.0.2.7:8080/ws", "ws://hotline.example.org/ws",
                                 "ws://[2001:db8::1]:8080/ws", "ws://10.0.0.1/ws"])
def test_plain_http_beyond_loopback_is_refused(url: str) -> None:
    with pytest.raises(InsecureServer, match="refusing plain http"):
        check_transport(url, allow_insecure=False)


@pytest.mark.parametrize("url", ["ws://127.0.0.1:8080/ws", "ws://127.3.4.5/ws",
                                 "ws://localhost:8080/ws", "ws://[::1]:8080/ws",
                                 "wss://192.0.2.7/ws", "wss://hotline.example.org/ws"])
def test_loopback_or_tls_is_fine(url: str) -> None:
    check_transport(url, allow_insecure=False)


def test_the_override_is_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="hotline.client"):
        check_transport("ws://192.0.2.7:8080/ws", allow_insecure=True)
    assert "INSECURE" in caplog.text and "192.0.2.7" in caplog.text


def test_the_cli_refuses_and_says_how_to_override(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(INSECURE_ENV, raising=False)
    result = CliRunner().invoke(app, ["enroll", "--server", "http://192.0.2.7:8080", "--code",
                                      "ABCDE-FGHJK", "--identity", str(tmp_path / "a.key")])
    assert result.exit_code == 1
    assert "refusing plain http" in result.output and "--insecure-http" in result.output
    assert "Traceback" not in result.output
