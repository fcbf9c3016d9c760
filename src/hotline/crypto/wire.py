"""Big-endian binary encoding shared by Hotline's signed messages.

A tiny writer/reader pair: fixed-width unsigned integers and length-prefixed byte
strings. The reader raises one error type (given by the caller) for every kind of
malformed input, so parsers of untrusted bytes have a single failure mode.
"""

from __future__ import annotations

from hotline.errors import CryptoError, Reason


class Writer:
    """Accumulates fields; ``bytes(writer)`` gives the encoding."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def u8(self, value: int) -> Writer:
        return self._uint(value, 1)

    def u16(self, value: int) -> Writer:
        return self._uint(value, 2)

    def u32(self, value: int) -> Writer:
        return self._uint(value, 4)

    def u64(self, value: int) -> Writer:
        return self._uint(value, 8)

    def raw(self, data: bytes) -> Writer:
        self._parts.append(bytes(data))
        return self

    def bytes8(self, data: bytes) -> Writer:
        """A byte string of at most 255 bytes, prefixed by its length (u8)."""
        return self.u8(len(data)).raw(data)

    def bytes16(self, data: bytes) -> Writer:
        """A byte string of at most 65535 bytes, prefixed by its length (u16)."""
        return self.u16(len(data)).raw(data)

    def _uint(self, value: int, size: int) -> Writer:
        if not 0 <= value < 1 << (8 * size):
            raise ValueError(f"value does not fit in {size} byte(s)")
        self._parts.append(value.to_bytes(size, "big"))
        return self

    def __bytes__(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Reads fields in order; any shortfall raises ``error(Reason.MALFORMED)``."""

    def __init__(self, data: bytes, error: type[CryptoError]) -> None:
        self._data = memoryview(bytes(data))
        self._pos = 0
        self._error = error

    @property
    def position(self) -> int:
        return self._pos

    def u8(self) -> int:
        return int.from_bytes(self.raw(1), "big")

    def u16(self) -> int:
        return int.from_bytes(self.raw(2), "big")

    def u32(self) -> int:
        return int.from_bytes(self.raw(4), "big")

    def u64(self) -> int:
        return int.from_bytes(self.raw(8), "big")

    def raw(self, size: int) -> bytes:
        if size < 0 or self._pos + size > len(self._data):
            raise self._error(Reason.MALFORMED, "message too short")
        out = bytes(self._data[self._pos : self._pos + size])
        self._pos += size
        return out

    def bytes8(self) -> bytes:
        return self.raw(self.u8())

    def bytes16(self) -> bytes:
        return self.raw(self.u16())

    def message_start(self, msg_type: int, version: int, what: str) -> str:
        """Read the common start of Hotline's signed messages: type, version and room
        id (``bytes8``, UTF-8, not empty); returns the room id."""
        if self.u8() != msg_type:
            raise self._error(Reason.MALFORMED, f"not a {what}")
        if self.u8() != version:
            raise self._error(Reason.MALFORMED, "unsupported protocol version")
        try:
            room_id = self.bytes8().decode("utf-8")
        except UnicodeDecodeError:
            raise self._error(Reason.MALFORMED, "room id is not UTF-8") from None
        if not room_id:
            raise self._error(Reason.MALFORMED, "empty room id")
        return room_id

    def consumed(self) -> bytes:
        """Everything read so far (what a signature covers)."""
        return bytes(self._data[: self._pos])

    def end(self) -> None:
        """Insist that nothing follows the last field."""
        if self._pos != len(self._data):
            raise self._error(Reason.MALFORMED, "trailing bytes")
