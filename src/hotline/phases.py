"""Phases of a call (REQUIREMENTS L3): an open part the press sees, a closed part it does
not. The one list, with the codes signed on the wire (group code digest, phase proofs).

PURE: no I/O, no imports beyond typing.
"""

from __future__ import annotations

from typing import Literal

Phase = Literal["open", "closed"]
PHASES: tuple[str, ...] = ("open", "closed")
#: The u8 of a phase where it is signed.
PHASE_CODES: dict[str, int] = {"open": 0, "closed": 1}
#: Roles shown out in the closed part: no key and no media for them.
CLOSED_OUT: frozenset[str] = frozenset({"press"})
