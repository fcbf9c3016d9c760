"""The client's signaling without a server: what arrives on the reader side becomes the
reply a request waits for, a refusal the typed error of its code (hotline.errors)."""

from __future__ import annotations

import pytest

from hotline.client.connection import SignalingConnection
from hotline.client.signaling import SignalingClient
from hotline.crypto.identity import Identity
from hotline.errors import (
    BadRequest,
    Forbidden,
    ProtocolError,
    ResumeRefused,
    ServerError,
    Unauthorized,
)
from hotline.signaling import messages as m


def client() -> SignalingClient:
    return SignalingClient("http://127.0.0.1:1", Identity.generate())


def test_the_client_is_a_connection_with_its_url_and_origin() -> None:
    c = client()
    assert isinstance(c, SignalingConnection)
    assert c.url == "ws://127.0.0.1:1/ws" and c.origin == "http://127.0.0.1:1"


@pytest.mark.asyncio
@pytest.mark.parametrize(("code", "cls"), [
    ("unauthorized", Unauthorized), ("forbidden", Forbidden), ("bad_request", BadRequest),
    ("resume_refused", ResumeRefused)])
async def test_a_refusal_raises_the_class_of_its_code(code: str, cls: type[ServerError]) -> None:
    c = client()
    c._dispatch(m.Error(code=code, message="no"))
    with pytest.raises(cls) as caught:
        await c._reply(m.Welcome, timeout=1)
    assert caught.value.code == code and str(caught.value) == f"{code}: no"
    assert (await c.events.get()).data == {"code": code, "message": "no"}


@pytest.mark.asyncio
async def test_an_unknown_code_is_a_server_error_with_that_code() -> None:
    c = client()
    c._dispatch(m.Error(code="later", message="new"))
    with pytest.raises(ServerError) as caught:
        await c._reply(m.Welcome, timeout=1)
    assert type(caught.value) is ServerError and caught.value.code == "later"


@pytest.mark.asyncio
async def test_joined_for_another_room_fails_the_join_as_a_protocol_error() -> None:
    c = client()
    c.room = "asked"
    c._dispatch(m.Joined(room="elsewhere", participant_id=1, epoch=1, members=[]))
    with pytest.raises(ProtocolError, match="another room"):
        await c._reply(m.Joined, timeout=1)
    assert c._seat is None  # nothing to resume


@pytest.mark.asyncio
async def test_a_reopen_without_a_proof_is_an_alarm_and_the_members_role_reaches_the_schedule(
        ) -> None:
    from hotline.crypto.callkey import CallKeyPair
    from hotline.crypto.keyschedule import Joined, KeySchedule, KeyScheduleConfig, PhaseChanged

    c = client()
    c._send = lambda message: None  # type: ignore[method-assign]  # no server here
    c.schedule = KeySchedule(c.identity, CallKeyPair.generate(), KeyScheduleConfig("r"))
    press = KeySchedule(Identity.generate(), CallKeyPair.generate(), KeyScheduleConfig("r"))
    info = m.MemberInfo(participant_id=2, party="press", role="press",
                        identity_key=press.identity.public_key,
                        announcement=press.announcement(2, 9, "press").encode())
    c._feed(Joined(0.0, 10, 1, (c._member(info),), "closed"))
    assert c.schedule.members == (2,)  # its signed role is the roster's: admitted
    c._feed(PhaseChanged(0.0, 11, "open", 2, b"\x00" * 64))
    events = [c.events.get_nowait() for _ in range(c.events.qsize())]
    refused = [e.data for e in events if e.kind == "phase_refused"]
    assert refused == [{"phase": "open", "by": 2, "reason": "phase_unproven", "epoch": 11}]
    assert c.schedule.phase == "closed"
    c._stop_schedule()
