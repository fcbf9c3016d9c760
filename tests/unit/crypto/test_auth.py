from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from hotline.crypto.auth import Purpose, check_proof, proof_message, prove
from hotline.crypto.identity import Identity
from hotline.signaling.origin import origin_of

ME, OTHER = Identity.generate(), Identity.generate()
CH = b"\x07" * 32
A, B = "http://127.0.0.1:8080", "http://127.0.0.1:9090"
VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "auth-v1.json").read_text())


def test_proof_verifies_for_its_challenge_purpose_and_key_only() -> None:
    sig = prove(ME, Purpose.AUTH, CH, origin=A)
    assert check_proof(ME.public_key, sig, Purpose.AUTH, CH, origin=A)
    assert not check_proof(ME.public_key, sig, Purpose.AUTH, b"\x08" * 32, origin=A)
    assert not check_proof(ME.public_key, sig, Purpose.ENROLL, CH, origin=A)
    assert not check_proof(OTHER.public_key, sig, Purpose.AUTH, CH, origin=A)
    assert not check_proof(ME.public_key, sig, Purpose.AUTH, b"short", origin=A)
    assert not check_proof(b"\x00" * 31, sig, Purpose.AUTH, CH, origin=A)


def test_enroll_proof_binds_the_code() -> None:
    sig = prove(ME, Purpose.ENROLL, CH, "CODE-1", origin=A)
    assert check_proof(ME.public_key, sig, Purpose.ENROLL, CH, "CODE-1", origin=A)
    assert not check_proof(ME.public_key, sig, Purpose.ENROLL, CH, "CODE-2", origin=A)


def test_a_proof_is_bound_to_the_server_origin_and_the_channel() -> None:
    for purpose, code in ((Purpose.AUTH, ""), (Purpose.ENROLL, "CODE-1")):
        sig = prove(ME, purpose, CH, code, origin=A)
        assert check_proof(ME.public_key, sig, purpose, CH, code, origin=A)
        # relayed by A to B: B checks against its own origin
        assert not check_proof(ME.public_key, sig, purpose, CH, code, origin=B)
        assert not check_proof(ME.public_key, sig, purpose, CH, code, origin="https://127.0.0.1:8080")
        bound = prove(ME, purpose, CH, code, origin=A, channel_binding=b"tls-unique:\x01\x02")
        assert check_proof(ME.public_key, bound, purpose, CH, code, origin=A,
                           channel_binding=b"tls-unique:\x01\x02")
        # the same origin, another TLS channel (a TLS-terminating relay): refused
        assert not check_proof(ME.public_key, bound, purpose, CH, code, origin=A,
                               channel_binding=b"tls-unique:\x01\x03")
        assert not check_proof(ME.public_key, bound, purpose, CH, code, origin=A)
    assert not check_proof(ME.public_key, sig, Purpose.AUTH, CH, origin="x" * 300)


def test_origin_vectors() -> None:
    for case in VECTORS["origins"]:
        assert origin_of(case["url"]) == case["origin"], case["url"]
    for url in VECTORS["bad_urls"]:
        with pytest.raises(ValueError):
            origin_of(url)


def test_proof_vectors_field_by_field() -> None:
    """The signed bytes rebuilt from the layout in docs/SIGNALING.md, and the signatures."""
    identity = Identity.from_seed(bytes.fromhex(VECTORS["seed"]))
    assert identity.public_key.hex() == VECTORS["public_key"]
    challenge = bytes.fromhex(VECTORS["challenge"])
    assert len(VECTORS["proofs"]) == 6
    for case in VECTORS["proofs"]:
        origin, binding = case["origin"].encode(), bytes.fromhex(case["channel_binding"])
        code_hash = hashlib.sha256(case["code"].encode()).digest() if case["code"] else b""
        layout = (b"hotline/v1 " + case["purpose"].encode() + b"\x00" + challenge
                  + identity.public_key + bytes([len(origin)]) + origin
                  + bytes([len(binding)]) + binding + code_hash)
        assert layout.hex() == case["message"]
        purpose = Purpose(case["purpose"])
        assert proof_message(purpose, challenge, identity.public_key, case["origin"], binding,
                             case["code"]) == layout
        signature = bytes.fromhex(case["signature"])
        assert prove(identity, purpose, challenge, case["code"], origin=case["origin"],
                     channel_binding=binding) == signature  # Ed25519 is deterministic
        assert check_proof(identity.public_key, signature, purpose, challenge, case["code"],
                           origin=case["origin"], channel_binding=binding)


def test_public_urls_are_checked_and_made_origins() -> None:
    from hotline.errors import ConfigError
    from hotline.server.settings import Settings
    settings = Settings(public_urls=("https://Hotline.Example.org/", "http://10.0.0.5:8080"))
    assert settings.public_origins == {"https://hotline.example.org:443",
                                       "http://10.0.0.5:8080"}
    with pytest.raises(ConfigError, match="--public-url"):
        Settings(public_urls=("ftp://hotline.example.org",))
