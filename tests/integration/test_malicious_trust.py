"""A malicious server tries to get keys sealed to itself; the clients decide, not the
server (issue #12, items 1 and 2; REQUIREMENTS E4, E9).

The malicious server is the real server behind the tampering proxy of
tests/support/evil_proxy.py; the clients are real :class:`SignalingClient` s,
:class:`Standby` s and :class:`HotlineCaller` s with their own trust stores. Every test
counts the key messages the clients sent to the attacker's participant id (what the
proxy saw): it must be 0.

(a) man in the middle of a hotline link test and of a hotline call (at the caller and at
    the answering standby): the server lists its own key as the far party -> 0 keys,
    refused with both fingerprints, alarm; a hotline with no pin on the device -> refused;
(b) an inserted member -> 0 keys from every client, shown unverified, the code changes;
(c) an inserted device of a known party -> 0 keys, "new device";
(d) after Accept that device gets a key (it opens it), the others still seal nothing;
(e) rejoining with the same identities after a server restart: no warning, keys flow.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from hotline.client.hotline.caller import HotlineCaller
from hotline.client.signaling import SignalingClient
from hotline.client.trust import State, TrustStore, Verdict
from hotline.client.trustpolicy import TrustPolicy, UntrustedKey
from hotline.crypto.callkey import CallKeyAnnouncement, CallKeyPair
from hotline.crypto.identity import Identity
from hotline.crypto.keymessage import KeyMessage
from hotline.signaling import messages as m

from ..support.evil_proxy import EvilProxy, is_sealed_key
from ..support.malicious_room import three, until
from ..support.server import Server, start_server
from ..support.trust import hotline_pins
from .hotline_support import HOTLINE, hotline_server, running_standby, standby

pytestmark = pytest.mark.asyncio
NAMES = ("alice", "bob", "carol")
MALLORY_PID = 77


def keys_to(proxy: EvilProxy, pid: int, connections: list[int] | None = None) -> int:
    """Key messages the clients sent (through the proxy) to participant ``pid``."""
    idx = range(len(proxy.from_clients)) if connections is None else connections
    return sum(1 for i in idx for d in proxy.from_clients[i]
               if d.get("type") == "key" and is_sealed_key(d, pid))


# -- (a) hotline: the server lists its own key as the far party ------------------------


class Mitm:
    """Replaces ``party``'s identity key and announcement by the attacker's in every
    roster the proxied clients see (a valid announcement: the attacker signs it)."""

    def __init__(self, party: str) -> None:
        self.party = party
        self.mallory = Identity.generate()
        self.call_key = CallKeyPair.generate()
        self.rooms: dict[int, str] = {}
        self.replaced: set[int] = set()

    def _swap(self, room: str, member: dict[str, Any], epoch: int) -> None:
        ann = CallKeyAnnouncement.create(self.mallory, room, member["participant_id"], epoch,
                                         self.call_key.public)
        member["identity_key"] = m.b64encode(self.mallory.public_key)
        member["announcement"] = m.b64encode(ann.encode())
        self.replaced.add(member["participant_id"])

    def __call__(self, i: int, doc: dict[str, Any]) -> list[dict[str, Any]]:
        if doc.get("type") == "joined":
            self.rooms[i] = doc["room"]
            for member in doc["members"]:
                if member["party"] == self.party:
                    self._swap(doc["room"], member, doc["epoch"] - 1)
        elif doc.get("type") == "member_joined" and doc["member"]["party"] == self.party:
            self._swap(self.rooms.get(i, ""), doc["member"], doc["epoch"])
        return [doc]


def assert_names_both(text: str, expected: str, presented: str) -> None:
    assert "bob" in text and expected in text and presented in text, text


def assert_nothing_sealed_to_the_attacker(proxy: EvilProxy, mitm: Mitm, who: str = "") -> None:
    """The attack happened (a key was replaced) and no key was sealed to the attacker."""
    assert mitm.replaced, "the attack did not happen"
    sealed = sum(keys_to(proxy, pid) for pid in mitm.replaced)
    print(f"keys sealed to the attacker{who}: {sealed}")
    assert sealed == 0


async def mitm_proxy(srv: Server, victim: str) -> tuple[EvilProxy, Mitm]:
    """The server's public face: a proxy whose :class:`Mitm` stands in for ``victim``."""
    proxy = EvilProxy(srv.url)
    await proxy.start(face_of=srv.app)
    mitm = Mitm(victim)
    proxy.tamper = mitm
    return proxy, mitm


