"""Interpretation channels in a live room (hotline.server.rooms): only an interpreter
sets a channel, only a room's channels are accepted, everyone is told with
``member_channel`` (no epoch: not a roster change) and the SFU (a fake) is told at once;
``listen`` is answered with ``listening``; ``joined`` lists the room's channels and each
member's channel."""

from __future__ import annotations

import pytest

from hotline.errors import Forbidden, NotInRoom, ProtocolError
from hotline.signaling import messages as m
from tests.unit.server.test_rooms import ROOM, FakeMedia, FakeMember, registry

pytestmark = pytest.mark.asyncio


async def _room(*roles: m.Role) -> tuple[FakeMedia, list[FakeMember], object]:
    media = FakeMedia()
    rooms, _ = registry(media)
    live = rooms.get(ROOM)
    live.channels = ("ru", "zh")
    members = []
    for i, role in enumerate(roles):
        member = FakeMember(f"p{i}")
        await live.join(member, role)
        members.append(member)
    return media, members, live


async def test_an_interpreter_sets_its_channel_and_everyone_is_told() -> None:
    media, (interpreter, principal), live = await _room("interpreter", "principal")
    joined = principal.of(m.Joined)[0]
    assert isinstance(joined, m.Joined) and joined.channels == ["ru", "zh"]
    epoch = live.epoch
    live.set_channel(interpreter, "ru")
    told = [s for s in (*interpreter.sent, *principal.sent) if isinstance(s, m.MemberChannel)]
    assert [(t.participant_id, t.channel) for t in told] == [(1, "ru"), (1, "ru")]
    assert live.epoch == epoch  # not a roster event: no rekey
    assert media.routed[-1] == (1, "ru", None)
    late = FakeMember("late")
    await live.join(late, "delegate")
    joined = late.of(m.Joined)[0]
    assert isinstance(joined, m.Joined)
    assert {i.participant_id: i.channel for i in joined.members} == {1: "ru", 2: ""}
    live.set_channel(interpreter, "")
    assert media.routed[-1] == (1, "", None)


async def test_only_an_interpreter_sets_a_channel() -> None:
    media, (delegate,), live = await _room("delegate")
    with pytest.raises(Forbidden, match=r"only an interpreter.*delegate"):
        live.set_channel(delegate, "ru")
    assert media.routed == [] and not delegate.of(m.MemberChannel)


async def test_a_channel_the_room_does_not_have_is_refused() -> None:
    media, (interpreter,), live = await _room("interpreter")
    with pytest.raises(ProtocolError, match=r"unknown channel 'en'.*ru, zh"):
        live.set_channel(interpreter, "en")
    with pytest.raises(ProtocolError, match=r"unknown channels 'en', 'fr'.*ru, zh"):
        live.listen(interpreter, ["ru", "en", "fr", "en"])
    live.channels = ()
    with pytest.raises(ProtocolError, match=r"none .*hotline admin room channels"):
        live.listen(interpreter, ["ru"])
    assert media.routed == []


async def test_listen_is_answered_and_routed() -> None:
    media, (press,), live = await _room("press")
    live.listen(press, ["zh", "ru"])
    answer = press.of(m.Listening)[-1]
    assert isinstance(answer, m.Listening) and answer.channels == ["ru", "zh"]
    assert media.routed[-1] == (1, None, frozenset({"ru", "zh"}))
    live.listen(press, [])
    assert media.routed[-1] == (1, None, frozenset())


async def test_channels_need_a_seat() -> None:
    _, _, live = await _room()
    with pytest.raises(NotInRoom):
        live.set_channel(FakeMember("stranger"), "ru")
    with pytest.raises(NotInRoom):
        live.listen(FakeMember("stranger"), ["ru"])
