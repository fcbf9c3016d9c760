"""Strict checks of Ed25519 encodings before a signature is verified. PURE.

Hotline verifies Ed25519 with OpenSSL (through ``cryptography``) in Python and with
WebCrypto (BoringSSL) in Chromium. Both verify *cofactorless* and, as measured with the
vectors in ``tests/vectors/ed25519-strict.json`` (OpenSSL 4.0 via cryptography 50):

- a **small-order public key** is accepted, so with the identity point as the key, R =
  the identity and S = 0, one signature verifies for every message;
- a **non-canonical public key** (y >= p) is accepted;
- S >= L is refused; a non-canonical R is refused (R is recomputed, encoded canonically
  and compared byte for byte), a small-order R is accepted.

So Hotline refuses, before the library is called, as libsodium does:

- a public key whose 32-byte encoding is not canonical (y >= p, or x = 0 with the sign
  bit set), that does not decode to a curve point, or that is of small order;
- a signature whose R fails the same checks, or whose S is not below L.

Small order is checked by arithmetic, not by a table: [8]P is the identity exactly for
the 8 points of the torsion subgroup (three doublings in extended coordinates, RFC 8032
§5.1.4). Decoding is RFC 8032 §5.1.3. A point with a torsion component but large order
("mixed order") is accepted: its owner cannot make a signature that verifies for every
message with it. ``web/src/crypto/ed25519_checks.ts`` is the TypeScript twin.
"""

from __future__ import annotations

P = 2**255 - 19
#: The order of the prime-order subgroup (RFC 8032 §5.1).
L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, P - 2, P) % P
_SQRT_M1 = pow(2, (P - 1) // 4, P)
_Y_MASK = (1 << 255) - 1

# Why an encoding is refused (the same words in the TypeScript twin and the vectors).
LENGTH = "length"
NON_CANONICAL = "non_canonical"
NOT_A_POINT = "not_a_point"
SMALL_ORDER = "small_order"
S_OUT_OF_RANGE = "s_out_of_range"


def decode_point(encoded: bytes) -> tuple[int, int] | None:
    """The affine point (x, y) of a canonical encoding (RFC 8032 §5.1.3), else None."""
    if len(encoded) != 32:
        return None
    n = int.from_bytes(encoded, "little")
    sign, y = n >> 255, n & _Y_MASK
    if y >= P:
        return None
    u = (y * y - 1) % P
    v = (_D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    vxx = v * x * x % P
    if vxx == (-u) % P:
        x = x * _SQRT_M1 % P
    elif vxx != u:
        return None
    if x == 0 and sign:
        return None  # -0: the encoding with the sign bit set is not canonical
    if x & 1 != sign:
        x = P - x
    return x, y


def _is_small_order(x: int, y: int) -> bool:
    """[8](x, y) is the identity: three doublings (RFC 8032 §5.1.4, a = -1)."""
    X, Y, Z = x, y, 1
    for _ in range(3):
        a, b, c = X * X % P, Y * Y % P, 2 * Z * Z % P
        h = (a + b) % P
        e = (h - (X + Y) * (X + Y)) % P
        g = (a - b) % P
        f = (c + g) % P
        X, Y, Z = e * f % P, g * h % P, f * g % P
    return X == 0 and Y == Z


def point_problem(encoded: bytes) -> str | None:
    """Why a 32-byte point encoding is refused, or None if it is acceptable."""
    if len(encoded) != 32:
        return LENGTH
    n = int.from_bytes(encoded, "little")
    if n & _Y_MASK >= P:
        return NON_CANONICAL
    point = decode_point(encoded)
    if point is None:
        # y < p but no point: either no square root (not a point) or x = 0 with sign 1
        flipped = (n & _Y_MASK).to_bytes(32, "little")
        return NON_CANONICAL if decode_point(flipped) == (0, n & _Y_MASK) else NOT_A_POINT
    if _is_small_order(*point):
        return SMALL_ORDER
    return None


def public_key_problem(public_key: bytes) -> str | None:
    """Why an Ed25519 public key is refused (see the module text), or None."""
    return point_problem(public_key)


def signature_problem(signature: bytes) -> str | None:
    """Why a signature is refused before verification (R as a key; S < L), or None."""
    if len(signature) != 64:
        return LENGTH
    if int.from_bytes(signature[32:], "little") >= L:
        return S_OUT_OF_RANGE
    return point_problem(signature[:32])