async def test_a_mitm_of_a_hotline_link_test_gets_no_key_and_raises_an_alarm(
        tmp_path: Path) -> None:
    async with hotline_server(tmp_path / "data") as (srv, alice, bob):
        proxy, mitm = await mitm_proxy(srv, "bob")
        a = running_standby(srv, alice, proxy.url)
        b = await standby(srv, bob)
        try:
            await a.next("connected", timeout=10)
            async with SignalingClient(srv.url, bob) as requester:
                await requester.authenticate()
                requester.send(m.LinkTestRequest(hotline=HOTLINE))
                result = await asyncio.wait_for(requester.hotline.get(), 60)
            alarm = await a.next("alarm", timeout=10)
            done = await a.next("linktest_done", timeout=10)
        finally:
            await a.stop()
            await b.stop()
            await proxy.close()
    assert_nothing_sealed_to_the_attacker(proxy, mitm)
    text = str(alarm.data["message"])
    assert_names_both(text, bob.fingerprint, mitm.mallory.fingerprint)
    assert "NOT the pinned key" in str(done.data["error"])
    assert isinstance(result, m.LinkTestResult) and result.outcome != "ok"
    ends = result.result["paths"]["sfu"]["ends"]  # type: ignore[index]
    assert isinstance(ends, dict) and "pinned" in str(ends["alice"]["error"])


async def test_a_hotline_with_no_pin_on_the_device_is_refused(tmp_path: Path) -> None:
    async with hotline_server(tmp_path / "data") as (srv, alice, bob):
        proxy = EvilProxy(srv.url)
        await proxy.start(face_of=srv.app)
        a = running_standby(srv, alice, proxy.url, trust=TrustPolicy())  # nothing imported
        b = await standby(srv, bob)
        try:
            warned = await a.next("alarm", timeout=10)
            await a.next("connected", timeout=10)
            async with SignalingClient(srv.url, bob) as requester:
                await requester.authenticate()
                requester.send(m.LinkTestRequest(hotline=HOTLINE))
                result = await asyncio.wait_for(requester.hotline.get(), 60)
            done = await a.next("linktest_done", timeout=10)
        finally:
            await a.stop()
            await b.stop()
            await proxy.close()
    assert "hotline pin add red" in str(warned.data["message"])
    assert "no pin" in str(done.data["error"])
    bob_pids = {d["participant_id"] for conn in proxy.seen for doc in conn
                for d in ([doc["member"]] if doc.get("type") == "member_joined" else
                          doc.get("members", []) if doc.get("type") == "joined" else [])
                if d["party"] == "bob"}
    assert bob_pids and sum(keys_to(proxy, pid) for pid in bob_pids) == 0
    assert isinstance(result, m.LinkTestResult) and result.outcome != "ok"


async def test_a_mitm_of_a_hotline_call_gets_no_key_and_the_call_is_refused(
        tmp_path: Path) -> None:
    async with hotline_server(tmp_path / "data") as (srv, alice, bob):
        proxy, mitm = await mitm_proxy(srv, "bob")
        b = await standby(srv, bob)
        caller = HotlineCaller(proxy.url, alice, HOTLINE,
                               trust_policy=hotline_pins(srv.store, HOTLINE, alice))
        try:
            await caller.connect()
            call_id = await caller.ring()
            await b.next("ring")
            b.standby.answer(call_id)
            await b.next("call_started", timeout=20)
            with pytest.raises(UntrustedKey) as refused:
                await caller.wait_answer(lambda ack: None, timeout=20)
                await until(lambda: caller.signaling.pin_failure is not None, 10)
                caller.poll_ended()
        finally:
            await caller.close()
            await b.stop()
            await proxy.close()
    assert_nothing_sealed_to_the_attacker(proxy, mitm)
    assert_names_both(str(refused.value), bob.fingerprint, mitm.mallory.fingerprint)


# -- (b)-(e) rooms: inserted members and devices ------------------------------------------


def verified_stores(idents: dict[str, Identity]) -> dict[str, TrustPolicy]:
    """Each party has verified the others' devices before (e.g. at an earlier meeting)."""
    policies = {}
    for me in idents:
        store = TrustStore()
        for other, ident in idents.items():
            if other != me:
                store.set_device(other, ident.fingerprint, State.TRUSTED, "accepted")
        policies[me] = TrustPolicy(store)
    return policies


