"""SFrameContext / SFrameSender behaviour beyond the RFC vectors."""

from __future__ import annotations

import pytest

from hotline.crypto.sframe import CipherSuite, SFrameContext, SFrameSender, derive_key_salt
from hotline.errors import Reason, SFrameError, UsageError

KEY = bytes(range(32))


def pair(suite: int = CipherSuite.AES_128_GCM_SHA256_128, kid: int = 9) -> SFrameContext:
    ctx = SFrameContext(suite)
    ctx.add_encryption_key(kid, KEY)
    ctx.add_decryption_key(kid, KEY)
    return ctx


def reason(exc: pytest.ExceptionInfo[SFrameError]) -> Reason:
    return exc.value.reason


def test_appendix_a_shape() -> None:
    ctx = SFrameContext(cipher_suite=0x0004)
    ctx.add_encryption_key(3, KEY)
    ct = ctx.encrypt(0, 3, b"meta", b"hello")
    rx = SFrameContext(cipher_suite=0x0004)
    rx.add_decryption_key(3, KEY)
    assert rx.decrypt(b"meta", ct) == b"hello"


def test_default_suite_overhead_is_at_most_15_bytes() -> None:
    ctx = SFrameContext()
    assert ctx.cipher_suite is CipherSuite.AES_128_CTR_HMAC_SHA256_80
    ctx.add_encryption_key(0x3FF, KEY)  # participant 15, any generation and slot
    ct = ctx.encrypt(65535, 0x3FF, b"", b"x" * 100)
    assert len(ct) - 100 <= 15


def test_unknown_kid() -> None:
    ctx = pair()
    ct = ctx.encrypt(0, 9, b"", b"x")
    other = SFrameContext(CipherSuite.AES_128_GCM_SHA256_128)
    with pytest.raises(SFrameError) as err:
        other.decrypt(b"", ct)
    assert reason(err) is Reason.UNKNOWN_KID
    with pytest.raises(SFrameError) as err:
        other.encrypt(0, 9, b"", b"x")
    assert reason(err) is Reason.UNKNOWN_KID


def test_keys_are_for_one_use_only() -> None:
    ctx = SFrameContext()
    ctx.add_decryption_key(1, KEY)
    with pytest.raises(SFrameError):
        ctx.encrypt(0, 1, b"", b"x")


def test_replay_is_rejected_and_reorder_accepted() -> None:
    ctx = pair()
    frames = [ctx.encrypt(i, 9, b"", bytes([i])) for i in range(5)]
    for i in (0, 2, 1, 4, 3):
        assert ctx.decrypt(b"", frames[i]) == bytes([i])
    with pytest.raises(SFrameError) as err:
        ctx.decrypt(b"", frames[2])
    assert reason(err) is Reason.REPLAYED


def test_forged_frame_does_not_move_the_replay_window() -> None:
    ctx = pair()
    good = ctx.encrypt(5, 9, b"", b"payload")
    forged = bytearray(ctx.encrypt(1000, 9, b"", b"payload"))
    forged[-1] ^= 1
    with pytest.raises(SFrameError) as err:
        ctx.decrypt(b"", bytes(forged))
    assert reason(err) is Reason.AUTH_FAILED
    assert ctx.decrypt(b"", good) == b"payload"


def test_truncated_inputs() -> None:
    for suite in CipherSuite:
        ctx = pair(suite)
        ct = ctx.encrypt(300, 9, b"", b"abc")
        for cut in range(len(ct)):
            with pytest.raises(SFrameError) as err:
                ctx.decrypt(b"", ct[:cut])
            assert reason(err) in {Reason.TRUNCATED, Reason.AUTH_FAILED, Reason.UNKNOWN_KID}


def test_counter_reuse_is_refused() -> None:
    ctx = pair()
    ctx.encrypt(7, 9, b"", b"a")
    for ctr in (7, 3):
        with pytest.raises(SFrameError) as err:
            ctx.encrypt(ctr, 9, b"", b"b")
        assert reason(err) is Reason.COUNTER_REUSED


def test_sender_counts_and_exhausts() -> None:
    ctx = pair()
    sender = SFrameSender(ctx, 9, max_counter=2)
    outs = [sender.encrypt(b"", b"f") for _ in range(3)]
    assert [ctx.decrypt(b"", o) for o in outs] == [b"f"] * 3
    assert sender.exhausted
    with pytest.raises(SFrameError) as err:
        sender.encrypt(b"", b"f")
    assert reason(err) is Reason.COUNTER_EXHAUSTED


def test_counter_beyond_64_bits() -> None:
    ctx = pair()
    with pytest.raises(SFrameError) as err:
        ctx.encrypt(2**64, 9, b"", b"x")
    assert reason(err) is Reason.COUNTER_EXHAUSTED
    ctx.encrypt(2**64 - 1, 9, b"", b"x")  # the last one is fine


def test_unsupported_suite_and_bad_keys() -> None:
    with pytest.raises(SFrameError) as err:
        SFrameContext(0x0006)
    assert reason(err) is Reason.UNSUPPORTED_SUITE
    with pytest.raises(SFrameError):
        derive_key_salt(1, 0, b"")
    with pytest.raises(SFrameError):
        derive_key_salt(1, 2**64, KEY)


def test_errors_and_reprs_carry_no_key_material() -> None:
    derived = derive_key_salt(4, 1, KEY)
    assert derived.key.hex() not in repr(derived) and "redacted" in repr(derived)
    ctx = pair()
    ct = bytearray(ctx.encrypt(0, 9, b"", b"secret plaintext"))
    ct[-1] ^= 0xFF
    with pytest.raises(SFrameError) as err:
        ctx.decrypt(b"", bytes(ct))
    text = str(err.value)
    for secret in (KEY, derived.key, derived.salt, b"secret plaintext"):
        assert secret.hex() not in text
    assert "secret plaintext" not in text


def test_removed_key_no_longer_decrypts() -> None:
    ctx = pair()
    ct = ctx.encrypt(0, 9, b"", b"x")
    ctx.remove_decryption_key(9)
    assert not ctx.has_decryption_key(9)
    with pytest.raises(SFrameError):
        ctx.decrypt(b"", ct)


def test_encryption_key_cannot_be_added_twice() -> None:
    """Re-adding would restart the counter and reuse nonces."""
    ctx = pair()
    ctx.encrypt(0, 9, b"", b"a")
    with pytest.raises(SFrameError) as err:
        ctx.add_encryption_key(9, KEY)
    assert reason(err) is Reason.BAD_KEY
    with pytest.raises(SFrameError):
        ctx.encrypt(0, 9, b"", b"b")


def test_re_adding_a_decryption_key_keeps_its_replay_window() -> None:
    ctx = pair()
    ct = ctx.encrypt(0, 9, b"", b"a")
    ctx.decrypt(b"", ct)
    ctx.add_decryption_key(9, KEY)
    with pytest.raises(SFrameError) as err:
        ctx.decrypt(b"", ct)
    assert reason(err) is Reason.REPLAYED
    ctx.add_decryption_key(9, b"another key")  # a different key replaces it
    with pytest.raises(SFrameError):
        ctx.decrypt(b"", ct)


def test_replay_window_must_be_positive() -> None:
    with pytest.raises(UsageError):
        SFrameContext(replay_window=0)
