"""Generate tests/vectors/group-code-v1.json: the group code's commit/reveal messages and
the epoch code (run by tests/unit/crypto/test_group_code_traces.py and, in Chromium, by
web/test/vectors.ts), from fixed seeds. The key-schedule traces over the same parties are
protocol/conformance/keyschedule/ (generate_keyschedule_conformance.py).

Run: .venv/bin/python tests/vectors/generate_group_code_v1.py
"""

from __future__ import annotations

import hashlib

from tests.vectors.output import write_vectors

from hotline.crypto.callkey import CallKeyPair
from hotline.crypto.codecommit import MSG_COMMIT, MSG_REVEAL, CodeMessage, commitment
from hotline.crypto.groupcode import epoch_code, group_code
from hotline.crypto.identity import Identity

ROOM = "hotline-trace"
NAMES = ("alice", "bob", "carol")
PIDS = {"alice": 1, "bob": 2, "carol": 3}


def seed(label: str) -> bytes:
    return hashlib.sha256(b"hotline test vector " + label.encode()).digest()


IDS = {n: Identity.from_seed(seed(f"{n} identity")) for n in NAMES}
CALL = {n: CallKeyPair.from_x25519_seed(seed(f"{n} call key")) for n in NAMES}


def nonce(name: str, epoch: int, variant: str = "") -> bytes:
    return seed(f"{name} nonce {epoch}{variant}")


def code_msg(kind: int, sender: str, to: str, epoch: int, n: bytes,
             signer: str | None = None, *, room: str = ROOM, recipient_id: int | None = None
             ) -> str:
    value = commitment(room, PIDS[sender], epoch, n) if kind == MSG_COMMIT else n
    return CodeMessage.sign(IDS[signer or sender], kind, room_id=room, sender=PIDS[sender],
                            recipient=PIDS[to] if recipient_id is None else recipient_id,
                            epoch=epoch, value=value).encode().hex()


def main() -> None:
    roster = group_code(ROOM, 7, [(IDS[n].public_key, CALL[n].public) for n in ("alice", "bob")])
    pairs = [(IDS[n].public_key, nonce(n, 7)) for n in ("alice", "bob")]
    code = epoch_code(roster, pairs)
    out = {
        "about": "Group code commit/reveal and the epoch code; see tests/vectors/README.md",
        "room_id": ROOM,
        "identities": {n: {"seed": seed(f"{n} identity").hex(),
                           "public_key": IDS[n].public_key.hex()} for n in NAMES},
        "call_keys": {n: {"x25519_seed": seed(f"{n} call key").hex(),
                          "public_key": CALL[n].public.key.hex()} for n in NAMES},
        "code_messages": [
            {"kind": kind, "sender": "alice", "sender_id": 1, "recipient_id": 2, "epoch": 7,
             "nonce": nonce("alice", 7).hex(),
             "commitment": commitment(ROOM, 1, 7, nonce("alice", 7)).hex(),
             "encoded": code_msg(kind, "alice", "bob", 7, nonce("alice", 7))}
            for kind in (MSG_COMMIT, MSG_REVEAL)],
        "epoch_code": {"epoch": 7, "members": ["alice", "bob"],
                       "roster_digest": roster.digest.hex(),
                       "nonces": {n: nonce(n, 7).hex() for n in ("alice", "bob")},
                       "digest": code.digest.hex(), "digits": code.digits, "words": code.words},
    }
    write_vectors("group-code-v1.json", out, indent=1)


if __name__ == "__main__":
    main()
