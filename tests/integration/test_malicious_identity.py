"""A malicious server attacks identities and logins (issue #12 items 7 and 8).

The malicious server is the real server behind the tampering proxy of
tests/support/evil_proxy.py (or, for the relay, the proxy as a server of its own that
forwards to the real one). Real :class:`SignalingClient` s are attacked:

* **small-order member key**: the server lists a member whose identity key is a
  small-order point, with an announcement "signed" by the universal signature R =
  identity, S = 0. OpenSSL alone accepts that signature for any message; every client
  refuses the member before sealing anything: keys sealed to it: 0.
* **small-order key at enrollment**: refused by the server with a clear error, no
  device stored, the one-time code not used up.
* **relayed login**: a malicious server A shows its clients the real server B's
  challenge and passes their proofs on to B. The proof names A's origin, so B refuses it
  (and an enrollment through A does not use up the code).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from hotline.client.signaling import SignalingClient
from hotline.crypto.auth import Purpose, proof_message, prove
from hotline.crypto.callkey import _ANNOUNCEMENT_LABEL, CallKeyAnnouncement, CallKeyPair
from hotline.crypto.ed25519_checks import P
from hotline.crypto.identity import Identity
from hotline.errors import Reason, Unauthorized
from hotline.server.app import STATE
from hotline.signaling import messages as m
from hotline.signaling.origin import origin_of

from ..support.evil_proxy import EvilProxy
from ..support.malicious_room import three, until
from ..support.server import Server, start_server

pytestmark = pytest.mark.asyncio
NAMES = ("alice", "bob", "carol")
IDENTITY_POINT = (1).to_bytes(32, "little")  # y = 1, x = 0: order 1
UNIVERSAL = IDENTITY_POINT + bytes(32)  # R = identity, S = 0: [0]B == R + [k]A for A small
# small-order keys in three spellings: the identity, the identity written y = p + 1
# (non-canonical), and a point of order 8
ORDER_8 = bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a")
SMALL_KEYS = {"identity": IDENTITY_POINT, "identity, y = p + 1": (P + 1).to_bytes(32, "little"),
              "order 8": ORDER_8}


def openssl_alone_accepts(key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def keys_sealed_to(proxy: EvilProxy, pid: int) -> int:
    return proxy.keys_sealed_to(pid)


async def test_a_small_order_member_key_gets_no_key_from_any_client(
        server: Server, proxy: EvilProxy) -> None:
    clients = await three(server, proxy)
    try:
        for n, (label, key) in enumerate(SMALL_KEYS.items()):
            pid = 90 + n
            epoch = max(c.schedule.epoch for c in clients if c.schedule) + 1
            # the forgery works against the library alone: R = identity, S = 0 verifies
            # when [k]A is the identity (always for A of order 1; for order 8 the server
            # tries call keys until k = 0 mod 8, 1 in 8)
            for _ in range(200):
                body = CallKeyAnnouncement._body("summit", pid, epoch,
                                                 CallKeyPair.generate().public, key)
                if openssl_alone_accepts(key, UNIVERSAL, _ANNOUNCEMENT_LABEL + body):
                    break
            assert openssl_alone_accepts(key, UNIVERSAL, _ANNOUNCEMENT_LABEL + body), label
            member = {"participant_id": pid, "party": "alice", "identity_key": m.b64encode(key),
                      "announcement": m.b64encode(body + UNIVERSAL)}
            for i in range(3):
                await proxy.inject(i, {"v": 1, "type": "member_joined", "epoch": epoch,
                                       "member": member})
            # the roster event went through (epoch moved) and the member was refused
            await until(lambda e=epoch: all(c.schedule and c.schedule.epoch == e  # type: ignore[misc]
                                            for c in clients))
            await asyncio.sleep(0.3)  # any key message a client would send is out by now
            assert not [c for c in clients if c.schedule and pid in c.schedule.members], label
            assert keys_sealed_to(proxy, pid) == 0, label
            # each client says why: a weak key, before any signature is looked at
            assert all(any(r.participant_id == pid and r.reason is Reason.WEAK_KEY
                           for r in c.keys.rejected) for c in clients), label
        # the honest members still get keys: the clients kept going
        assert all(keys_sealed_to(proxy, c.participant_id or -1) > 0 for c in clients)
        print(f"small-order member keys tried: {len(SMALL_KEYS)}; keys sealed to them: 0")
    finally:
        for c in clients:
            await c.close()


async def test_the_universal_signature_is_accepted_by_openssl_alone() -> None:
    """The control for the test above: without Hotline's checks, the attack would work."""
    for message in (b"hotline/v1 call-key announcement\x00...", b"anything", b""):
        assert openssl_alone_accepts(IDENTITY_POINT, UNIVERSAL, message)
        assert openssl_alone_accepts((P + 1).to_bytes(32, "little"), UNIVERSAL, message)


