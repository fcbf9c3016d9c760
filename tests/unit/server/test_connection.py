"""The signaling connection's state machine (hotline.server.connection), without sockets:
every client message in every state, allowed or refused with which wire code; the
transitions; the replay buffer a ``resume`` takes over; the flood and error budgets."""

from __future__ import annotations

import typing

import pytest

from hotline.errors import RemoteError, Unauthorized
from hotline.server import connection as c
from hotline.server.connection import LocalProtocolError, ServerConnection, State
from hotline.signaling import messages as m

CALL = "0123456789abcdef"
ORIGIN = "https://hotline.example:443"

#: One valid message of every type a client may send.
SAMPLES: list[m._Message] = [
    m.Enroll(code="ABCDE-FGHJK", identity_key=b"k" * 32, signature=b"s" * 64, origin=ORIGIN),
    m.Auth(identity_key=b"k" * 32, signature=b"s" * 64, origin=ORIGIN),
    m.Ping(),
    m.Join(room="summit"),
    m.HotlineJoin(call_id=CALL),
    m.Resume(room="summit", participant_id=1, token=b"t" * 16, received=0),
    m.Announce(announcement=b"a"),
    m.SendKey(to=2, data=b"d"),
    m.Leave(),
    m.Publish(sdp="v=0"),
    m.SubscribeAnswer(sdp="v=0"),
    m.SetMedia(state=m.MediaState()),
    m.MediaRestart(),
    m.SetChannel(channel="ru"),
    m.Listen(channels=["ru"]),
    m.DirectSignal(to=2, candidate=m.DirectCandidate(candidate="")),
    m.SetPhase(room="summit", phase="closed"),
    m.RecordRequest(phase="open"),
    m.RecordConsent(recorder=2, phase="open", phase_epoch=7, granted=True, signature=b"s" * 64),
    m.SetRecording(active=True),
    m.StandbyRegister(hotline="red"),
    m.LinkTestRequest(hotline="red"),
    m.LinkTestReport(test_id=CALL, figures=m.LinkTestFigures(joined=True)),
    m.HotlineCall(hotline="red"),
    m.RingAck(call_id=CALL),
    m.CallAnswer(call_id=CALL),
    m.Hangup(call_id=CALL),
    m.HotlineStatusRequest(),
]

#: The expected table, written out independently of connection.TABLE: per message type,
#: one letter per state (GREETED READY JOINING SEATED HANDED_OVER): A allowed, or the
#: wire code of the refusal: U unauthorized, B bad_request, N not_in_room.
EXPECTED = {
    "enroll": "ABBBB",
    "auth": "ABBBB",
    "ping": "AAAAA",
    "join": "UABBB",
    "hotline_join": "UABBB",
    "resume": "UABBB",
    "announce": "BBABB",
    "key": "UNNAB",
    "leave": "UNAAB",
    "publish": "UNNAB",
    "subscribe_answer": "UNNAB",
    "media": "UNNAB",
    "media_restart": "UNNAB",
    "set_channel": "UNNAB",
    "listen": "UNNAB",
    "direct_signal": "UNNAB",
    "set_phase": "UAAAB",
    "record_request": "UNNAB",
    "record_consent": "UNNAB",
    "recording": "UNNAB",
    "standby": "UAAAB",
    "linktest_request": "UAAAB",
    "linktest_report": "UAAAB",
    "hotline_call": "UAAAB",
    "ring_ack": "UAAAB",
    "call_answer": "UAAAB",
    "hangup": "UAAAB",
    "hotline_status_request": "UAAAB",
}
CODES = {"U": "unauthorized", "B": "bad_request", "N": "not_in_room"}
ROOM = "the room"


def joined(room: str = ROOM) -> m.Joined:
    return m.Joined(room=room, participant_id=1, epoch=7, members=[])


