"""A malicious server attacks the end-to-end encryption; the clients must notice
(REQUIREMENTS E4, E5; issue #7 "server insertion" and "replay").

The malicious server is the real server behind a tampering WebSocket proxy written here
with aiohttp: every message the server sends to a client passes through a function that
may change, drop or add messages, and the proxy can inject messages of its own. Three
real :class:`SignalingClient` s connect through it.

These clients use the explicit ``accept_all()`` trust policy (tests/support/trust.py: every
new party and device accepted, as ``hotline join --accept-new-devices`` does), so that the
checks below are about the group code and the key messages alone. With the default policy
an inserted member gets no key at all: tests/integration/test_malicious_trust.py.

* an inserted member (a roster entry the server made up, with a valid announcement of an
  identity the server holds) changes the group code on every client and is listed by
  every client; clients that accept every device DO seal their sender keys to it.
  Verification of the group code (aloud, or pinned keys in a hotline) is what defeats it;
* an insertion shown to one client only makes that client's code differ from the others';
* a swapped call-key announcement is refused by its signature, and no key is sealed to it;
  a swapped identity *and* announcement (a full man in the middle) changes that client's
  code only: the codes no longer match;
* a replayed (old) key message is refused and changes nothing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hotline.client.signaling import SignalingClient
from hotline.crypto.callkey import CallKeyAnnouncement, CallKeyPair
from hotline.crypto.identity import Identity
from hotline.crypto.keymessage import KeyMessage
from hotline.signaling import messages as m

from ..support.evil_proxy import EvilProxy, Tamper, is_sealed_key
from ..support.malicious_room import NAMES, close_all, codes, connect, settled, three, until
from ..support.server import Server

pytestmark = pytest.mark.asyncio


def made_up_member(epoch: int, pid: int, party: str) -> tuple[dict[str, Any], CallKeyPair]:
    """A roster entry the server invents: its own identity, a valid announcement."""
    mallory, call_key = Identity.generate(), CallKeyPair.generate()
    ann = CallKeyAnnouncement.create(mallory, "summit", pid, epoch, call_key.public)
    return {"participant_id": pid, "party": party, "identity_key": m.b64encode(
        mallory.public_key), "announcement": m.b64encode(ann.encode())}, call_key


async def test_an_inserted_member_changes_every_code_and_is_listed(
        server: Server, proxy: EvilProxy) -> None:
    clients = await three(server, proxy)
    try:
        before = codes(clients)[0]
        epoch = max(c.schedule.epoch for c in clients if c.schedule) + 1
        member, mallory_call = made_up_member(epoch, 77, "alice")  # "alice's 2nd device"
        for i in range(3):
            await proxy.inject(i, {"v": 1, "type": "member_joined", "epoch": epoch,
                                   "member": member})
        await until(lambda: all(c.schedule and 77 in c.schedule.members for c in clients))
        after = codes(clients)
        assert before not in after  # every client shows a new code ...
        assert all(c.names.get(77) == "alice" for c in clients)  # ... and the new member
        # With accept_all() (not the default) the clients sealed their keys to it.
        await until(lambda: all(any(d.get("type") == "key" and is_sealed_key(d, 77)
                                    for d in sent) for sent in proxy.from_clients[:3]))
        sealed = next(d for d in proxy.from_clients[0] if d.get("type") == "key"
                      and is_sealed_key(d, 77))
        msg = KeyMessage.decode(m.b64decode(sealed["data"]))
        assert msg.recipient == 77 and mallory_call is not None
    finally:
        await close_all(clients)


async def test_an_insertion_shown_to_one_client_makes_the_codes_differ(
        server: Server, proxy: EvilProxy) -> None:
    clients = await three(server, proxy)
    try:
        epoch = clients[0].schedule.epoch + 1 if clients[0].schedule else 0
        member, _ = made_up_member(epoch, 78, "bob")
        await proxy.inject(0, {"v": 1, "type": "member_joined", "epoch": epoch,
                               "member": member})
        await until(lambda: bool(clients[0].schedule and 78 in clients[0].schedule.members))
        alice, bob, carol = codes(clients)
        assert alice != bob and bob == carol  # compared aloud, the codes do not match
    finally:
        await close_all(clients)


def swap_for(target: int, party: str, *, identity_too: bool) -> Tamper:
    """Replace ``party``'s announcement (and identity key) in what ``target`` receives."""
    mallory = Identity.generate()

    def tamper(i: int, doc: dict[str, Any]) -> list[dict[str, Any]]:
        if i != target or doc.get("type") != "member_joined" or doc["member"][
                "party"] != party:
            return [doc]
        member = doc["member"]
        ann = CallKeyAnnouncement.create(mallory, "summit", member["participant_id"],
                                         doc["epoch"], CallKeyPair.generate().public)
        member["announcement"] = m.b64encode(ann.encode())
        if identity_too:
            member["identity_key"] = m.b64encode(mallory.public_key)
        return [doc]

    return tamper


