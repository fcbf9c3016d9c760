"""Real E2EE calls through the server and its SFU: three Python participants with
synthetic audio and video, ICE/DTLS/SRTP on loopback, inside a loopback-only network
namespace (``make test`` runs the suite in one)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from hotline.client.call import Call
from hotline.client.signaling import SignalingClient
from hotline.crypto.frames import Codec
from hotline.crypto.keyschedule import InstallDecryptionKey
from hotline.crypto.kid import Slot
from hotline.signaling import messages as m

from ..support.server import Server, running_server, start_server
from ..support.sfu_tap import Tap, opened_by, remember_keys
from ..support.trust import accept_all

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]
NAMES = ("alice", "bob", "carol")


@pytest_asyncio.fixture
async def media_server(tmp_path: Path) -> AsyncIterator[Server]:
    async with running_server(tmp_path / "data", join_timeout=5.0) as srv:
        srv.room("summit", NAMES)
        yield srv


async def join_all(srv: Server, names: tuple[str, ...] = NAMES) -> list[Call]:
    calls = []
    for name in names:
        from hotline.crypto.identity import Identity

        # Three clients and the SFU share one Python process here: a small picture keeps
        # the test about E2EE and forwarding, not about how fast one core decodes VP8.
        call = Call(srv.url, Identity.generate(), "summit", video_size=(160, 120),
                    trust_policy=accept_all())
        await call.start(enroll_code=srv.store.new_enrollment_code(name))
        calls.append(call)
    return calls


def sent_and_received(calls: list[Call]) -> dict[tuple[str, str, str], tuple[int, int]]:
    """(sender, receiver, kind) -> (frames the sender encrypted, frames decrypted)."""
    out = {}
    for sender in calls:
        s = sender.stats()
        me = sender.signaling.party
        for receiver in calls:
            if receiver is sender:
                continue
            r = receiver.stats().remote[me]
            for kind in ("video", "audio"):
                out[(me, receiver.signaling.party, kind)] = (
                    s.sent[f"{kind}_frames"], r[f"{kind}_frames_decrypted"])
    return out


async def test_three_party_call_decrypts_and_the_sfu_sees_no_plaintext(
        media_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    tap = Tap(monkeypatch)
    plaintexts: list[bytes] = []
    calls = await join_all(media_server)
    for call in calls:  # remember some plaintext frames, as the encoder made them
        keys = call.send_keys
        original = keys.protect

        def protect(slot: Slot, codec: Codec, frame: bytes, _o=original) -> bytes:  # type: ignore[no-untyped-def]
            if len(plaintexts) < 400 and len(frame) > 48:
                plaintexts.append(frame)
            return _o(slot, codec, frame)

        keys.protect = protect  # type: ignore[method-assign]
    try:
        await asyncio.sleep(2.0)  # everyone connected and subscribed
        before = sent_and_received(calls)
        await asyncio.sleep(10.0)
        after = sent_and_received(calls)
        for key, (sent1, got1) in after.items():
            sent0, got0 = before[key]
            sent, got = sent1 - sent0, got1 - got0
            assert sent > (200 if key[2] == "video" else 400), key
            assert got >= 0.95 * sent, f"{key}: decrypted {got} of {sent}"
        stats = [c.stats() for c in calls]
        assert len({s.group_code for s in stats}) == 1 and stats[0].group_code
        for s in stats:
            assert sorted(s.participants) == list(NAMES)
            for party, r in s.remote.items():
                assert r["decrypt_failures"] <= 2, (party, r)
                assert r["first_frame_ms"] is not None and r["first_frame_ms"] < 5000
        # The tap saw the media (positive control), and never a plaintext byte string.
        assert len(tap.packets) > 3000
        forwarded = b"\x00".join(p for _, _, p in tap.packets)
        assert plaintexts
        for frame in plaintexts:
            for start in (12, len(frame) // 2, len(frame) - 16):
                assert frame[start:start + 12] not in forwarded
    finally:
        for c in calls:
            await c.close()


async def test_wrong_keys_decrypt_and_render_nothing(media_server: Server) -> None:
    calls = await join_all(media_server, NAMES[:2])
    from hotline.crypto.identity import Identity

    intruder = Call(media_server.url, Identity.generate(), "summit", trust_policy=accept_all())
    original_apply = intruder.signaling.keys.apply

    def wrong_keys(actions):  # type: ignore[no-untyped-def]
        return original_apply([InstallDecryptionKey(a.sender, a.generation, a.kids,
                                                     os.urandom(32))
                               if isinstance(a, InstallDecryptionKey) else a
                               for a in actions])

    intruder.signaling.keys.apply = wrong_keys  # type: ignore[method-assign]
    await intruder.start(enroll_code=media_server.store.new_enrollment_code("carol"))
    try:
        await asyncio.sleep(4.0)
        s = intruder.stats()
        assert s.remote, "the intruder should have been sent the streams"
        for r in s.remote.values():
            assert r["video_frames_decrypted"] == 0 and r["audio_frames_decrypted"] == 0
            assert r["first_frame_ms"] is None  # nothing was rendered
            assert r["decrypt_failures"] > 50
        assert all(st.frames_decoded == 0 for st in intruder.streams.values())
        for c in calls:  # the others are unaffected
            for r in c.stats().remote.values():
                if r["participant_id"] != intruder.signaling.participant_id:
                    assert r["video_frames_decrypted"] > 50
    finally:
        for c in [*calls, intruder]:
            await c.close()


async def test_leave_rotates_keys_and_the_leaver_decrypts_nothing_after(
        media_server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    tap = Tap(monkeypatch)
    a, b, c = await join_all(media_server)
    held = remember_keys(c.signaling.keys)
    try:
        await asyncio.sleep(2.0)
        gens = (a.signaling.keys.generation, b.signaling.keys.generation)
        left_at = time.monotonic()
        await c.close()
        # both remaining members send under new keys, and each has the other's
        while True:
            ka, kb = a.signaling.keys, b.signaling.keys
            if (ka.generation > gens[0] and kb.generation > gens[1]
                    and kb.context.has_decryption_key(ka.senders[Slot.AUDIO].kid)
                    and ka.context.has_decryption_key(kb.senders[Slot.AUDIO].kid)):
                break
            assert time.monotonic() - left_at < 1.0, "rekey took more than a second"
            await asyncio.sleep(0.01)
        rotated_at = time.monotonic()
        await asyncio.sleep(2.0)
        # Every audio packet forwarded after the rotation: the leaver's keys open none.
        opus = [p for t, s, p in tap.packets if t > rotated_at and s.kind == "audio"]
        assert len(opus) > 100
        assert opened_by(held, opus) == 0
        assert a.stats().group_code == b.stats().group_code
    finally:
        await a.close()
        await b.close()


async def test_after_the_first_joiner_leaves_the_others_still_receive_and_it_can_rejoin(
        media_server: Server) -> None:
    """The leaver is first in every stream's list of copies: nothing after it may stop."""
    from hotline.crypto.identity import Identity

    a_id = Identity.generate()
    a = Call(media_server.url, a_id, "summit", video_size=(160, 120), trust_policy=accept_all())
    await a.start(enroll_code=media_server.store.new_enrollment_code("alice"))
    b, c = await join_all(media_server, NAMES[1:])
    try:
        await asyncio.sleep(2.0)
        await a.close()
        await asyncio.sleep(1.0)
        before = (b.stats().remote["carol"]["video_frames_decrypted"],
                  c.stats().remote["bob"]["video_frames_decrypted"])
        await asyncio.sleep(2.0)
        after = (b.stats().remote["carol"]["video_frames_decrypted"],
                 c.stats().remote["bob"]["video_frames_decrypted"])
        assert after[0] > before[0] + 30 and after[1] > before[1] + 30
        again = Call(media_server.url, a_id, "summit", video_size=(160, 120),
                     trust_policy=accept_all())
        await again.start()  # the same device, no enrollment
        try:
            await asyncio.sleep(3.0)
            remote = again.stats().remote
            assert remote["bob"]["video_frames_decrypted"] > 30
            assert remote["carol"]["video_frames_decrypted"] > 30
            assert b.stats().group_code == again.stats().group_code
        finally:
            await again.close()
    finally:
        await b.close()
        await c.close()


