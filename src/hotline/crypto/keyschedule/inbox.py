"""Incoming key and code messages before the schedule looks inside: the one check that a
message is for this room and for me, and the bounded wait of messages for a later epoch."""

from __future__ import annotations

from hotline.crypto.codecommit import CodeMessage
from hotline.crypto.keymessage import KeyMessage
from hotline.errors import KeyMessageError, Reason

#: Key messages may come at most this many epochs ahead of ours (and wait for it).
MAX_EPOCHS_AHEAD = 8


def check_addressed(msg: KeyMessage | CodeMessage, room_id: str, me: int) -> None:
    """A key or code message must be for this room and for me."""
    if msg.room_id != room_id:
        raise KeyMessageError(Reason.WRONG_ROOM)
    if msg.recipient != me:
        raise KeyMessageError(Reason.WRONG_RECIPIENT)


class Pending:
    """Messages that came for a later epoch, kept (at most ``limit``, the oldest dropped:
    unsigned junk cannot block a real one) until that epoch arrives."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._items: list[tuple[int, bytes]] = []  # (epoch, data)

    def hold(self, current: int, epoch: int, data: bytes) -> None:
        if epoch > current + MAX_EPOCHS_AHEAD:
            raise KeyMessageError(Reason.STALE, "message too far ahead")
        if len(self._items) >= self._limit:
            self._items.pop(0)
        self._items.append((epoch, data))

    def take(self, epoch: int) -> list[bytes]:
        """The messages of ``epoch`` (now current); those of earlier epochs are dropped."""
        ready = [d for e, d in self._items if e == epoch]
        self._items = [(e, d) for e, d in self._items if e > epoch]
        return ready

    def epochs(self) -> list[int]:
        return [e for e, _ in self._items]