async def _raw_hello(url: str) -> tuple[aiohttp.ClientSession, aiohttp.ClientWebSocketResponse,
                                        bytes]:
    session = aiohttp.ClientSession()
    ws = await session.ws_connect(url.replace("http", "ws", 1) + "/ws")
    hello = m.parse_server((await ws.receive()).data)
    assert isinstance(hello, m.Hello)
    return session, ws, hello.challenge


async def _auth(ws: aiohttp.ClientWebSocketResponse, identity: Identity, challenge: bytes,
                origin: str) -> m.ServerMessage:
    """Log in on ``ws`` with a proof naming ``origin``; returns the server's reply."""
    await ws.send_str(m.encode(m.Auth(identity_key=identity.public_key, origin=origin,
                                      signature=prove(identity, Purpose.AUTH, challenge,
                                                      origin=origin))))
    return m.parse_server((await asyncio.wait_for(ws.receive(), 3)).data)


async def test_a_small_order_key_is_refused_at_enrollment(server: Server) -> None:
    server.store.add_party("mallory")
    code = server.store.new_enrollment_code("mallory")
    origin = origin_of(server.url)
    refused = 0
    for label, key in SMALL_KEYS.items():
        session, ws, challenge = await _raw_hello(server.url)
        try:
            signed = proof_message(Purpose.ENROLL, challenge, key, origin, b"", code)
            if label != "order 8":  # the library alone would take this proof
                assert openssl_alone_accepts(key, UNIVERSAL, signed)
            await ws.send_str(m.encode(m.Enroll(code=code, identity_key=key, label="evil",
                                                signature=UNIVERSAL, origin=origin)))
            reply = m.parse_server((await asyncio.wait_for(ws.receive(), 3)).data)
            assert isinstance(reply, m.Error) and reply.code == "unauthorized", reply
            assert "identity key refused" in reply.message
            assert ("small_order" in reply.message or "non_canonical" in reply.message), label
            refused += 1
            assert server.store.device_by_key(key) is None
        finally:
            await ws.close()
            await session.close()
    assert refused == len(SMALL_KEYS)
    # the code was not used up: an honest device enrolls with it
    async with SignalingClient(server.url, Identity.generate()) as honest:
        assert await honest.enroll(code) == "mallory"


