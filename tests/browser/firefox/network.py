"""An address of the test namespace's own for Firefox's ICE.

Firefox gathers no ICE candidates in a namespace without a default route, and never
loopback ones. :func:`netns_address` adds, inside the suite's loopback-only namespace, a
veth pair (both ends in the namespace, no outside link) with ``ADDRESS`` on one end and
``PEER`` on the other, and a default route via ``PEER``; the server's SFU binds
``ADDRESS`` (``media_host``). Nothing can leave: the pair's other end is in the same
namespace, which forwards nothing. Removed after the test (the route goes with the link).
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Iterator

import pytest

ADDRESS = "192.0.2.10"  # TEST-NET-1 (RFC 5737): never routed anywhere
PEER = "192.0.2.1"
LINK, PEER_LINK = "hl-ff0", "hl-ff1"


def _ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


@pytest.fixture
def netns_address() -> Iterator[str]:
    """``ADDRESS`` on a veth in the loopback-only namespace, with a default route into
    it, while the test runs; yields ``ADDRESS``."""
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        pytest.fail("the Firefox tests add a veth to the suite's loopback-only namespace "
                    "and must run in one: run them through `make test`, or prefix the "
                    "command with scripts/in-loopback-netns.sh")
    _ip("link", "add", LINK, "type", "veth", "peer", "name", PEER_LINK)
    try:
        _ip("addr", "add", f"{ADDRESS}/24", "dev", LINK)
        _ip("addr", "add", f"{PEER}/24", "dev", PEER_LINK)
        _ip("link", "set", LINK, "up")
        _ip("link", "set", PEER_LINK, "up")
        _ip("route", "add", "default", "via", PEER)
        yield ADDRESS
    finally:
        _ip("link", "del", LINK)  # its peer and the route go with it
