"""The call's phase as a client shows it (hotline.client.phase) and how ``hotline join``
prints a change (whether a reopening is believed is the key schedule's: tests/unit/crypto,
tests/integration/test_phases_malicious.py)."""

from __future__ import annotations

from types import SimpleNamespace

from hotline.cli.join import phase_line
from hotline.client.phase import PhaseView


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