async def test_a_relayed_login_is_refused(server: Server) -> None:
    """Server A (a relay the real server B does not know) forwards B's challenge to the
    client and the client's proof to B: B refuses, the proof names A."""
    alice = Identity.generate()
    server.store.add_party("alice")
    async with SignalingClient(server.url, alice) as direct:  # enrolled at B, honestly
        await direct.enroll(server.store.new_enrollment_code("alice"))
    relay = EvilProxy(server.url)  # A: not among B's public origins
    await relay.start()
    try:
        assert origin_of(relay.url) not in server.app[STATE].public_origins
        async with SignalingClient(relay.url, alice) as victim:
            with pytest.raises(Unauthorized) as caught:
                await victim.authenticate()
        assert caught.value.code == "unauthorized"
        assert origin_of(relay.url) in str(caught.value)
        relayed = [d for d in relay.from_clients[0] if d.get("type") == "auth"]
        assert len(relayed) == 1 and relayed[0]["origin"] == origin_of(relay.url)
        # an enrollment through A neither succeeds nor uses up B's one-time code
        server.store.add_party("bob")
        code = server.store.new_enrollment_code("bob")
        async with SignalingClient(relay.url, Identity.generate()) as victim:
            with pytest.raises(Unauthorized) as caught:
                await victim.enroll(code)
        assert caught.value.code == "unauthorized"
        async with SignalingClient(server.url, Identity.generate()) as honest:
            assert await honest.enroll(code) == "bob"
        # the same client straight to B: accepted
        async with SignalingClient(server.url, alice) as direct:
            await direct.authenticate()
        print("relayed logins accepted by B: 0 of 1; relayed enrollments: 0 of 1")
    finally:
        await relay.close()


async def test_a_proof_for_another_origin_is_refused_even_on_the_right_connection(
        server: Server, tmp_path: Path) -> None:
    """The check is the server's own origin, not the Host header: a proof for
    http://127.0.0.1:OTHER sent straight to B is refused."""
    alice = Identity.generate()
    server.store.add_party("alice")
    async with SignalingClient(server.url, alice) as direct:
        await direct.enroll(server.store.new_enrollment_code("alice"))
    session, ws, challenge = await _raw_hello(server.url)
    try:
        reply = await _auth(ws, alice, challenge, "http://127.0.0.1:1")
        assert isinstance(reply, m.Error) and reply.code == "unauthorized"
    finally:
        await ws.close()
        await session.close()


async def test_control_without_the_strict_checks_the_attack_gets_keys(
        server: Server, proxy: EvilProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the test above prevents: with the checks switched off (the library alone),
    every client seals its sender key to the server's small-order 'member'."""
    import hotline.crypto.callkey as callkey_module
    import hotline.crypto.identity as identity_module
    monkeypatch.setattr(identity_module, "public_key_problem", lambda key: None)
    monkeypatch.setattr(callkey_module, "public_key_problem", lambda key: None)
    monkeypatch.setattr(identity_module, "signature_problem", lambda sig: None)
    clients = await three(server, proxy)
    try:
        epoch = max(c.schedule.epoch for c in clients if c.schedule) + 1
        body = CallKeyAnnouncement._body("summit", 99, epoch, CallKeyPair.generate().public,
                                         IDENTITY_POINT)
        member = {"participant_id": 99, "party": "alice",
                  "identity_key": m.b64encode(IDENTITY_POINT),
                  "announcement": m.b64encode(body + UNIVERSAL)}
        for i in range(3):
            await proxy.inject(i, {"v": 1, "type": "member_joined", "epoch": epoch,
                                   "member": member})
        await until(lambda: keys_sealed_to(proxy, 99) == 3)
    finally:
        for c in clients:
            await c.close()


async def test_the_servers_own_names_are_accepted(tmp_path: Path) -> None:
    """What is accepted: the address the connection arrived at, ``localhost`` on loopback
    (the README's second tab), and a configured public URL (a reverse proxy's name)."""
    srv = await start_server(tmp_path / "d", public_urls=("https://Hotline.Example.org/",))
    try:
        port = srv.url.rsplit(":", 1)[1]
        alice = Identity.generate()
        srv.store.add_party("alice")
        async with SignalingClient(f"http://localhost:{port}", alice) as client:
            assert await client.enroll(srv.store.new_enrollment_code("alice")) == "alice"
        async with SignalingClient(srv.url, alice) as client:
            await client.authenticate()
        session, ws, challenge = await _raw_hello(srv.url)
        try:
            reply = await _auth(ws, alice, challenge, "https://hotline.example.org:443")
            assert isinstance(reply, m.Welcome), reply
        finally:
            await ws.close()
            await session.close()
    finally:
        await srv.close()