async def test_garbage_sdp_is_refused_and_the_call_goes_on(media_server: Server) -> None:
    calls = await join_all(media_server, NAMES[:2])
    from hotline.crypto.identity import Identity

    ident = Identity.generate()
    client = SignalingClient(media_server.url, ident, trust=accept_all())
    await client.connect()
    await client.enroll(media_server.store.new_enrollment_code("carol"))
    await client.join("summit")
    try:
        for sdp in ("garbage", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\n", "x" * 1000):
            client._send(m.Publish(sdp=sdp))
            while True:
                event = await asyncio.wait_for(client.events.get(), 5)
                if event.kind == "error":
                    assert event.data["code"] == "bad_request"
                    break
        before = calls[1].stats().remote["alice"]["video_frames_decrypted"]
        await asyncio.sleep(1.0)
        assert calls[1].stats().remote["alice"]["video_frames_decrypted"] > before + 10
    finally:
        await client.close()
        for c in calls:
            await c.close()


async def test_parties_devices_and_rooms_survive_a_restart(tmp_path: Path) -> None:
    from hotline.crypto.identity import Identity

    data = tmp_path / "data"
    srv = await start_server(data, join_timeout=5.0)
    ids = {n: Identity.generate() for n in NAMES[:2]}
    srv.room("summit", list(ids))
    codes = {n: srv.store.new_enrollment_code(n) for n in ids}
    first = []
    for n, ident in ids.items():
        call = Call(srv.url, ident, "summit", trust_policy=accept_all())
        await call.start(enroll_code=codes[n])
        first.append(call)
    await asyncio.sleep(1.0)
    await srv.runner.cleanup()  # the server goes away under the call
    srv.store.close()
    for call in first:
        await call.close()

    srv2 = await start_server(data, join_timeout=5.0)
    try:
        assert srv2.store.get_room("summit") is not None
        again = []
        for ident in ids.values():  # the same devices come back without enrolling
            call = Call(srv2.url, ident, "summit", trust_policy=accept_all())
            await call.start()
            again.append(call)
        await asyncio.sleep(3.0)
        for call in again:
            (remote,) = call.stats().remote.values()
            assert remote["video_frames_decrypted"] > 30
        for call in again:
            await call.close()
    finally:
        await srv2.close()
