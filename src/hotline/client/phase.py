"""The call's phase as this client believes it (REQUIREMENTS L3; docs/SIGNALING.md
"Phases"): open, or closed (the press is shown out: no key, no media).

The server announces each change (``phase_changed``); it is not believed blindly: the
client shows the phase its key schedule holds (:mod:`hotline.crypto.keyschedule`). A
change to closed is always taken (it only takes keys away); a change to open only with a
valid phase proof (:mod:`hotline.crypto.phaseproof`) of a trusted member of the view whose
signed role is principal. Otherwise the call stays closed here and an alarm is raised (a
server that tries to let the press back in on its own).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hotline.phases import Phase


@dataclass
class PhaseView:
    phase: Phase = "open"
    #: The epoch the current phase began in.
    epoch: int = 0
    #: Every phase this client took, with the loop time it took it.
    changes: list[tuple[float, Phase]] = field(default_factory=list)
    #: Changes to open that were refused (no or a bad proof): what the server tried.
    alarms: list[str] = field(default_factory=list)
    #: Called with the new phase after each change this client took.
    on_change: Callable[[Phase], None] | None = None
    #: Called with the text of each alarm.
    on_alarm: Callable[[str], None] | None = None

    def joined(self, phase: Phase, epoch: int) -> None:
        self.phase, self.epoch = phase, epoch

    def alarm(self, text: str) -> None:
        self.alarms.append(text)
        if self.on_alarm is not None:
            self.on_alarm(text)

    def take(self, phase: Phase, epoch: int, now: float) -> bool:
        """Take ``phase`` from ``epoch`` on; True if it changed."""
        if phase == self.phase:
            return False
        self.phase, self.epoch = phase, epoch
        self.changes.append((now, phase))
        if self.on_change is not None:
            self.on_change(phase)
        return True
