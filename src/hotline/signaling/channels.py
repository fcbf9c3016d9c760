"""Interpretation channels (REQUIREMENTS L2): the names a room's channels may have, in
one place. PURE.

A channel is a language an interpreter publishes into (``ru``, ``zh``, ``pt-br``): a
lowercase language tag of 2-3 letters and an optional subtag of 2-8 letters or digits.
A room has at most :data:`MAX_CHANNELS`. The signaling schema types every channel field
with :data:`PATTERN`; the store and the CLI check an operator's list with
:func:`check_channels`; the server checks a ``set_channel`` or ``listen`` against the
room's list with :func:`unknown_channels`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from hotline.errors import UsageError

#: A channel name (the JSON Schema of every channel field).
PATTERN = r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$"
#: The longest name the pattern allows.
MAX_NAME = 12
#: Channels of one room, at most.
MAX_CHANNELS = 8
_NAME = re.compile(PATTERN)


def check_channels(names: Iterable[str]) -> list[str]:
    """An operator's channel list, checked: each name matches :data:`PATTERN`, none
    twice, at most :data:`MAX_CHANNELS`. A UsageError says what is wrong."""
    found: list[str] = []
    for name in names:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise UsageError(f"bad channel name {name!r}: a channel is a lowercase language "
                             "tag such as ru, zh, en or pt-br (2-3 letters, optionally "
                             "'-' and 2-8 letters or digits)")
        if name in found:
            raise UsageError(f"channel {name!r} is given twice")
        found.append(name)
    if len(found) > MAX_CHANNELS:
        raise UsageError(f"too many channels ({len(found)}): a room has at most "
                         f"{MAX_CHANNELS}")
    return found


def unknown_channels(asked: Iterable[str], room: Iterable[str]) -> list[str]:
    """The names of ``asked`` that are not channels of the room (in order, once each)."""
    known = set(room)
    unknown: list[str] = []
    for name in asked:
        if name not in known and name not in unknown:
            unknown.append(name)
    return unknown


def describe(room: Iterable[str]) -> str:
    """The room's channels for an error message."""
    names = list(room)
    return ", ".join(names) if names else "none (an operator sets them with " \
        "hotline admin room channels ROOM ...)"
