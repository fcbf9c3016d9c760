from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from hotline.logtext import safe

FORGED = "disk full\n2026-12-07 10:00:00 INFO hotline.session: auth conn=00 party=admin"


def test_control_and_format_characters_are_escaped() -> None:
    assert safe(FORGED) == ("disk full\\x0a2026-12-07 10:00:00 INFO hotline.session: "
                            "auth conn=00 party=admin")
    assert safe("a\r\x1b[2Jb\x00\x7f\x85") == "a\\x0d\\x1b[2Jb\\x00\\x7f\\x85"
    assert safe("x\u2028y\u2029z\u202eevil\u200b") == "x\\u2028y\\u2029z\\u202eevil\\u200b"
    assert safe("already \\x0a escaped") == "already \\\\x0a escaped"  # not ambiguous
    assert safe("élan, 東京, ok") == "élan, 東京, ok"  # printable text is kept
    assert safe("a" * 500, limit=10) == "a" * 10 + "…[+490]"
    assert safe(ValueError("bad\nline")) == "bad\\x0aline"


@given(st.text(max_size=400))
def test_no_input_can_start_a_new_log_line(text: str) -> None:
    out = safe(text)
    assert out.isprintable()
    assert "\n" not in out and "\r" not in out and len(out.splitlines()) <= 1
    record = logging.LogRecord("hotline.session", logging.INFO, __file__, 1,
                               "media restart: %s", (safe(text),), None)
    assert len(logging.Formatter("%(levelname)s %(name)s: %(message)s")
               .format(record).splitlines()) == 1
