"""Phases against a lying server (REQUIREMENTS L3; docs/PROTOCOL.md threat model), with
real clients over a real WebSocket. The server here is modified in the test:

* it relabels the press seat as a delegate in the roster: the other clients check the
  role the press seat signed in its announcement, reject it and seal it no key;
* it reopens the call on its own (no proof, a forged one, a delegate's): every client
  stays CLOSED, raises an alarm, and the press seat gets no key;
* an honest server refuses ``set_phase`` from a delegate or a press seat (``forbidden``);
* it closes the call for all but one member: the others key nothing to the press and the
  codes differ (the fork shows when they are compared).
"""

from __future__ import annotations

import asyncio
import os

import pytest

from hotline.client.signaling import SignalingClient
from hotline.crypto.phaseproof import sign_phase
from hotline.errors import Forbidden, NotInRoom
from hotline.phases import CLOSED_OUT, Phase
from hotline.server import phases as server_phases
from hotline.server import rooms as server_rooms
from hotline.server.rooms import LiveRoom
from hotline.signaling import messages as m

from ..support.malicious_room import until
from ..support.server import Server
from ..support.sfu_tap import remember_keys
from .test_signaling import enrolled

pytestmark = pytest.mark.asyncio
ROOM = "summit"
ROLES = {"alice": "principal", "bob": "delegate", "press": "press"}


async def _summit(server: Server) -> list[SignalingClient]:
    clients = [await enrolled(server, name) for name in ROLES]
    server.store.add_room(ROOM, list(ROLES), ROLES)
    for c in clients:
        await c.join(ROOM)
    await until(lambda: all(c.schedule is not None and len(c.schedule.members) == 2
                            and c.code is not None for c in clients))
    return clients


async def _close(clients: list[SignalingClient]) -> None:
    for c in clients:
        await c.close()


async def test_delegates_and_the_press_cannot_change_the_phase(server: Server) -> None:
    alice, bob, press = clients = await _summit(server)
    outsider = await enrolled(server, "outsider")
    try:
        for who in (bob, press):
            for phase in ("closed", "open"):
                with pytest.raises(Forbidden):
                    await who.set_phase(phase)  # type: ignore[arg-type]
        with pytest.raises(Forbidden):  # a party that is no member of the room
            await outsider.set_phase("closed", room=ROOM)
        assert [c.phases.phase for c in clients] == ["open"] * 3
        await alice.set_phase("closed")
        with pytest.raises(Forbidden):  # reopening with no proof, even by the principal
            alice._send(m.SetPhase(room=ROOM, phase="open"))
            await alice._reply(m.PhaseChanged, timeout=3.0)
        with pytest.raises(Forbidden):  # a stale proof (of the epoch before the close)
            alice._send(m.SetPhase(room=ROOM, phase="open", proof=sign_phase(
                alice.identity, room_id=ROOM, signer=alice.participant_id or 0,
                epoch=alice.phases.epoch - 1, phase="open")))
            await alice._reply(m.PhaseChanged, timeout=3.0)
    finally:
        await _close([*clients, outsider])
    empty = await enrolled(server, "late")
    server.store.add_room("empty", ["late"], {"late": "principal"})
    try:
        with pytest.raises(NotInRoom):
            await empty.set_phase("closed", room="empty")
    finally:
        await empty.close()