async def two_then_carol(server: Server, proxy: EvilProxy) -> list[SignalingClient]:
    clients = [await connect(server, proxy, n) for n in NAMES]
    server.store.add_room("summit", list(NAMES))
    for c in clients[:2]:
        await c.join("summit")
    await until(lambda: settled(clients[:2]))
    await clients[2].join("summit")
    return clients


async def test_a_swapped_call_key_is_refused_by_its_signature(
        server: Server, proxy: EvilProxy) -> None:
    proxy.tamper = swap_for(0, "carol", identity_too=False)
    clients = await two_then_carol(server, proxy)
    alice, bob, carol = clients
    try:
        await until(lambda: bool(bob.schedule and len(bob.schedule.members) == 2
                                 and alice.keys.rejected))
        assert [r.participant_id for r in alice.keys.rejected] == [carol.participant_id]
        assert alice.schedule is not None and carol.participant_id not in alice.schedule.members
        # No key sealed to the swapped key (alice's code commitment and reveal, types
        # 0x03/0x04, do go to carol: carol's code covers alice).
        assert not any(d.get("type") == "key" and d.get("to") == carol.participant_id
                       and m.b64decode(d["data"])[0] == 0x02 for d in proxy.from_clients[0])
        await until(lambda: all(codes(clients)) and codes(clients)[1] == codes(clients)[2])
        assert codes(clients)[0] != codes(clients)[1]
    finally:
        await close_all(clients)


async def test_a_swapped_identity_and_call_key_make_the_codes_differ(
        server: Server, proxy: EvilProxy) -> None:
    proxy.tamper = swap_for(0, "carol", identity_too=True)
    clients = await two_then_carol(server, proxy)
    try:
        await until(lambda: all(c.schedule and len(c.schedule.members) == 2 for c in clients))
        # Since issue 12 the code is committed to and revealed by every member: the
        # substitute (who takes no part) never commits, so alice never reveals, and no
        # client shows a code for this epoch ("verifying…"), let alone matching ones.
        # (Before, alice showed a code that differed from bob's and carol's.)
        await asyncio.sleep(1.0)
        alice, bob, carol = codes(clients)
        assert alice != bob or not alice  # the man in the middle never shows as a match
        assert (alice, bob, carol) == ("", "", "")
        assert clients[0].rejected_key_messages >= 1  # carol's commitment: not mallory's
    finally:
        await close_all(clients)


async def test_a_replayed_key_message_is_refused_and_changes_nothing(
        server: Server, proxy: EvilProxy) -> None:
    clients = await three(server, proxy)
    alice = clients[0]
    try:
        old = [d for d in proxy.seen[0] if d.get("type") == "key_from"]
        assert old
        # A rekey (carol leaves): every old key message is now stale.
        await clients[2].leave()
        await until(lambda: bool(alice.schedule and len(alice.schedule.members) == 1
                                 and alice.keys.context.decryption_kids()))
        await asyncio.sleep(0.5)
        assert alice.schedule is not None
        state = (codes(clients)[0], alice.schedule.epoch, alice.keys.context.decryption_kids(),
                 alice.schedule.members)
        rejected = alice.rejected_key_messages
        for doc in old:
            await proxy.inject(0, doc)
        await until(lambda: alice.rejected_key_messages >= rejected + len(old))
        assert (codes(clients)[0], alice.schedule.epoch, alice.keys.context.decryption_kids(),
                alice.schedule.members) == state
    finally:
        await close_all(clients)
