"""Relay (TURN) through a real coturn (tests/support/coturn.py) started in the test's
loopback-only namespace.

* Credentials: the server hands each participant a TURN REST API credential in
  ``joined``; coturn grants an allocation with it, and refuses a wrong secret and an
  expired username.
* Restrictive network: one client's UDP is blocked entirely by kernel rules (``ip rule
  ... ipproto udp blackhole`` from and to its own address, and to the TURN listener):
  its call goes through TURN over TCP (or TLS when TCP to the TURN port is blocked too),
  says "relay over TCP"/"relay over TLS", and media is decrypted both ways. The SFU
  reaches the client's relayed address and the client the SFU's host address through
  coturn, in both directions (publish and subscribe connections).
* ``relay_only``: a client that gathers relayed candidates only (the link test of the
  relay path) gets a call over TURN/UDP when nothing is blocked.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aioice import stun, turn

from hotline.client.call import Call
from hotline.client.relay import choose
from hotline.crypto.identity import Identity
from hotline.server.turn import credential

from ..support.coturn import LISTEN, PORT, TLS_PORT, Coturn, Firewall
from ..support.server import Server, running_server
from ..support.trust import accept_all
from ..support.wait import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

BLOCKED = "127.0.0.5"  # the client whose UDP is blocked gathers here


@pytest_asyncio.fixture
async def server(tmp_path: Path, coturn: Coturn) -> AsyncIterator[Server]:
    async with running_server(tmp_path / "data", turn_urls=tuple(coturn.urls()),
                              turn_secret=coturn.secret) as srv:
        yield srv


async def allocate(username: str, password: str, transport: str = "tcp") -> Any:
    port = TLS_PORT if transport == "tls" else PORT
    tt, _ = await asyncio.wait_for(turn.create_turn_endpoint(
        asyncio.DatagramProtocol, (LISTEN, port), username, password,
        transport="udp" if transport == "udp" else "tcp"), 5)
    return tt


async def test_credentials_are_checked_by_coturn(server: Server, coturn: Coturn,
                                                 tmp_path: Path,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ident, code = server.party("alice")
    call = Call(server.url, ident, "lobby", trust_policy=accept_all(), media_restart=False)
    server.store.add_room("lobby", ["alice"], None)
    await call.signaling.connect()
    await call.signaling.enroll(code)
    await call.signaling.join("lobby")
    try:
        servers = call.signaling.ice_servers
        assert len(servers) == 1 and servers[0].urls == coturn.urls()
        username, password = servers[0].username, servers[0].credential
        expiry, _, who = username.partition(":")
        assert who and 5.5 * 3600 < int(expiry) - time.time() <= 6 * 3600
        assert coturn.secret not in username + password
        for transport in ("udp", "tcp"):  # what the server handed out is accepted
            (await allocate(username, password, transport)).close()
        # a wrong secret, and the right secret for an expired username, are refused
        wrong = credential(b"not the secret", username)
        expired = f"{int(time.time()) - 5}:{who}"
        for user, pw in ((username, wrong),
                         (expired, credential(coturn.secret.encode(), expired))):
            with pytest.raises(stun.TransactionFailed, match="401"):
                await allocate(user, pw)
        assert "Cannot find credentials of user" in coturn.log()
    finally:
        await call.close()
    # the secret is in no log line and nowhere in the server's data (the database)
    assert coturn.secret not in caplog.text
    for f in (tmp_path / "data").rglob("*"):
        assert not f.is_file() or coturn.secret.encode() not in f.read_bytes(), f


async def _two_calls(server: Server, **bob_options: Any) -> dict[str, Call]:
    idents = {n: Identity.generate() for n in ("alice", "bob")}
    codes = server.room("summit", list(idents))
    calls = {"alice": Call(server.url, idents["alice"], "summit", video_size=(160, 120),
                           trust_policy=accept_all()),
             "bob": Call(server.url, idents["bob"], "summit", video_size=(160, 120),
                         trust_policy=accept_all(), **bob_options)}
    for n, c in calls.items():
        await c.start(enroll_code=codes[n])
    return calls


def _frames(calls: dict[str, Call], at: str, of: str, kind: str) -> int:
    return int(calls[at].stats().remote.get(of, {}).get(f"{kind}_frames_decrypted", 0))


async def _media_both_ways(calls: dict[str, Call]) -> None:
    async def flowing() -> bool:
        return all(_frames(calls, at, of, kind) >= 10
                   for at, of in (("alice", "bob"), ("bob", "alice"))
                   for kind in ("video", "audio"))
    await wait_until(flowing, 60, "media decrypted both ways")
    for c in calls.values():  # a frame or two at the start, as in test_call_media.py
        assert all(r["decrypt_failures"] <= 2 for r in c.stats().remote.values())


async def _call_with_udp_blocked(server: Server, firewall: Firewall, expect: str,
                                 **bob_options: Any) -> dict[str, Call]:
    firewall.block_udp_of(BLOCKED)
    calls = await _two_calls(server, host_addresses=[BLOCKED], **bob_options)
    bob = calls["bob"]
    seen: list[str] = []
    bob.on_path_change = seen.append
    try:
        await wait_until(lambda: _true(bob.path == expect), 60, f"bob's path {expect!r}")
        await _media_both_ways(calls)
        assert calls["alice"].path == "via SFU"
        assert bob.path == expect and [label for _, label in bob.path_changes] == [expect]
        assert bob.media_restarts == [], "the relay worked from the start"
        for pc in (bob.publish_pc, bob.subscribe_pc):  # both directions are relayed
            assert pc is not None and bob.route.label(pc) == expect
        return calls
    except BaseException:
        for c in calls.values():
            await c.close()
        raise


async def _true(value: bool) -> bool:
    return value


async def test_udp_blocked_call_goes_through_turn_over_tcp(server: Server,
                                                           firewall: Firewall) -> None:
    calls = await _call_with_udp_blocked(server, firewall, "relay over TCP")
    for c in calls.values():
        await c.close()


async def test_udp_and_turn_tcp_blocked_call_goes_through_turn_over_tls(
        server: Server, coturn: Coturn, firewall: Firewall) -> None:
    firewall.block("to", LISTEN, "ipproto", "tcp", "dport", str(PORT))
    assert coturn.cert is not None
    calls = await _call_with_udp_blocked(server, firewall, "relay over TLS",
                                         turn_ca=str(coturn.cert))
    for c in calls.values():
        await c.close()


async def test_relay_only_call_uses_turn_over_udp(server: Server) -> None:
    calls = await _two_calls(server, relay_only=True)
    try:
        bob = calls["bob"]
        await wait_until(lambda: _true(bob.path == "relay over UDP"), 60, "bob relayed")
        await _media_both_ways(calls)
        assert bob.route.relay is not None and bob.route.relay.url.transport == "udp"
    finally:
        for c in calls.values():
            await c.close()


async def test_probe_prefers_udp_then_tcp_then_tls(server: Server, coturn: Coturn,
                                                   firewall: Firewall) -> None:
    from hotline.signaling import messages as m
    servers = [m.IceServer(urls=coturn.urls("tls", "tcp", "udp"), username="1:x",
                           credential="y")]
    tls = __import__("ssl").create_default_context(cafile=str(coturn.cert))
    chosen = await choose(servers, tls)
    assert chosen is not None and chosen.url.transport == "udp"
    firewall.block("to", LISTEN, "ipproto", "udp")
    chosen = await choose(servers, tls)
    assert chosen is not None and chosen.url.transport == "tcp"
    firewall.block("to", LISTEN, "ipproto", "tcp", "dport", str(PORT))
    start = time.monotonic()
    chosen = await choose(servers, tls)
    assert chosen is not None and chosen.url.transport == "tls"
    assert time.monotonic() - start < 3
    firewall.block("to", LISTEN, "ipproto", "tcp", "dport", str(TLS_PORT))
    assert await choose(servers, tls) is None


async def test_udp_blocked_mid_call_moves_to_the_relay_and_says_so(
        server: Server, firewall: Firewall) -> None:
    """A call that starts on the direct path to the SFU ("via SFU"); then the client's UDP
    is blocked: the media restart's new connections go through TURN over TCP, the change
    is recorded and announced, and media flows both ways again (same keys)."""
    calls = await _two_calls(server, host_addresses=[BLOCKED])
    bob = calls["bob"]
    heard: list[str] = []
    bob.on_path_change = heard.append
    try:
        await _media_both_ways(calls)
        assert bob.path == "via SFU" and heard in ([], ["via SFU"])
        heard.clear()
        code = bob.stats().group_code
        before = {n: (_frames(calls, n, o, "video"), _frames(calls, n, o, "audio"))
                  for n, o in (("alice", "bob"), ("bob", "alice"))}
        blocked_at = asyncio.get_running_loop().time()
        firewall.block_udp_of(BLOCKED)
        await wait_until(lambda: _true(bob.path == "relay over TCP"), 60, "the relay path")

        async def flowing_again() -> bool:
            return all(_frames(calls, n, o, kind) >= before[n][i] + 10
                       for n, o in (("alice", "bob"), ("bob", "alice"))
                       for i, kind in enumerate(("video", "audio")))
        await wait_until(flowing_again, 60, "media both ways over the relay")
        switched = bob.path_changes[-1][0] - blocked_at
        again = asyncio.get_running_loop().time() - blocked_at
        print(f"relay over TCP {switched:.1f} s after UDP was blocked, media both ways "
              f"again after {again:.1f} s")
        assert heard == ["relay over TCP"]
        assert [label for _, label in bob.path_changes] == ["via SFU", "relay over TCP"]
        assert len(bob.media_restarts) >= 1 and bob.stats().group_code == code
    finally:
        for c in calls.values():
            await c.close()
