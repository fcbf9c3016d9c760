"""Consented recording (REQUIREMENTS L4) with the real server, SFU and clients in the
loopback namespace: a recorder seat records only while every principal of its view has
signed a granted consent for the current phase. No consent: no file while media flows;
one refusal blocks it; both consent: it records and every member shows
"● recorded by NAME"; a principal joining pauses it until they consent too; the close
ends the consent (file closed, indicator gone). The files are playable (PyAV: titled audio
and video streams per speaker that decode, duration > 0). A server that forges consents
(a wrong signature, a genuine consent of another phase epoch, of another recorder) does
not make the recorder record. Roles that do not record are refused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from hotline.client.call import Call
from hotline.client.recording import Recorder
from hotline.crypto.consent import Consent, sign_consent
from hotline.crypto.identity import Identity
from hotline.errors import Forbidden, UsageError
from hotline.server import recording as server_recording
from hotline.server.rooms import LiveRoom, Member
from hotline.signaling import messages as m

from ..support.recorded import last_request, shown, streams, video_frames
from ..support.server import Server, running_server
from ..support.trust import accept_all
from ..support.wait import wait_until

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]
ROOM = "summit"
ROLES = {"alice": "principal", "boris": "principal", "carl": "principal",
         "rec": "recorder", "dan": "aide"}


@pytest_asyncio.fixture
async def summit(tmp_path: Path) -> AsyncIterator[Server]:
    async with running_server(tmp_path / "data", join_timeout=5.0) as srv:
        srv.room(ROOM, list(ROLES), ROLES)
        yield srv


async def _join(srv: Server, name: str, identity: Identity | None = None) -> Call:
    call = Call(srv.url, identity or Identity.generate(), ROOM, video_size=(160, 120),
                trust_policy=accept_all())
    await call.start(enroll_code=srv.store.new_enrollment_code(name))
    return call


async def _recorder(srv: Server, out: Path) -> tuple[Call, Recorder]:
    call = Call(srv.url, Identity.generate(), ROOM, trust_policy=accept_all())
    recorder = Recorder(call, out, "open")
    recorder.attach()
    await call.start(enroll_code=srv.store.new_enrollment_code("rec"))
    recorder.start()
    return call, recorder


async def _said(recorder: Recorder, text: str, timeout: float = 20.0) -> None:
    async def said() -> bool:
        return any(text in line for line in recorder.log)
    await wait_until(said, timeout, f"the recorder to say {text!r} (said {recorder.log})")


async def test_consent_gates_the_recording_and_the_close_ends_it(
        summit: Server, tmp_path: Path) -> None:
    out = tmp_path / "out"
    alice, boris = [await _join(summit, n) for n in ("alice", "boris")]
    rec_call, recorder = await _recorder(summit, out)
    others: list[Call] = []
    try:
        pid = rec_call.signaling.participant_id
        assert pid is not None

        def _writing() -> int:  # frames written to the open file
            return 0 if recorder._writer is None else recorder._writer.frames

        def _titles() -> list[str]:
            return [] if recorder._writer is None else recorder._writer.titles

        async def media_reaches_recorder() -> bool:
            return video_frames(rec_call, "alice") > 60 and video_frames(rec_call, "boris") > 60

        # -- nobody answered: media flows to the recorder, nothing is written -----------
        await wait_until(media_reaches_recorder, 30.0, "media at the recorder")
        await _said(recorder, "waiting for consent of alice, boris")
        await wait_until(lambda: _true(len(alice.signaling.recordings.requests) > 0), 10.0,
                         "the request at alice")
        assert not out.exists() and recorder.files == []
        assert shown(alice) == shown(boris) == ""

        # a request for another part (e.g. the next open part, asked in advance by a lying
        # server) is not signed: a principal signs for the phase its own client is in
        later = last_request(alice, pid).model_copy(
            update={"phase_epoch": alice.signaling.phases.epoch + 1})
        with pytest.raises(UsageError):
            alice.signaling.consent_recording(later, True)

        # -- alice allows, boris refuses: blocked ---------------------------------------
        alice.signaling.consent_recording(last_request(alice, pid), True)
        boris.signaling.consent_recording(last_request(boris, pid), False)
        await _said(recorder, "refused by boris")
        frames = video_frames(rec_call, "boris")
        await wait_until(lambda: _true(video_frames(rec_call, "boris") > frames + 30), 20.0,
                         "more media at the recorder")
        assert not out.exists() and "recording to" not in " ".join(recorder.log)

        # -- boris changes his mind: it records; every member shows it ------------------
        boris.signaling.consent_recording(last_request(boris, pid), True)
        await _said(recorder, "recording to")
        await wait_until(lambda: _true(shown(alice) == shown(boris) == "● recorded by rec"),
                         10.0, "the indicator on every member")
        dan = await _join(summit, "dan")  # a late joiner sees it from the roster
        others.append(dan)
        assert shown(dan) == "● recorded by rec"
        await wait_until(lambda: _true(_writing() > 200), 30.0, "frames written")

        # -- a principal joins: paused until she consents ------------------------------
        carl = await _join(summit, "carl")
        others.append(carl)
        await _said(recorder, "paused: waiting for consent of carl")
        await wait_until(lambda: _true(shown(alice) == ""), 10.0, "the indicator gone")
        assert len(recorder.files) == 1
        await wait_until(lambda: _true(len(carl.signaling.recordings.requests) > 0), 10.0,
                         "the request at carl")
        carl.signaling.consent_recording(last_request(carl, pid), True)
        await wait_until(lambda: _true("carl video" in _titles() and _writing() > 200), 30.0,
                         "a file with carl written")
        await wait_until(lambda: _true(shown(carl) == "● recorded by rec"), 10.0,
                         "the indicator on carl")

        # -- the close ends the consent: file closed, indicator gone -------------------
        await alice.set_phase("closed")
        await asyncio.wait_for(recorder.phase_over.wait(), 15.0)
        await _said(recorder, "stopped at the phase change (closed)")
        assert recorder._writer is None and len(recorder.files) >= 2
        await wait_until(lambda: _true(all(shown(c) == "" for c in (alice, boris, dan, carl))),
                         10.0, "the indicator gone everywhere")
        with pytest.raises(UsageError):  # the open part's request is over
            alice.signaling.consent_recording(last_request(alice, pid), True)
        sizes = [p.stat().st_size for p in recorder.files]
        await asyncio.sleep(1.0)  # nothing more is written to them in the closed part
        assert [p.stat().st_size for p in recorder.files] == sizes
        assert sorted(out.iterdir()) == sorted(recorder.files)
        print(f"\nrecorder said: {recorder.log}")

        # -- the files: titled audio + video per speaker, playable --------------------
        first, last = recorder.files[0], recorder.files[-1]
        for path in recorder.files:
            assert path.name.startswith(f"{ROOM}-open-") and path.suffix == ".mkv"
        s1, s2 = streams(first), streams(last)
        print(f"{first.name}: {s1}\n{last.name}: {s2}")
        for found, speakers in ((s1, ("alice", "boris")), (s2, ("alice", "boris", "carl"))):
            for who in speakers:
                assert found[f"{who} audio"][0] == "audio"
                assert found[f"{who} video"][0] == "video"
                assert found[f"{who} audio"][1] > 10 and found[f"{who} video"][1] > 5
                assert found[f"{who} audio"][2] > 0.2 and found[f"{who} video"][2] > 0.2
            assert not any(t.startswith(("dan", "rec")) for t in found)  # they send nothing
    finally:
        for c in (rec_call, *others, alice, boris):
            await c.close()


def _true(value: bool):  # type: ignore[no-untyped-def]
    """An awaitable of ``value`` for wait_until (the checks here are plain expressions)."""
    async def check() -> bool:
        return value
    return check()


async def test_a_server_forging_consents_does_not_make_it_record(
        summit: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The server answers the recorder's request itself, for both principals: a signature
    it made up, a genuine consent of alice for another phase epoch, and one of boris for
    another recorder (relayed as if for this one). The recorder waits; nothing written."""
    alice_id, boris_id = Identity.generate(), Identity.generate()
    other_recorder = Identity.generate()
    forged: list[m.RecordConsentFrom] = []
    original = server_recording.record_request

    def lying(room: LiveRoom, session: Member, msg: m.RecordRequest) -> None:
        original(room, session, msg)
        rec = room.seat_of(session)
        pids = {p: n for p, n in room.participants.items() if n in ("alice", "boris")}
        for p, name in pids.items():
            ident = alice_id if name == "alice" else boris_id
            fakes = [
                (b"\x07" * 64, room.phase_epoch),  # made up
                (sign_consent(ident, Consent(room.name, p, rec.participant_id,
                                             rec.session.identity_key, "open",
                                             room.phase_epoch - 1, True)),
                 room.phase_epoch),  # another phase epoch, relabelled
                (sign_consent(ident, Consent(room.name, p, rec.participant_id,
                                             other_recorder.public_key, "open",
                                             room.phase_epoch, True)),
                 room.phase_epoch),  # for another recorder's key
            ]
            for signature, epoch in fakes:
                fake = m.RecordConsentFrom.model_validate({
                    "from": p, "recorder": rec.participant_id, "phase": "open",
                    "phase_epoch": epoch, "granted": True, "signature": signature})
                forged.append(fake)
                room.broadcast(fake)

    monkeypatch.setattr(server_recording, "record_request", lying)
    out = tmp_path / "out"
    alice = await _join(summit, "alice", alice_id)
    boris = await _join(summit, "boris", boris_id)
    rec_call, recorder = await _recorder(summit, out)
    try:
        await wait_until(lambda: _true(len(forged) >= 6), 20.0, "the forged consents sent")
        consents = rec_call.signaling.recordings.consents

        async def received() -> bool:
            pid = rec_call.signaling.participant_id
            return len(consents.get(pid or 0, {})) == 2
        await wait_until(received, 10.0, "the forged consents at the recorder")
        await wait_until(lambda: _true(video_frames(rec_call, "alice") > 90
                                       and video_frames(rec_call, "boris") > 90),
                         30.0, "media at the recorder")
        await _said(recorder, "waiting for consent of alice, boris")
        decision = recorder.decision()
        assert not decision.record and len(decision.waiting) == 2
        assert not out.exists() and recorder.files == []
        assert "recording to" not in " ".join(recorder.log)
    finally:
        for c in (rec_call, alice, boris):
            await c.close()


async def test_only_recorder_and_press_seats_record(summit: Server, tmp_path: Path) -> None:
    dan = await _join(summit, "dan")
    try:
        for msg in (m.RecordRequest(phase="open"), m.SetRecording(active=True)):
            dan.signaling.send(msg)
            with pytest.raises(Forbidden):
                await dan.signaling._reply(m.Pong)  # the refusal comes first
        recorder = Recorder(dan, tmp_path / "out")
        with pytest.raises(PermissionError):
            recorder.start()
        # a delegate's consent is refused too (only principals consent)
        dan.signaling.send(m.RecordConsent(recorder=1, phase="open", phase_epoch=1,
                                           granted=True, signature=b"s" * 64))
        with pytest.raises(Forbidden):
            await dan.signaling._reply(m.Pong)
    finally:
        await dan.close()
