"""What this server is reachable as: the origins a login or enrollment proof may name.

A proof (hotline.crypto.auth) names the server's origin as the *client* knows it. The
server accepts it only for an origin that is its own:

- the address the connection actually arrived at (the socket's local IP and port, and
  the scheme: ``https`` on a TLS connection), plus ``localhost`` on a loopback address;
- the public URLs the operator configured (``hotline serve --public-url``), for names
  and for a reverse proxy in front of the server.

The ``Host`` header is not used: whoever sends the request chooses it, so a relaying
server would simply set it to its own name. A proof made for server A and relayed by A
to server B names A, which is none of B's origins: B refuses it.
"""

from __future__ import annotations

import ipaddress

from aiohttp import web

from hotline.crypto.auth import tls_unique_of
from hotline.signaling.origin import format_origin


def connection_origins(request: web.Request) -> frozenset[str]:
    """This connection's own origins: where it arrived (see the module text)."""
    transport = request.transport
    if transport is None:
        return frozenset()
    scheme = "https" if transport.get_extra_info("ssl_object") is not None else "http"
    sockname = transport.get_extra_info("sockname")
    if not isinstance(sockname, tuple) or len(sockname) < 2:
        return frozenset()
    host, port = str(sockname[0]), int(sockname[1])
    origins = {format_origin(scheme, host, port)}
    try:
        if ipaddress.ip_address(host.split("%")[0]).is_loopback:
            origins.add(format_origin(scheme, "localhost", port))
    except ValueError:
        pass
    return frozenset(origins)


def tls_unique(request: web.Request) -> bytes | None:
    """RFC 5929 tls-unique of this connection (``tls-unique:`` || value), or None:
    plain HTTP, or TLS 1.3, which has none."""
    transport = request.transport
    ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
    return tls_unique_of(ssl_object) or None
