"""Interpretation channels end to end (REQUIREMENTS L2): a real server and SFU, Python
participants sending a steady tone each (one frequency per speaker), and a listener whose
decoded, mixed audio is measured.

A listener of channel ru hears ru and the floor at the level it chose, and nothing of
zh (cross-leak measured in dB); the SFU does not forward zh to it (its counters); a
server that forwards zh anyway is not heard (the client's own filter); a hand-over
between two interpreters of ru leaves a gap measured in the listener's audio. Each test
prints its figures."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from hotline.client.call import Call
from hotline.crypto.identity import Identity
from hotline.errors import BadRequest, UsageError
from hotline.server.app import STATE
from hotline.sfu.forwarding import ForwardedCopy
from hotline.signaling import messages as m

from ..support.server import Server, running_server
from ..support.tones import db, mean_power, power, write_tone
from ..support.trust import accept_all
from ..support.wait import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]
ROOM = "summit"
FLOOR_HZ, RU_HZ, RU2_HZ, ZH_HZ = 400, 650, 900, 1450
ROLES = {"alice": "principal", "ivan": "interpreter", "igor": "interpreter",
         "zhou": "interpreter", "lena": "aide", "dan": "delegate"}
BLOCK_S = 0.02


@pytest_asyncio.fixture
async def srv(tmp_path: Path) -> AsyncIterator[Server]:
    async with running_server(tmp_path / "data", join_timeout=5.0) as server:
        server.codes = server.room(ROOM, list(ROLES), ROLES)  # type: ignore[attr-defined]
        server.store.set_room_channels(ROOM, ["ru", "zh"])
        yield server


class Room:
    def __init__(self, srv: Server, tmp: Path) -> None:
        self.srv, self.tmp = srv, tmp
        self.calls: dict[str, Call] = {}

    async def join(self, name: str, hz: float | None = None, **options: object) -> Call:
        media = write_tone(self.tmp / f"{name}.wav", hz) if hz is not None else None
        call = Call(self.srv.url, Identity.generate(), ROOM, media_file=media,
                    trust_policy=accept_all(), **options)  # type: ignore[arg-type]
        self.calls[name] = call
        await call.start(enroll_code=self.srv.codes[name])  # type: ignore[attr-defined]
        return call

    async def close(self) -> None:
        for call in self.calls.values():
            await call.close()

    def copy(self, listener: str, publisher: str) -> ForwardedCopy:
        """The SFU's copy of ``publisher``'s audio for ``listener``."""
        sfu = self.srv.app[STATE].sfu
        pid = self.calls[listener].signaling.participant_id
        sub = sfu.participants(ROOM)[pid]  # type: ignore[index]
        want = self.calls[publisher].signaling.participant_id
        return next(c for s, c in sub.subscribed.items()
                    if s.publisher == want and s.kind == "audio")


@pytest_asyncio.fixture
async def room(srv: Server, tmp_path: Path) -> AsyncIterator[Room]:
    r = Room(srv, tmp_path)
    try:
        yield r
    finally:
        await r.close()


def blocks_since(call: Call, t: float) -> list[list[int]]:
    assert call.mix is not None
    return [list(b) for at, b in call.mix.blocks if at >= t]


async def window(call: Call, seconds: float) -> list[list[int]]:
    """The listener's mix over the next ``seconds``."""
    start = asyncio.get_running_loop().time()
    await asyncio.sleep(seconds)
    return blocks_since(call, start)


async def hears(call: Call, hz: float, *, level: float = 1e4, timeout: float = 30.0) -> None:
    """Wait until the last 0.5 s of the mix carry ``hz`` at ``level`` or more."""
    async def check() -> bool:
        assert call.mix is not None
        recent = [list(b) for _, b in call.mix.blocks[-25:]]
        return len(recent) == 25 and mean_power(recent, hz) >= level
    await wait_until(check, timeout, f"the listener to hear {hz} Hz")


