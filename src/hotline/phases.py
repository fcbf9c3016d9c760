"""Phases of a call (REQUIREMENTS L3): the open part, which the press sees, and the closed
part, from which the roles of :data:`CLOSED_OUT` are shown out (no key is sealed to them).

PURE: no I/O. The wire schema types its ``phase`` fields with :data:`Phase`; the key
schedule (:mod:`hotline.crypto.keyschedule`) and the group code commit to
:data:`PHASE_CODES`; web/src/crypto/codes.gen.ts has the same tables (generated).
"""

from __future__ import annotations

from typing import Literal

Phase = Literal["open", "closed"]
PHASES: tuple[str, ...] = ("open", "closed")
DEFAULT_PHASE: Phase = "open"
#: Each phase's code on the wire (u8): in the group code and the phase proof.
PHASE_CODES: dict[str, int] = {"open": 0, "closed": 1}
#: Roles shown out in the closed part: nothing is sealed to them, nothing forwarded.
CLOSED_OUT: frozenset[str] = frozenset({"press"})
#: Roles whose signed phase proof may reopen a closed call.
REOPENERS: frozenset[str] = frozenset({"principal"})
