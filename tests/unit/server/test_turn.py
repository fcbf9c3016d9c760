"""TURN settings and credentials (the TURN REST API scheme; coturn itself checks them in
tests/integration/test_turn_relay.py)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from hotline.errors import ConfigError
from hotline.server.settings import Settings
from hotline.server.turn import DEFAULT_LIFETIME, TurnCredentials
from hotline.signaling.turn_urls import parse_turn_url

URL = "turn:relay.example.org:3478?transport=udp"


@pytest.mark.parametrize(("url", "transport"), [
    ("turn:relay.example.org:3478?transport=udp", "udp"),
    ("turn:192.0.2.7:3478?transport=tcp", "tcp"),
    ("turns:relay.example.org:443?transport=tcp", "tls"),
])
def test_turn_urls_accepted(url: str, transport: str) -> None:
    parsed = parse_turn_url(url)
    assert parsed.transport == transport and parsed.url == url


@pytest.mark.parametrize(("url", "says"), [
    ("turn:relay.example.org:3478", "turn:HOST:PORT"),
    ("stun:relay.example.org:3478?transport=udp", "turn:HOST:PORT"),
    ("turn:relay.example.org?transport=udp", "turn:HOST:PORT"),
    ("turn:relay.example.org:0?transport=udp", "port"),
    ("turn:relay.example.org:65536?transport=udp", "port"),
    ("turn:relay.example.org:34x?transport=udp", "port"),
    ("turn:relay.example.org:3478?transport=sctp", "udp or tcp"),
    ("turns:relay.example.org:5349?transport=udp", "tcp only"),
    ("turn:relay_example.org:3478?transport=udp", "host"),
    ("turn::3478?transport=udp", "host"),
    ("x" * 400, "short"),
])
def test_bad_turn_urls_are_refused_clearly(url: str, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        parse_turn_url(url)


def test_settings_check_turn_and_hide_the_secret() -> None:
    s = Settings(turn_urls=(URL,), turn_secret="very-secret")
    assert "very-secret" not in repr(s)
    assert s.turn_credential_lifetime == DEFAULT_LIFETIME >= 4 * 3600
    for kwargs, says in (({"turn_urls": (URL,)}, "shared secret"),
                         ({"turn_secret": "very-secret"}, "no --turn-url"),
                         ({"turn_urls": ("turn:x",), "turn_secret": "very-secret"},
                          "--turn-url"),
                         ({"turn_urls": (URL,), "turn_secret": "very-secret",
                           "turn_credential_lifetime": 10}, "lifetime")):
        with pytest.raises(ConfigError, match=says) as err:
            Settings(**kwargs)  # type: ignore[arg-type]
        assert "very-secret" not in str(err.value)


def test_credentials_follow_the_rest_api_scheme() -> None:
    turn = TurnCredentials((URL,), b"very-secret", 3600, clock=lambda: 1_700_000_000.5)
    [server] = turn.ice_servers("p7")
    assert server.urls == [URL] and server.username == "1700003600:p7"
    mac = hmac.new(b"very-secret", b"1700003600:p7", hashlib.sha1).digest()
    assert base64.b64decode(server.credential) == mac
    assert "very-secret" not in repr(turn)
    assert TurnCredentials((), b"s", 60).ice_servers("p1") == []
