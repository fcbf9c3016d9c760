"""hotline.rtc.stream_decryptor.StreamDecryptor bound to its stream: only the attributed
participant's frames of the stream's kind are decrypted; every other frame is dropped
before decryption (never held, never decoded) and counted as wrong_participant or
wrong_slot (unknown_kid when no key has the KID; docs/PROTOCOL.md "Frames bound to
their stream")."""

from __future__ import annotations

from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from hotline.crypto.frames import Codec, protect
from hotline.crypto.kid import Slot, make_kid
from hotline.crypto.sframe import SFrameContext, SFrameSender
from hotline.rtc.media_e2ee import MediaE2ee

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2,
                             payloadType=96)
KEY = bytes(range(16))
ALICE, BOB = 3, 4


def _wires(ctx: SFrameContext, pid: int, slot: Slot, codec: Codec, n: int) -> list[bytes]:
    kid = make_kid(pid, 0, slot)
    ctx.add_encryption_key(kid, KEY)
    sender = SFrameSender(ctx, kid)
    first = 0x10 if codec is Codec.VP8 else 0x78  # a VP8 key frame, an Opus TOC byte
    return [protect(sender, codec, bytes([first]) + bytes(range(40 + i))) for i in range(n)]


def _setup() -> tuple[MediaE2ee, dict[tuple[int, Slot], list[bytes]]]:
    send = SFrameContext()
    wires = {(pid, slot): _wires(send, pid, slot, Codec.VP8 if slot is Slot.VIDEO
                                 else Codec.OPUS, 5)
             for pid in (ALICE, BOB) for slot in (Slot.AUDIO, Slot.VIDEO)}
    receive = SFrameContext()
    for pid in (ALICE, BOB):
        for slot in (Slot.AUDIO, Slot.VIDEO):
            receive.add_decryption_key(make_kid(pid, 0, slot), KEY)
    return MediaE2ee(receive), wires


def test_a_bound_stream_decrypts_only_its_participants_frames() -> None:
    e2ee, wires = _setup()
    alice_video = e2ee.new_stream("video")
    alice_video.bind(ALICE)
    shown = [alice_video.decrypt(VP8, JitterFrame(w, i)) for i, w in
             enumerate(wires[(ALICE, Slot.VIDEO)])]
    assert all(len(out) == 1 for out in shown)
    # the SFU swaps Bob's video into Alice's stream: not one frame is shown under Alice
    swapped = [alice_video.decrypt(VP8, JitterFrame(w, 10 + i)) for i, w in
               enumerate(wires[(BOB, Slot.VIDEO)])]
    assert swapped == [[]] * 5
    assert alice_video.decrypted == 5
    assert alice_video.dropped() == {"wrong_participant": 5}
    assert alice_video.held == 0  # dropped before decryption, not held
    assert e2ee.stats().decrypt_failures == {"wrong_participant": 5}


def test_audio_keys_in_a_video_stream_and_back_are_dropped() -> None:
    e2ee, wires = _setup()
    video = e2ee.new_stream("video")
    video.bind(ALICE)
    audio = e2ee.new_stream("audio")
    audio.bind(ALICE)
    # Alice's own keys, but of the other kind's slot, in the codec's framing (a member
    # that sends audio-keyed frames as video, or the reverse)
    send = SFrameContext()
    send.add_encryption_key(make_kid(ALICE, 0, Slot.AUDIO), KEY)
    send.add_encryption_key(make_kid(ALICE, 0, Slot.VIDEO), KEY)
    as_audio = SFrameSender(send, make_kid(ALICE, 0, Slot.AUDIO))
    as_video = SFrameSender(send, make_kid(ALICE, 0, Slot.VIDEO))
    for i in range(5):
        vp8 = protect(as_audio, Codec.VP8, bytes([0x10]) + bytes(range(40 + i)))
        assert video.decrypt(VP8, JitterFrame(vp8, i)) == []
        opus = protect(as_video, Codec.OPUS, bytes([0x78]) + bytes(range(40 + i)))
        assert audio.decrypt(OPUS, JitterFrame(opus, i)) == []
    assert len(video.decrypt(VP8, JitterFrame(wires[(ALICE, Slot.VIDEO)][0], 9))) == 1
    assert video.dropped() == {"wrong_slot": 5}
    assert audio.dropped() == {"wrong_slot": 5}
    assert video.decrypted == 1 and audio.decrypted == 0


