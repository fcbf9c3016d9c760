"""Who may change a call's phase (``set_phase``, REQUIREMENTS L3; docs/SIGNALING.md
"Phases"). The change itself, its epoch and what the SFU stops forwarding are the room's
(:meth:`hotline.server.rooms.LiveRoom.set_phase`).

May ask: a member of the call whose role is principal or operator, or an authenticated
connection outside the call whose party has that role in the room (``hotline phase``).
"""

from __future__ import annotations

import logging
from typing import Protocol

from hotline.errors import Forbidden, NotInRoom
from hotline.logtext import safe
from hotline.server.rooms import LiveRoom, Member
from hotline.server.state import ServerState
from hotline.signaling import messages as m

log = logging.getLogger("hotline.phases")
#: Roles that may close and reopen a call.
MAY_SET_PHASE = frozenset({"principal", "operator"})


class Requester(Member, Protocol):
    """The connection that asks (a :class:`hotline.server.session.Session`)."""

    @property
    def room(self) -> LiveRoom | None: ...


async def set_phase(session: Requester, state: ServerState, msg: m.SetPhase) -> None:
    room = session.room
    if room is not None and room.name == msg.room and room.participant_id(session) is not None:
        by = room.participant_id(session)
        role: str | None = room.role_of(session)
    else:  # outside the call: the party's role in the room decides
        stored = state.store.get_room(msg.room)
        if stored is None or session.party not in stored.members:
            raise Forbidden(f"not a member of room {msg.room!r}")
        by, role = 0, stored.role_of(session.party)
        room = state.rooms.find(msg.room)
        if room is None or not room.participants:
            raise NotInRoom(f"no call in room {msg.room!r} now")
    if role not in MAY_SET_PHASE:
        raise Forbidden(f"the role {role} cannot close or reopen a call "
                        "(principals and operators can)")
    assert by is not None
    log.info("conn=%s room=%s set_phase %s", session.conn_id, safe(msg.room), msg.phase)
    await room.set_phase(by, msg.phase, msg.proof, session.party)
