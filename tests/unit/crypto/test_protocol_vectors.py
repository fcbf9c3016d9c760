"""Hotline's own protocol examples (tests/vectors/hotline-v1.json) against the code and
against the byte layouts written in docs/PROTOCOL.md (parsed here by hand)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from hotline.crypto.callkey import CallKeyAnnouncement, CallKeyPair, CallPublicKey, Kem
from hotline.crypto.frames import Codec, protect, unprotect
from hotline.crypto.groupcode import group_code
from hotline.crypto.identity import Identity, verify
from hotline.crypto.keymessage import KeyMessage
from hotline.crypto.kid import Slot, make_kid, parse_kid
from hotline.crypto.phaseproof import sign_phase, verify_phase
from hotline.crypto.sframe import SFrameContext, SFrameHeader, SFrameSender
from hotline.crypto.wordlist import WORDS
from hotline.errors import AnnouncementError
from hotline.phases import PHASE_CODES
from hotline.roles import ROLE_CODES

V: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "hotline-v1.json").read_text())
ROOM = V["room_id"]


def h(x: str) -> bytes:
    return bytes.fromhex(x)


def identity(name: str) -> Identity:
    ident = Identity.from_seed(h(V["identities"][name]["seed"]))
    assert ident.public_key.hex() == V["identities"][name]["public_key"]
    assert ident.fingerprint == V["identities"][name]["fingerprint"]
    return ident


def call_key(name: str) -> CallKeyPair:
    ck = CallKeyPair.from_x25519_seed(h(V["call_keys"][name]["x25519_seed"]))
    assert ck.public.key.hex() == V["call_keys"][name]["public_key"]
    return ck


@pytest.mark.parametrize("case", V["kids"], ids=lambda c: str(c["kid"]))
def test_kid(case: dict[str, Any]) -> None:
    slot = Slot[case["slot"].upper()]
    assert make_kid(case["participant_id"], case["generation"], slot) == case["kid"]
    # PROTOCOL.md: KID = participant_id << 6 | (generation mod 16) << 2 | slot
    assert case["kid"] == (case["participant_id"] << 6) | (case["generation"] % 16) << 2 | slot
    assert parse_kid(case["kid"]) == (case["participant_id"], case["generation"] % 16, slot)


def test_announcement() -> None:
    a = V["announcement"]
    data = h(a["encoded"])
    ann = CallKeyAnnouncement.decode(data)
    ann.verify(room_id=ROOM, participant_id=a["participant_id"],
               identity_key=identity("alice").public_key, role=a["role"])
    assert ann.role == a["role"] and ROLE_CODES[a["role"]] == a["role_code"]
    assert ann.encode() == data
    # Ed25519 is deterministic: re-creating gives the same bytes.
    again = CallKeyAnnouncement.create(identity("alice"), ROOM, a["participant_id"], a["epoch"],
                                       call_key("alice").public, a["role"])
    assert again.encode() == data
    # Layout by hand: type, version, room, participant, epoch, role, kem, key, identity,
    # signature.
    room = ROOM.encode()
    assert data[0] == 0x01 and data[1] == 1 and data[2] == len(room)
    pos = 3 + len(room)
    assert data[3:pos] == room
    assert int.from_bytes(data[pos : pos + 4], "big") == a["participant_id"]
    assert int.from_bytes(data[pos + 4 : pos + 8], "big") == a["epoch"]
    assert data[pos + 8] == a["role_code"]
    pos += 1
    assert int.from_bytes(data[pos + 8 : pos + 10], "big") == Kem.X25519
    assert int.from_bytes(data[pos + 10 : pos + 12], "big") == 32
    assert data[pos + 12 : pos + 44] == call_key("alice").public.key
    assert data[pos + 44 : pos + 76] == identity("alice").public_key
    assert len(data) == pos + 76 + 64


def test_key_message() -> None:
    k = V["key_message"]
    data = h(k["encoded"])
    msg = KeyMessage.decode(data)
    assert msg.encode() == data
    base_key = msg.open(call_key("bob"), identity("alice").public_key, room_id=ROOM,
                        recipient=k["recipient"])
    assert base_key == h(k["base_key"])
    room = ROOM.encode()
    assert data[:3] == bytes([0x02, 1, len(room)])
    pos = 3 + len(room)
    fields = [int.from_bytes(data[pos + 4 * i : pos + 4 * i + 4], "big") for i in range(4)]
    assert fields == [k["sender"], k["recipient"], k["epoch"], k["generation"]]
    assert int.from_bytes(data[pos + 16 : pos + 24], "big") == k["kid"]
    assert int.from_bytes(data[pos + 24 : pos + 26], "big") == k["cipher_suite"]
    sealed_len = int.from_bytes(data[pos + 26 : pos + 28], "big")
    assert sealed_len == 32 + 32 + 16  # X25519 enc, base key, AES-GCM tag
    assert len(data) == pos + 28 + sealed_len + 64


def test_group_code() -> None:
    g = V["group_code"]
    members = [(identity(n).public_key, call_key(n).public) for n in g["members"]]
    code = group_code(ROOM, g["epoch"], members, phase=g["phase"], cipher_suite=g["cipher_suite"],
                      kems=frozenset(Kem(k) for k in g["kems"]))
    assert PHASE_CODES[g["phase"]] == g["phase_code"]
    assert code.digest.hex() == g["digest"]
    assert code.digits == g["digits"] and code.words == g["words"]
    # The formula of PROTOCOL.md, by hand.
    entries = sorted(ik + (0x0020).to_bytes(2, "big") + (32).to_bytes(2, "big") + ck.key
                     for ik, ck in members)
    body = (b"hotline/v1 group code\x00" + bytes([len(ROOM)]) + ROOM.encode()
            + g["epoch"].to_bytes(4, "big") + bytes([g["phase_code"]])
            + g["cipher_suite"].to_bytes(2, "big") + bytes([len(g["kems"])])
            + b"".join(k.to_bytes(2, "big") for k in sorted(g["kems"]))
            + len(entries).to_bytes(2, "big") + b"".join(entries))
    digest = hashlib.sha256(body).digest()
    assert digest.hex() == g["digest"]
    assert g["digits"] == " ".join(
        f"{int.from_bytes(digest[5 * i : 5 * i + 5], 'big') % 100000:05d}" for i in range(4))
    assert g["words"] == " ".join(WORDS[b] for b in digest[:8])


def test_phase_proof() -> None:
    p = V["phase_proof"]
    proof, key = h(p["proof"]), identity(p["signer"]).public_key
    args = {"room_id": ROOM, "signer": p["participant_id"], "epoch": p["epoch"],
            "phase": p["phase"]}
    assert verify_phase(key, proof, **args)
    assert sign_phase(identity(p["signer"]), **args) == proof  # Ed25519 is deterministic
    # The signed bytes of PROTOCOL.md, by hand.
    signed = (b"hotline/v1 phase change\x00" + bytes([len(ROOM)]) + ROOM.encode()
              + p["participant_id"].to_bytes(4, "big") + p["epoch"].to_bytes(4, "big")
              + bytes([p["phase_code"]]))
    assert verify(key, proof, signed)
    for changed in ({"epoch": p["epoch"] + 1}, {"phase": "closed"}, {"signer": 8},
                    {"room_id": ROOM + "x"}):
        assert not verify_phase(key, proof, **(args | changed))  # type: ignore[arg-type]


@pytest.mark.parametrize("case", V["frames"], ids=lambda c: f"{c['codec']}-{c['ctr']}")
def test_frame(case: dict[str, Any]) -> None:
    codec, kid, base_key = Codec(case["codec"]), case["kid"], h(case["base_key"])
    frame, wire = h(case["frame"]), h(case["wire"])
    tx = SFrameContext(case["cipher_suite"])
    tx.add_encryption_key(kid, base_key)
    assert protect(SFrameSender(tx, kid, first_counter=case["ctr"]), codec, frame) == wire
    rx = SFrameContext(case["cipher_suite"])
    rx.add_decryption_key(kid, base_key)
    assert unprotect(rx, codec, wire) == frame
    clear = {"opus": 1}.get(case["codec"], 10 if frame[0] & 1 == 0 else 3)
    assert wire[:clear] == frame[:clear]
    header = SFrameHeader.decode(wire[clear:])
    assert (header.kid, header.ctr) == (kid, case["ctr"])
    assert len(wire) - len(frame) <= 15  # default-suite overhead target


def test_call_public_key_sizes() -> None:
    assert len(CallKeyPair.generate(Kem.MLKEM768_X25519).public.key) == 1184 + 32
    with pytest.raises(AnnouncementError):
        CallPublicKey(Kem.X25519, b"\x00" * 31)
