"""The group code's commit/reveal messages and the epoch code of
tests/vectors/group-code-v1.json (the browser runs the same file: web/test/vectors.ts).
The key-schedule traces over these parties: test_conformance_keyschedule.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from hotline.crypto.codecommit import MSG_COMMIT, CodeMessage, commitment, relayed_header
from hotline.crypto.groupcode import GroupCode, epoch_code, group_code
from hotline.crypto.identity import Identity
from hotline.errors import KeyMessageError
from tests.vectors.generate_group_code_v1 import CALL, IDS

V: dict[str, Any] = json.loads(
    (Path(__file__).parents[2] / "vectors" / "group-code-v1.json").read_text())
ROOM = V["room_id"]


def h(x: str) -> bytes:
    return bytes.fromhex(x)


def test_identities_match_the_file() -> None:
    for name, ident in V["identities"].items():
        assert Identity.from_seed(h(ident["seed"])).public_key.hex() == ident["public_key"]
        assert IDS[name].public_key.hex() == ident["public_key"]
        assert CALL[name].public.key.hex() == V["call_keys"][name]["public_key"]


@pytest.mark.parametrize("case", V["code_messages"], ids=lambda c: str(c["kind"]))
def test_code_messages(case: dict[str, Any]) -> None:
    msg = CodeMessage.decode(h(case["encoded"]))
    assert msg.encode().hex() == case["encoded"]
    assert (msg.kind, msg.room_id, msg.sender, msg.recipient, msg.epoch) == (
        case["kind"], ROOM, case["sender_id"], case["recipient_id"], case["epoch"])
    msg.verify(IDS[case["sender"]].public_key)
    with pytest.raises(KeyMessageError):
        msg.verify(IDS["bob"].public_key)
    nonce = h(case["nonce"])
    # The formula of PROTOCOL.md, by hand.
    body = (b"hotline/v1 code commitment\x00" + bytes([len(ROOM)]) + ROOM.encode()
            + case["sender_id"].to_bytes(4, "big") + case["epoch"].to_bytes(4, "big") + nonce)
    assert hashlib.sha256(body).hexdigest() == case["commitment"]
    assert commitment(ROOM, case["sender_id"], case["epoch"], nonce).hex() == case["commitment"]
    value = h(case["commitment"]) if case["kind"] == MSG_COMMIT else nonce
    assert msg.value == value
    head = (bytes([case["kind"], 1, len(ROOM)]) + ROOM.encode()
            + b"".join(x.to_bytes(4, "big") for x in (1, 2, case["epoch"])))
    assert h(case["encoded"]) == head + value + msg.signature
    assert relayed_header(h(case["encoded"])) == (ROOM, 1, 2)
    if case["kind"] != MSG_COMMIT:
        assert msg.opens(h(case["commitment"]))


def test_epoch_code() -> None:
    e = V["epoch_code"]
    names = e["members"]
    roster = group_code(ROOM, e["epoch"], [(IDS[n].public_key, CALL[n].public) for n in names])
    assert roster.digest.hex() == e["roster_digest"]
    pairs = [(IDS[n].public_key, h(e["nonces"][n])) for n in names]
    code = epoch_code(roster, pairs)
    assert (code.digest.hex(), code.digits, code.words) == (e["digest"], e["digits"], e["words"])
    by_hand = (b"hotline/v1 group code nonces\x00" + roster.digest + len(pairs).to_bytes(2, "big")
               + b"".join(sorted(i + n for i, n in pairs)))
    assert hashlib.sha256(by_hand).hexdigest() == e["digest"]
    # Another nonce for anyone: another code.
    other = epoch_code(roster, [pairs[0], (pairs[1][0], b"\x00" * 32)])
    assert other != code and isinstance(other, GroupCode)
