from __future__ import annotations

from hotline.crypto.auth import Purpose, check_proof, prove
from hotline.crypto.identity import Identity

ME, OTHER = Identity.generate(), Identity.generate()
CH = b"\x07" * 32


def test_proof_verifies_for_its_challenge_purpose_and_key_only() -> None:
    sig = prove(ME, Purpose.AUTH, CH)
    assert check_proof(ME.public_key, sig, Purpose.AUTH, CH)
    assert not check_proof(ME.public_key, sig, Purpose.AUTH, b"\x08" * 32)
    assert not check_proof(ME.public_key, sig, Purpose.ENROLL, CH)
    assert not check_proof(OTHER.public_key, sig, Purpose.AUTH, CH)
    assert not check_proof(ME.public_key, sig, Purpose.AUTH, b"short")
    assert not check_proof(b"\x00" * 31, sig, Purpose.AUTH, CH)


def test_enroll_proof_binds_the_code() -> None:
    sig = prove(ME, Purpose.ENROLL, CH, "CODE-1")
    assert check_proof(ME.public_key, sig, Purpose.ENROLL, CH, "CODE-1")
    assert not check_proof(ME.public_key, sig, Purpose.ENROLL, CH, "CODE-2")
