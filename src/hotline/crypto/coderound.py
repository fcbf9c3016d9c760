"""One epoch's commit-then-reveal exchange for the group code, of one member (sans-I/O).

:class:`CodeRound` holds my nonce for the epoch, the commitments and reveals received
from the peers, and whether I revealed. The rule that makes the code unforgeable: I
reveal my nonce only once I hold a commitment from every peer of my view, and a peer's
commitment cannot be replaced. :class:`hotline.crypto.keyschedule.KeySchedule` starts a
round at every epoch and feeds it the peers' messages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from hotline.crypto.codecommit import MSG_COMMIT, MSG_REVEAL, CodeMessage, commitment
from hotline.crypto.identity import Identity
from hotline.errors import KeyMessageError, Reason


class CodeRound:
    def __init__(self, identity: Identity, room_id: str, me: int, epoch: int,
                 nonce: bytes) -> None:
        self.identity, self.room_id, self.me, self.epoch = identity, room_id, me, epoch
        self.nonce = nonce
        self.commitment = commitment(room_id, me, epoch, nonce)
        self.commits: dict[int, bytes] = {}  # peer -> commitment hash
        self.reveals: dict[int, bytes] = {}  # peer -> nonce (matches its commitment)
        self.bad: set[int] = set()  # peers whose reveal did not match their commitment
        self.revealed = False

    def _message(self, kind: int, to: int, value: bytes) -> bytes:
        return CodeMessage.sign(self.identity, kind, room_id=self.room_id, sender=self.me,
                                recipient=to, epoch=self.epoch, value=value).encode()

    def commitments(self, peers: Iterable[int]) -> list[tuple[int, bytes]]:
        """My signed commitment for each peer."""
        return [(pid, self._message(MSG_COMMIT, pid, self.commitment)) for pid in sorted(peers)]

    def receive(self, msg: CodeMessage, sender_identity: bytes) -> None:
        """Take a peer's commitment or reveal of this epoch (room, recipient and epoch
        already checked). Refused (KeyMessageError, state unchanged): a bad signature,
        a second commitment, a reveal before the commitment or a second reveal. A reveal
        that does not open the commitment is refused too, and the code of this epoch
        stays pending (the peer is marked bad)."""
        msg.verify(sender_identity)
        pid = msg.sender
        if msg.kind == MSG_COMMIT:
            if pid in self.commits:
                raise KeyMessageError(Reason.STALE, "a second code commitment")
            self.commits[pid] = msg.value
            return
        if msg.kind != MSG_REVEAL or pid not in self.commits:
            raise KeyMessageError(Reason.BINDING, "code reveal before its commitment")
        if pid in self.reveals or pid in self.bad:
            raise KeyMessageError(Reason.STALE, "a second code reveal")
        if not msg.opens(self.commits[pid]):
            self.bad.add(pid)
            raise KeyMessageError(Reason.BINDING, "code reveal does not match its commitment")
        self.reveals[pid] = msg.value

    def reveals_due(self, peers: Iterable[int], recipients: Iterable[int]
                    ) -> list[tuple[int, bytes]]:
        """My reveal for each of ``recipients``, once (and only once) every one of
        ``peers`` (my view) has committed."""
        if self.revealed or any(pid not in self.commits for pid in peers):
            return []
        self.revealed = True
        return [(pid, self._message(MSG_REVEAL, pid, self.nonce)) for pid in sorted(recipients)]

    def nonces(self, peers: Mapping[int, bytes], my_identity: bytes
               ) -> list[tuple[bytes, bytes]] | None:
        """(identity key, nonce) of me and every peer (``peers``: id -> identity key),
        or None while the code must stay pending."""
        if not self.revealed or any(pid in self.bad for pid in peers):
            return None
        if any(pid not in self.reveals for pid in peers):
            return None
        return [(my_identity, self.nonce)] + [(key, self.reveals[pid])
                                              for pid, key in peers.items()]
