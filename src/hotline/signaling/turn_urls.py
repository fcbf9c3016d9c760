"""TURN server URLs (RFC 7065) as Hotline accepts them, in one place: the server's
``--turn-url`` settings, the ``ice_servers`` of ``joined``/``resumed`` and the clients'
choice of transport all use this grammar.

Accepted: ``turn:HOST:PORT?transport=udp``, ``turn:HOST:PORT?transport=tcp`` and
``turns:HOST:PORT?transport=tcp`` (TURN over TLS). HOST is an IPv4 address or a DNS name
(aiortc cannot parse IPv6 literals in TURN URLs); the port and the transport are always
written out, so that a URL says exactly what a client will do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

#: The same grammar as a regular expression (the JSON Schema of ``ice_servers``).
PATTERN = (r"^(turn:[A-Za-z0-9.\-]{1,253}:[0-9]{1,5}\?transport=(udp|tcp)"
           r"|turns:[A-Za-z0-9.\-]{1,253}:[0-9]{1,5}\?transport=tcp)$")
_URL = re.compile(r"(?P<scheme>turns?):(?P<host>[^:?]*):(?P<port>[^?]*)\?transport=(?P<t>.*)")
_HOST = re.compile(r"[A-Za-z0-9.\-]{1,253}")

Transport = Literal["udp", "tcp", "tls"]
#: The order a client tries them in: UDP is cheapest, TLS gets through the most.
PREFERENCE: tuple[Transport, ...] = ("udp", "tcp", "tls")
#: What a path relayed over each is called ("relay over TCP").
LABELS: dict[Transport, str] = {"udp": "UDP", "tcp": "TCP", "tls": "TLS"}


@dataclass(frozen=True, slots=True)
class TurnUrl:
    url: str
    host: str
    port: int
    transport: Transport

    @property
    def tls(self) -> bool:
        return self.transport == "tls"


def parse_turn_url(url: str) -> TurnUrl:
    """``url`` parsed, or ValueError saying what is wrong with it (without repeating more
    than the URL itself, which holds no secret)."""
    if not isinstance(url, str) or len(url) > 300:
        raise ValueError("a TURN URL is a short string")
    match = _URL.fullmatch(url)
    if match is None:
        raise ValueError(f"{url!r} is not turn:HOST:PORT?transport=udp|tcp or "
                         "turns:HOST:PORT?transport=tcp")
    scheme, host, port_text, transport = match.group("scheme", "host", "port", "t")
    if not _HOST.fullmatch(host):
        raise ValueError(f"{url!r}: the host must be an IPv4 address or a DNS name")
    if not port_text.isdigit() or not 0 < int(port_text) <= 65535:
        raise ValueError(f"{url!r}: the port must be a number from 1 to 65535")
    kind: Transport
    if transport == "udp":
        kind = "udp"
    elif transport == "tcp":
        kind = "tls" if scheme == "turns" else "tcp"
    else:
        raise ValueError(f"{url!r}: the transport must be udp or tcp")
    if scheme == "turns" and transport != "tcp":
        raise ValueError(f"{url!r}: turns: (TLS) runs over tcp only")
    return TurnUrl(url, host, int(port_text), kind)
