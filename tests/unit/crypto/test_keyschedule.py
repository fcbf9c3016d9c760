"""The group key schedule, driven through an in-memory room (no sockets)."""

from __future__ import annotations

import pytest

from hotline.crypto import keyschedule as sched
from hotline.crypto.callkey import CallKeyAnnouncement, CallKeyPair, CallPublicKey, Kem
from hotline.crypto.identity import Identity
from hotline.crypto.keymessage import KeyMessage
from hotline.crypto.kid import Slot, make_kid
from hotline.crypto.localroom import LocalParticipant, LocalRoom
from hotline.crypto.sframe import SFrameContext, SFrameSender
from hotline.errors import KeyMessageError, ProtocolError, Reason, SFrameError, UsageError

FRAME = b"\x78" + b"audio frame payload"
GRACE = 0.5


def room() -> LocalRoom:
    return LocalRoom("room-5", grace=GRACE, rekey_interval=60.0)


def held_keys(p: LocalParticipant) -> SFrameContext:
    """A context with every key ``p`` was ever given or made, never retired: the most a
    leaver could keep."""
    ctx = SFrameContext()
    for action in p.log:
        if isinstance(action, sched.InstallDecryptionKey | sched.InstallEncryptionKey):
            for kid in action.kids:
                ctx.add_decryption_key(kid, action.base_key)
    return ctx


def decrypts(ctx: SFrameContext, wire: bytes) -> bool:
    try:
        ctx.decrypt(wire[:1], wire[1:])
    except SFrameError:
        return False
    return True


def assert_all_talk(r: LocalRoom) -> None:
    for sender in r.participants.values():
        wire = sender.send(FRAME)
        for receiver in r.participants.values():
            if receiver is not sender:
                assert receiver.receive(wire) == FRAME


def test_room_of_five_joins_and_leaves() -> None:
    r = room()
    codes_seen: list[str] = []
    for name in "abcde":
        before = {p.participant_id: p.send(FRAME) for p in r.participants.values()}
        newcomer = r.join(name)
        # After a join, the newcomer can decrypt nothing sent before it joined.
        for wire in before.values():
            assert not decrypts(held_keys(newcomer), wire)
        assert_all_talk(r)
        assert len(r.codes()) == 1  # every member shows the same code
        codes_seen.append(r.codes().pop())

    for leaver_id in (2, 4):
        leaver = r.leave(leaver_id)
        r.advance(GRACE + 0.01)
        assert_all_talk(r)
        # After a leave, no key the leaver held decrypts anything sent later.
        leaver_keys = held_keys(leaver)
        for p in r.participants.values():
            for slot in Slot:
                wire = p.senders[slot].encrypt(b"\x78", b"sent after the leave")
                assert not decrypts(leaver_keys, wire)
        assert len(r.codes()) == 1
        codes_seen.append(r.codes().pop())

    assert len(set(codes_seen)) == len(codes_seen)  # the code changed at every change


def test_leaver_keys_fail_immediately_after_the_leave() -> None:
    r = room()
    a, b, c = r.join("a"), r.join("b"), r.join("c")
    leaver = r.leave(c.participant_id)
    assert not decrypts(held_keys(leaver), a.send(FRAME))
    assert not decrypts(held_keys(leaver), b.send(FRAME))


def test_previous_key_is_kept_for_the_grace_period_only() -> None:
    r = room()
    a, b = r.join("a"), r.join("b")
    old = a.send(FRAME)
    older = a.send(FRAME)
    r.change_phase("closed")  # a rekeys; b still holds a's old key for GRACE
    assert b.receive(old) == FRAME
    r.advance(GRACE + 0.01)
    with pytest.raises(SFrameError) as err:
        b.receive(older)
    assert err.value.reason is Reason.UNKNOWN_KID
    assert b.receive(a.send(FRAME)) == FRAME


def test_periodic_rekey_keeps_the_code() -> None:
    r = room()
    a, b = r.join("a"), r.join("b")
    code, gens = a.code, (a.schedule.generation, b.schedule.generation)
    r.advance(60.0)
    assert (a.schedule.generation, b.schedule.generation) == (gens[0] + 1, gens[1] + 1)
    assert a.code == code == b.code
    assert b.receive(a.send(FRAME)) == FRAME