async def three_verified(server: Server, proxy: EvilProxy) -> list[SignalingClient]:
    idents = {n: Identity.generate() for n in NAMES}
    policies = verified_stores(idents)
    def keyed(cs: list[SignalingClient]) -> bool:
        return all(c.schedule is not None and len(c.schedule.members) == 2
                   and len(c.keys.context.decryption_kids()) >= 4
                   and c.code is not None for c in cs)  # the code shown before: compared

    clients = await three(server, proxy, identities=idents, policies=policies, ready=keyed)
    assert all(not c.unverified for c in clients)  # verified before: no warning
    return clients


def inserted(epoch: int, party: str) -> tuple[dict[str, Any], Identity, CallKeyPair]:
    mallory, call_key = Identity.generate(), CallKeyPair.generate()
    ann = CallKeyAnnouncement.create(mallory, "summit", MALLORY_PID, epoch, call_key.public)
    return {"participant_id": MALLORY_PID, "party": party,
            "identity_key": m.b64encode(mallory.public_key),
            "announcement": m.b64encode(ann.encode())}, mallory, call_key


async def insert(clients: list[SignalingClient], proxy: EvilProxy,
                 party: str) -> tuple[Identity, CallKeyPair, list[str]]:
    before = [c.code.digits if c.code else "" for c in clients]
    epoch = max(c.schedule.epoch for c in clients if c.schedule) + 1
    member, mallory, call_key = inserted(epoch, party)
    for i in range(len(clients)):
        await proxy.inject(i, {"v": 1, "type": "member_joined", "epoch": epoch,
                               "member": member})
    await until(lambda: all(c.schedule and MALLORY_PID in c.schedule.members for c in clients))
    await asyncio.sleep(0.5)  # time for any key message to go out
    return mallory, call_key, before


async def test_b_an_inserted_member_gets_no_key_is_shown_unverified_and_changes_the_code(
        server: Server, proxy: EvilProxy) -> None:
    clients = await three_verified(server, proxy)
    try:
        mallory, _, before = await insert(clients, proxy, "dave")
        sealed = keys_to(proxy, MALLORY_PID)
        print(f"keys sealed to the inserted member: {sealed}")
        assert sealed == 0
        for c, old in zip(clients, before, strict=True):
            # E4: the code shown changes. This inserted member never commits to a nonce, so
            # the code stays pending ("verifying…"); one that follows the protocol gives a
            # new code that differs (tests/integration/test_malicious_fork.py).
            assert old and (c.code is None or c.code.digits != old)
            p = c.unverified[MALLORY_PID]
            assert (p.party, p.verdict, p.fingerprint) == ("dave", Verdict.NEW_PARTY,
                                                          mallory.fingerprint)
            assert c.schedule is not None and c.schedule.untrusted == (MALLORY_PID,)
        kinds = [e.kind for e in drain(clients[0])]
        assert "unverified" in kinds
    finally:
        for c in clients:
            await c.close()


def drain(client: SignalingClient) -> list[Any]:
    out = []
    while not client.events.empty():
        out.append(client.events.get_nowait())
    return out


async def test_c_d_an_inserted_device_of_a_known_party_gets_a_key_only_after_accept(
        server: Server, proxy: EvilProxy) -> None:
    clients = await three_verified(server, proxy)
    alice = clients[0]
    try:
        mallory, call_key, _ = await insert(clients, proxy, "bob")  # "bob's new phone"
        assert keys_to(proxy, MALLORY_PID) == 0
        for c in clients:
            assert c.unverified[MALLORY_PID].verdict is Verdict.NEW_DEVICE
        events = [e for e in drain(alice) if e.kind == "unverified"]
        assert events and events[-1].data["verdict"] == "new_device"
        assert events[-1].data["fingerprint"] == mallory.fingerprint
        # (d) alice accepts it: a rekey seals a fresh key to it, and it can open it
        generation = alice.keys.generation
        alice.accept(MALLORY_PID)
        await until(lambda: keys_to(proxy, MALLORY_PID, [0]) >= 1)
        sealed = [d for d in proxy.from_clients[0] if d.get("type") == "key"
                  and is_sealed_key(d, MALLORY_PID)]
        msg = KeyMessage.decode(m.b64decode(sealed[-1]["data"]))
        assert msg.generation == generation + 1
        assert alice.schedule is not None and alice.participant_id is not None
        base = msg.open(call_key, alice.identity.public_key, room_id="summit",
                        recipient=MALLORY_PID)
        assert len(base) == 32
        assert alice.schedule.untrusted == () and MALLORY_PID not in alice.unverified
        assert alice.trust.store.evaluate("bob", mallory.fingerprint) is Verdict.TRUSTED
        # bob and carol did not accept: still nothing sealed to it by them
        assert keys_to(proxy, MALLORY_PID, [1, 2]) == 0
        # refusing keeps it at zero keys, and is remembered
        clients[1].refuse(MALLORY_PID)
        assert clients[1].unverified[MALLORY_PID].verdict is Verdict.REFUSED
        assert clients[1].trust.store.evaluate("bob", mallory.fingerprint) is Verdict.REFUSED
        await asyncio.sleep(0.3)
        assert keys_to(proxy, MALLORY_PID, [1, 2]) == 0
    finally:
        for c in clients:
            await c.close()


