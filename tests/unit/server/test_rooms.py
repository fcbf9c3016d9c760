"""Live rooms (hotline.server.rooms) without sockets: the two-step join, the roster
epochs, resume, and the room's ownership of its media in the SFU (a fake here): every
seat that leaves is removed from the SFU in the same step, so the two cannot drift."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from hotline.crypto.callkey import CallKeyAnnouncement, CallKeyPair, Kem
from hotline.crypto.identity import Identity
from hotline.errors import NotInRoom, ProtocolError, ResumeRefused
from hotline.server.rooms import LiveRoom, RoomRegistry
from hotline.signaling import messages as m

pytestmark = pytest.mark.asyncio
ROOM = "summit"
KEY = CallKeyPair.generate(Kem.X25519).public


@dataclass
class FakeMedia:
    """The SFU as the rooms see it: who is in which media room, and what was asked."""

    rooms: dict[str, set[int]] = field(default_factory=dict)
    calls: list[tuple[str, str, int]] = field(default_factory=list)

    def _seat(self, what: str, room: str, pid: int) -> None:
        self.calls.append((what, room, pid))
        self.rooms.setdefault(room, set()).add(pid)

    def listen(self, room: str, participant_id: int) -> object:
        self._seat("listen", room, participant_id)
        return None

    async def publish(self, room: str, participant_id: int, offer_sdp: str) -> str:
        self._seat("publish", room, participant_id)
        return f"answer to {offer_sdp}"

    def subscribe_answer(self, room: str, participant_id: int, sdp: str) -> None:
        self.calls.append(("subscribe_answer", room, participant_id))

    async def restart(self, room: str, participant_id: int) -> object:
        self._seat("restart", room, participant_id)
        return None

    def hold(self, room: str, participant_id: int, held: bool) -> None:
        self.calls.append(("hold" if held else "release", room, participant_id))

    async def remove(self, room: str, participant_id: int) -> None:
        self.calls.append(("remove", room, participant_id))
        members = self.rooms.get(room, set())
        members.discard(participant_id)
        if not members:
            self.rooms.pop(room, None)


class FakeMember:
    """A connection that signs its announcement for whatever ``join_ack`` says."""

    def __init__(self, name: str, *, announce: bool = True) -> None:
        self.conn_id = name
        self.party = name
        self.identity = Identity.generate()
        self.identity_key = self.identity.public_key
        self.sent: list[m.ServerMessage] = []
        self.announce = announce
        self.kept = 10  # messages a resume could replay
        self.role: str | None = None  # announce this role instead of join_ack's (a liar)

    def send(self, message: m.ServerMessage) -> None:
        self.sent.append(message)

    async def next_announcement(self, timeout: float) -> bytes:
        if not self.announce:
            await asyncio.sleep(timeout)
            raise TimeoutError
        ack = next(s for s in reversed(self.sent) if isinstance(s, m.JoinAck))
        return CallKeyAnnouncement.create(self.identity, ack.room, ack.participant_id,
                                          ack.epoch, KEY, self.role or ack.role).encode()

    def can_replay_after(self, received: int) -> bool:
        return received <= self.kept

    def of(self, kind: type[m._Message]) -> list[m.ServerMessage]:
        return [s for s in self.sent if isinstance(s, kind)]


async def test_join_ack_gives_the_role_and_a_relabelled_announcement_is_refused() -> None:
    rooms, _ = registry(FakeMedia())
    live = rooms.get(ROOM)
    press = FakeMember("press")
    await live.join(press, "press")
    assert press.of(m.JoinAck)[0].role == "press"  # type: ignore[union-attr]
    liar = FakeMember("liar")
    liar.role = "principal"  # claims more than the room gives it
    with pytest.raises(ProtocolError, match="role_mismatch"):
        await live.join(liar, "delegate")
    assert live.role_of(liar) is None


def registry(media: FakeMedia, join_timeout: float = 1.0) -> tuple[RoomRegistry, list[str]]:
    audit: list[str] = []
    rooms = RoomRegistry(join_timeout=join_timeout, media=media,
                         audit=lambda kind, **_: audit.append(kind))
    return rooms, audit


async def test_join_then_leave_keeps_roster_and_media_in_step() -> None:
    media = FakeMedia()
    rooms, audit = registry(media)
    live = rooms.get(ROOM)
    alice, bob = FakeMember("alice"), FakeMember("bob")
    await live.join(alice)
    await live.join(bob, "principal")
    assert live.participants == {1: "alice", 2: "bob"}
    joined = bob.of(m.Joined)[0]
    assert isinstance(joined, m.Joined)
    assert [i.party for i in joined.members] == ["alice"] and joined.role == "principal"
    assert isinstance(alice.of(m.MemberJoined)[0], m.MemberJoined)
    await live.publish(alice, "offer")
    await live.publish(bob, "offer")
    assert media.rooms == {ROOM: {1, 2}}
    assert alice.of(m.PublishAnswer) == [m.PublishAnswer(sdp="answer to offer")]
    epoch = live.epoch
    assert await live.leave(alice)
    assert media.rooms == {ROOM: {2}}  # the leaver's media went with its seat
    assert live.epoch == epoch + 1
    assert bob.of(m.MemberLeft) == [m.MemberLeft(epoch=epoch + 1, participant_id=1)]
    assert not await live.leave(alice)  # a second leave is nothing
    assert await live.leave(bob)
    assert media.rooms == {}
    assert audit == ["join", "join", "leave", "leave"]
    rooms.discard(ROOM)
    assert rooms.find(ROOM) is None


async def test_a_listen_only_member_is_offered_streams_at_once() -> None:
    media = FakeMedia()
    live = registry(media)[0].get(ROOM)
    press = FakeMember("press")
    await live.join(press, "press")
    assert media.calls == [("listen", ROOM, 1)]
    with pytest.raises(ProtocolError):
        live.set_media(press, m.MediaState(audio=True, video=False))
    await live.leave(press)
    assert media.rooms == {}


async def test_a_join_without_an_announcement_gives_no_seat_and_no_media() -> None:
    media = FakeMedia()
    live = registry(media, join_timeout=0.05)[0].get(ROOM)
    late = FakeMember("late", announce=False)
    with pytest.raises(ProtocolError, match="no announcement in time"):
        await live.join(late, "press")
    assert live.participants == {} and media.calls == []
    assert not await live.leave(late)


async def test_media_requests_need_a_seat() -> None:
    media = FakeMedia()
    live = registry(media)[0].get(ROOM)
    stranger = FakeMember("stranger")
    with pytest.raises(NotInRoom):
        await live.publish(stranger, "offer")
    with pytest.raises(NotInRoom):
        live.subscribe_answer(stranger, "answer")
    with pytest.raises(NotInRoom):
        await live.restart_media(stranger, "lost")
    assert media.calls == []


async def test_restart_keeps_the_seat_and_the_epoch() -> None:
    media = FakeMedia()
    live = registry(media)[0].get(ROOM)
    alice = FakeMember("alice")
    await live.join(alice)
    epoch = live.epoch
    await live.restart_media(alice, "ice failed")
    live.subscribe_answer(alice, "answer")
    assert media.calls == [("restart", ROOM, 1), ("subscribe_answer", ROOM, 1)]
    assert alice.of(m.MediaRestarted) == [m.MediaRestarted()]
    assert live.epoch == epoch and live.participants == {1: "alice"}


async def test_resume_moves_the_seat_not_the_media() -> None:
    media = FakeMedia()
    rooms = registry(media)[0]
    live = rooms.get(ROOM)
    old = FakeMember("alice")
    await live.join(old)
    await live.publish(old, "offer")
    token = old.of(m.Joined)[0].resume_token  # type: ignore[union-attr]
    new = FakeMember("alice2")
    new.identity, new.identity_key = old.identity, old.identity_key  # same device
    with pytest.raises(ResumeRefused):
        await live.resume(new, 1, b"x" * 16, 0)
    old.kept = 0
    with pytest.raises(ResumeRefused, match="too much was missed"):
        await live.resume(new, 1, token, 5)
    old.kept = 10
    stranger = FakeMember("mallory")
    with pytest.raises(ResumeRefused):
        await live.resume(stranger, 1, token, 0)  # another device, even with the token
    assert await live.resume(new, 1, token, 5) is old
    assert live.participant_id(new) == 1 and live.participant_id(old) is None
    assert media.rooms == {ROOM: {1}}  # media flows on under the same seat
    assert not await live.leave(old)  # the old connection's end is no leave
    assert media.rooms == {ROOM: {1}}
    assert await live.leave(new)
    assert media.rooms == {}


async def test_key_relay_checks_the_header() -> None:
    live = registry(FakeMedia())[0].get(ROOM)
    alice = FakeMember("alice")
    with pytest.raises(NotInRoom):
        live.relay_key(alice, 2, b"junk")
    await live.join(alice)
    with pytest.raises(ProtocolError, match="key message refused"):
        live.relay_key(alice, 2, b"junk")


async def test_registry_creates_on_get_and_discards_only_empty_rooms() -> None:
    rooms = registry(FakeMedia())[0]
    assert rooms.find(ROOM) is None
    live = rooms.get(ROOM)
    assert rooms.get(ROOM) is live and rooms.find(ROOM) is live
    assert isinstance(live, LiveRoom) and rooms.rooms() == [live]
    await live.join(FakeMember("alice"))
    rooms.discard(ROOM)
    assert rooms.find(ROOM) is live  # somebody is in it
