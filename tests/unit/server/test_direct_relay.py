"""``direct_signal`` relaying (hotline.server.rooms.LiveRoom.relay_direct and its budget in
hotline.server.connection): only between the two members of a two-party room that allows
direct connections, one description or candidate at a time, at a bounded rate; anything
else is refused with a clear error and relayed to nobody."""

from __future__ import annotations

import pytest

from hotline.errors import Forbidden, NotInRoom, ProtocolError, Refused
from hotline.server.connection import DIRECT_BURST, DIRECT_RATE, ServerConnection, TokenBucket
from hotline.server.rooms import LiveRoom
from hotline.signaling import messages as m
from tests.unit.server.test_rooms import ROOM, FakeMedia, FakeMember, registry

pytestmark = pytest.mark.asyncio
OFFER = m.DirectDescription(kind="offer", sdp="v=0\r\n")


def signal(to: int, **fields: object) -> m.DirectSignal:
    return m.DirectSignal.model_validate({"to": to, **(fields or {"description": OFFER})})


async def two_party(allowed: bool = True) -> tuple[LiveRoom, FakeMember, FakeMember]:
    rooms, _ = registry(FakeMedia())
    live = rooms.get(ROOM)
    live.direct_allowed = allowed
    alice, bob = FakeMember("alice"), FakeMember("bob")
    await live.join(alice)
    await live.join(bob)
    return live, alice, bob


async def test_relayed_to_the_other_member_with_the_sender() -> None:
    live, alice, bob = await two_party()
    live.relay_direct(alice, signal(2))
    candidate = m.DirectCandidate(candidate="candidate:1 1 UDP 1 127.0.0.2 5000 typ host")
    live.relay_direct(bob, signal(1, candidate=candidate))
    assert bob.of(m.DirectFrom) == [m.DirectFrom(sender=1, description=OFFER)]
    assert alice.of(m.DirectFrom) == [m.DirectFrom(sender=2, candidate=candidate)]


async def test_refused_where_the_room_does_not_allow_it() -> None:
    live, alice, bob = await two_party(allowed=False)
    with pytest.raises(Forbidden, match="does not allow direct"):
        live.relay_direct(alice, signal(2))
    assert bob.of(m.DirectFrom) == []


async def test_refused_with_one_or_three_members() -> None:
    rooms, _ = registry(FakeMedia())
    live = rooms.get(ROOM)
    live.direct_allowed = True
    alice, bob, carol = FakeMember("alice"), FakeMember("bob"), FakeMember("carol")
    await live.join(alice)
    with pytest.raises(Refused, match="exactly two members"):
        live.relay_direct(alice, signal(2))
    await live.join(bob)
    await live.join(carol)
    with pytest.raises(Refused, match=r"exactly two members in the room \(there are 3\)"):
        live.relay_direct(alice, signal(2))
    assert bob.of(m.DirectFrom) == [] and carol.of(m.DirectFrom) == []


async def test_refused_to_oneself_to_nobody_and_without_a_seat() -> None:
    live, alice, bob = await two_party()
    for to in (1, 3):
        with pytest.raises(ProtocolError, match="no other participant"):
            live.relay_direct(alice, signal(to))
    with pytest.raises(NotInRoom):
        live.relay_direct(FakeMember("mallory"), signal(1))
    assert alice.of(m.DirectFrom) == [] and bob.of(m.DirectFrom) == []


async def test_exactly_one_of_description_and_candidate() -> None:
    live, alice, bob = await two_party()
    candidate = m.DirectCandidate(candidate="")
    for bad in (m.DirectSignal(to=2),
                m.DirectSignal(to=2, description=OFFER, candidate=candidate)):
        with pytest.raises(ProtocolError, match="exactly one"):
            live.relay_direct(alice, bad)
    assert bob.of(m.DirectFrom) == []


async def test_sizes_are_bounded() -> None:
    big = m.encode(m.DirectSignal(to=2, description=m.DirectDescription(
        kind="offer", sdp="a" * 32_768)))
    assert isinstance(m.parse_client(big), m.DirectSignal)
    with pytest.raises(ProtocolError):
        m.parse_client(big.replace('"sdp":"a', '"sdp":"aa'))


async def test_the_budget_is_a_burst_then_a_rate() -> None:
    conn: ServerConnection[object] = ServerConnection(b"c", rate=1000, now=0.0)
    allowed = sum(conn.direct_signal_allowed(0.0) for _ in range(100))
    assert allowed == DIRECT_BURST
    assert not conn.direct_signal_allowed(0.1)
    assert conn.direct_signal_allowed(0.0 + 1 / DIRECT_RATE)
    bucket = TokenBucket(rate=1.0, burst=2.0, now=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take(1.0) and not bucket.take(1.0)
