"""The media room of a hotline call or link test, derived by both ends, not taken on trust.

A hotline call or link test takes place in the room ``hotline:NAME:ID`` where NAME is the
hotline and ID the call's or test's id (16 lowercase hex digits, made by the server).
The room name is bound into every announcement, key message and the group code, so the
server must not choose it freely: a client derives it from the hotline it stands by for
or calls and the id, and refuses a ``call_answered`` or ``linktest_start`` that names
another room (issue 12, item 3).
"""

from __future__ import annotations

import re

from hotline.errors import ProtocolError

_ID = re.compile(r"[0-9a-f]{16}")


def hotline_room(hotline: str, call_id: str) -> str:
    """The room of call or link test ``call_id`` on ``hotline``."""
    return f"hotline:{hotline}:{call_id}"


def check_hotline_room(room: str, hotline: str, call_id: str) -> str:
    """``room`` if it is the room of ``call_id`` on ``hotline``; else ProtocolError."""
    if not _ID.fullmatch(call_id):
        raise ProtocolError("the server gave a call id that is not 16 hex digits")
    expected = hotline_room(hotline, call_id)
    if room != expected:
        raise ProtocolError(f"the server named room {room[:80]!r} for this call; "
                            f"expected {expected!r}: refused")
    return room
