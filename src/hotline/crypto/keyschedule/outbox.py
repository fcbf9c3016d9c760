"""Outgoing key messages: my new sending key, sealed to each peer this device verified."""

from __future__ import annotations

from collections.abc import Mapping

from hotline.crypto.identity import Identity
from hotline.crypto.keymessage import KeyMessage
from hotline.crypto.keyschedule.events import KeyScheduleConfig, MemberRejected, SendKeyMessage
from hotline.crypto.keyschedule.peers import Peer
from hotline.errors import CryptoError


def seal_to_peers(identity: Identity, config: KeyScheduleConfig, peers: Mapping[int, Peer], *,
                  me: int, epoch: int, generation: int, base_key: bytes
                  ) -> tuple[list[SendKeyMessage], list[MemberRejected]]:
    """One key message per trusted peer, in id order; a peer whose call key cannot be
    sealed to is rejected instead (it must not stop the rekey of everyone else)."""
    messages: list[SendKeyMessage] = []
    rejected: list[MemberRejected] = []
    for pid, peer in sorted(peers.items()):
        if not peer.trusted:
            continue  # not verified by this device: nothing is sealed to it
        try:
            msg = KeyMessage.seal(
                identity, peer.announcement.call_key, room_id=config.room_id, sender=me,
                recipient=pid, epoch=epoch, generation=generation,
                cipher_suite=config.cipher_suite, base_key=base_key)
        except CryptoError as exc:
            rejected.append(MemberRejected(pid, exc.reason))
            continue
        messages.append(SendKeyMessage(pid, msg.encode()))
    return messages, rejected
