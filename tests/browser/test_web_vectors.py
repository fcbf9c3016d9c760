"""The browser client's E2EE core (web/src/crypto) against the same vector files as the
Python tests, run inside a real Chromium (Debian's /usr/bin/chromium, driven by Playwright).

The page web/test/vectors.html runs every case of tests/vectors/*.json plus negative
checks and leaves a summary on ``window.hotlineVectors``. This test serves the repository
on a free loopback port, loads the page headless, and insists that nothing failed and that
every case of the JSON files ran. It also opens, in Python, a key message and an
announcement the browser made.

The bundle is built by ``make`` (``make web``: ``npm ci`` and ``npm run build`` in web/);
this test does not build it but fails if it is missing or older than its sources. It runs
in the loopback-only namespace of ``make test`` (Chromium must not reach the network).
Set ``HOTLINE_CHROMIUM`` to use another Chromium binary.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from hotline.crypto.callkey import CallKeyAnnouncement, CallKeyPair
from hotline.crypto.keymessage import KeyMessage
from hotline.crypto.wordlist import WORDS

from .support import ROOT, WEB, check_built, run_page, serve_static, web_files

BUNDLE = WEB / "dist" / "test" / "vectors.js"
PAGE = "/web/test/vectors.html"
VECTORS = ROOT / "tests" / "vectors"
# Only what the page needs is served.
SERVED = ("/web/test/", "/web/dist/test/", "/tests/vectors/")
PAGE_TIMEOUT_MS = 120_000


@pytest.fixture
def served_repo() -> Iterator[str]:
    with serve_static(ROOT, SERVED) as url:
        yield url


def expected_counts() -> dict[str, int]:
    """Cases per group, straight from the JSON files."""
    rfc = json.loads((VECTORS / "sframe-rfc9605.json").read_text())
    hot = json.loads((VECTORS / "hotline-v1.json").read_text())
    strict = json.loads((VECTORS / "ed25519-strict.json").read_text())
    auth = json.loads((VECTORS / "auth-v1.json").read_text())
    group = json.loads((VECTORS / "group-code-v1.json").read_text())
    return {
        "ed25519/public_keys": len(strict["public_keys"]),
        "ed25519/signatures": len(strict["signatures"]),
        "auth/origins": len(auth["origins"]),
        "auth/bad_urls": len(auth["bad_urls"]),
        "auth/proofs": len(auth["proofs"]) + 1,
        "sframe/header": len(rfc["header"]),
        "sframe/aes_ctr_hmac": len(rfc["aes_ctr_hmac"]),
        "sframe/sframe": len(rfc["sframe"]),
        "hotline/identities": len(hot["identities"]),
        "hotline/call_keys": len(hot["call_keys"]),
        "hotline/kids": len(hot["kids"]),
        "hotline/announcement": 1,
        "hotline/key_message": 1,
        "hotline/group_code": 1,
        "hotline/phase_proof": 1,
        "hotline/frames": len(hot["frames"]),
        "group/code_messages": len(group["code_messages"]),
        "group/epoch_code": 1,
    }


def test_vectors_in_chromium(loopback_netns: None, served_repo: str) -> None:
    check_built([BUNDLE], [*web_files("src", "test"), WEB / "package-lock.json",
                           WEB / "tsconfig.json"])
    summary, problems = run_page(served_repo + PAGE, "hotlineVectors", PAGE_TIMEOUT_MS)
    failures = "\n".join(summary["failures"][:50])
    assert summary["failed"] == 0, f"{summary['failed']} failed in Chromium:\n{failures}"
    assert not problems, "\n".join(problems)

    counts = dict(summary["counts"])
    checks = counts.pop("checks", 0)
    assert counts == expected_counts(), "the page did not run every vector case"
    assert expected_counts()["sframe/header"] == 289  # RFC 9605 C.1, nothing dropped
    assert checks == summary["planned_checks"] >= 40
    assert summary["passed"] == sum(expected_counts().values()) + checks

    # What WebCrypto (Chromium's BoringSSL) says alone about the strict cases: recorded,
    # and compared with OpenSSL's verdict (docs/PROTOCOL.md reports both).
    strict = json.loads((VECTORS / "ed25519-strict.json").read_text())
    library = summary["library"]
    assert set(library) == {c["name"] for c in strict["signatures"]}
    differs = {c["name"]: library[c["name"]] for c in strict["signatures"]
               if library[c["name"]] != c["openssl_accepts"]}
    print(f"WebCrypto alone accepts: {sorted(n for n, ok in library.items() if ok)}; "
          f"differs from OpenSSL on: {differs}")
    universal = [c["name"] for c in strict["signatures"] if c["name"].startswith("universal")]
    print(f"universal forgeries WebCrypto alone accepts: {sum(library[n] for n in universal)}"
          f" of {len(universal)}; Hotline's verify accepts: 0 (checked above)")

    # The word list the bundle carries is Python's.
    assert summary["words"] == list(WORDS)

    # What the browser made opens and verifies in Python.
    hot = json.loads((VECTORS / "hotline-v1.json").read_text())
    km = hot["key_message"]
    msg = KeyMessage.decode(bytes.fromhex(summary["interop"]["key_message"]))
    base_key = msg.open(
        CallKeyPair.from_x25519_seed(bytes.fromhex(hot["call_keys"]["bob"]["x25519_seed"])),
        bytes.fromhex(hot["identities"]["alice"]["public_key"]),
        room_id=hot["room_id"], recipient=km["recipient"])
    assert base_key.hex() == summary["interop"]["key_message_base_key"]
    ann = CallKeyAnnouncement.decode(bytes.fromhex(summary["interop"]["announcement"]))
    ann.verify(room_id=summary["interop"]["announcement_room"], participant_id=42,
               identity_key=bytes.fromhex(summary["interop"]["announcement_identity"]))


def test_wordlist_ts_is_generated_from_python() -> None:
    """web/src/crypto/wordlist.ts is exactly what web/scripts/gen_wordlist.py makes."""
    result = subprocess.run([sys.executable, str(WEB / "scripts" / "gen_wordlist.py"), "--check"],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
