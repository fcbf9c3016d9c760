"""SFrame, exactly as RFC 9605 (§4.3 header, §4.4 key derivation and AEAD use).

The API follows RFC 9605 Appendix A::

    ctx = SFrameContext(cipher_suite=0x0004)
    ctx.add_encryption_key(kid, base_key)        # sender side
    ctx.add_decryption_key(kid, base_key)        # receiver side
    ct = ctx.encrypt(ctr, kid, metadata, plaintext)   # header || ciphertext || tag
    pt = ctx.decrypt(metadata, ct)

:class:`SFrameSender` keeps the counter for one sending key, so callers never pick
counters themselves. Every failure raises :class:`hotline.errors.SFrameError` with a
``reason`` code; messages never contain key material.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from hotline.crypto.replay import DEFAULT_WINDOW, ReplayWindow
from hotline.crypto.sframe_header import MAX_VALUE, SFrameHeader
from hotline.crypto.suites import DEFAULT_SUITE, Aead, CipherSuite, SuiteParams, make_aead, params
from hotline.errors import Reason, SFrameError, UsageError

__all__ = [
    "DEFAULT_SUITE",
    "CipherSuite",
    "DerivedKey",
    "SFrameContext",
    "SFrameHeader",
    "SFrameSender",
    "derive_key_salt",
]

_KEY_LABEL = b"SFrame 1.0 Secret key "
_SALT_LABEL = b"SFrame 1.0 Secret salt "


@dataclass(frozen=True, slots=True, repr=False)
class DerivedKey:
    """sframe_key and sframe_salt for one (KID, base key); see RFC 9605 §4.4.2."""

    secret: bytes
    key: bytes
    salt: bytes

    def __repr__(self) -> str:  # never print key material
        return "DerivedKey(<redacted>)"


def _labels(kid: int, suite: int) -> tuple[bytes, bytes]:
    suffix = kid.to_bytes(8, "big") + suite.to_bytes(2, "big")
    return _KEY_LABEL + suffix, _SALT_LABEL + suffix


def derive_key_salt(cipher_suite: int, kid: int, base_key: bytes) -> DerivedKey:
    """RFC 9605 §4.4.2: HKDF-Extract with an empty salt, then two HKDF-Expand."""
    p = params(cipher_suite)
    if not 0 <= kid <= MAX_VALUE:
        raise SFrameError(Reason.BAD_KEY, "kid out of range")
    if not base_key:
        raise SFrameError(Reason.BAD_KEY, "empty base key")
    extract = hmac.HMAC(b"", p.hash())  # HKDF-Extract(salt="", IKM=base_key)
    extract.update(base_key)
    secret = extract.finalize()
    key_label, salt_label = _labels(kid, p.suite)
    key = HKDFExpand(p.hash(), p.nk, key_label).derive(secret)
    salt = HKDFExpand(p.hash(), p.nn, salt_label).derive(secret)
    return DerivedKey(secret=secret, key=key, salt=salt)


class _KeyState:
    __slots__ = ("aead", "key_id", "last_ctr", "replay", "salt")

    def __init__(self, p: SuiteParams, derived: DerivedKey, window: int | None) -> None:
        self.aead: Aead = make_aead(p, derived.key)
        self.key_id = derived.key + derived.salt  # to recognise the same key re-added
        self.salt = int.from_bytes(derived.salt, "big")
        self.replay = ReplayWindow(window) if window else None
        self.last_ctr = -1  # encryption keys: highest counter used


class SFrameContext:
    """Key store and frame protection for one cipher suite (RFC 9605 Appendix A).

    Keys are added for one use only: encryption (``add_encryption_key``) or
    decryption (``add_decryption_key``). Decryption keys keep a replay window.
    An encryption key refuses a counter at or below one it already used, and a KID
    cannot get a second encryption key while it has one: a nonce is never reused.
    """

    def __init__(
        self, cipher_suite: int = DEFAULT_SUITE, *, replay_window: int = DEFAULT_WINDOW
    ) -> None:
        if replay_window < 1:
            raise UsageError("replay window must hold at least one counter")
        self._p = params(cipher_suite)
        self._window = replay_window
        self._enc: dict[int, _KeyState] = {}
        self._dec: dict[int, _KeyState] = {}

    @property
    def cipher_suite(self) -> CipherSuite:
        return self._p.suite

    @property
    def tag_size(self) -> int:
        return self._p.nt

    def add_encryption_key(self, kid: int, base_key: bytes) -> None:
        """Add a sending key. A KID that has one already is refused: re-adding would
        restart its counter and reuse nonces. Remove the old key first."""
        if kid in self._enc:
            raise SFrameError(Reason.BAD_KEY, "kid has an encryption key already")
        self._enc[kid] = _KeyState(self._p, derive_key_salt(self._p.suite, kid, base_key), None)

    def add_decryption_key(self, kid: int, base_key: bytes) -> None:
        """Add (or replace) a receiving key. Re-adding the same key keeps its replay
        window, so it cannot be used to replay frames."""
        derived = derive_key_salt(self._p.suite, kid, base_key)
        current = self._dec.get(kid)
        if current is not None and current.key_id == derived.key + derived.salt:
            return
        self._dec[kid] = _KeyState(self._p, derived, self._window)

    def remove_encryption_key(self, kid: int) -> None:
        self._enc.pop(kid, None)

    def remove_decryption_key(self, kid: int) -> None:
        self._dec.pop(kid, None)

    def has_decryption_key(self, kid: int) -> bool:
        return kid in self._dec

    def decryption_kids(self) -> frozenset[int]:
        return frozenset(self._dec)

    def _nonce(self, state: _KeyState, ctr: int) -> bytes:
        return (state.salt ^ ctr).to_bytes(self._p.nn, "big")

    def encrypt(self, ctr: int, kid: int, metadata: bytes, plaintext: bytes) -> bytes:
        """RFC 9605 §4.4.3. Returns header || ciphertext || tag."""
        state = self._enc.get(kid)
        if state is None:
            raise SFrameError(Reason.UNKNOWN_KID, "no encryption key for this kid")
        if ctr > MAX_VALUE:
            raise SFrameError(Reason.COUNTER_EXHAUSTED)
        if ctr <= state.last_ctr:
            raise SFrameError(Reason.COUNTER_REUSED, "counter not above the last one used")
        header = SFrameHeader.encode(kid, ctr)
        sealed = state.aead.seal(self._nonce(state, ctr), header + metadata, plaintext)
        state.last_ctr = ctr
        return header + sealed

    def decrypt(self, metadata: bytes, ciphertext: bytes) -> bytes:
        """RFC 9605 §4.4.4, plus the replay window of the key."""
        header = SFrameHeader.decode(ciphertext)
        state = self._dec.get(header.kid)
        if state is None:
            raise SFrameError(Reason.UNKNOWN_KID, "no decryption key for this kid")
        if len(ciphertext) - header.size < self._p.nt:
            raise SFrameError(Reason.TRUNCATED, "shorter than the tag")
        assert state.replay is not None
        state.replay.check(header.ctr)
        aad = ciphertext[: header.size] + metadata
        plaintext = state.aead.open(
            self._nonce(state, header.ctr), aad, ciphertext[header.size :]
        )
        state.replay.accept(header.ctr)
        return plaintext


class SFrameSender:
    """Encrypts with one key, choosing counters 0, 1, 2, … itself.

    ``max_counter`` bounds the counter (default: the largest the header can carry);
    past it every call raises ``SFrameError(COUNTER_EXHAUSTED)`` and the caller must
    rekey.
    """

    def __init__(
        self, context: SFrameContext, kid: int, *, first_counter: int = 0,
        max_counter: int = MAX_VALUE,
    ) -> None:
        if not 0 <= first_counter <= max_counter <= MAX_VALUE:
            raise SFrameError(Reason.BAD_KEY, "counter bounds out of range")
        self._ctx = context
        self.kid = kid
        self._next = first_counter
        self._max = max_counter

    @property
    def next_counter(self) -> int:
        return self._next

    @property
    def exhausted(self) -> bool:
        return self._next > self._max

    def encrypt(self, metadata: bytes, plaintext: bytes) -> bytes:
        if self._next > self._max:
            raise SFrameError(Reason.COUNTER_EXHAUSTED, "rekey needed")
        out = self._ctx.encrypt(self._next, self.kid, metadata, plaintext)
        self._next += 1
        return out