def in_state(state: State) -> ServerConnection[str]:
    """A connection driven into ``state`` by the events that lead there."""
    conn: ServerConnection[str] = ServerConnection(b"c" * 32, rate=100.0, now=0.0)
    if state is State.GREETED:
        return conn
    conn.authenticated("alice", b"k" * 32, 1)
    if state is State.READY:
        return conn
    conn.joining(ROOM)
    if state is State.JOINING:
        return conn
    conn.send(joined())
    if state is State.SEATED:
        return conn
    taker: ServerConnection[str] = ServerConnection(b"d" * 32, rate=100.0, now=0.0)
    taker.authenticated("alice", b"k" * 32, 1)
    taker.take_over(conn, ROOM)
    assert state is State.HANDED_OVER
    return conn


def test_every_client_message_has_a_row_and_a_sample() -> None:
    union = typing.get_args(typing.get_args(m.ClientMessage)[0])
    assert set(c.TABLE) == set(union)
    assert {type(s) for s in SAMPLES} == set(union)
    assert {s.type for s in SAMPLES} == set(EXPECTED)  # type: ignore[attr-defined]
    assert all(len(row) == len(State) for row in c.TABLE.values())


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.type)  # type: ignore[attr-defined]
def test_every_message_in_every_state(state: State, sample: m._Message) -> None:
    conn = in_state(state)
    assert conn.state is state
    expected = EXPECTED[sample.type][list(State).index(state)]  # type: ignore[attr-defined]
    text = m.encode(sample)  # type: ignore[arg-type]
    if expected == "A":
        assert conn.receive(text) == sample
        return
    with pytest.raises(RemoteError) as refused:
        conn.receive(text)
    error = conn.refused(refused.value)
    assert error.code == CODES[expected], (sample, state)
    assert conn.state is state  # a refusal changes nothing
    assert conn.errors == 1


def test_unauthenticated_refusals_say_authenticate_first() -> None:
    with pytest.raises(Unauthorized, match="authenticate first"):
        in_state(State.GREETED).receive(m.encode(m.Join(room="x")))


def test_the_path_through_a_call() -> None:
    conn: ServerConnection[str] = ServerConnection(b"c" * 32, rate=10.0, now=0.0)
    assert conn.challenge == b"c" * 32
    conn.authenticated("alice", b"k" * 32, 3)
    assert (conn.state, conn.party, conn.device_id, conn.challenge) == (
        State.READY, "alice", 3, b"")  # the challenge is used once
    conn.joining(ROOM)
    assert (conn.state, conn.room, conn.seated) == (State.JOINING, ROOM, False)
    conn.send(m.JoinAck(room=ROOM, participant_id=1, epoch=7))
    assert conn.state is State.JOINING
    conn.send(joined())
    assert conn.seated and conn.room == ROOM
    assert conn.left() == ROOM
    assert (conn.state, conn.room) == (State.READY, None)
    assert conn.left() is None


def test_a_refused_join_goes_back_to_ready_unless_left_already() -> None:
    conn = in_state(State.JOINING)
    conn.join_failed("another room")  # not the join under way: nothing changes
    assert conn.state is State.JOINING
    conn.join_failed(ROOM)
    assert (conn.state, conn.room) == (State.READY, None)
    conn = in_state(State.JOINING)
    conn.left()  # a leave while joining
    conn.send(joined())  # the join still completes: this connection stays out of the room
    assert conn.state is State.READY


def test_transitions_out_of_place_are_the_servers_bug() -> None:
    with pytest.raises(LocalProtocolError):
        in_state(State.GREETED).joining(ROOM)
    with pytest.raises(LocalProtocolError):
        in_state(State.READY).authenticated("bob", b"k" * 32, 2)
    with pytest.raises(LocalProtocolError):
        in_state(State.SEATED).joining(ROOM)