async def test_e_rejoining_after_a_server_restart_asks_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    idents = {n: Identity.generate() for n in NAMES[:2]}
    files = {}
    for n, ident in idents.items():
        files[n] = tmp_path / f"{n}.key"
        ident.save(files[n])
    srv = await start_server(data, join_timeout=2.0)
    try:
        clients = {}
        for n in idents:
            srv.store.add_party(n)
            clients[n] = SignalingClient(srv.url, idents[n], grace=0.3,
                                         trust=TrustPolicy.for_identity(files[n]))
            await clients[n].connect()
            await clients[n].enroll(srv.store.new_enrollment_code(n))
        srv.store.add_room("summit", list(idents))
        for c in clients.values():
            await c.join("summit")
        # first meeting: each sees the other as a new party and accepts it (verified aloud)
        await until(lambda: all(len(c.unverified) == 1 for c in clients.values()))
        assert keys_to_nobody(clients)
        for c in clients.values():
            c.accept(next(iter(c.unverified)))
        await until(lambda: all(len(c.keys.context.decryption_kids()) >= 2
                                for c in clients.values()))
        for c in clients.values():
            await c.close()
    finally:
        await srv.close()
    srv = await start_server(data, join_timeout=2.0)  # the server restarted
    try:
        again = {n: SignalingClient(srv.url, idents[n], grace=0.3,
                                    trust=TrustPolicy.for_identity(files[n])) for n in idents}
        for c in again.values():
            await c.connect()
            await c.authenticate()
            await c.join("summit")
        await until(lambda: all(len(c.keys.context.decryption_kids()) >= 2
                                for c in again.values()))
        for c in again.values():
            assert c.unverified == {}
            assert not [e for e in drain(c) if e.kind == "unverified"]
        assert oct(files["alice"].with_name("alice.key.trust.json").stat().st_mode)[-3:] == "600"
        for c in again.values():
            await c.close()
    finally:
        await srv.close()


def keys_to_nobody(clients: dict[str, SignalingClient]) -> bool:
    """Before any decision nothing is installed from the other (and nothing sealed)."""
    return all(len(c.keys.context.decryption_kids()) == 0 for c in clients.values())


async def test_a_mitm_of_the_answering_standby_gets_no_key_and_raises_an_alarm(
        tmp_path: Path) -> None:
    """The answering side too: bob's standby answers, the server lists its own key as
    alice in the call's roster; bob's standby seals nothing to it, alarms and hangs up."""
    async with hotline_server(tmp_path / "data") as (srv, alice, bob):
        proxy, mitm = await mitm_proxy(srv, "alice")
        b = running_standby(srv, bob, proxy.url)
        caller = HotlineCaller(srv.url, alice, HOTLINE,
                               trust_policy=hotline_pins(srv.store, HOTLINE, alice))
        try:
            await b.next("connected", timeout=10)
            await caller.connect()
            call_id = await caller.ring()
            await b.next("ring")
            b.standby.answer(call_id)
            answered = asyncio.ensure_future(caller.wait_answer(lambda ack: None, timeout=30))
            alarm = await b.next("alarm", timeout=20)
            with contextlib.suppress(Exception):  # answered, or ended before that
                await asyncio.wait_for(answered, 20)
            await until(lambda: caller.ended is not None or caller.poll_ended() is not None, 10)
        finally:
            await caller.close()
            await b.stop()
            await proxy.close()
    assert_nothing_sealed_to_the_attacker(proxy, mitm, " by the answering standby")
    text = str(alarm.data["message"])
    assert "alice" in text and alice.fingerprint in text and mitm.mallory.fingerprint in text
