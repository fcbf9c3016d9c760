"""The call's phase in the key schedule: whom a key may be sealed to in each phase, and
whether a reopen is proven (the rules: :mod:`hotline.crypto.keyschedule`)."""

from __future__ import annotations

from collections.abc import Mapping

from hotline.crypto.keyschedule.peers import U32, Peer
from hotline.crypto.phaseproof import verify_phase
from hotline.errors import ProtocolError
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


def reopen_proven(*, room_id: str, me: int, my_key: bytes, my_role: str,
                  peers: Mapping[int, Peer], by: int, proof: bytes, epoch: int) -> bool:
    """Whether ``proof`` is a valid phase proof asking to open after ``epoch`` (mine
    before the change), signed by ``by``: me or a trusted member of my view, whose signed
    role may reopen (REOPENERS)."""
    if not 0 < by <= U32:
        return False
    if by == me:
        key, role = my_key, my_role
    else:
        peer = peers.get(by)
        if peer is None or not peer.trusted:
            return False
        key, role = peer.identity_key, peer.role
    return role in REOPENERS and verify_phase(key, proof, room_id=room_id, signer=by,
                                              epoch=epoch, phase="open")
