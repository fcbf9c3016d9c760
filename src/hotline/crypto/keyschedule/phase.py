"""The call's phase in the key schedule: whom a key may be sealed to in each phase, and
whether a reopen is proven (the rules: :mod:`hotline.crypto.keyschedule`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hotline.crypto.keyschedule.events import PhaseChanged, PhaseRefused
from hotline.crypto.keyschedule.peers import U32, Peer
from hotline.crypto.phaseproof import verify_phase
from hotline.errors import ProtocolError, Reason
from hotline.phases import CLOSED_OUT, PHASES, REOPENERS


def check_phase(phase: str) -> str:
    """A phase the server names: one of PHASES (ProtocolError otherwise)."""
    if phase not in PHASES:
        raise ProtocolError(f"unknown phase {phase!r}")
    return phase


def keyed(peers: Mapping[int, Peer], phase: str) -> dict[int, Peer]:
    """The peers a key may be sealed to in ``phase``: in the closed part none whose signed
    role is shown out (CLOSED_OUT)."""
    if phase != "closed":
        return dict(peers)
    return {pid: p for pid, p in peers.items() if p.role not in CLOSED_OUT}


@dataclass(frozen=True, slots=True)
class PhaseView:
    """What a schedule knows to judge a reopen: its room, me, my key and signed role, my
    view, my epoch before the change."""

    room_id: str
    me: int
    my_key: bytes
    my_role: str
    peers: Mapping[int, Peer]
    epoch: int


def phase_after(current: str, ev: PhaseChanged, view: PhaseView
                ) -> tuple[str, PhaseRefused | None]:
    """The phase after ``ev`` for a schedule now in ``current``: closing needs no proof;
    opening a closed call needs a principal's proof, else it stays closed and the refusal
    is returned."""
    phase = check_phase(ev.phase)
    if phase == "open" and current == "closed" and not _reopen_proven(view, ev.by, ev.proof):
        return "closed", PhaseRefused(ev.epoch, phase, ev.by, Reason.PHASE_UNPROVEN)
    return phase, None


def _reopen_proven(view: PhaseView, by: int, proof: bytes) -> bool:
    """Whether ``proof`` is a valid phase proof asking to open after my epoch, signed by
    ``by``: me or a trusted member of my view, whose signed role may reopen (REOPENERS)."""
    if not 0 < by <= U32:
        return False
    if by == view.me:
        key, role = view.my_key, view.my_role
    else:
        peer = view.peers.get(by)
        if peer is None or not peer.trusted:
            return False
        key, role = peer.identity_key, peer.role
    return role in REOPENERS and verify_phase(key, proof, room_id=view.room_id, signer=by,
                                              epoch=view.epoch, phase="open")