def test_phase_change_rekeys_and_changes_the_code() -> None:
    r = room()
    a, b = r.join("a"), r.join("b")
    code = a.code
    r.change_phase("closed")
    assert a.code != code and a.code == b.code
    assert_all_talk(r)


def test_hybrid_post_quantum_room() -> None:
    r = LocalRoom("pq", allowed_kems=frozenset({Kem.MLKEM768_X25519}))
    for name in "abc":
        r.join(name, Kem.MLKEM768_X25519)
    assert_all_talk(r)
    assert len(r.codes()) == 1


def test_member_with_a_kem_outside_the_policy_is_rejected() -> None:
    r = LocalRoom("pq", allowed_kems=frozenset({Kem.MLKEM768_X25519}))
    a = r.join("a", Kem.MLKEM768_X25519)
    r.config = sched.KeyScheduleConfig("pq")  # a modified client that allows any KEM
    weak = r.join("weak", Kem.X25519)
    assert (a.participant_id, Reason.UNKNOWN_SENDER) in r.rejected
    assert sched.MemberRejected(weak.participant_id, Reason.POLICY) in a.log
    assert weak.participant_id not in a.schedule.members
    # no key of a's was sealed to the rejected member (only its code commitment and
    # reveal went there, type 0x03/0x04: the rejected member's code covers a)
    assert not any(isinstance(x, sched.SendKeyMessage) and x.recipient == weak.participant_id
                   and x.data[0] == 0x02 for x in a.log)


# -- key messages that must be refused ----------------------------------------------------


def three() -> tuple[LocalRoom, LocalParticipant, LocalParticipant, LocalParticipant]:
    r = room()
    return r, r.join("a"), r.join("b"), r.join("c")


def last_message(p: LocalParticipant, to: int) -> bytes:
    """The last key message (type 0x02; not a code commitment or reveal) ``p`` sent ``to``."""
    return [x for x in p.log if isinstance(x, sched.SendKeyMessage) and x.recipient == to
            and x.data[0] == 0x02][-1].data


def refused(p: LocalParticipant, data: bytes, now: float = 0.0) -> Reason:
    state = (p.schedule.epoch, p.schedule.generation, p.schedule.code)
    with pytest.raises(KeyMessageError) as err:
        p.schedule.handle(sched.KeyMessageReceived(now, data))
    assert (p.schedule.epoch, p.schedule.generation, p.schedule.code) == state
    return err.value.reason


def test_key_message_addressed_to_someone_else_is_rejected() -> None:
    _, a, b, c = three()
    assert refused(c, last_message(a, b.participant_id)) is Reason.WRONG_RECIPIENT


def test_key_message_signed_by_the_wrong_identity_is_rejected() -> None:
    _, a, _b, c = three()
    mallory = Identity.generate()
    forged = KeyMessage.seal(
        mallory, c.schedule.call_key.public, room_id="room-5", sender=a.participant_id,
        recipient=c.participant_id, epoch=c.schedule.epoch, generation=99,
        cipher_suite=1, base_key=b"\x00" * 32)
    assert refused(c, forged.encode()) is Reason.BAD_SIGNATURE


def test_replayed_key_message_is_rejected() -> None:
    r, a, _b, c = three()
    first = last_message(a, c.participant_id)
    assert refused(c, first) is Reason.STALE  # same epoch, same generation
    r.change_phase("closed")
    assert refused(c, first) is Reason.STALE  # now also from an earlier epoch


def test_key_message_from_a_non_member_or_garbage_is_rejected() -> None:
    r, a, _b, c = three()
    msg = last_message(a, c.participant_id)
    r.leave(a.participant_id)
    assert refused(c, msg) in {Reason.UNKNOWN_SENDER, Reason.STALE}
    assert refused(c, b"\x02\x01junk") is Reason.MALFORMED


