"""The call's phase as this client believes it (REQUIREMENTS L3; docs/SIGNALING.md
"Phases"): open, or closed (the press is shown out: no key, no media).

The server announces each change (``phase_changed``); it is not believed blindly. A
change to closed is always taken (it only takes keys away). A change to open is taken
only with a valid phase proof (:mod:`hotline.crypto.phaseproof`) by a member of this
client's view whose role is principal and whose device this client trusts; otherwise the
call stays closed here and an alarm is raised (a server that tries to let the press back
in on its own). The key schedule applies the same rule to the keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hotline.crypto.phaseproof import verify_phase
from hotline.phases import Phase
from hotline.signaling import messages as m


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

    def opening_problem(self, msg: m.PhaseChanged, room: str, identity_keys: Mapping[int, bytes],
                        roles: Mapping[int, str], trusted: Callable[[int], bool]) -> str | None:
        """Why the reopening ``msg`` is not believed; None when its proof holds."""
        if msg.by not in identity_keys:
            return "it names no member of the call as the one who reopened it"
        if roles.get(msg.by) != "principal":
            return f"participant {msg.by} who reopened it is no principal"
        if not trusted(msg.by):
            return f"participant {msg.by} who reopened it is not a device this one trusts"
        if not verify_phase(identity_keys[msg.by], msg.proof, room_id=room, signer=msg.by,
                            epoch=msg.epoch - 1, phase="open"):
            return f"the proof of participant {msg.by} is missing or does not verify"
        return None

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
