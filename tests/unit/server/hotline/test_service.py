"""The hotline service (hotline.server.hotline.service) without sockets: fake endpoints,
a real store and uptime record. The pinned-key check on every action, a call from ring to
answer to hangup, no media room before the answer, a closed connection ends its call."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline.crypto.identity import Identity
from hotline.errors import HotlineForbidden, ProtocolError, UsageError
from hotline.server.hotline.service import HotlineService
from hotline.server.hotline.uptime import UptimeRecord
from hotline.server.settings import Settings
from hotline.server.store import SqliteStore
from hotline.signaling import messages as m

pytestmark = pytest.mark.asyncio


class FakeEndpoint:
    def __init__(self, name: str, party: str, identity_key: bytes, device_id: int) -> None:
        self.conn_id, self.party = name, party
        self.identity_key, self.device_id = identity_key, device_id
        self.sent: list[m.ServerMessage] = []

    def send(self, message: m.ServerMessage) -> None:
        self.sent.append(message)

    def last(self) -> m.ServerMessage:
        return self.sent[-1]


@pytest.fixture
def world(tmp_path: Path) -> tuple[HotlineService, dict[str, FakeEndpoint], list[str]]:
    store = SqliteStore(tmp_path)
    ends = {}
    for party in ("alice", "bob"):
        store.add_party(party)
        key = Identity.generate().public_key
        device = store.enroll(store.new_enrollment_code(party), key, f"{party}-desk")
        ends[party] = FakeEndpoint(f"conn-{party}", party, key, device.id)
    store.add_party("mallory")
    store.add_hotline("red", "alice", "bob")
    discarded: list[str] = []
    service = HotlineService(Settings(), store, UptimeRecord(store, Identity.generate()),
                             discard_room=discarded.append)
    return service, ends, discarded


async def test_only_a_pinned_end_may_act(
        world: tuple[HotlineService, dict[str, FakeEndpoint], list[str]]) -> None:
    service, ends, _ = world
    stranger = FakeEndpoint("conn-m", "mallory", Identity.generate().public_key, 9)
    with pytest.raises(HotlineForbidden, match="not an end"):
        service.register_standby(stranger, "red")
    impostor = FakeEndpoint("conn-i", "bob", Identity.generate().public_key, 10)
    with pytest.raises(HotlineForbidden, match="identity key mismatch"):
        service.call(impostor, "red")
    with pytest.raises(HotlineForbidden, match="no hotline"):
        service.register_standby(ends["alice"], "blue")
    service.register_standby(ends["bob"], "red")
    ok = next(s for s in ends["bob"].sent if isinstance(s, m.StandbyOk))
    assert isinstance(ok, m.StandbyOk) and (ok.party, ok.far_party) == ("bob", "alice")
    assert [h["standby"] for h in service.status("bob")] == [{"alice": 0, "bob": 1}]
    assert service.status("mallory") == []


async def test_a_call_rings_is_answered_joined_and_hung_up(
        world: tuple[HotlineService, dict[str, FakeEndpoint], list[str]]) -> None:
    service, ends, discarded = world
    alice, bob = ends["alice"], ends["bob"]
    service.register_standby(bob, "red")
    service.call(alice, "red")
    ring = bob.last()
    assert isinstance(ring, m.Ring) and ring.caller_party == "alice"
    assert isinstance(alice.last(), m.CallRinging)
    with pytest.raises(UsageError, match="no media before the answer"):
        service.media_room(alice, ring.call_id)
    service.ack(bob, m.RingAck(call_id=ring.call_id, message="two minutes"))
    acked = alice.last()
    assert isinstance(acked, m.CallAcked) and acked.message == "two minutes"
    service.answer(bob, m.CallAnswer(call_id=ring.call_id))
    answered = alice.last()
    assert isinstance(answered, m.CallAnswered) and bob.last() == answered
    assert service.media_room(alice, ring.call_id) == answered.room
    with pytest.raises(ProtocolError, match="already joined"):
        service.media_room(alice, ring.call_id)
    service.hangup(alice, m.Hangup(call_id=ring.call_id))
    assert isinstance(bob.last(), m.CallEnded)
    assert discarded == [answered.room]
    with pytest.raises(ProtocolError, match="no such link test or call"):
        service.media_room(bob, ring.call_id)
    entries = service.record.entries("red")
    assert [e.kind for e in entries][-1] == "call"


async def test_nobody_standing_by_is_unreachable_and_a_lost_caller_ends_the_call(
        world: tuple[HotlineService, dict[str, FakeEndpoint], list[str]]) -> None:
    service, ends, _ = world
    alice, bob = ends["alice"], ends["bob"]
    service.call(alice, "red")
    ended = alice.last()
    assert isinstance(ended, m.CallEnded) and ended.reason == "unreachable"
    service.register_standby(bob, "red")
    service.call(alice, "red")
    assert service.calls.active() == 1
    service.disconnected(alice)
    assert service.calls.active() == 0
    assert isinstance(bob.last(), m.RingStop)
