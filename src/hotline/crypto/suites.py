"""SFrame cipher suites (RFC 9605 §4.5) and their AEAD algorithms.

=======  ==========================  ===  ===  ===  ===  ===
value    name                        Nh   Nka  Nk   Nn   Nt
=======  ==========================  ===  ===  ===  ===  ===
0x0001   AES_128_CTR_HMAC_SHA256_80  32   16   48   12   10
0x0002   AES_128_CTR_HMAC_SHA256_64  32   16   48   12   8
0x0003   AES_128_CTR_HMAC_SHA256_32  32   16   48   12   4
0x0004   AES_128_GCM_SHA256_128      32   --   16   12   16
0x0005   AES_256_GCM_SHA512_128      64   --   32   12   16
=======  ==========================  ===  ===  ===  ===  ===

The AES-CTR + HMAC construction is RFC 9605 §4.5.1: the first Nka bytes of the
SFrame key encrypt (AES-CTR, initial counter block = nonce || 0x00000000), the rest
is the HMAC key, and the tag is HMAC over
``len(aad) || len(ct) || Nt || nonce || aad || ct`` (lengths as u64) truncated to Nt.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import constant_time, hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hotline.errors import Reason, SFrameError


class CipherSuite(enum.IntEnum):
    AES_128_CTR_HMAC_SHA256_80 = 0x0001
    AES_128_CTR_HMAC_SHA256_64 = 0x0002
    AES_128_CTR_HMAC_SHA256_32 = 0x0003
    AES_128_GCM_SHA256_128 = 0x0004
    AES_256_GCM_SHA512_128 = 0x0005


#: Hotline's default for media: 10-byte tag keeps the per-frame overhead ≤ 15 bytes
#: (docs/PROTOCOL.md, "Cipher suite").
DEFAULT_SUITE = CipherSuite.AES_128_CTR_HMAC_SHA256_80


@dataclass(frozen=True, slots=True)
class SuiteParams:
    suite: CipherSuite
    hash: type[hashes.HashAlgorithm]
    nh: int
    nka: int  # 0 for the GCM suites
    nk: int
    nn: int
    nt: int


PARAMS: dict[int, SuiteParams] = {
    p.suite: p
    for p in (
        SuiteParams(CipherSuite.AES_128_CTR_HMAC_SHA256_80, hashes.SHA256, 32, 16, 48, 12, 10),
        SuiteParams(CipherSuite.AES_128_CTR_HMAC_SHA256_64, hashes.SHA256, 32, 16, 48, 12, 8),
        SuiteParams(CipherSuite.AES_128_CTR_HMAC_SHA256_32, hashes.SHA256, 32, 16, 48, 12, 4),
        SuiteParams(CipherSuite.AES_128_GCM_SHA256_128, hashes.SHA256, 32, 0, 16, 12, 16),
        SuiteParams(CipherSuite.AES_256_GCM_SHA512_128, hashes.SHA512, 64, 0, 32, 12, 16),
    )
}


def params(cipher_suite: int) -> SuiteParams:
    try:
        return PARAMS[cipher_suite]
    except KeyError:
        raise SFrameError(Reason.UNSUPPORTED_SUITE, f"cipher suite {cipher_suite:#06x}") from None


class Aead(Protocol):
    """Seal/open with a fixed key; the only interface SFrame uses."""

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes: ...

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes: ...


class _GcmAead:
    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        return self._aead.encrypt(nonce, plaintext, aad)

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise SFrameError(Reason.AUTH_FAILED) from None


class _CtrHmacAead:
    """RFC 9605 §4.5.1 AES-CTR with truncated HMAC."""

    __slots__ = ("_auth_key", "_enc", "_hash", "_nt")

    def __init__(self, p: SuiteParams, key: bytes) -> None:
        self._enc = algorithms.AES(key[: p.nka])
        self._auth_key = key[p.nka :]
        self._hash = p.hash
        self._nt = p.nt

    def _tag(self, nonce: bytes, aad: bytes, ct: bytes) -> bytes:
        mac = hmac.HMAC(self._auth_key, self._hash())
        mac.update(len(aad).to_bytes(8, "big"))
        mac.update(len(ct).to_bytes(8, "big"))
        mac.update(self._nt.to_bytes(8, "big"))
        mac.update(nonce)
        mac.update(aad)
        mac.update(ct)
        return mac.finalize()[: self._nt]

    def _ctr(self, nonce: bytes, data: bytes) -> bytes:
        ctx = Cipher(self._enc, modes.CTR(nonce + b"\x00\x00\x00\x00")).encryptor()
        return ctx.update(data) + ctx.finalize()

    def seal(self, nonce: bytes, aad: bytes, plaintext: bytes) -> bytes:
        ct = self._ctr(nonce, plaintext)
        return ct + self._tag(nonce, aad, ct)

    def open(self, nonce: bytes, aad: bytes, ciphertext: bytes) -> bytes:
        if len(ciphertext) < self._nt:
            raise SFrameError(Reason.TRUNCATED, "shorter than the tag")
        ct, tag = ciphertext[: -self._nt], ciphertext[-self._nt :]
        if not constant_time.bytes_eq(self._tag(nonce, aad, ct), tag):
            raise SFrameError(Reason.AUTH_FAILED)
        return self._ctr(nonce, ct)


def make_aead(p: SuiteParams, key: bytes) -> Aead:
    """The AEAD of suite ``p`` keyed with an Nk-byte ``key``."""
    if len(key) != p.nk:
        raise SFrameError(Reason.BAD_KEY, "key length does not match the suite")
    if p.nka:
        return _CtrHmacAead(p, key)
    return _GcmAead(key)
