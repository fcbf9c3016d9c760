"""The call's phase as a client believes it (hotline.client.phase) and how ``hotline join``
prints a change: a reopening is taken only with a valid proof of a trusted principal of
the view; a close always."""

from __future__ import annotations

from types import SimpleNamespace

from hotline.cli.join import phase_line
from hotline.client.phase import PhaseView
from hotline.crypto.identity import Identity
from hotline.crypto.phaseproof import sign_phase
from hotline.signaling import messages as m

ROOM = "summit"
CHIEF, AIDE = Identity.generate(), Identity.generate()
KEYS = {1: CHIEF.public_key, 2: AIDE.public_key}
ROLES = {1: "principal", 2: "delegate"}


def reopen(by: int, who: Identity, epoch: int = 8, signed_epoch: int = 7) -> m.PhaseChanged:
    proof = sign_phase(who, room_id=ROOM, signer=by, epoch=signed_epoch, phase="open")
    return m.PhaseChanged(epoch=epoch, phase="open", by=by, proof=proof)


def problem(msg: m.PhaseChanged, trusted: bool = True) -> str | None:
    return PhaseView().opening_problem(msg, ROOM, KEYS, ROLES, lambda pid: trusted)


def test_a_principals_valid_proof_reopens() -> None:
    assert problem(reopen(1, CHIEF)) is None


def test_anything_else_does_not() -> None:
    assert "no principal" in (problem(reopen(2, AIDE)) or "")
    assert "not a device this one trusts" in (problem(reopen(1, CHIEF), trusted=False) or "")
    assert "no member" in (problem(reopen(7, CHIEF)) or "")
    assert "does not verify" in (problem(reopen(1, AIDE)) or "")  # signed by someone else
    assert "does not verify" in (problem(reopen(1, CHIEF, signed_epoch=6)) or "")  # replayed
    assert "does not verify" in (problem(m.PhaseChanged(epoch=8, phase="open", by=1)) or "")
    other_room = m.PhaseChanged(epoch=8, phase="open", by=1, proof=sign_phase(
        CHIEF, room_id="other", signer=1, epoch=7, phase="open"))
    assert "does not verify" in (problem(other_room) or "")


def test_changes_are_recorded_and_reported_once() -> None:
    seen: list[str] = []
    alarms: list[str] = []
    view = PhaseView(on_change=seen.append, on_alarm=alarms.append)
    view.joined("open", 5)
    assert view.take("closed", 6, 1.5) and not view.take("closed", 7, 2.0)
    assert (view.phase, view.epoch, view.changes, seen) == ("closed", 6, [(1.5, "closed")],
                                                            ["closed"])
    view.alarm("a reopening without a proof")
    assert view.alarms == alarms == ["a reopening without a proof"]


def test_hotline_join_says_who_is_shown_out() -> None:
    press = SimpleNamespace(signaling=SimpleNamespace(role="press"))
    chief = SimpleNamespace(signaling=SimpleNamespace(role="principal"))
    assert "You are a press seat: you are shown out" in phase_line(press, "closed")  # type: ignore[arg-type]
    assert "The press is shown out" in phase_line(chief, "closed")  # type: ignore[arg-type]
    assert "OPEN" in phase_line(chief, "open")  # type: ignore[arg-type]