async def test_a_listener_hears_its_channel_the_ducked_floor_and_nothing_else(
        room: Room) -> None:
    await room.join("alice", FLOOR_HZ)
    await room.join("ivan", RU_HZ, channel="ru")
    await room.join("zhou", ZH_HZ, channel="zh")
    lena = await room.join("lena", listen=["ru"], floor_db=0.0, mix=True)
    assert lena.interpretation.channels == ["ru", "zh"]
    await hears(lena, RU_HZ)
    await hears(lena, FLOOR_HZ)

    full = await window(lena, 3.0)
    lena.set_floor_level(-15)
    await asyncio.sleep(0.3)  # blocks already queued when it changed
    ducked = await window(lena, 3.0)
    ru, floor0 = mean_power(full, RU_HZ), mean_power(full, FLOOR_HZ)
    floor15 = mean_power(ducked, FLOOR_HZ)
    leak = db(mean_power(full + ducked, ZH_HZ) / ru)
    ducking = db(floor15 / floor0)
    print(f"\nlistener of ru: floor at 0 dB {db(floor0 / ru):+.1f} dB re ru; "
          f"floor set to -15 dB measured {ducking:+.2f} dB; zh (not chosen) {leak:+.1f} dB")
    assert leak < -40
    assert abs(ducking + 15) < 1.5

    # the SFU forwards none of zh to a listener of ru: its own counters
    zh_copy, ru_copy = room.copy("lena", "zhou"), room.copy("lena", "ivan")
    assert zh_copy.stream.stats.packets_in > 200 and zh_copy.packets_out == 0
    assert ru_copy.packets_out > 200
    print(f"SFU: zh stream {zh_copy.stream.stats.packets_in} packets in, "
          f"{zh_copy.packets_out} forwarded to the ru listener; ru {ru_copy.packets_out}")

    lena.set_floor_level(None)  # muted, at once
    await asyncio.sleep(0.3)
    muted = await window(lena, 2.0)
    mute_db = db(mean_power(muted, FLOOR_HZ) / floor0)
    print(f"floor muted: {mute_db:+.1f} dB re the floor at 0 dB")
    assert mute_db < -40  # what is left is the ru tone's own spread (Opus, window)

    # switch to zh: forwarding changes at once, no renegotiation
    offers = len(lena.streams)
    await lena.listen(["zh"])
    await hears(lena, ZH_HZ, timeout=5.0)
    await asyncio.sleep(0.3)
    zh_window = await window(lena, 2.0)
    ru_leak = db(mean_power(zh_window, RU_HZ) / mean_power(zh_window, ZH_HZ))
    print(f"after listen zh: ru (no longer chosen) {ru_leak:+.1f} dB re zh")
    assert ru_leak < -40
    assert len(lena.streams) == offers  # the same m-lines: nothing renegotiated
    frozen = room.copy("lena", "ivan").packets_out
    await asyncio.sleep(1.0)
    assert room.copy("lena", "ivan").packets_out == frozen

    # a server that forwards a channel the listener did not choose is not heard: ask the
    # SFU for ru and zh behind the client's back, the client still plays zh only
    assert await lena.signaling.listen(["ru", "zh"]) == ["ru", "zh"]
    await wait_until(_grows(room, "lena", "ivan"), 5.0, "the SFU to forward ru again")
    await asyncio.sleep(0.5)
    lied = await window(lena, 2.0)
    filtered = db(mean_power(lied, RU_HZ) / mean_power(lied, ZH_HZ))
    print(f"SFU forwards ru too, client filter: ru {filtered:+.1f} dB re zh")
    assert filtered < -40


def _grows(room: Room, listener: str, publisher: str):  # type: ignore[no-untyped-def]
    start = room.copy(listener, publisher).packets_out

    async def check() -> bool:
        return room.copy(listener, publisher).packets_out > start + 50
    return check


def presence(blocks: list[tuple[float, list[int]]], hz: float, level: float) -> list[float]:
    """Loop times of the blocks that carry ``hz`` at ``level`` or more."""
    return [at for at, b in blocks if power(b, hz) >= level]