def test_resume_takes_the_seat_and_the_numbered_messages() -> None:
    old = in_state(State.SEATED)
    for i in range(5):
        old.send(m.KeyFrom(sender=2, data=bytes([i])))
    old.frame_received(1.0)
    assert old.received == 1
    assert old.can_replay_after(3) and old.can_replay_after(0) and not old.can_replay_after(6)
    new = in_state(State.READY)
    new.take_over(old, ROOM)
    assert (new.state, new.room, new.received) == (State.SEATED, ROOM, 1)
    assert (old.state, old.room, old.handed_over) == (State.HANDED_OVER, None, True)
    replay = new.replay_after(3)
    assert [m.parse_server(t) for t in replay] == [
        m.KeyFrom(sender=2, data=bytes([3])), m.KeyFrom(sender=2, data=bytes([4]))]
    new.send(m.Resumed(room=ROOM, participant_id=1, epoch=7, received=1))
    assert new.replay_after(0)[-1] == replay[-1]  # ``resumed`` itself is not numbered


def test_replay_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(c, "REPLAY", 4)
    conn = in_state(State.SEATED)
    for i in range(6):
        conn.send(m.KeyFrom(sender=2, data=bytes([i])))
    assert conn.can_replay_after(2) and not conn.can_replay_after(1)
    assert in_state(State.READY).can_replay_after(0) is False  # nothing kept before a join


def test_flood_budget_refills_with_time() -> None:
    conn: ServerConnection[str] = ServerConnection(b"c" * 32, rate=5.0, now=0.0)
    assert all(conn.frame_received(0.0) for _ in range(10))  # a burst of twice the rate
    assert not conn.frame_received(0.0)
    assert conn.frame_received(0.2)  # one more after 1/rate seconds
    assert not conn.frame_received(0.2)


def test_too_many_errors() -> None:
    conn = in_state(State.GREETED)
    for _ in range(c.MAX_ERRORS - 1):
        conn.refused(Unauthorized("no"))
    assert not conn.too_many_errors
    conn.refused(Unauthorized("no"))
    assert conn.too_many_errors


def test_error_codes() -> None:
    from hotline.errors import (
        ConfigError,
        Forbidden,
        HotlineForbidden,
        NotInRoom,
        ProtocolError,
        ResumeRefused,
        UsageError,
    )
    cases = [(Unauthorized("x"), "unauthorized"), (Forbidden("x"), "forbidden"),
             (HotlineForbidden("x"), "forbidden"), (NotInRoom("x"), "not_in_room"),
             (ResumeRefused("x"), "resume_refused"), (ProtocolError("x"), "bad_request"),
             (UsageError("x"), "refused"), (ConfigError("secret path"), "internal")]
    for exc, code in cases:
        error = c.error_for(exc)
        assert error.code == code
        assert error.message == ("internal error" if code == "internal" else "x")


@pytest.mark.asyncio
async def test_the_driver_has_one_handler_per_row() -> None:
    from types import SimpleNamespace
    from typing import Any, cast

    from hotline.server.session import Session
    service = SimpleNamespace(report=print, ack=print, answer=print, hangup=print)
    state = SimpleNamespace(settings=SimpleNamespace(max_messages_per_second=10.0),
                            hotlines=service)
    session = Session(cast(Any, state), cast(Any, None))
    assert session.handlers.kinds() == frozenset(c.TABLE)
    assert session.conn.state is State.GREETED


def test_the_state_machine_does_no_io() -> None:
    import ast
    from pathlib import Path
    tree = ast.parse(Path(c.__file__).read_text())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import)
                for a in n.names}
    imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree)
                 if isinstance(n, ast.ImportFrom)}
    assert not imported & {"asyncio", "aiohttp", "socket", "aiortc", "time", "os", "secrets"}


def test_signaling_md_shows_the_table() -> None:
    """docs/SIGNALING.md's table of connection states says what the server does."""
    import re
    from pathlib import Path
    doc = (Path(__file__).resolve().parents[3] / "docs" / "SIGNALING.md").read_text()
    section = doc.split("## Connection states", 1)[1].split("\n## ", 1)[0]
    letters = {"unauthorized": "U", "bad_request": "B", "not_in_room": "N"}
    shown: dict[str, str] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 1 + len(State) or not cells[0].startswith("`"):
            continue
        row = "".join("A" if cell.startswith("✓") else letters[cell] for cell in cells[1:])
        for name in re.findall(r"`([a-z_]+)`", cells[0]):
            shown[name] = row
    assert shown == EXPECTED
