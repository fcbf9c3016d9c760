"""Real calls on a hotline: ringing every standby of the far side, an acknowledgement with
an ETA the caller sees, media only after the explicit answer (checked at the SFU), no
answer, and an endpoint whose identity key is not pinned (loopback-only namespace)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from hotline.client.hotline.caller import HotlineCaller
from hotline.client.hotline.standby import Standby
from hotline.client.signaling import SignalingClient
from hotline.errors import CallNotConnected, Refused, StandbyRefused
from hotline.signaling import messages as m

from ..support.sfu_tap import Tap
from ..support.trust import hotline_pins
from .hotline_support import (
    HOTLINE,
    SPARE_BOBS,
    RunningStandby,
    decrypting,
    enroll,
    hotline_server,
    record,
    standby,
)

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]


async def test_call_rings_both_is_acknowledged_with_eta_and_media_follows_the_answer(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Acceptance 4 (and H6, H7, H8)."""
    tap = Tap(monkeypatch)
    data = tmp_path / "data"
    async with hotline_server(data, bob_devices=2) as (srv, alice, bob):
        b1 = await standby(srv, bob)
        b2 = await standby(srv, SPARE_BOBS[srv.url][0])
        caller = HotlineCaller(srv.url, alice, HOTLINE,
                               trust_policy=hotline_pins(srv.store, HOTLINE, alice))
        try:
            await caller.connect()
            call_id = await caller.ring()
            assert caller.endpoints == 2
            for b in (b1, b2):
                await b.next("ring", where=lambda e: e.data["call_id"] == call_id)
            # A modified callee that tries to send media before answering is refused.
            async with SignalingClient(srv.url, bob) as sneaky:
                await sneaky.authenticate()
                with pytest.raises(Refused, match="not answered"):
                    await sneaky.join("x", request=m.HotlineJoin(call_id=call_id), timeout=5)
            acks: list[m.CallAcked] = []
            waiting = asyncio.ensure_future(caller.wait_answer(acks.append, timeout=30))
            b1.standby.acknowledge(call_id, "principal in 10 minutes")
            stop = await b2.next("ring_stop")
            assert "acknowledged" in str(stop.data["reason"])
            for _ in range(100):
                if acks:
                    break
                await asyncio.sleep(0.05)
            assert acks and acks[0].message == "principal in 10 minutes"
            assert acks[0].party == "bob"
            await asyncio.sleep(1.0)  # ringing, acknowledged, not answered: no media yet
            assert tap.packets == []
            answered_at = time.monotonic()
            b1.standby.answer(call_id)
            await asyncio.wait_for(waiting, 30)
            await b1.next("call_started")
            callee_call = b1.standby.call
            assert callee_call is not None
            callee_pid = callee_call.signaling.participant_id
            if not await decrypting(caller.call, "bob"):
                pytest.fail("the caller decrypted no video of the callee after the answer")
            from_callee = [t for t, s, _ in tap.packets if s.publisher == callee_pid]
            assert from_callee, "no packet of the callee was forwarded at all"
            assert min(from_callee) > answered_at
            assert min(t for t, _, _ in tap.packets) > answered_at
            await caller.close()
            ended = await b1.next("call_ended")
            assert ended.data["call_id"] == call_id
        finally:
            await caller.close()
            await b1.stop()
            await b2.stop()
        entries = record(srv, data).entries(HOTLINE)
    calls = [e.fields for e in entries if e.kind == "call"]
    assert len(calls) == 1
    assert calls[0]["outcome"] == "answered"
    assert calls[0]["ack_message"] == "principal in 10 minutes"
    assert 0 < calls[0]["ack_ms"] <= calls[0]["answer_ms"]
    assert calls[0]["endpoints_rung"] == 2


async def test_unanswered_call_is_no_answer_and_no_standby_is_unreachable(
        tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with hotline_server(data, ring_timeout=1.0) as (srv, alice, bob):
        nobody = HotlineCaller(srv.url, alice, HOTLINE)
        await nobody.connect()
        with pytest.raises(CallNotConnected, match="unreachable"):
            await nobody.ring()
        await nobody.close()
        b = await standby(srv, bob)
        caller = HotlineCaller(srv.url, alice, HOTLINE,
                               trust_policy=hotline_pins(srv.store, HOTLINE, alice))
        try:
            await caller.connect()
            await caller.ring()
            await b.next("ring")
            with pytest.raises(CallNotConnected, match="no_answer"):
                await caller.wait_answer(lambda ack: None, timeout=10)
            await b.next("ring_stop")
        finally:
            await caller.close()
            await b.stop()
        outcomes = [e.fields["outcome"] for e in record(srv, data).entries(HOTLINE)
                    if e.kind == "call"]
    assert outcomes == ["unreachable", "no_answer"]


async def test_a_key_that_is_not_pinned_takes_part_in_nothing(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Acceptance 5: a new device of bob (enrolled after the pinning) is refused as a
    standby, for a link test and for a call, with both fingerprints named, and logged."""
    async with hotline_server(tmp_path / "data") as (srv, _alice, bob):
        impostor = await enroll(srv, "bob")
        pinned, presented = bob.fingerprint, impostor.fingerprint
        running = RunningStandby(Standby(srv.url, impostor, HOTLINE, min_backoff=0.2))
        with pytest.raises(StandbyRefused) as refused:
            await running.next("connected", timeout=10)
        await running.stop()
        for text in (str(refused.value),):
            assert "'bob'" in text and pinned in text and presented in text
        async with SignalingClient(srv.url, impostor) as client:
            await client.authenticate()
            client.send(m.LinkTestRequest(hotline=HOTLINE))
            error = await asyncio.wait_for(client.hotline.get(), 10)
        assert isinstance(error, m.Error) and error.code == "forbidden"
        assert presented in error.message and pinned in error.message
        caller = HotlineCaller(srv.url, impostor, HOTLINE)
        await caller.connect()
        with pytest.raises(CallNotConnected, match="forbidden"):
            await caller.ring()
        await caller.close()
        audits = [a for a in srv.store.audit_log() if a.kind == "pin_mismatch"]
    assert {a.detail["action"] for a in audits} == {"standby", "linktest", "call"}
    assert all(a.detail["presented"] == presented and a.party == "bob" for a in audits)
    assert any("PIN MISMATCH" in r.getMessage() for r in caplog.records)