def test_key_message_for_a_later_epoch_waits_for_that_epoch() -> None:
    cfg = sched.KeyScheduleConfig(room_id="r")
    ids = [Identity.generate() for _ in range(2)]
    ks = [sched.KeySchedule(i, CallKeyPair.generate(), cfg) for i in ids]
    a = sched.Member(1, ids[0].public_key, ks[0].announcement(1, 1).encode())
    b = sched.Member(2, ids[1].public_key, ks[1].announcement(2, 2).encode())
    ks[0].handle(sched.Joined(0, 1, 1, ()))
    out = ks[1].handle(sched.Joined(0, 2, 2, (a,)))  # b joined at epoch 2 and keys a
    to_a = [x for x in out if isinstance(x, sched.SendKeyMessage)]
    # a has not seen epoch 2 (b's join) yet: the message waits instead of failing.
    assert ks[0].handle(sched.KeyMessageReceived(0, to_a[0].data)) == []
    actions = ks[0].handle(sched.MemberJoined(0, 2, b))
    installed = [x for x in actions if isinstance(x, sched.InstallDecryptionKey)]
    assert [x.sender for x in installed] == [2]


def test_an_epoch_cannot_be_skipped_and_the_waiting_key_message_stays() -> None:
    """Epochs are strictly sequential (issue 12, item 3): a server cannot skip epoch 2,
    so a key message waiting for it is used when epoch 2 comes (before the change an
    epoch could be skipped and the waiting message was dropped)."""
    cfg = sched.KeyScheduleConfig(room_id="r")
    ids = [Identity.generate() for _ in range(2)]
    ks = [sched.KeySchedule(i, CallKeyPair.generate(), cfg) for i in ids]
    a = sched.Member(1, ids[0].public_key, ks[0].announcement(1, 1).encode())
    ks[0].handle(sched.Joined(0, 1, 1, ()))
    out = ks[1].handle(sched.Joined(0, 2, 2, (a,)))
    sent = next(x for x in out if isinstance(x, sched.SendKeyMessage))
    ks[0].handle(sched.KeyMessageReceived(0, sent.data))
    with pytest.raises(ProtocolError):
        ks[0].handle(sched.PhaseChanged(0, 3, "closed"))  # epoch 2 skipped: refused
    assert ks[0].epoch == 1
    b = sched.Member(2, ids[1].public_key, ks[1].announcement(2, 2).encode())
    actions = ks[0].handle(sched.MemberJoined(0, 2, b))
    assert [x.sender for x in actions if isinstance(x, sched.InstallDecryptionKey)] == [2]


def test_announcement_replayed_into_a_later_join_is_rejected() -> None:
    r = room()
    a, b = r.join("a"), r.join("b")
    epoch = a.schedule.epoch + 1
    actions = a.schedule.handle(sched.MemberJoined(0, epoch, sched.Member(99, b.member.identity_key,
                                                              b.member.announcement)))
    assert sched.MemberRejected(99, Reason.BINDING) in actions  # participant id differs
    old = b.schedule.announcement(7, 1).encode()  # genuine, but from epoch 1
    actions = a.schedule.handle(
        sched.MemberJoined(0, epoch + 1, sched.Member(7, b.member.identity_key, old)))
    assert sched.MemberRejected(7, Reason.STALE) in actions


def test_own_kem_must_be_allowed() -> None:
    cfg = sched.KeyScheduleConfig(room_id="r", allowed_kems=frozenset({Kem.MLKEM768_X25519}))
    with pytest.raises(UsageError):
        sched.KeySchedule(Identity.generate(), CallKeyPair.generate(Kem.X25519), cfg)


def test_roster_events_must_move_the_epoch_forward() -> None:
    _, a, _, _ = three()
    epoch = a.schedule.epoch
    with pytest.raises(ProtocolError):
        a.schedule.handle(sched.PhaseChanged(0, epoch, "open"))
    assert a.schedule.epoch == epoch


def test_duplicate_participant_ids_are_refused() -> None:
    _, a, b, _ = three()
    with pytest.raises(ProtocolError):
        a.schedule.handle(sched.MemberJoined(0, a.schedule.epoch + 1, b.member))


def test_events_before_join_are_refused() -> None:
    ks = sched.KeySchedule(Identity.generate(), CallKeyPair.generate(),
                           sched.KeyScheduleConfig("r"))
    with pytest.raises(UsageError):
        ks.handle(sched.PhaseChanged(0, 1, "open"))
    with pytest.raises(UsageError):
        sched.KeyScheduleConfig("r", grace=5, rekey_interval=1)
    with pytest.raises(UsageError):
        sched.KeyScheduleConfig("r", max_pending=0)


