"""The origin of a server URL: what a login or enrollment proof names (hotline.crypto.auth).

``scheme://host:port``: scheme ``http`` or ``https`` (``ws``/``wss`` give the same origin
as their page), host in lower case (IPv6 in brackets, RFC 5952 form), the port always
written (80/443 by default). The browser's twin is ``originOf`` in web/src/crypto/auth.ts;
both run tests/vectors/auth-v1.json.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from hotline.crypto.auth import MAX_ORIGIN

_SCHEMES = {"http": "http", "ws": "http", "https": "https", "wss": "https"}
_DEFAULT_PORTS = {"http": 80, "https": 443}


def format_origin(scheme: str, host: str, port: int) -> str:
    """``scheme://host:port`` in the canonical form (lower case, IPv6 bracketed)."""
    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        host = f"[{address.compressed}]" if address.version == 6 else address.compressed
    return f"{scheme}://{host}:{port}"


def origin_of(url: str) -> str:
    """The origin a proof names for ``url`` (http/https/ws/wss); ValueError otherwise."""
    parts = urlsplit(url.strip())
    scheme = _SCHEMES.get(parts.scheme.lower())
    host = parts.hostname
    if scheme is None or not host:
        raise ValueError(f"not an http(s) or ws(s) URL: {url!r}")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"bad port in {url!r}") from None
    origin = format_origin(scheme, host, port if port is not None else _DEFAULT_PORTS[scheme])
    if len(origin.encode()) > MAX_ORIGIN:
        raise ValueError("origin too long")
    return origin
