"""hotline.crypto.wire: big-endian writer/reader used by every signed message."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.wire import Reader, Writer
from hotline.errors import AnnouncementError, CryptoError, KeyMessageError, Reason

SIZES = {"u8": 1, "u16": 2, "u32": 4, "u64": 8}
STRUCT = {"u8": ">B", "u16": ">H", "u32": ">I", "u64": ">Q"}


# -- Writer ------------------------------------------------------------------------


def test_empty_writer_encodes_to_nothing() -> None:
    assert bytes(Writer()) == b""


@pytest.mark.parametrize("method", list(SIZES))
def test_uint_is_big_endian_fixed_width(method: str) -> None:
    size = SIZES[method]
    for value in (0, 1, 0x7F, (1 << (8 * size)) - 1, 0x0102030405060708 & ((1 << (8 * size)) - 1)):
        out = bytes(getattr(Writer(), method)(value))
        assert out == struct.pack(STRUCT[method], value)
        assert len(out) == size


@pytest.mark.parametrize("method", list(SIZES))
@pytest.mark.parametrize("which", ["max+1", "max+2", "-1", "huge negative"])
def test_uint_out_of_range_raises_value_error(method: str, which: str) -> None:
    limit = 1 << (8 * SIZES[method])
    value = {"max+1": limit, "max+2": limit + 1, "-1": -1, "huge negative": -(2**70)}[which]
    w = Writer().raw(b"keep")
    with pytest.raises(ValueError):
        getattr(w, method)(value)
    assert bytes(w) == b"keep"  # a refused value leaves the writer unchanged


def test_methods_chain_and_concatenate_in_order() -> None:
    w = Writer()
    assert w.u8(1) is w
    assert w.u16(2) is w
    assert w.u32(3) is w
    assert w.u64(4) is w
    assert w.raw(b"xy") is w
    assert w.bytes8(b"abc") is w
    assert w.bytes16(b"de") is w
    assert bytes(w) == (
        b"\x01" + b"\x00\x02" + b"\x00\x00\x00\x03" + b"\x00" * 7 + b"\x04"
        + b"xy" + b"\x03abc" + b"\x00\x02de"
    )


def test_bytes8_and_bytes16_prefix_length() -> None:
    assert bytes(Writer().bytes8(b"")) == b"\x00"
    assert bytes(Writer().bytes8(b"\xff" * 255)) == b"\xff" + b"\xff" * 255
    assert bytes(Writer().bytes16(b"")) == b"\x00\x00"
    data = bytes(range(256)) * 2
    assert bytes(Writer().bytes16(data)) == b"\x02\x00" + data
    assert bytes(Writer().bytes16(b"a" * 65535)) == b"\xff\xff" + b"a" * 65535


def test_bytes8_and_bytes16_refuse_too_long_data() -> None:
    w = Writer().u8(9)
    with pytest.raises(ValueError):
        w.bytes8(b"a" * 256)
    with pytest.raises(ValueError):
        w.bytes16(b"a" * 65536)
    assert bytes(w) == b"\x09"


def test_raw_copies_its_input() -> None:
    buf = bytearray(b"abc")
    w = Writer().raw(buf).bytes8(buf)
    buf[0] = ord("z")
    assert bytes(w) == b"abc\x03abc"


def test_writer_accepts_memoryview_and_bytearray() -> None:
    assert bytes(Writer().raw(memoryview(b"mv")).raw(bytearray(b"ba"))) == b"mvba"


# -- Reader ------------------------------------------------------------------------


def test_reader_reads_back_every_field() -> None:
    data = bytes(
        Writer().u8(0xAB).u16(0xBEEF).u32(0xDEADBEEF).u64(2**64 - 2)
        .raw(b"RAW").bytes8(b"short").bytes16(b"longer" * 50)
    )
    r = Reader(data, AnnouncementError)
    assert r.position == 0
    assert r.u8() == 0xAB
    assert r.position == 1
    assert r.u16() == 0xBEEF
    assert r.u32() == 0xDEADBEEF
    assert r.u64() == 2**64 - 2
    assert r.raw(3) == b"RAW"
    assert r.bytes8() == b"short"
    assert r.bytes16() == b"longer" * 50
    assert r.position == len(data)
    assert r.consumed() == data
    r.end()


def test_consumed_is_the_prefix_read_so_far() -> None:
    r = Reader(b"\x01\x02\x03\x04", KeyMessageError)
    assert r.consumed() == b""
    r.u16()
    assert r.consumed() == b"\x01\x02"
    assert r.position == 2


def test_raw_zero_is_empty() -> None:
    r = Reader(b"", AnnouncementError)
    assert r.raw(0) == b""
    r.end()


@pytest.mark.parametrize("error", [AnnouncementError, KeyMessageError])
def test_shortfall_raises_the_callers_error_with_malformed(error: type[CryptoError]) -> None:
    for data, read in [
        (b"", lambda r: r.u8()),
        (b"\x01", lambda r: r.u16()),
        (b"\x01\x02\x03", lambda r: r.u32()),
        (b"\x00" * 7, lambda r: r.u64()),
        (b"ab", lambda r: r.raw(3)),
        (b"\x05abcd", lambda r: r.bytes8()),
        (b"\x00\x05abcd", lambda r: r.bytes16()),
        (b"\x00", lambda r: r.bytes16()),
    ]:
        with pytest.raises(error) as err:
            read(Reader(data, error))
        assert err.type is error
        assert err.value.reason is Reason.MALFORMED


def test_negative_raw_size_is_malformed() -> None:
    r = Reader(b"abc", AnnouncementError)
    with pytest.raises(AnnouncementError) as err:
        r.raw(-1)
    assert err.value.reason is Reason.MALFORMED
    assert r.position == 0


def test_failed_read_does_not_advance() -> None:
    r = Reader(b"\x01\x02\x03", AnnouncementError)
    r.u8()
    with pytest.raises(AnnouncementError):
        r.u32()
    assert r.position == 1
    assert r.u16() == 0x0203


def test_end_refuses_trailing_bytes() -> None:
    r = Reader(b"\x01\x02", KeyMessageError)
    r.u8()
    with pytest.raises(KeyMessageError) as err:
        r.end()
    assert err.value.reason is Reason.MALFORMED
    r.u8()
    r.end()


def test_reader_copies_its_input() -> None:
    buf = bytearray(b"\x01\x02")
    r = Reader(buf, AnnouncementError)
    buf[0] = 0xFF
    assert r.u8() == 1


def test_error_message_does_not_echo_input() -> None:
    secret = b"\x02SECRETSECRET"
    r = Reader(secret, AnnouncementError)
    r.u8()
    with pytest.raises(AnnouncementError) as err:
        r.end()
    assert "SECRET" not in str(err.value)


# -- properties --------------------------------------------------------------------

FIELD = st.one_of(
    st.tuples(st.just("u8"), st.integers(0, 2**8 - 1)),
    st.tuples(st.just("u16"), st.integers(0, 2**16 - 1)),
    st.tuples(st.just("u32"), st.integers(0, 2**32 - 1)),
    st.tuples(st.just("u64"), st.integers(0, 2**64 - 1)),
    st.tuples(st.just("bytes8"), st.binary(max_size=255)),
    st.tuples(st.just("bytes16"), st.binary(max_size=600)),
)


@given(st.lists(FIELD, max_size=12))
def test_round_trip(fields: list[tuple[str, int | bytes]]) -> None:
    w = Writer()
    for method, value in fields:
        getattr(w, method)(value)
    data = bytes(w)
    r = Reader(data, AnnouncementError)
    for method, value in fields:
        assert getattr(r, method)() == value
    r.end()
    assert r.consumed() == data


@given(st.lists(FIELD, min_size=1, max_size=8), st.data())
def test_any_truncation_raises_only_the_given_error(
    fields: list[tuple[str, int | bytes]], data: st.DataObject
) -> None:
    w = Writer()
    for method, value in fields:
        getattr(w, method)(value)
    full = bytes(w)
    cut = data.draw(st.integers(0, len(full) - 1))
    r = Reader(full[:cut], KeyMessageError)
    with pytest.raises(KeyMessageError) as err:
        for method, _ in fields:
            getattr(r, method)()
        r.end()
    assert err.value.reason is Reason.MALFORMED
