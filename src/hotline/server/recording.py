"""Recording (REQUIREMENTS L4) as the server sees it: it relays, it decides nothing.

A recorder (role ``recorder``, or a press seat) asks with ``record_request``; every member
gets ``record_requested`` with the phase and the epoch it began in. Principals answer with
``record_consent``, a signature the server relays to everyone as ``record_consent_from``:
it cannot make or change one (the recorder checks each with the principal's identity key,
:mod:`hotline.crypto.consent`). The recorder says when it writes (``recording``): every
member gets ``member_recording`` and late joiners see ``MemberInfo.recording``. The server
refuses requests and recording states from other roles, and consents from non-principals;
a lying server can only withhold or drop these messages (the recorder then does not
record), never make a recorder record without the principals' signatures.
"""

from __future__ import annotations

import logging

from hotline.errors import Forbidden, Refused
from hotline.logtext import safe
from hotline.roles import CONSENTERS, RECORDERS
from hotline.server.rooms import LiveRoom, Member
from hotline.signaling import messages as m

log = logging.getLogger("hotline.recording")


def _recorder_seat(room: LiveRoom, session: Member, what: str) -> int:
    seat = room.seat_of(session)
    if seat.role not in RECORDERS:
        raise Forbidden(f"the role {seat.role} cannot {what}; only "
                        f"{' and '.join(sorted(RECORDERS))} seats record")
    return seat.participant_id


def record_request(room: LiveRoom, session: Member, msg: m.RecordRequest) -> None:
    """Relay a recorder's request for the current phase to every member."""
    pid = _recorder_seat(room, session, "ask to record")
    if msg.phase != room.phase:
        raise Refused(f"the call is {room.phase} now, not {msg.phase}")
    log.info("record request room=%s recorder=%d phase=%s", safe(room.name), pid, msg.phase)
    room.broadcast(m.RecordRequested(participant_id=pid, phase=msg.phase,
                                     phase_epoch=room.phase_epoch))


def record_consent(room: LiveRoom, session: Member, msg: m.RecordConsent) -> None:
    """Relay a principal's signed answer, unopened, to every member."""
    seat = room.seat_of(session)
    if seat.role not in CONSENTERS:
        raise Forbidden(f"the role {seat.role} does not consent to recordings")
    log.info("record consent room=%s from=%d recorder=%d granted=%s", safe(room.name),
             seat.participant_id, msg.recorder, msg.granted)
    room.broadcast(m.RecordConsentFrom.relayed(seat.participant_id, msg))


def set_recording(room: LiveRoom, session: Member, msg: m.SetRecording) -> None:
    """The recorder started or stopped writing: kept for late joiners, told to all."""
    pid = _recorder_seat(room, session, "record")
    seat = room.seat_of(session)
    if seat.recording == msg.active:
        return
    seat.recording = msg.active
    log.info("recording room=%s recorder=%d active=%s", safe(room.name), pid, msg.active)
    room.broadcast(m.MemberRecording(participant_id=pid, active=msg.active, phase=room.phase))
