"""A room's phases (hotline.server.rooms.LiveRoom.set_phase) without sockets: a phase
change is a roster event (epoch + 1) to every member, the SFU holds the press in the
closed part (and releases it on reopen, or holds a press seat that joins it), and a
reopening needs a principal's valid proof."""

from __future__ import annotations

import pytest

from hotline.crypto.phaseproof import sign_phase
from hotline.errors import Forbidden, NotInRoom, ProtocolError
from hotline.signaling import messages as m
from tests.unit.server.test_rooms import ROOM, FakeMedia, FakeMember, registry

pytestmark = pytest.mark.asyncio


async def test_close_then_reopen_is_a_roster_event_and_holds_the_press() -> None:
    media = FakeMedia()
    rooms, audit = registry(media)
    live = rooms.get(ROOM)
    chief, press = FakeMember("chief"), FakeMember("press")
    await live.join(chief, "principal")
    await live.join(press, "press")
    first = chief.of(m.Joined)[0]
    assert isinstance(first, m.Joined) and first.phase == "open"
    assert first.phase_epoch == first.epoch  # the call's first epoch
    before = live.epoch
    assert await live.set_phase(1, "closed", b"", "chief") == before + 1
    change = m.PhaseChanged(epoch=before + 1, phase="closed", by=1)
    assert chief.of(m.PhaseChanged) == [change] and press.of(m.PhaseChanged) == [change]
    assert ("hold", ROOM, 2) in media.calls and ("hold", ROOM, 1) not in media.calls
    assert (live.phase, live.phase_epoch) == ("closed", before + 1)
    with pytest.raises(ProtocolError):
        await live.set_phase(1, "closed", b"", "chief")  # closed already
    late = FakeMember("late")
    await live.join(late, "press")  # a press seat joining the closed part: held at once
    joined = late.of(m.Joined)[0]
    assert isinstance(joined, m.Joined) and (joined.phase, joined.phase_epoch) == (
        "closed", before + 1)
    assert ("hold", ROOM, 3) in media.calls
    proof = sign_phase(chief.identity, room_id=ROOM, signer=1, epoch=live.epoch, phase="open")
    await live.set_phase(1, "open", proof, "chief")
    assert ("release", ROOM, 2) in media.calls and ("release", ROOM, 3) in media.calls
    assert live.phase == "open" and audit.count("phase") == 2


async def test_reopening_needs_a_principals_valid_proof() -> None:
    media = FakeMedia()
    rooms, _ = registry(media)
    live = rooms.get(ROOM)
    chief, aide, press = FakeMember("chief"), FakeMember("aide"), FakeMember("press")
    await live.join(chief, "principal")
    await live.join(aide, "operator")
    await live.join(press, "press")
    await live.set_phase(2, "closed", b"", "aide")  # anyone allowed may close
    epoch = live.epoch
    stale = sign_phase(chief.identity, room_id=ROOM, signer=1, epoch=epoch - 1, phase="open")
    by_aide = sign_phase(aide.identity, room_id=ROOM, signer=2, epoch=epoch, phase="open")
    # no proof, garbage, a stale proof, an operator's proof, an operator outside the call
    for by, proof in ((1, b""), (1, b"\x00" * 64), (1, stale), (2, by_aide), (0, b"")):
        with pytest.raises(Forbidden):
            await live.set_phase(by, "open", proof, "x")
    assert live.epoch == epoch and live.phase == "closed"
    assert not any(isinstance(s, m.PhaseChanged) and s.phase == "open" for s in press.sent)


async def test_no_phase_change_without_a_call() -> None:
    rooms, _ = registry(FakeMedia())
    with pytest.raises(NotInRoom):
        await rooms.get(ROOM).set_phase(0, "closed", b"", "op")
