"""The recorder's rule (hotline.client.consentgate.decide) and what a client keeps of the
call's recordings (RecordingView), without a network."""

from __future__ import annotations

from hotline.client.consentgate import Decision, RecordingView, answer, decide, indicator
from hotline.crypto.identity import Identity
from hotline.signaling import messages as m

ROOM, REC, EPOCH = "summit", 9, 1_765_000_000
REC_KEY = Identity.generate().public_key
ALICE, BORIS = Identity.generate(), Identity.generate()
KEYS = {1: ALICE.public_key, 2: BORIS.public_key}


def _consent(ident: Identity, me: int, granted: bool, *, epoch: int = EPOCH,
             phase: m.Phase = "open", recorder_key: bytes = REC_KEY) -> m.RecordConsentFrom:
    req = m.RecordRequested(participant_id=REC, phase=phase, phase_epoch=epoch)
    sent = answer(ident, ROOM, me, req, recorder_key, granted)
    return m.RecordConsentFrom.relayed(me, sent)


def _decide(consents: dict[int, m.RecordConsentFrom], trusted: frozenset[int] = frozenset({1, 2}),
            principals: dict[int, bytes] = KEYS) -> Decision:
    return decide(room=ROOM, recorder=REC, recorder_key=REC_KEY, phase="open",
                  phase_epoch=EPOCH, principals=principals, trusted=lambda p: p in trusted,
                  consents=consents)


def test_every_principal_must_grant() -> None:
    assert _decide({}).waiting == (1, 2) and not _decide({}).record
    one = {1: _consent(ALICE, 1, True)}
    assert _decide(one).waiting == (2,) and not _decide(one).record
    both = {**one, 2: _consent(BORIS, 2, True)}
    assert _decide(both).record


def test_one_refusal_blocks() -> None:
    d = _decide({1: _consent(ALICE, 1, True), 2: _consent(BORIS, 2, False)})
    assert not d.record and d.refused == (2,)


def test_no_principal_means_no_recording() -> None:
    assert not _decide({}, principals={}).record


def test_an_untrusted_principal_blocks() -> None:
    d = _decide({1: _consent(ALICE, 1, True), 2: _consent(BORIS, 2, True)}, trusted=frozenset({1}))
    assert not d.record and d.untrusted == (2,)


def test_forged_or_moved_consents_count_as_no_answer() -> None:
    good = _consent(ALICE, 1, True)
    forged = [
        good.model_copy(update={"signature": b"\x01" * 64}),  # made up
        _consent(ALICE, 1, True, epoch=EPOCH - 1),  # another phase epoch ...
        _consent(BORIS, 1, True),  # signed by boris, claimed as alice's
        _consent(ALICE, 1, True, recorder_key=Identity.generate().public_key),  # other recorder
        _consent(ALICE, 1, True, phase="closed"),  # another phase
        good.model_copy(update={"recorder": REC + 1}),  # for another recorder id
        _consent(ALICE, 1, False).model_copy(update={"granted": True}),  # refusal as a grant
    ]
    for fake in forged:
        d = _decide({1: fake, 2: _consent(BORIS, 2, True)})
        assert not d.record and d.waiting == (1,), fake
    # ... and a relabelled epoch of a genuine consent does not verify either
    moved = _consent(ALICE, 1, True, epoch=EPOCH - 1).model_copy(update={"phase_epoch": EPOCH})
    assert _decide({1: moved, 2: _consent(BORIS, 2, True)}).waiting == (1,)


def test_the_view_keeps_who_records_and_the_last_answers() -> None:
    view = RecordingView()
    changes: list[set[int]] = []
    view.on_change = lambda: changes.append(set(view.recording))
    info = m.MemberInfo(participant_id=REC, party="rec", identity_key=REC_KEY,
                        announcement=b"a", role="recorder", recording=True)
    view.joined([info])
    assert view.recording == {REC}
    view.handle(m.MemberRecording(participant_id=REC, active=False, phase="open"))
    view.handle(m.MemberRecording(participant_id=REC, active=False, phase="open"))  # no change
    assert changes == [{REC}, set()]
    view.handle(_consent(ALICE, 1, False))
    view.handle(_consent(ALICE, 1, True))
    assert view.consents[REC][1].granted
    view.handle(m.MemberRecording(participant_id=REC, active=True, phase="open"))
    assert indicator({REC: "rec"}, view.recording) == "● recorded by rec"
    view.member_left(REC)
    assert view.recording == set() and REC not in view.consents
    assert indicator({}, set()) == ""
