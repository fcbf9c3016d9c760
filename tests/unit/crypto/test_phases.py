"""Phases and roles in the key schedule (REQUIREMENTS L3), end to end over an in-memory
room: after a close the press can decrypt nothing anyone sends, with every key it was
ever given; only a principal's proof reopens; a relabelled role is rejected; the code
commits to the phase. The byte-exact rules are protocol/conformance/keyschedule/phases.json
(both languages run them); the proof's bytes are tests/vectors/hotline-v1.json."""

from __future__ import annotations

import json

import pytest

from hotline.crypto import keyschedule as sched
from hotline.crypto.localroom import LocalParticipant, LocalRoom
from hotline.crypto.phaseproof import sign_phase, verify_phase
from hotline.errors import ProtocolError, Reason
from tests.support.keyschedule_conformance import CONFORMANCE
from tests.unit.crypto.test_keyschedule import FRAME, decrypts, held_keys


def summit() -> tuple[LocalRoom, LocalParticipant, LocalParticipant, LocalParticipant]:
    r = LocalRoom("summit", grace=0.5, rekey_interval=60.0)
    principal = r.join("principal", role="principal")
    delegate = r.join("delegate")
    press = r.join("press", role="press")
    return r, principal, delegate, press


def speakers(r: LocalRoom, press: LocalParticipant) -> list[LocalParticipant]:
    return [p for p in r.participants.values() if p is not press]


def press_reads(r: LocalRoom, press: LocalParticipant) -> int:
    """How many of the others' frames sent now the press decrypts, with every key it was
    ever given (none retired)."""
    return sum(decrypts(held_keys(press), p.send(FRAME)) for p in speakers(r, press))


def proof(r: LocalRoom, p: LocalParticipant, phase: str = "open") -> bytes:
    made = p.schedule.phase_proof(phase)
    assert made == sign_phase(p.schedule.identity, room_id="summit", signer=p.participant_id,
                              epoch=r.epoch, phase=phase)
    return made


def test_a_close_rekeys_everyone_without_the_press() -> None:
    r, principal, delegate, press = summit()
    assert press_reads(r, press) == 2  # the open part: the press hears everyone
    r.change_phase("closed")  # by the operator outside the call: no proof needed
    assert {p.schedule.phase for p in r.participants.values()} == {"closed"}
    assert press_reads(r, press) == 0
    assert delegate.receive(principal.send(FRAME)) == FRAME  # the others still talk
    assert principal.receive(delegate.send(FRAME)) == FRAME
    r.advance(120.0)  # periodic rekeys skip the press too
    assert press_reads(r, press) == 0
    assert len(r.codes()) == 1  # the press still computes the same code: it is in the roster


def test_a_press_joining_in_the_closed_part_gets_no_key() -> None:
    r = LocalRoom("summit", grace=0.5)
    principal = r.join("principal", role="principal")
    r.join("delegate")
    r.change_phase("closed")
    press = r.join("press", role="press")
    assert press.schedule.phase == "closed"
    assert press_reads(r, press) == 0
    late = r.join("late delegate")  # a delegate joining now does get keys
    assert late.receive(principal.send(FRAME)) == FRAME
    assert press_reads(r, press) == 0


def test_a_principals_proof_reopens_and_the_press_gets_fresh_keys() -> None:
    r, principal, _, press = summit()
    r.change_phase("closed")
    r.change_phase("open", principal.participant_id, proof(r, principal))
    assert {p.schedule.phase for p in r.participants.values()} == {"open"}
    assert press_reads(r, press) == 2
    assert len(r.codes()) == 1


@pytest.mark.parametrize("how", ["no proof", "forged", "replayed", "by the delegate",
                                 "by the press", "by the operator"])
def test_an_unproven_reopen_is_refused_everywhere(how: str) -> None:
    r, principal, delegate, press = summit()
    r.change_phase("closed")
    earlier = proof(r, principal)  # good for this epoch only
    r.change_phase("closed")
    by, signed = {
        "no proof": (principal.participant_id, b""),
        "forged": (principal.participant_id,
                   sign_phase(delegate.schedule.identity, room_id="summit",
                              signer=principal.participant_id, epoch=r.epoch, phase="open")),
        "replayed": (principal.participant_id, earlier),
        "by the delegate": (delegate.participant_id, proof(r, delegate)),
        "by the press": (press.participant_id, proof(r, press)),
        "by the operator": (0, b""),
    }[how]
    epoch = r.epoch + 1
    r.change_phase("open", by, signed)
    for p in r.participants.values():
        assert p.schedule.phase == "closed" and p.schedule.epoch == epoch
        refused = [a for a in p.log if isinstance(a, sched.PhaseRefused)]
        assert refused == [sched.PhaseRefused(epoch, "open", by, Reason.PHASE_UNPROVEN)]
    assert press_reads(r, press) == 0
    assert len(r.codes()) == 1  # everyone agrees: still closed


def test_a_press_relabelled_as_a_delegate_is_rejected() -> None:
    r = LocalRoom("summit")
    principal = r.join("principal", role="principal")
    press = r.join("press", role="press", roster_role="delegate")  # a lying server
    rejected = [a for a in principal.log if isinstance(a, sched.MemberRejected)]
    assert rejected == [sched.MemberRejected(press.participant_id, Reason.ROLE_MISMATCH)]
    assert press.participant_id not in principal.schedule.members
    assert not decrypts(held_keys(press), principal.send(FRAME))


def test_members_told_different_phases_see_different_codes() -> None:
    """The phase is in the code: a server that leaves one member in the open part while
    the others close shows up as a code mismatch."""
    doc = json.loads((CONFORMANCE / "phases.json").read_text())
    codes = {t["name"]: t["steps"][-1]["expect"]["code"] for t in doc["traces"]
             if t["name"].startswith("the code commits to the phase")}
    assert len(codes) == 2 and None not in codes.values()
    assert len(set(codes.values())) == 2


def test_an_unknown_phase_is_refused() -> None:
    r, principal, _, _ = summit()
    with pytest.raises(ProtocolError):
        principal.schedule.handle(sched.PhaseChanged(0, r.epoch + 1, "recess"))
    assert principal.schedule.phase == "open" and principal.schedule.epoch == r.epoch


def test_the_phase_proof_binds_room_signer_epoch_and_phase() -> None:
    r, principal, delegate, _ = summit()
    key = principal.schedule.identity.public_key
    args = {"room_id": "summit", "signer": principal.participant_id, "epoch": r.epoch,
            "phase": "open"}
    good = sign_phase(principal.schedule.identity, **args)  # type: ignore[arg-type]
    assert len(good) == 64 and verify_phase(key, good, **args)  # type: ignore[arg-type]
    for changed in ({"room_id": "other"}, {"signer": delegate.participant_id},
                    {"epoch": r.epoch + 1}, {"phase": "closed"}, {"phase": "recess"},
                    {"epoch": 2**32}, {"signer": -1}):
        assert not verify_phase(key, good, **(args | changed))  # type: ignore[arg-type]
    assert not verify_phase(delegate.schedule.identity.public_key, good, **args)  # type: ignore[arg-type]
    assert not verify_phase(key, good[:63], **args)  # type: ignore[arg-type]
    assert not verify_phase(key, b"", **args)  # type: ignore[arg-type]