def test_bound_to_nobody_drops_everything_and_unbound_checks_the_slot() -> None:
    e2ee, wires = _setup()
    nobody = e2ee.new_stream("audio")
    nobody.bind(-1)
    for pid in (ALICE, BOB):
        for i, w in enumerate(wires[(pid, Slot.AUDIO)]):
            assert nobody.decrypt(OPUS, JitterFrame(w, i)) == []
    assert nobody.dropped() == {"wrong_participant": 10}
    unbound = e2ee.new_stream("audio")  # outside a Call: any participant, audio slot only
    assert len(unbound.decrypt(OPUS, JitterFrame(wires[(BOB, Slot.AUDIO)][0], 0))) == 1
    kid = make_kid(BOB, 0, Slot.VIDEO)
    send = SFrameContext()
    send.add_encryption_key(kid, KEY)
    opus_as_video = protect(SFrameSender(send, kid), Codec.OPUS, b"\x78" + bytes(40))
    assert unbound.decrypt(OPUS, JitterFrame(opus_as_video, 1)) == []
    assert unbound.dropped() == {"wrong_slot": 1}


def test_a_swapped_frame_is_not_held_for_a_key_either() -> None:
    """A frame of another participant under a KID with no key yet is dropped at once,
    not held for 0.5 s and released when the key comes; counted as unknown_kid (a KID
    no key has may be a damaged frame: only a member's KID counts as a swap)."""
    send = SFrameContext()
    bob_future = _wires(send, BOB, Slot.VIDEO, Codec.VP8, 3)
    receive = SFrameContext()
    e2ee = MediaE2ee(receive)
    alice_video = e2ee.new_stream("video")
    alice_video.bind(ALICE)
    for i, w in enumerate(bob_future):
        assert alice_video.decrypt(VP8, JitterFrame(w, i)) == []
    assert alice_video.held == 0
    receive.add_decryption_key(make_kid(BOB, 0, Slot.VIDEO), KEY)
    assert e2ee.keys_changed() == 0
    assert alice_video.dropped() == {"unknown_kid": 3}


def test_the_cli_table_says_when_streams_were_swapped() -> None:
    from types import SimpleNamespace

    from rich.console import Console

    from hotline.cli.join import _table
    from hotline.client.callstats import CallStats

    remote = {"alice": {"participant_id": 3, "video_frames_decrypted": 0,
                        "audio_frames_decrypted": 0, "decrypt_failures": 65,
                        "first_frame_ms": None, "wrong_stream_frames": 65}}
    stats = CallStats("123", "words", ["alice", "carol"], remote, {"video_frames": 1,
                                                                   "audio_frames": 2})
    console = Console(width=200, record=True)
    call = SimpleNamespace(room="summit", path_state="connected", path="via SFU", phase="open")
    console.print(_table(call, stats, 3.0))  # type: ignore[arg-type]
    assert "65 not alice's: streams swapped" in console.export_text()


def test_frames_of_an_unverified_member_are_counted_apart_not_held_nor_failed() -> None:
    send = SFrameContext()
    wires = _wires(send, BOB, Slot.VIDEO, Codec.VP8, 5)
    unverified = {BOB}
    e2ee = MediaE2ee(SFrameContext(), withheld=lambda pid: pid in unverified)
    bob_video = e2ee.new_stream("video")
    bob_video.bind(BOB)
    # no key for Bob on purpose (this device has not verified him): nothing to wait for
    assert [bob_video.decrypt(VP8, JitterFrame(w, i)) for i, w in enumerate(wires)] == [[]] * 5
    assert bob_video.dropped() == {"unverified": 5} and bob_video.held == 0
    # verified now, but his key is still on its way: held as for any member
    unverified.clear()
    assert bob_video.decrypt(VP8, JitterFrame(wires[0], 9)) == []
    assert bob_video.held == 1 and bob_video.dropped() == {"unverified": 5}