async def test_hand_over_between_two_interpreters_of_a_channel(room: Room) -> None:
    await room.join("ivan", RU_HZ, channel="ru")
    igor = await room.join("igor", RU2_HZ, channel="zh")  # in the booth, not on ru yet
    ivan = room.calls["ivan"]
    lena = await room.join("lena", listen=["ru"], mix=True)
    await hears(lena, RU_HZ)
    assert lena.mix is not None
    steady = [list(b) for _, b in lena.mix.blocks[-50:]]
    level = mean_power(steady, RU_HZ) / 10  # present: within 10 dB of the steady level

    gaps = []
    for before, after, hz_before, hz_after, how in (
            (ivan, igor, RU_HZ, RU2_HZ, "A to zh"), (igor, ivan, RU2_HZ, RU_HZ, "A to zh"),
            (ivan, igor, RU_HZ, RU2_HZ, "A leaves the call: a rekey too")):
        await asyncio.sleep(1.0)
        t0 = asyncio.get_running_loop().time()
        # at one moment A stops interpreting into ru and B takes over (two people in a
        # booth: neither waits for the other's request to be answered)
        await asyncio.gather(before.close() if "leaves" in how else before.set_channel("zh"),
                             after.set_channel("ru"))
        await hears(lena, hz_after, level=level, timeout=5.0)
        await asyncio.sleep(0.5)
        mixed = [(at, list(b)) for at, b in lena.mix.blocks if at >= t0 - 1.0]
        last_a = max(presence(mixed, hz_before, level))
        first_b = min(t for t in presence(mixed, hz_after, level) if t > last_a - 0.1)
        gap_ms = max(0.0, (first_b - last_a - BLOCK_S) * 1000)
        overlap = first_b < last_a
        gaps.append(gap_ms)
        print(f"\nhand-over {hz_before} Hz -> {hz_after} Hz ({how}): gap {gap_ms:.0f} ms"
              f"{' (overlap)' if overlap else ''}; signalled in "
              f"{(first_b - t0) * 1000:.0f} ms from the first request to B heard")
    assert max(gaps) <= 200


async def test_channel_requests_give_clear_errors(room: Room) -> None:
    dan = await room.join("dan")  # a delegate, publishing the synthetic pattern
    with pytest.raises(UsageError, match="only an interpreter"):
        await dan.set_channel("ru")
    with pytest.raises(UsageError, match=r"unknown channel 'en'.*ru, zh"):
        await dan.listen(["en"])
    # the server refuses them too (the client's checks bypassed)
    from hotline.errors import Forbidden
    with pytest.raises(Forbidden, match="only an interpreter"):
        await dan.signaling.set_channel("ru")
    with pytest.raises(BadRequest, match="unknown channel 'en'"):
        await dan.signaling.listen(["en"])
    with pytest.raises(UsageError, match="floor level"):
        dan.set_floor_level(-50)
    # nine channels: refused by the schema on both ends (sent here past the client's)
    dan.signaling.send(m.Listen.model_construct(channels=["ru"] * 9))
    with pytest.raises(BadRequest, match="channels: List should have at most 8"):
        await dan.signaling.listen([])  # its reply comes after the refusal
    await dan.listen(["ru"] * 9)  # the same channel nine times is one
    assert dan.interpretation.listening == {"ru"}
    ivan = await room.join("ivan", RU_HZ)
    with pytest.raises(UsageError, match="unknown channel 'fr'"):
        await ivan.set_channel("fr")
    with pytest.raises(BadRequest, match="unknown channel 'fr'"):
        await ivan.signaling.set_channel("fr")
    await ivan.set_channel("ru")
    await wait_until(_channel_seen(dan, ivan, "ru"), 5.0, "dan to see ivan in ru")


def _channel_seen(viewer: Call, member: Call, channel: str):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        pid = member.signaling.participant_id
        return viewer.interpretation.member_channel.get(pid or -1) == channel
    return check


async def test_channels_survive_a_media_restart(room: Room) -> None:
    """A listener's media restart (new connections, same seat): the SFU still forwards it
    only the channel it listens to, without a new ``listen``."""
    await room.join("alice", FLOOR_HZ)
    await room.join("ivan", RU_HZ, channel="ru")
    await room.join("zhou", ZH_HZ, channel="zh")
    lena = await room.join("lena", listen=["ru"], floor_db=-20, mix=True)
    await hears(lena, RU_HZ)
    old_zh = room.copy("lena", "zhou")
    lena.restart_media("test")

    async def restarted() -> bool:
        try:
            return room.copy("lena", "zhou") is not old_zh and \
                room.copy("lena", "ivan").packets_out > 100
        except (KeyError, StopIteration):
            return False
    await wait_until(restarted, 30.0, "the new connections to carry ru")
    await asyncio.sleep(0.5)
    after = await window(lena, 2.0)
    leak = db(mean_power(after, ZH_HZ) / mean_power(after, RU_HZ))
    floor = db(mean_power(after, FLOOR_HZ) / mean_power(after, RU_HZ))
    print(f"\nafter a media restart: zh {leak:+.1f} dB, floor {floor:+.1f} dB re ru; "
          f"zh copy forwarded {room.copy('lena', 'zhou').packets_out} packets")
    assert room.copy("lena", "zhou").packets_out == 0
    assert leak < -40 and abs(floor + 20) < 2
