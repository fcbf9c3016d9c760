"""Strict Ed25519 checks (src/hotline/crypto/ed25519_checks.py) against the shared vectors
(tests/vectors/ed25519-strict.json) and a second implementation: the affine reference in
tests/vectors/generate_ed25519_strict.py, on every case and on random encodings."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline.crypto.ed25519_checks import (
    L,
    P,
    decode_point,
    point_problem,
    public_key_problem,
    signature_problem,
)
from hotline.crypto.identity import Identity, check_public_key, verify
from hotline.errors import IdentityError, Reason

HERE = Path(__file__).parents[2] / "vectors"
VECTORS = json.loads((HERE / "ed25519-strict.json").read_text())


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ed25519_reference",
                                                  HERE / "generate_ed25519_strict.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REF = _reference()


def test_key_vectors() -> None:
    problems = [c["problem"] for c in VECTORS["public_keys"]]
    assert problems.count("small_order") == 8  # the whole torsion subgroup
    assert problems.count("non_canonical") == 2 * 19 + 2  # y >= p (both signs), -0 twice
    assert problems.count("not_a_point") >= 3 and problems.count(None) >= 3
    for case in VECTORS["public_keys"]:
        key = bytes.fromhex(case["key"])
        assert public_key_problem(key) == case["problem"], case["name"]
        assert REF.reference_problem(key) == case["problem"], case["name"]


def test_signature_vectors_and_what_openssl_does() -> None:
    for case in VECTORS["signatures"]:
        key, sig = bytes.fromhex(case["public_key"]), bytes.fromhex(case["signature"])
        message = bytes.fromhex(case["message"])
        assert public_key_problem(key) == case["key_problem"], case["name"]
        assert signature_problem(sig) == case["signature_problem"], case["name"]
        assert verify(key, sig, message) is case["valid"], case["name"]
        # what the library alone says (docs/PROTOCOL.md quotes it): still so?
        assert REF.openssl_accepts(key, sig, message) is case["openssl_accepts"], case["name"]
    universal = [c for c in VECTORS["signatures"] if c["name"].startswith("universal")]
    assert universal and all(c["openssl_accepts"] and not c["valid"] for c in universal)


def test_small_order_points_are_all_refused_in_every_encoding() -> None:
    """All 8 torsion points, canonical and every non-canonical variant (y + p, -0)."""
    for point in REF.torsion():
        x, y = point
        encodings = [REF.encode(point)]
        if y + P < 2**255:
            encodings += [(y + P | s << 255).to_bytes(32, "little") for s in (0, 1)]
        if x == 0:
            encodings.append((y | 1 << 255).to_bytes(32, "little"))
        for enc in encodings:
            assert public_key_problem(enc) in ("small_order", "non_canonical")
            with pytest.raises(IdentityError) as caught:
                check_public_key(enc)
            assert caught.value.reason is Reason.WEAK_KEY


@settings(max_examples=int(os.environ.get("HOTLINE_FUZZ_EXAMPLES", "300")), deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_product_and_reference_agree_on_random_encodings(data: bytes) -> None:
    assert point_problem(data) == REF.reference_problem(data)
    point = decode_point(data)
    assert point == REF.decode(data)


@settings(max_examples=50, deadline=None)
@given(st.binary(min_size=32, max_size=32))
def test_real_keys_pass_and_sign(seed: bytes) -> None:
    identity = Identity.from_seed(seed)
    assert public_key_problem(identity.public_key) is None
    sig = identity.sign(b"m")
    assert signature_problem(sig) is None and verify(identity.public_key, sig, b"m")
    s = int.from_bytes(sig[32:], "little")
    assert not verify(identity.public_key, sig[:32] + (s + L).to_bytes(32, "little"), b"m")
