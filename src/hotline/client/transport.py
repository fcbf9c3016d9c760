"""Which transports the Python client uses: plain http(ws) only to this machine.

Over ``ws://`` to another host the enrollment code, the login proofs and all signaling
cross the network readable and changeable, and nothing shows which server answers. The
client refuses it unless told otherwise (``hotline --insecure-http``,
``HOTLINE_INSECURE_HTTP=1`` or ``allow_insecure=True``), then warns on every connection.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from urllib.parse import urlsplit

from hotline.errors import InsecureServer

log = logging.getLogger("hotline.client")


#: Set to 1 (or ``hotline --insecure-http``) to allow plain http beyond loopback.
INSECURE_ENV = "HOTLINE_INSECURE_HTTP"


def insecure_allowed(override: bool | None) -> bool:
    """``override`` if given, else whether ``HOTLINE_INSECURE_HTTP=1``."""
    return os.environ.get(INSECURE_ENV) == "1" if override is None else override


def is_loopback_host(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_transport(url: str, allow_insecure: bool) -> None:
    """Refuse plain ws:// to a host beyond loopback: the enrollment code and every message
    would cross the network in clear, and nothing proves which server answers. With
    ``allow_insecure`` it is only warned about, loudly."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or is_loopback_host(parts.hostname or ""):
        return
    if not allow_insecure:
        raise InsecureServer(
            f"refusing plain http to {parts.hostname}: the enrollment code, the login and "
            "the call's signaling would be readable and changeable by anyone on the path. "
            "Use https:// (hotline serve --tls-cert/--tls-key, or --tls-self-signed with "
            f"--tls-ca), or accept the risk with --insecure-http ({INSECURE_ENV}=1)")
    log.warning("INSECURE: plain http to %s (not loopback): anyone on the path can read "
                "the enrollment code and the signaling and impersonate the server",
                parts.hostname)