async def test_a_server_that_reopens_on_its_own_is_not_believed(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    alice, bob, press = clients = await _summit(server)
    try:
        await alice.set_phase("closed")
        await until(lambda: all(c.phases.phase == "closed" for c in clients))
        await until(lambda: all(c.schedule is not None and c.schedule.epoch == alice.phases.epoch
                                for c in clients))
        press_keys = remember_keys(press.keys)
        alice_pid = alice.participant_id
        assert alice_pid is not None
        forged: list[tuple[int, bytes]] = []

        async def lying_set_phase(self: LiveRoom, by: int, phase: Phase, proof: bytes,
                                  party: str = "") -> int:
            """The modified server: reopens on anyone's word, with whatever proof."""
            async with self._lock:
                self.epoch += 1
                self.phase, self.phase_epoch = phase, self.epoch
                by, proof = forged.pop(0)
                for seat in self._seats.values():
                    seat.session.send(m.PhaseChanged(epoch=self.epoch, phase=phase, by=by,
                                                     proof=proof))
                for pid, seat in self._seats.items():
                    if seat.role in CLOSED_OUT:
                        self._media.hold(self.name, pid, phase == "closed")
            return self.epoch

        monkeypatch.setattr(LiveRoom, "set_phase", lying_set_phase)
        monkeypatch.setattr(server_phases, "MAY_SET_PHASE", frozenset(ROLES.values()))
        cases = [
            ("no proof", alice_pid, b""),
            ("a forged proof", alice_pid, os.urandom(64)),
            ("a delegate's own valid signature", bob.participant_id or 0, sign_phase(
                bob.identity, room_id=ROOM, signer=bob.participant_id or 0,
                epoch=bob.phases.epoch, phase="open")),
        ]
        for n, (what, by, proof) in enumerate(cases, 1):
            forged.append((by, proof))
            before = alice.phases.epoch
            bob._send(m.SetPhase(room=ROOM, phase="open"))
            await until(lambda n=n: all(len(c.phases.alarms) == n for c in clients))  # type: ignore[misc]
            print(f"\n{what}: every client stays CLOSED and raises an alarm: "
                  f"{alice.phases.alarms[-1]}")
            assert [c.phases.phase for c in clients] == ["closed"] * 3, what
            assert all(c.phases.epoch == before for c in clients)
            await asyncio.sleep(0.5)  # a rekey would have been sealed by now
            assert press_keys == [], f"{what}: the press seat got a key"
    finally:
        await _close(clients)


async def test_a_press_seat_relabelled_as_a_delegate_gets_no_key(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    original = server_rooms._Seat.info

    def relabelled(seat: server_rooms._Seat) -> m.MemberInfo:
        info = original(seat)
        return info.model_copy(update={"role": "delegate"}) if info.role == "press" else info

    monkeypatch.setattr(server_rooms._Seat, "info", relabelled)
    clients = [await enrolled(server, name) for name in ROLES]
    alice, bob, press = clients
    server.store.add_room(ROOM, list(ROLES), ROLES)
    try:
        await alice.join(ROOM)
        await bob.join(ROOM)
        await until(lambda: alice.code is not None and bob.code is not None)
        await alice.set_phase("closed")
        press_keys = remember_keys(press.keys)
        await press.join(ROOM)
        assert press.role == "press"  # it knows its own role; the others were told otherwise
        await until(lambda: all(c.schedule is not None and c.schedule.epoch == press.schedule.epoch
                                for c in (alice, bob)) if press.schedule else False)
        assert alice.roles[press.participant_id or 0] == "delegate"  # the server's lie
        await asyncio.sleep(1.0)  # their rekeys would have reached the press by now
        for c in (alice, bob):
            assert c.schedule is not None
            assert not c.schedule.is_trusted(press.participant_id or 0)
        print(f"\nthe press seat relabelled as a delegate: keys it got: {len(press_keys)}")
        assert press_keys == []
    finally:
        await _close(clients)


async def test_a_server_that_keeps_one_member_open_forks_the_code(
        server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    """The modified server closes the call for everyone but bob, who is told nothing and
    stays open. What it can win: bob keys by the phase he holds, so his next key would
    still be sealed to the press. What it cannot hide: alice closed without keying the
    press, and the code bob shows is no longer alice's (hers is pending: bob never commits
    to the new epoch), so comparing codes aloud finds the fork."""
    alice, bob, press = clients = await _summit(server)
    try:
        assert alice.code == bob.code
        press_keys = remember_keys(press.keys)
        kept_open = bob.participant_id

        async def forking_set_phase(self: LiveRoom, by: int, phase: Phase, proof: bytes,
                                    party: str = "") -> int:
            async with self._lock:
                self.epoch += 1
                self.phase, self.phase_epoch = phase, self.epoch
                for pid, seat in self._seats.items():
                    if pid != kept_open:
                        seat.session.send(m.PhaseChanged(epoch=self.epoch, phase=phase,
                                                         by=by, proof=proof))
            return self.epoch

        monkeypatch.setattr(LiveRoom, "set_phase", forking_set_phase)
        alice._send(m.SetPhase(room=ROOM, phase="closed"))
        await until(lambda: alice.phases.phase == press.phases.phase == "closed")
        await asyncio.sleep(1.0)  # alice's rekey without the press is sealed by now
        assert bob.phases.phase == "open"
        from_alice = [k for k in press_keys if k.sender == alice.participant_id]
        print(f"\nkeys the press got after the forked close: {len(from_alice)} from alice "
              f"(closed), {len(press_keys) - len(from_alice)} from others; codes: alice "
              f"{alice.code}, bob {bob.code}")
        assert from_alice == []
        assert alice.code != bob.code  # pending or another code: a comparison shows it
    finally:
        await _close(clients)
