"""Recording consents (hotline.crypto.consent) against tests/vectors/consent-v1.json, which
the TypeScript twin checks too (web/test/node/consent.test.ts)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hotline.crypto.consent import Consent, sign_consent, verify_consent
from hotline.crypto.identity import Identity
from hotline.errors import KeyMessageError

DOC = json.loads((Path(__file__).resolve().parents[2] / "vectors" / "consent-v1.json")
                 .read_text())
KEY = bytes.fromhex(DOC["principal_key"])


def consent(f: dict[str, Any]) -> Consent:
    return Consent(f["room_id"], f["principal"], f["recorder"], bytes.fromhex(f["recorder_key"]),
                   f["phase"], f["phase_epoch"], f["granted"])


@pytest.mark.parametrize("case", DOC["valid"], ids=[c["name"] for c in DOC["valid"]])
def test_valid_consents_verify(case: dict[str, Any]) -> None:
    c = consent(case["consent"])
    assert c.message().hex() == case["message"]
    assert verify_consent(KEY, bytes.fromhex(case["signature"]), c)


@pytest.mark.parametrize("case", DOC["forged"], ids=[c["name"] for c in DOC["forged"]])
def test_forged_consents_do_not_verify(case: dict[str, Any]) -> None:
    assert not verify_consent(KEY, bytes.fromhex(case["signature"]), consent(case["consent"]))


def test_the_layout_is_the_documented_one() -> None:
    c = Consent("r", 1, 2, bytes(range(32)), "closed", 7, True)
    assert c.message() == (b"hotline/v1 recording consent\x00" + b"\x01r" + (1).to_bytes(4, "big")
                           + (2).to_bytes(4, "big") + bytes(range(32)) + b"\x01"
                           + (7).to_bytes(4, "big") + b"\x01")


def test_fields_out_of_range_are_refused_not_signed() -> None:
    ident = Identity.generate()
    c = Consent("r", 1, 2, bytes(32), "open", 7, True)
    sig = sign_consent(ident, c)
    for bad in (replace(c, phase="later"), replace(c, phase_epoch=2**32),
                replace(c, recorder_key=bytes(31)), replace(c, room_id=""),
                replace(c, principal=-1)):
        assert not verify_consent(ident.public_key, sig, bad)
        with pytest.raises(KeyMessageError):
            bad.message()
