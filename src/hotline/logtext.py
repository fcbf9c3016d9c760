"""Text from others, made safe to log: the one helper every log line with such text uses.

A client (to the server) or a server (to a client) chooses strings that end up in logs: a
``media_restart`` reason, an error message, a refused SDP's parser error, a room or
hotline name. Logged verbatim, a newline in one would start a forged log line ("auth
conn=... party=admin"), and terminal control sequences or bidirectional overrides would
rewrite what an operator sees. :func:`safe` escapes every character Python does not call
printable (C0, C1, DEL, line and paragraph separators, bidi overrides and other invisible
format characters, unusual spaces)
as ``\\xNN``/``\\uNNNN`` and the backslash itself as ``\\\\``, so the escaping cannot be
undone by the input, and cuts the text at ``limit`` characters.
"""

from __future__ import annotations

LIMIT = 300


def _escape(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if char.isprintable():  # not Cc, Cf, Cs, Co, Cn, Zl, Zp, nor a Zs other than " "
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else (
        f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def safe(value: object, limit: int = LIMIT) -> str:
    """``str(value)`` with control/format characters escaped, at most ``limit`` chars
    of input (then ``…[+N]``). Never raises."""
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    cut = len(text) - limit
    out = "".join(_escape(c) for c in text[:limit])
    return f"{out}…[+{cut}]" if cut > 0 else out
