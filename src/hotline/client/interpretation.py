"""What a listener plays of a room's interpretation channels (REQUIREMENTS L2).

The server tells every member which channel each interpreter publishes into
(``joined`` members, ``member_channel``); the listener chooses the channels it hears and
its floor level, locally. :meth:`Interpretation.gain` is the one rule, applied to every
decoded audio frame of a participant:

* an interpreter whose signalled channel is one the listener chose: full level;
* an interpreter whose signalled channel is any other: nothing (the SFU should not have
  sent it; a server that forwards it anyway is not heard);
* everyone else (and an interpreter in no channel): the floor, at the listener's floor
  level (a gain of 0 to -40 dB, or muted).

The SFU routes by the same metadata; this filter is the client's own, so a lying server
cannot make a listener hear a channel it did not choose.
"""

from __future__ import annotations

from hotline.errors import UsageError
from hotline.signaling.channels import describe, unknown_channels

MIN_FLOOR_DB = -40.0


def floor_gain(db: float | None) -> float:
    """The linear gain of a floor level in dB (0 to -40); None (muted): 0."""
    if db is None:
        return 0.0
    if not MIN_FLOOR_DB <= db <= 0:
        raise UsageError(f"floor level {db} dB is out of range: 0 to {MIN_FLOOR_DB:.0f} dB, "
                         "or muted")
    return float(10 ** (db / 20))


class Interpretation:
    """The room's channels, each interpreter's channel, and this listener's choice."""

    def __init__(self, listen: tuple[str, ...] | list[str] = (),
                 floor_db: float | None = 0.0) -> None:
        self.channels: list[str] = []  # the room's (``joined``)
        self.member_channel: dict[int, str] = {}  # participant -> its signalled channel
        self.listening: frozenset[str] = frozenset(listen)  # chosen here
        self.floor_db: float | None = floor_db
        self._floor = floor_gain(floor_db)

    def set_floor(self, db: float | None) -> None:
        self._floor = floor_gain(db)
        self.floor_db = db

    def check(self, channels: list[str] | tuple[str, ...] | frozenset[str]) -> None:
        """A UsageError if one of ``channels`` is not a channel of the room."""
        unknown = unknown_channels(channels, self.channels)
        if unknown:
            raise UsageError(f"unknown channel {', '.join(map(repr, unknown))}; this room's "
                             f"channels: {describe(self.channels)}")

    def gain(self, participant_id: int) -> float:
        """The level this listener plays ``participant_id``'s audio at (0: not at all)."""
        channel = self.member_channel.get(participant_id, "")
        if channel:
            return 1.0 if channel in self.listening else 0.0
        return self._floor
