"""Make ed25519-strict.json: Ed25519 keys and signatures Hotline must refuse (or accept).

The verdicts come from a reference written here on its own, in affine coordinates with
modular inverses (RFC 8032 §5.1.3 decoding, §5.1.4 addition rule, [8]P by repeated
addition), not from the product's code (src/hotline/crypto/ed25519_checks.py uses
extended coordinates and a combined square root). tests/unit/crypto/test_ed25519_checks.py
compares the two on every case and on random encodings; the browser runs the same file
against web/src/crypto/ed25519_checks.ts (tests/browser/test_web_vectors.py).

``openssl_accepts`` records what OpenSSL (via ``cryptography``) says about each signature
case *without* Hotline's checks; the unit test checks that this is still so, which is what
docs/PROTOCOL.md says about the library.

The small-order points are found, not copied: [L]Q of a random point Q lies in the
torsion subgroup; one of order 8 generates all 8.

Run only on a deliberate change:  .venv/bin/python tests/vectors/generate_ed25519_strict.py
"""

from __future__ import annotations

import hashlib

from tests.vectors.output import write_vectors

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = (-121665 * pow(121666, -1, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)  # a square root of -1
IDENTITY = (0, 1)
MESSAGE = b"hotline/v1 ed25519 strict vectors"


def inv(a: int) -> int:
    return pow(a, -1, P)


def add(p1: tuple[int, int], p2: tuple[int, int]) -> tuple[int, int]:
    (x1, y1), (x2, y2) = p1, p2
    t = D * x1 * x2 * y1 * y2 % P
    return ((x1 * y2 + x2 * y1) * inv(1 + t) % P, (y1 * y2 + x1 * x2) * inv(1 - t) % P)


def mul(k: int, point: tuple[int, int]) -> tuple[int, int]:
    out, q = IDENTITY, point
    while k:
        if k & 1:
            out = add(out, q)
        q, k = add(q, q), k >> 1
    return out


def encode(point: tuple[int, int]) -> bytes:
    x, y = point
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def decode(data: bytes) -> tuple[int, int] | None:
    """RFC 8032 §5.1.3, step by step; None if it is no canonical point encoding."""
    n = int.from_bytes(data, "little")
    y, sign = n % (1 << 255), n >> 255
    if y >= P:
        return None
    x2 = (y * y - 1) * inv(D * y * y + 1) % P
    if x2 == 0:
        return None if sign else (0, y)
    x = pow(x2, (P + 3) // 8, P)
    if x * x % P != x2:
        x = x * SQRT_M1 % P
    if x * x % P != x2:
        return None
    return (P - x if x % 2 != sign else x), y


def reference_problem(data: bytes) -> str | None:
    """The reference verdict on a point encoding (the words of ed25519_checks.py)."""
    if len(data) != 32:
        return "length"
    n = int.from_bytes(data, "little")
    y = n % (1 << 255)
    if y >= P:
        return "non_canonical"
    point = decode(data)
    if point is None:
        return "non_canonical" if decode(y.to_bytes(32, "little")) == (0, y) else "not_a_point"
    return "small_order" if mul(8, point) == IDENTITY else None


def reference_signature_problem(signature: bytes) -> str | None:
    if len(signature) != 64:
        return "length"
    if int.from_bytes(signature[32:], "little") >= L:
        return "s_out_of_range"
    return reference_problem(signature[:32])


def seed(label: str) -> bytes:
    return hashlib.sha256(b"hotline ed25519 strict " + label.encode()).digest()


def secret_scalar(seed_bytes: bytes) -> int:
    h = bytearray(hashlib.sha512(seed_bytes).digest()[:32])
    h[0] &= 248
    h[31] &= 127
    h[31] |= 64
    return int.from_bytes(h, "little")


BASE = decode((4 * inv(5) % P).to_bytes(32, "little"))
assert BASE is not None


def public_key(seed_bytes: bytes) -> bytes:
    return encode(mul(secret_scalar(seed_bytes), BASE))


def forced_r_signature(seed_bytes: bytes, r: bytes, message: bytes) -> bytes:
    """A signature with a chosen R that a cofactorless verifier accepts when R is the
    identity (S·B = k·A = R + k·A), made with the secret scalar."""
    a = public_key(seed_bytes)
    k = int.from_bytes(hashlib.sha512(r + a + message).digest(), "little") % L
    s = k * secret_scalar(seed_bytes) % L
    return r + s.to_bytes(32, "little")


def torsion() -> list[tuple[int, int]]:
    """The 8 points of order dividing 8, found from a point of order 8."""
    for i in range(1, 1000):
        q = decode(hashlib.sha256(b"torsion %d" % i).digest()[:31] + b"\x00")
        if q is None:
            continue
        t = mul(L, q)
        if mul(4, t) != IDENTITY:  # order 8
            points = [mul(k, t) for k in range(8)]
            assert len(set(points)) == 8 and all(mul(8, p) == IDENTITY for p in points)
            return points
    raise AssertionError("no point of order 8 found")


def openssl_accepts(key: bytes, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    try:
        Ed25519PublicKey.from_public_bytes(key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def main() -> None:
    from hotline.crypto.identity import Identity  # only to make the valid signatures

    keys: list[dict[str, object]] = []

    def key_case(name: str, data: bytes) -> None:
        keys.append({"name": name, "key": data.hex(), "problem": reference_problem(data)})

    alice_seed, bob_seed = seed("alice"), seed("bob")
    alice = Identity.from_seed(alice_seed)
    assert alice.public_key == public_key(alice_seed)  # the reference agrees with OpenSSL
    key_case("valid: alice", alice.public_key)
    key_case("valid: bob", public_key(bob_seed))
    small = torsion()
    for k, point in enumerate(small):
        key_case(f"small order: torsion point {k}", encode(point))
    # a valid key plus a torsion point: large (mixed) order, accepted
    alice_point = decode(alice.public_key)
    assert alice_point is not None
    key_case("mixed order: alice + torsion point 1 (accepted)", encode(add(alice_point, small[1])))
    # every y >= p that fits in 255 bits, with both sign bits
    for y in range(P, 1 << 255):
        for sign in (0, 1):
            key_case(f"non-canonical: y = p + {y - P}, sign {sign}",
                     (y | sign << 255).to_bytes(32, "little"))
    # x = 0 with the sign bit set (-0)
    for y in (1, P - 1):
        key_case(f"non-canonical: x = 0 with the sign bit, y = {'1' if y == 1 else 'p - 1'}",
                 (y | 1 << 255).to_bytes(32, "little"))
    # the first encodings with y < p that are not on the curve
    found = 0
    for y in range(2, 100):
        data = y.to_bytes(32, "little")
        if decode(data) is None and decode(data) != (0, y):
            key_case(f"not a point: y = {y}", data)
            found += 1
            if found == 3:
                break
    key_case("length: 31 bytes", alice.public_key[:31])

    signatures: list[dict[str, object]] = []

    def sig_case(name: str, key: bytes, signature: bytes, message: bytes = MESSAGE) -> None:
        key_problem = reference_problem(key)
        sig_problem = reference_signature_problem(signature)
        signatures.append({
            "name": name, "public_key": key.hex(), "message": message.hex(),
            "signature": signature.hex(), "key_problem": key_problem,
            "signature_problem": sig_problem,
            "valid": key_problem is None and sig_problem is None
            and openssl_accepts(key, signature, message),
            "openssl_accepts": openssl_accepts(key, signature, message),
        })

    good = alice.sign(MESSAGE)
    s = int.from_bytes(good[32:], "little")
    identity_enc = encode(IDENTITY)
    sig_case("valid signature", alice.public_key, good)
    sig_case("valid signature, other message", alice.public_key, good, MESSAGE + b"!")
    sig_case("S + L", alice.public_key, good[:32] + (s + L).to_bytes(32, "little"))
    sig_case("S = L", alice.public_key, good[:32] + L.to_bytes(32, "little"))
    sig_case("S = 2^256 - 1", alice.public_key, good[:32] + b"\xff" * 32)
    sig_case("small-order R (the identity), S = k·a: verifies cofactorless",
             alice.public_key, forced_r_signature(alice_seed, identity_enc, MESSAGE))
    non_canonical_identity = (P + 1).to_bytes(32, "little")
    sig_case("non-canonical R (p + 1, the identity), S = k·a", alice.public_key,
             forced_r_signature(alice_seed, non_canonical_identity, MESSAGE))
    universal = identity_enc + bytes(32)
    for message in (MESSAGE, b"any other message", b""):
        sig_case(f"universal: identity key, R = identity, S = 0, message {message!r}",
                 identity_enc, universal, message)
    sig_case("universal: non-canonical identity key (p + 1), R = identity, S = 0",
             non_canonical_identity, universal)
    sig_case("small-order key (torsion point 4, order 2), R = identity, S = 0",
             encode(small[4]), universal)

    out = {
        "source": "tests/vectors/generate_ed25519_strict.py (reference: affine RFC 8032 "
                  "arithmetic; see its docstring)",
        "message": MESSAGE.hex(),
        "public_keys": keys,
        "signatures": signatures,
    }
    write_vectors("ed25519-strict.json", out, f"{len(keys)} keys, {len(signatures)} signatures")


if __name__ == "__main__":
    main()
