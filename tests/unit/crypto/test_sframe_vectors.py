"""Every RFC 9605 Appendix C vector (tests/vectors/sframe-rfc9605.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hotline.crypto.sframe import SFrameContext, SFrameHeader, derive_key_salt
from hotline.crypto.suites import make_aead, params

DATA = json.loads((Path(__file__).parents[2] / "vectors" / "sframe-rfc9605.json").read_text())


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def test_vector_file_is_complete() -> None:
    assert len(DATA["header"]) == 289
    assert sorted(v["cipher_suite"] for v in DATA["aes_ctr_hmac"]) == [1, 2, 3]
    assert sorted(v["cipher_suite"] for v in DATA["sframe"]) == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("case", DATA["header"], ids=lambda c: f"kid{c['kid']}-ctr{c['ctr']}")
def test_header(case: dict[str, Any]) -> None:
    encoded = h(case["encoded"])
    assert SFrameHeader.encode(case["kid"], case["ctr"]) == encoded
    decoded = SFrameHeader.decode(encoded + b"payload")
    assert (decoded.kid, decoded.ctr, decoded.size) == (case["kid"], case["ctr"], len(encoded))


@pytest.mark.parametrize("case", DATA["aes_ctr_hmac"], ids=lambda c: f"suite{c['cipher_suite']}")
def test_aes_ctr_hmac(case: dict[str, Any]) -> None:
    p = params(case["cipher_suite"])
    key = h(case["key"])
    assert key[: p.nka] == h(case["enc_key"]) and key[p.nka :] == h(case["auth_key"])
    aead = make_aead(p, key)
    ct = aead.seal(h(case["nonce"]), h(case["aad"]), h(case["pt"]))
    assert ct == h(case["ct"])
    assert aead.open(h(case["nonce"]), h(case["aad"]), ct) == h(case["pt"])


@pytest.mark.parametrize("case", DATA["sframe"], ids=lambda c: f"suite{c['cipher_suite']}")
def test_sframe(case: dict[str, Any]) -> None:
    suite, kid, base_key = case["cipher_suite"], case["kid"], h(case["base_key"])
    derived = derive_key_salt(suite, kid, base_key)
    assert derived.secret == h(case["sframe_secret"])
    assert derived.key == h(case["sframe_key"])
    assert derived.salt == h(case["sframe_salt"])
    suffix = kid.to_bytes(8, "big") + suite.to_bytes(2, "big")
    assert h(case["sframe_key_label"]) == b"SFrame 1.0 Secret key " + suffix
    assert h(case["sframe_salt_label"]) == b"SFrame 1.0 Secret salt " + suffix
    nonce = (int.from_bytes(derived.salt, "big") ^ case["ctr"]).to_bytes(12, "big")
    assert nonce == h(case["nonce"])
    header = SFrameHeader.encode(kid, case["ctr"])
    assert h(case["aad"]) == header + h(case["metadata"])

    sender = SFrameContext(suite)
    sender.add_encryption_key(kid, base_key)
    ct = sender.encrypt(case["ctr"], kid, h(case["metadata"]), h(case["pt"]))
    assert ct == h(case["ct"])

    receiver = SFrameContext(suite)
    receiver.add_decryption_key(kid, base_key)
    assert receiver.decrypt(h(case["metadata"]), h(case["ct"])) == h(case["pt"])
