"""Property tests over all five suites: round trips, bit flips, truncation."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline.crypto.sframe import CipherSuite, SFrameContext, SFrameHeader
from hotline.errors import SFrameError

suites = st.sampled_from(list(CipherSuite))
u64 = st.integers(0, 2**64 - 1)
keys = st.binary(min_size=1, max_size=64)
data = st.binary(max_size=300)


def contexts(suite: int, kid: int, key: bytes) -> tuple[SFrameContext, SFrameContext]:
    tx, rx = SFrameContext(suite), SFrameContext(suite)
    tx.add_encryption_key(kid, key)
    rx.add_decryption_key(kid, key)
    return tx, rx


@given(suites, u64, u64, keys, data, data)
def test_round_trip(suite: int, kid: int, ctr: int, key: bytes, meta: bytes, pt: bytes) -> None:
    tx, rx = contexts(suite, kid, key)
    ct = tx.encrypt(ctr, kid, meta, pt)
    header = SFrameHeader.decode(ct)
    assert (header.kid, header.ctr) == (kid, ctr)
    assert len(ct) == header.size + len(pt) + tx.tag_size
    assert rx.decrypt(meta, ct) == pt


@given(suites, u64, u64, data, data, st.data())
def test_any_flipped_bit_fails(suite: int, kid: int, ctr: int, meta: bytes, pt: bytes,
                               draw: st.DataObject) -> None:
    """One flipped bit in header, ciphertext, tag or metadata: the frame is refused."""
    tx, rx = contexts(suite, kid, b"k" * 32)
    ct = tx.encrypt(ctr, kid, meta, pt)
    target = draw.draw(st.sampled_from(["frame", "metadata"] if meta else ["frame"]))
    buf = bytearray(ct if target == "frame" else meta)
    bit = draw.draw(st.integers(0, len(buf) * 8 - 1))
    buf[bit // 8] ^= 1 << (bit % 8)
    bad_ct, bad_meta = (bytes(buf), meta) if target == "frame" else (ct, bytes(buf))
    with pytest.raises(SFrameError):
        rx.decrypt(bad_meta, bad_ct)
    assert rx.decrypt(meta, ct) == pt  # the genuine frame still decrypts afterwards


@given(suites, u64, u64, data, st.data())
def test_truncation_fails(suite: int, kid: int, ctr: int, pt: bytes, draw: st.DataObject) -> None:
    tx, rx = contexts(suite, kid, b"k" * 32)
    ct = tx.encrypt(ctr, kid, b"", pt)
    cut = draw.draw(st.integers(0, len(ct) - 1))
    with pytest.raises(SFrameError):
        rx.decrypt(b"", ct[:cut])


@given(suites, st.binary(max_size=64), st.binary(max_size=64))
def test_arbitrary_input_raises_only_sframe_error(suite: int, meta: bytes, junk: bytes) -> None:
    """Fuzz: keys installed for many KIDs so random input reaches the decrypt path."""
    rx = SFrameContext(suite)
    for kid in range(16):
        rx.add_decryption_key(kid, b"k" * 32)
    with contextlib.suppress(SFrameError):
        rx.decrypt(meta, junk)


@given(u64, u64)
def test_header_round_trip_is_shortest(kid: int, ctr: int) -> None:
    enc = SFrameHeader.encode(kid, ctr)
    size = lambda v: 0 if v < 8 else (v.bit_length() + 7) // 8  # noqa: E731
    assert len(enc) == 1 + size(kid) + size(ctr)
    dec = SFrameHeader.decode(enc)
    assert (dec.kid, dec.ctr, dec.size) == (kid, ctr, len(enc))


@given(st.binary(max_size=20))
def test_header_decode_of_junk(junk: bytes) -> None:
    try:
        h = SFrameHeader.decode(junk)
    except SFrameError:
        return
    assert h.size <= len(junk)
