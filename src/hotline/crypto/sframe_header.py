"""SFrame header encoding and decoding (RFC 9605 §4.3).

::

     0 1 2 3 4 5 6 7
    +-+-+-+-+-+-+-+-+------------------------+------------------------+
    |X|  K  |Y|  C  |   KID (0-8 bytes)      |   CTR (0-8 bytes)      |
    +-+-+-+-+-+-+-+-+------------------------+------------------------+

X=0: K is the KID itself (0-7). X=1: K+1 is the length in bytes of the KID field.
Y=0: C is the CTR itself (0-7). Y=1: C+1 is the length in bytes of the CTR field.
Values are unsigned big-endian. We always write the shortest form; we read any form
the RFC allows (the header is authenticated as AAD, so a longer encoding is just a
different, equally authenticated header).
"""

from __future__ import annotations

from dataclasses import dataclass

from hotline.errors import Reason, SFrameError

MAX_VALUE = (1 << 64) - 1


def _field(value: int) -> tuple[int, bytes]:
    """Return (3-bit config value, extension bytes) for one header field."""
    if value < 8:
        return value, b""
    size = (value.bit_length() + 7) // 8
    return 0x8 | (size - 1), value.to_bytes(size, "big")


@dataclass(frozen=True, slots=True)
class SFrameHeader:
    """A decoded SFrame header: key id, counter, and its length on the wire."""

    kid: int
    ctr: int
    size: int

    @staticmethod
    def encode(kid: int, ctr: int) -> bytes:
        """Encode ``kid`` and ``ctr`` (each 0 .. 2**64-1) in the shortest form."""
        if not (0 <= kid <= MAX_VALUE and 0 <= ctr <= MAX_VALUE):
            raise SFrameError(Reason.MALFORMED_HEADER, "kid or ctr out of range")
        k, kid_bytes = _field(kid)
        c, ctr_bytes = _field(ctr)
        return bytes([(k << 4) | c]) + kid_bytes + ctr_bytes

    @classmethod
    def decode(cls, data: bytes) -> SFrameHeader:
        """Decode the header at the start of ``data`` (which may hold more bytes)."""
        if not data:
            raise SFrameError(Reason.TRUNCATED, "empty frame")
        config = data[0]
        pos = 1
        values = []
        for nibble in (config >> 4, config & 0x0F):
            if nibble & 0x8:
                size = (nibble & 0x7) + 1
                if pos + size > len(data):
                    raise SFrameError(Reason.TRUNCATED, "header shorter than announced")
                values.append(int.from_bytes(data[pos : pos + size], "big"))
                pos += size
            else:
                values.append(nibble)
        return cls(kid=values[0], ctr=values[1], size=pos)
