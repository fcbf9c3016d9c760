"""Writes tests/vectors/consent-v1.json: recording consents (hotline.crypto.consent,
web/src/crypto/consent.ts; docs/PROTOCOL.md "Recording consent").

One principal signs fixed consents from a fixed seed; each case gives the fields, the
signed bytes (hex) and the signature. ``valid`` cases verify; the ``forged`` cases change
one field of a valid case (or the signature) and must not verify in either language.

    .venv/bin/python tests/vectors/generate_consent_v1.py
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from typing import Any

from tests.vectors.output import write_vectors

from hotline.crypto.consent import Consent, sign_consent
from hotline.crypto.identity import Identity


def seed(label: str) -> bytes:
    return hashlib.sha256(b"hotline consent vector " + label.encode()).digest()


def fields(c: Consent) -> dict[str, Any]:
    return {"room_id": c.room_id, "principal": c.principal, "recorder": c.recorder,
            "recorder_key": c.recorder_key.hex(), "phase": c.phase,
            "phase_epoch": c.phase_epoch, "granted": c.granted}


def main() -> None:
    principal = Identity.from_seed(seed("principal"))
    other = Identity.from_seed(seed("another principal"))
    recorder = Identity.from_seed(seed("recorder"))
    grant = Consent("summit", 3, 9, recorder.public_key, "open", 1_765_000_000, True)
    refusal = replace(grant, granted=False)
    closed = replace(grant, phase="closed", phase_epoch=1_765_000_004)
    valid = []
    for name, c in (("granted", grant), ("refused", refusal), ("closed phase", closed)):
        valid.append({"name": name, "consent": fields(c), "message": c.message().hex(),
                      "signature": sign_consent(principal, c).hex()})
    sig = sign_consent(principal, grant)
    bad_sig = bytearray(sig)
    bad_sig[5] ^= 1
    forged = [
        ("another phase", replace(grant, phase="closed"), sig),
        ("another phase epoch", replace(grant, phase_epoch=grant.phase_epoch + 1), sig),
        ("another recorder", replace(grant, recorder=10), sig),
        ("another recorder key", replace(grant, recorder_key=other.public_key), sig),
        ("another principal", replace(grant, principal=4), sig),
        ("another room", replace(grant, room_id="summit2"), sig),
        ("a refusal read as a grant", grant, sign_consent(principal, refusal)),
        ("a signature changed", grant, bytes(bad_sig)),
        ("signed by another key", grant, sign_consent(other, grant)),
    ]
    write_vectors("consent-v1.json", {
        "description": "Recording consents (docs/PROTOCOL.md \"Recording consent\"): valid "
                       "cases verify under principal_key and give `message`; forged ones "
                       "must not verify.",
        "version": 1,
        "principal_key": principal.public_key.hex(),
        "valid": valid,
        "forged": [{"name": n, "consent": fields(c), "signature": s.hex()}
                   for n, c, s in forged],
    }, f"{len(valid)} valid, {len(forged)} forged")


if __name__ == "__main__":
    main()
