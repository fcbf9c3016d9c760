"""Make hotline-v1.json: one fixed example per message type of docs/PROTOCOL.md.

Everything is derived from fixed seeds, so the deterministic parts (KIDs, the
announcement, the group code, wire frames) come out the same on every run. The key
message is HPKE-sealed, which is randomized: the file keeps one sealed instance and
the recipient's private seed, and the tests open it.

Run only on a deliberate protocol change:  .venv/bin/python tests/vectors/generate_hotline_v1.py
"""

from __future__ import annotations

import hashlib

from tests.vectors.output import write_vectors

from hotline.crypto.callkey import CallKeyAnnouncement, CallKeyPair, Kem
from hotline.crypto.frames import Codec, protect
from hotline.crypto.groupcode import group_code
from hotline.crypto.identity import Identity
from hotline.crypto.keymessage import KeyMessage
from hotline.crypto.kid import Slot, make_kid
from hotline.crypto.phaseproof import sign_phase
from hotline.crypto.sframe import CipherSuite, SFrameContext, SFrameSender

ROOM = "hotline-example"


def seed(label: str) -> bytes:
    return hashlib.sha256(b"hotline test vector " + label.encode()).digest()


def main() -> None:
    alice_id = Identity.from_seed(seed("alice identity"))
    bob_id = Identity.from_seed(seed("bob identity"))
    alice_call = CallKeyPair.from_x25519_seed(seed("alice call key"))
    bob_call = CallKeyPair.from_x25519_seed(seed("bob call key"))
    alice_pid, bob_pid, epoch, generation = 7, 9, 3, 2
    base_key = seed("alice base key")

    kids = [
        {"participant_id": p, "generation": g, "slot": s.name.lower(), "kid": make_kid(p, g, s)}
        for p, g, s in [(0, 0, Slot.AUDIO), (7, 2, Slot.VIDEO), (1023, 15, Slot.DATA),
                        (1024, 16, Slot.AUDIO), (2**32 - 1, 5, Slot.SCREEN)]
    ]
    ann = CallKeyAnnouncement.create(alice_id, ROOM, alice_pid, epoch, alice_call.public,
                                     "principal")
    msg = KeyMessage.seal(alice_id, bob_call.public, room_id=ROOM, sender=alice_pid,
                          recipient=bob_pid, epoch=epoch, generation=generation,
                          cipher_suite=CipherSuite.AES_128_CTR_HMAC_SHA256_80,
                          base_key=base_key)
    code = group_code(ROOM, epoch, [(alice_id.public_key, alice_call.public),
                                    (bob_id.public_key, bob_call.public)], phase="closed",
                      cipher_suite=CipherSuite.AES_128_CTR_HMAC_SHA256_80,
                      kems=frozenset({Kem.X25519}))

    frames = []
    for codec, slot, frame, ctr in [
        (Codec.OPUS, Slot.AUDIO, bytes([0x78]) + bytes(range(40)), 0),
        (Codec.VP8, Slot.VIDEO, bytes([0x50, 0x42, 0x00, 0x9D, 0x01, 0x2A, 0x80, 0x02, 0xE0,
                                       0x01]) + bytes(range(60)), 1),
        (Codec.VP8, Slot.VIDEO, bytes([0x31, 0x05, 0x00]) + bytes(range(30)), 300),
    ]:
        kid = make_kid(alice_pid, generation, slot)
        ctx = SFrameContext(CipherSuite.AES_128_CTR_HMAC_SHA256_80)
        ctx.add_encryption_key(kid, base_key)
        wire = protect(SFrameSender(ctx, kid, first_counter=ctr), codec, frame)
        frames.append({"codec": codec.value, "cipher_suite": 1, "kid": kid, "ctr": ctr,
                       "base_key": base_key.hex(), "frame": frame.hex(), "wire": wire.hex()})

    out = {
        "about": "Hotline protocol v1 examples; see tests/vectors/README.md and docs/PROTOCOL.md",
        "room_id": ROOM,
        "identities": {
            "alice": {"seed": seed("alice identity").hex(), "public_key": alice_id.public_key.hex(),
                      "fingerprint": alice_id.fingerprint},
            "bob": {"seed": seed("bob identity").hex(), "public_key": bob_id.public_key.hex(),
                    "fingerprint": bob_id.fingerprint},
        },
        "call_keys": {
            "alice": {"kem": 0x0020, "x25519_seed": seed("alice call key").hex(),
                      "public_key": alice_call.public.key.hex()},
            "bob": {"kem": 0x0020, "x25519_seed": seed("bob call key").hex(),
                    "public_key": bob_call.public.key.hex()},
        },
        "kids": kids,
        "announcement": {"participant_id": alice_pid, "epoch": epoch, "role": "principal",
                         "role_code": 1, "signer": "alice", "call_key": "alice",
                         "encoded": ann.encode().hex()},
        "key_message": {"sender": alice_pid, "recipient": bob_pid, "epoch": epoch,
                        "generation": generation, "kid": msg.kid, "cipher_suite": 1,
                        "signer": "alice", "recipient_call_key": "bob",
                        "base_key": base_key.hex(), "encoded": msg.encode().hex()},
        "group_code": {"epoch": epoch, "phase": "closed", "phase_code": 1, "cipher_suite": 1,
                       "kems": [0x0020],
                       "members": ["alice", "bob"], "digest": code.digest.hex(),
                       "digits": code.digits, "words": code.words},
        "phase_proof": {"signer": "alice", "participant_id": alice_pid, "epoch": epoch,
                        "phase": "open", "phase_code": 0,
                        "proof": sign_phase(alice_id, room_id=ROOM, signer=alice_pid,
                                            epoch=epoch, phase="open").hex()},
        "frames": frames,
    }
    write_vectors("hotline-v1.json", out)


if __name__ == "__main__":
    main()
