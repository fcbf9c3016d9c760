"""Make auth-v1.json: login and enrollment proofs bound to the server's origin.

Origins: the URL a client connects to and the origin its proofs name (docs/SIGNALING.md).
Proofs: the exact signed bytes and the Ed25519 signature (deterministic) from a fixed
seed, for auth and enroll, with and without a channel binding. Made with the Python
implementation (src/hotline/crypto/auth.py); the browser's (web/src/crypto/auth.ts) is
the second, independent implementation and must produce the same bytes
(tests/browser/test_web_vectors.py); tests/unit/crypto/test_auth.py also rebuilds the signed
bytes field by field from the layout in docs/SIGNALING.md.

Run only on a deliberate protocol change:  .venv/bin/python tests/vectors/generate_auth_v1.py
"""

from __future__ import annotations

import hashlib

from tests.vectors.output import write_vectors

from hotline.crypto.auth import Purpose, proof_message, prove
from hotline.crypto.identity import Identity
from hotline.signaling.origin import origin_of

ORIGINS = [
    "http://127.0.0.1:8080", "http://127.0.0.1:8080/", "ws://127.0.0.1:8080/ws",
    "http://127.0.0.1", "https://127.0.0.1", "ws://localhost:80/ws", "wss://Hotline.Example.ORG/ws",
    "https://hotline.example.org:443/", "https://hotline.example.org:8443/ws",
    "http://[::1]:8080/", "wss://[2001:DB8:0:0:0:0:0:1]:443/ws", "HTTPS://EXAMPLE.org",
]
BAD_URLS = ["ftp://example.org/", "file:///etc/passwd", "mailto:someone@example.org"]


def main() -> None:
    seed = hashlib.sha256(b"hotline auth vector").digest()
    identity = Identity.from_seed(seed)
    challenge = hashlib.sha256(b"hotline auth vector challenge").digest()
    proofs = []
    for purpose, code, binding in [
        (Purpose.AUTH, "", b""),
        (Purpose.ENROLL, "K7QF-2M9P-XW4D", b""),
        (Purpose.AUTH, "", b"tls-unique:" + bytes(range(12))),
    ]:
        for origin in ("http://127.0.0.1:8080", "https://hotline.example.org:443"):
            message = proof_message(purpose, challenge, identity.public_key, origin, binding, code)
            proofs.append({
                "purpose": purpose.value, "origin": origin, "code": code,
                "channel_binding": binding.hex(), "message": message.hex(),
                "signature": prove(identity, purpose, challenge, code, origin=origin,
                                   channel_binding=binding).hex(),
            })
    out = {
        "source": "tests/vectors/generate_auth_v1.py",
        "seed": seed.hex(), "public_key": identity.public_key.hex(), "challenge": challenge.hex(),
        "origins": [{"url": url, "origin": origin_of(url)} for url in ORIGINS],
        "bad_urls": BAD_URLS,
        "proofs": proofs,
    }
    write_vectors("auth-v1.json", out, f"{len(ORIGINS)} origins, {len(proofs)} proofs")


if __name__ == "__main__":
    main()
