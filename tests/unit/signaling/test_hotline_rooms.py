"""A hotline call's or link test's room is derived by the client (issue 12, item 3); the
page does the same (web/src/protocol/hotlinerooms.ts, checked in test_web_room.py)."""

from __future__ import annotations

import pytest

from hotline.errors import ProtocolError
from hotline.signaling.hotline_rooms import check_hotline_room, hotline_room

ID = "0123456789abcdef"


def test_the_derived_room_is_accepted() -> None:
    assert hotline_room("red", ID) == f"hotline:red:{ID}"
    assert check_hotline_room(f"hotline:red:{ID}", "red", ID) == f"hotline:red:{ID}"


@pytest.mark.parametrize(("room", "hotline", "call_id"), [
    ("hotline:red:x", "red", ID), (f"hotline:blue:{ID}", "red", ID), ("summit", "red", ID),
    ("hotline:red:0123456789ABCDEF", "red", "0123456789ABCDEF"), ("hotline:red:", "red", ""),
    (f"hotline:red:{ID}:x", "red", ID), (f"hotline:red:{ID}\n", "red", f"{ID}\n"),
])
def test_any_other_room_is_refused(room: str, hotline: str, call_id: str) -> None:
    with pytest.raises(ProtocolError):
        check_hotline_room(room, hotline, call_id)
