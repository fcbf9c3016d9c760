"""Apply key-schedule actions to the media side: one SFrame context per participant.

:class:`MediaKeys` is what a client's media layer holds: the SFrame context with the
keys currently installed, the sender (counter) of each of its own streams, and the
latest group code. Feed it the actions of a :class:`KeySchedule`; it returns the key
messages that must go out.
"""

from __future__ import annotations

from collections.abc import Callable

from hotline.crypto.groupcode import GroupCode
from hotline.crypto.keyschedule import (
    Action,
    GroupCodeChanged,
    GroupCodePending,
    InstallDecryptionKey,
    InstallEncryptionKey,
    MemberRejected,
    RetireKeys,
    SendKeyMessage,
)
from hotline.crypto.kid import Slot, parse_kid
from hotline.crypto.sframe import DEFAULT_SUITE, SFrameContext, SFrameSender


class MediaKeys:
    """``on_senders`` is called with the new senders as soon as a sending key changes
    (before the old key is removed), so the media layer can switch over at once."""

    def __init__(self, cipher_suite: int = DEFAULT_SUITE, *,
                 on_senders: Callable[[dict[Slot, SFrameSender]], None] | None = None) -> None:
        self.on_senders = on_senders
        self.context = SFrameContext(cipher_suite)
        self.senders: dict[Slot, SFrameSender] = {}
        self.code: GroupCode | None = None
        self.generation = -1
        self.rejected: list[MemberRejected] = []
        self.rotations = 0  # sending keys installed so far

    def apply(self, actions: list[Action]) -> list[SendKeyMessage]:
        """Carry out key actions; return the key messages to send."""
        out: list[SendKeyMessage] = []
        for action in actions:
            match action:
                case SendKeyMessage():
                    out.append(action)
                case InstallEncryptionKey(generation=gen, kids=kids, base_key=key):
                    for kid in kids:
                        self.context.add_encryption_key(kid, key)
                    self.senders = {parse_kid(k).slot: SFrameSender(self.context, k)
                                    for k in kids}
                    if self.on_senders is not None:
                        self.on_senders(dict(self.senders))
                    self.generation = gen
                    self.rotations += 1
                case InstallDecryptionKey(kids=kids, base_key=key):
                    for kid in kids:
                        self.context.add_decryption_key(kid, key)
                case RetireKeys(kids=kids, sending=True):
                    for kid in kids:
                        self.context.remove_encryption_key(kid)
                case RetireKeys(kids=kids):
                    for kid in kids:
                        self.context.remove_decryption_key(kid)
                case GroupCodeChanged(code=code):
                    self.code = code
                case GroupCodePending():
                    self.code = None  # never show the last epoch's code as current
                case MemberRejected():
                    self.rejected.append(action)
        return out
