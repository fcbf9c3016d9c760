"""Signaling schema: round trips, strict validation, fuzzing of the parser."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.errors import ProtocolError
from hotline.signaling import messages as m

CLIENT = [
    m.Enroll(code="ABCDE-FGHJK", identity_key=b"\x01" * 32, label="laptop",
             signature=b"\x02" * 64, origin="https://hotline.example.org:443"),
    m.Auth(identity_key=b"\x01" * 32, signature=b"\x02" * 64, origin="http://127.0.0.1:8080"),
    m.Auth(identity_key=b"\x01" * 32, signature=b"\x02" * 64, origin="https://[::1]:443",
           channel_binding="tls-unique"),
    m.Join(room="summit"), m.Announce(announcement=b"\x00\xff" * 50),
    m.SendKey(to=7, data=b"\x02\x01abc"), m.Leave(), m.Ping(),
]
SERVER = [
    m.Hello(challenge=b"\x05" * 32, server="hotline/0.1"),
    m.Enrolled(party="alice", device_id=3),
    m.Welcome(party="alice", device_id=3, rooms=["a", "b"]),
    m.JoinAck(room="r", participant_id=1, epoch=2**32 - 1),
    m.Joined(room="r", participant_id=2, epoch=5, members=[m.MemberInfo(
        participant_id=1, party="bob", identity_key=b"k" * 32, announcement=b"a")]),
    m.MemberJoined(epoch=6, member=m.MemberInfo(participant_id=3, party="c",
                                                identity_key=b"k" * 32, announcement=b"a")),
    m.MemberLeft(epoch=7, participant_id=3), m.KeyFrom(sender=1, data=b"x"),
    m.Left(room="r"), m.Pong(), m.Error(code="forbidden", message="no"),
]


@pytest.mark.parametrize("msg", CLIENT, ids=lambda x: x.type)
def test_client_round_trip(msg: m._Message) -> None:
    text = m.encode(msg)
    assert json.loads(text)["v"] == 1
    assert m.parse_client(text) == msg
    with pytest.raises(ProtocolError):
        m.parse_server(text)


@pytest.mark.parametrize("msg", SERVER, ids=lambda x: x.type)
def test_server_round_trip(msg: m._Message) -> None:
    assert m.parse_server(m.encode(msg)) == msg


@pytest.mark.parametrize("text", [
    "", "nul", "[1]", "1", '"x"', "{}", '{"v": "1", "type": "ping"}', '{"v": true, "type": "ping"}',
    '{"v": 1}', '{"v": 1, "type": "ping", "extra": 1}', '{"v": 1, "type": "join", "room": ""}',
    '{"v": 1, "type": "join", "room": 5}', '{"v": 1, "type": "key", "to": 1.5, "data": ""}',
    '{"v": 1, "type": "key", "to": 4294967296, "data": ""}',
    '{"v": 1, "type": "key", "to": 1, "data": "a+b/"}', '{"v": 1, "type": "key", "to": 1}',
    "[" * 100000,
])
def test_refused(text: str) -> None:
    with pytest.raises(ProtocolError):
        m.parse_client(text)


def test_size_limit() -> None:
    big = m.encode(m.Announce(announcement=b"\x00" * m.MAX_MESSAGE_BYTES))
    with pytest.raises(ProtocolError):
        m.parse_client(big)


@given(st.text(max_size=300))
def test_fuzz_text(text: str) -> None:
    with contextlib.suppress(ProtocolError):
        m.parse_client(text)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8),
                                                                        children, max_size=4),
    max_leaves=20)


@given(st.sampled_from(["enroll", "auth", "join", "announce", "key", "leave", "ping", "x"]),
       st.dictionaries(st.sampled_from(["v", "code", "identity_key", "signature", "room",
                                        "announcement", "to", "data", "label"]),
                       json_values, max_size=6))
def test_fuzz_structured(kind: str, fields: dict[str, object]) -> None:
    doc = {"v": 1, "type": kind, **fields}
    with contextlib.suppress(ProtocolError):
        m.parse_client(json.dumps(doc))


# -- hotline messages -------------------------------------------------------------------


def test_hotline_messages_round_trip_and_refuse_bad_values() -> None:
    from hotline.errors import ProtocolError
    from hotline.signaling import messages as hm

    ack = hm.parse_client('{"v":1,"type":"ring_ack","call_id":"0123456789abcdef",'
                          '"message":"principal in 10 minutes"}')
    assert isinstance(ack, hm.RingAck) and ack.message == "principal in 10 minutes"
    report = hm.LinkTestReport(test_id="0123456789abcdef", figures=hm.LinkTestFigures(
        joined=True, setup_ms=12.5, loss=0.0, video_frames=3))
    assert hm.parse_client(hm.encode(report)) == report
    for bad in ('{"v":1,"type":"ring_ack","call_id":"XYZ","message":""}',
                '{"v":1,"type":"ring_ack","call_id":"0123456789abcdef","message":"'
                + "x" * 201 + '"}',
                '{"v":1,"type":"linktest_report","test_id":"0123456789abcdef",'
                '"figures":{"joined":true,"loss":1.5}}',
                '{"v":1,"type":"linktest_report","test_id":"0123456789abcdef",'
                '"figures":{"joined":true,"video_frames":-1}}',
                '{"v":1,"type":"standby","hotline":""}',
                '{"v":1,"type":"hotline_status_request","last":0}'):
        with pytest.raises(ProtocolError):
            hm.parse_client(bad)
    ring = hm.Ring(hotline="red", call_id="0123456789abcdef", caller_party="a",
                   caller_device="laptop #1")
    assert hm.parse_server(hm.encode(ring)) == ring
