"""Real clients of a malicious server, for the malicious-server tests
(tests/integration/test_malicious_*.py): each connects through the tampering proxy
(tests/support/evil_proxy.py) and enrolls as a party of the real server behind it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from hotline.client.signaling import SignalingClient
from hotline.client.trustpolicy import TrustPolicy
from hotline.crypto.identity import Identity

from .evil_proxy import EvilProxy
from .server import Server
from .trust import accept_all

NAMES = ("alice", "bob", "carol")
ROOM = "summit"


async def until(check: Callable[[], bool], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


async def connect(server: Server, proxy: EvilProxy, name: str, *,
                  identity: Identity | None = None,
                  trust: TrustPolicy | None = None) -> SignalingClient:
    """A new party ``name`` with one device, enrolled through the proxy. ``trust``
    defaults to :func:`accept_all` (these tests attack something else than trust)."""
    server.store.add_party(name)
    client = SignalingClient(proxy.url, identity or Identity.generate(), grace=0.3,
                             trust=trust if trust is not None else accept_all())
    await client.connect()
    await client.enroll(server.store.new_enrollment_code(name))
    return client


def codes(clients: list[SignalingClient]) -> list[str]:
    return [c.code.digits if c.code else "" for c in clients]


def settled(clients: list[SignalingClient]) -> bool:
    """Everyone sees the others and one group code."""
    return all(c.schedule is not None and len(c.schedule.members) == len(clients) - 1
               for c in clients) and len(set(codes(clients))) == 1 and all(codes(clients))


async def three(server: Server, proxy: EvilProxy, *,
                identities: dict[str, Identity] | None = None,
                policies: dict[str, TrustPolicy] | None = None,
                ready: Callable[[list[SignalingClient]], bool] = settled,
                ) -> list[SignalingClient]:
    """alice, bob and carol in room ``summit`` through the proxy, once ``ready``."""
    clients = [await connect(server, proxy, n, identity=(identities or {}).get(n),
                             trust=(policies or {}).get(n)) for n in NAMES]
    server.store.add_room(ROOM, list(NAMES))
    for c in clients:
        await c.join(ROOM)
    await until(lambda: ready(clients))
    return clients


async def close_all(clients: list[SignalingClient]) -> None:
    for c in clients:
        await c.close()
