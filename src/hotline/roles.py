"""Roles of the parties in a room (REQUIREMENTS L1): the one list, shown on every tile
and roster line, stored per member by the server and sent in ``welcome`` and ``joined``.

PURE: no I/O. The wire schema (:mod:`hotline.signaling.messages`) types its ``role``
fields with :data:`Role`; the store and the CLI check names with :func:`check_role`.
"""

from __future__ import annotations

from typing import Literal, cast

from hotline.errors import UsageError

Role = Literal["principal", "delegate", "interpreter", "aide", "note_taker", "operator", "press",
               "recorder"]
ROLES: tuple[str, ...] = ("principal", "delegate", "interpreter", "aide", "note_taker",
                          "operator", "press", "recorder")
DEFAULT_ROLE: Role = "delegate"
#: Roles that listen only: the server refuses their ``publish``.
LISTEN_ONLY: frozenset[str] = frozenset({"aide", "press", "recorder"})
#: Each role's code on the wire (u8): signed in the call-key announcement
#: (:mod:`hotline.crypto.callkey`), so a server cannot relabel a member.
ROLE_CODES: dict[str, int] = {"principal": 1, "delegate": 2, "interpreter": 3, "aide": 4,
                              "note_taker": 5, "operator": 6, "press": 7, "recorder": 8}

#: Roles whose seat may record the call (REQUIREMENTS L4), and whose consent it needs.
RECORDERS: frozenset[str] = frozenset({"recorder", "press"})
CONSENTERS: frozenset[str] = frozenset({"principal"})

def check_role(role: str) -> str:
    """``role`` if it is one of :data:`ROLES`; a UsageError naming them otherwise."""
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
    return role


def as_role(role: str | None) -> Role | None:
    """``role`` typed as a :data:`Role`, or None when it is not one (an unknown name)."""
    return cast(Role, role) if role in ROLES else None