def test_actions_never_show_keys_in_repr() -> None:
    _, a, _, _ = three()
    for action in a.log:
        if isinstance(action, sched.InstallEncryptionKey | sched.InstallDecryptionKey):
            assert action.base_key.hex() not in repr(action)
        if isinstance(action, sched.GroupCodeChanged):
            assert action.epoch >= 1


# -- hostile members and servers (from the security review) -------------------------------


def test_member_with_an_unusable_call_key_is_rejected_and_rekeying_goes_on() -> None:
    r = room()
    a, _b = r.join("a"), r.join("b")
    mallory = Identity.generate()
    zero_key = CallPublicKey(Kem.X25519, b"\x00" * 32)  # low-order point: sealing fails
    epoch = a.schedule.epoch + 1
    ann = CallKeyAnnouncement.create(mallory, "room-5", 50, epoch, zero_key).encode()
    actions = a.schedule.handle(
        sched.MemberJoined(0, epoch, sched.Member(50, mallory.public_key, ann)))
    assert sched.MemberRejected(50, Reason.MALFORMED) in actions
    assert any(isinstance(x, sched.InstallEncryptionKey) for x in actions)  # a still rekeyed
    assert a.schedule.epoch == epoch and 50 not in a.schedule.members


def test_leaver_cannot_forge_when_a_new_key_is_withheld() -> None:
    """The server withholds a's new key from b after x leaves. x knows a's old key;
    b must stop accepting it once the rekey deadline has passed."""
    r = LocalRoom("room-5", grace=0.5, rekey_interval=600.0, rekey_deadline=2.0)
    a, b, x = r.join("a"), r.join("b"), r.join("x")
    a_key = [k for k in x.log if isinstance(k, sched.InstallDecryptionKey) and k.sender == 1][-1]
    forge_ctx = SFrameContext()  # x turns a's key, which it holds, into a sending key
    forge_ctx.add_encryption_key(a_key.kids[Slot.AUDIO], a_key.base_key)
    stolen = SFrameSender(forge_ctx, a_key.kids[Slot.AUDIO], first_counter=10_000)
    r.withhold = lambda sender, msg: sender == a.participant_id and msg.recipient == 2
    r.leave(x.participant_id)
    forged_early = stolen.encrypt(b"\x78", b"forged by x")
    assert b.receive(b"\x78" + forged_early) == b"\x78forged by x"  # within the deadline
    r.advance(2.1)
    forged_late = stolen.encrypt(b"\x78", b"forged by x")
    with pytest.raises(SFrameError):
        b.receive(b"\x78" + forged_late)


def test_flood_of_future_key_messages_does_not_block_real_ones() -> None:
    r = room()
    a, b = r.join("a"), r.join("b")
    me, epoch = b.participant_id, b.schedule.epoch
    junk = KeyMessage("room-5", a.participant_id, me, epoch + 1, 99, make_kid(1, 99), 1,
                      b"\x00" * 80, b"\x00" * 64).encode()
    for _ in range(1000):
        b.schedule.handle(sched.KeyMessageReceived(0, junk))
    far = KeyMessage("room-5", a.participant_id, me, epoch + 100, 99, make_kid(1, 99), 1,
                     b"\x00" * 80, b"\x00" * 64).encode()
    assert refused(b, far) is Reason.STALE
    r.change_phase("closed")  # real messages of the next epoch still get through
    assert b.receive(a.send(FRAME)) == FRAME


def test_out_of_range_roster_values_are_refused_without_state_change() -> None:
    _, a, _, _ = three()
    state = (a.schedule.epoch, a.schedule.generation)
    with pytest.raises(ProtocolError):
        a.schedule.handle(sched.PhaseChanged(0, 2**32, "closed"))
    with pytest.raises(ProtocolError):
        a.schedule.handle(sched.MemberJoined(0, a.schedule.epoch + 1,
                                       sched.Member(2**32, b"\x00" * 32, b"")))
    assert (a.schedule.epoch, a.schedule.generation) == state
