"""The group verification code: one short code for the whole call's key state.

::

    digest = SHA-256( "hotline/v1 group code" || 0x00
                      || u8 len(room_id) || room_id || u32 epoch || u8 phase
                      || u16 cipher_suite || u8 k || kem_1 || ... || kem_k   (u16, sorted)
                      || u16 n || entry_1 || ... || entry_n )
    entry  = identity_public_key (32) || u16 kem || u16 len(call_key) || call_key

Entries are sorted by their encoded bytes, so every member computes the same code
whatever order the roster arrived in. Any change of membership, of anyone's
identity or call key, of the epoch, of the phase (:data:`hotline.phases.PHASE_CODES`:
a server that tells members different phases splits the code), or of the call's cipher
suite or allowed KEMs (a downgrade) changes the code.

That digest covers the roster only; a server could grind it (ghost call keys chosen after
it saw the honest ones). The code shown is :func:`epoch_code`: it binds the roster digest
to one fresh nonce per member, committed to before any is revealed
(:mod:`hotline.crypto.codecommit`)::

    code = SHA-256( "hotline/v1 group code nonces" || 0x00 || roster_digest (32)
                    || u16 n || pair_1 || ... || pair_n )      pair = identity_key || nonce

pairs sorted by their bytes.

Shown two ways, from the same digest:

* digits: 4 groups of 5 (group i = bytes [5i, 5i+5) as a u40, mod 100000);
* words:  8 words, ``WORDS[digest[i]]`` for i in 0..7.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from hotline.crypto.callkey import CallPublicKey, Kem, room_id_bytes
from hotline.crypto.identity import PUBLIC_KEY_SIZE
from hotline.crypto.suites import DEFAULT_SUITE
from hotline.crypto.wire import Writer
from hotline.crypto.wordlist import WORDS
from hotline.errors import AnnouncementError, Reason
from hotline.phases import PHASE_CODES

_LABEL = b"hotline/v1 group code\x00"


@dataclass(frozen=True, slots=True)
class GroupCode:
    digest: bytes

    @property
    def digits(self) -> str:
        groups = (int.from_bytes(self.digest[5 * i : 5 * i + 5], "big") % 100_000
                  for i in range(4))
        return " ".join(f"{g:05d}" for g in groups)

    @property
    def words(self) -> str:
        return " ".join(WORDS[b] for b in self.digest[:8])

    def __str__(self) -> str:
        return self.digits


def _entry(identity_key: bytes, call_key: CallPublicKey) -> bytes:
    if len(identity_key) != PUBLIC_KEY_SIZE:
        raise ValueError("identity key must be 32 bytes")
    return bytes(Writer().raw(identity_key).u16(call_key.kem).bytes16(call_key.key))


def group_code(room_id: str, epoch: int, members: Iterable[tuple[bytes, CallPublicKey]],
               *, phase: str = "open", cipher_suite: int = DEFAULT_SUITE,
               kems: frozenset[Kem] = frozenset(Kem)) -> GroupCode:
    """Code for ``members`` given as (identity public key, call public key) pairs, in
    ``phase`` of a call using ``cipher_suite`` and allowing ``kems``."""
    if phase not in PHASE_CODES:
        raise AnnouncementError(Reason.MALFORMED, f"unknown phase {phase!r}")
    entries = sorted(_entry(i, c) for i, c in members)
    w = Writer().bytes8(room_id_bytes(room_id, AnnouncementError)).u32(epoch)
    w.u8(PHASE_CODES[phase])
    w.u16(cipher_suite).u8(len(kems))
    for kem in sorted(kems):
        w.u16(kem)
    w.u16(len(entries))
    for e in entries:
        w.raw(e)
    return GroupCode(hashlib.sha256(_LABEL + bytes(w)).digest())


_NONCES_LABEL = b"hotline/v1 group code nonces\x00"


def epoch_code(roster: GroupCode, nonces: Iterable[tuple[bytes, bytes]]) -> GroupCode:
    """The code shown for an epoch: the roster's code (:func:`group_code`) bound to every
    member's revealed nonce, given as (identity public key, nonce) pairs
    (:mod:`hotline.crypto.codecommit`)."""
    pairs = sorted(i + n for i, n in nonces)
    if any(len(p) != PUBLIC_KEY_SIZE + 32 for p in pairs):
        raise ValueError("identity keys and nonces must be 32 bytes")
    w = Writer().raw(roster.digest).u16(len(pairs))
    for p in pairs:
        w.raw(p)
    return GroupCode(hashlib.sha256(_NONCES_LABEL + bytes(w)).digest())
