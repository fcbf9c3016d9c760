"""Generate tests/vectors/group-code-v1.json: the group code's commit/reveal messages, the
epoch code, and key-schedule conformance traces (run by tests/unit/test_group_code_traces.py
and, in Chromium, by web/test/vectors.ts). Deterministic: fixed seeds, and each trace's
key schedule draws its randomness from ``SHA-256("hotline trace random" || u32 i)``,
i = 0, 1, ... (the expected outcomes are what the Python key schedule does).

Run: .venv/bin/python tests/vectors/generate_group_code_v1.py
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hotline.crypto import keyschedule as sched
from hotline.crypto.callkey import CallKeyPair
from hotline.crypto.codecommit import MSG_COMMIT, MSG_REVEAL, CodeMessage, commitment
from hotline.crypto.groupcode import epoch_code, group_code
from hotline.crypto.identity import Identity
from hotline.errors import CryptoError, HotlineError, ProtocolError

ROOM = "hotline-trace"
NAMES = ("alice", "bob", "carol")
PIDS = {"alice": 1, "bob": 2, "carol": 3}


def seed(label: str) -> bytes:
    return hashlib.sha256(b"hotline test vector " + label.encode()).digest()


def trace_random() -> Callable[[int], bytes]:
    counter = [0]

    def draw(n: int) -> bytes:
        out = hashlib.sha256(b"hotline trace random" + counter[0].to_bytes(4, "big")).digest()
        counter[0] += 1
        return out[:n]
    return draw


IDS = {n: Identity.from_seed(seed(f"{n} identity")) for n in NAMES}
CALL = {n: CallKeyPair.from_x25519_seed(seed(f"{n} call key")) for n in NAMES}


def nonce(name: str, epoch: int, variant: str = "") -> bytes:
    return seed(f"{name} nonce {epoch}{variant}")


def announcement(name: str, epoch: int) -> str:
    ks = sched.KeySchedule(IDS[name], CALL[name], sched.KeyScheduleConfig(ROOM))
    return ks.announcement(PIDS[name], epoch).encode().hex()


def code_msg(kind: int, sender: str, to: str, epoch: int, n: bytes,
             signer: str | None = None) -> str:
    value = commitment(ROOM, PIDS[sender], epoch, n) if kind == MSG_COMMIT else n
    return CodeMessage.sign(IDS[signer or sender], kind, room_id=ROOM, sender=PIDS[sender],
                            recipient=PIDS[to], epoch=epoch, value=value).encode().hex()


def commit(sender: str, to: str, epoch: int, variant: str = "", signer: str | None = None
           ) -> dict[str, Any]:
    return {"type": "message", "data": code_msg(MSG_COMMIT, sender, to, epoch,
                                                nonce(sender, epoch, variant), signer)}


def reveal(sender: str, to: str, epoch: int, variant: str = "") -> dict[str, Any]:
    return {"type": "message", "data": code_msg(MSG_REVEAL, sender, to, epoch,
                                                nonce(sender, epoch, variant))}


def member(name: str, epoch: int) -> dict[str, Any]:
    return {"participant_id": PIDS[name], "identity": name,
            "announcement": announcement(name, epoch)}


def to_event(step: dict[str, Any]) -> sched.Event:
    def m(x: dict[str, Any]) -> sched.Member:
        return sched.Member(x["participant_id"], IDS[x["identity"]].public_key,
                            bytes.fromhex(x["announcement"]))
    match step["type"]:
        case "joined":
            return sched.Joined(0.0, step["epoch"], step["participant_id"],
                                tuple(m(x) for x in step["members"]))
        case "member_joined":
            return sched.MemberJoined(0.0, step["epoch"], m(step["member"]))
        case "member_left":
            return sched.MemberLeft(0.0, step["epoch"], step["participant_id"])
        case "phase_changed":
            return sched.PhaseChanged(0.0, step["epoch"], "open")
        case "message":
            return sched.KeyMessageReceived(0.0, bytes.fromhex(step["data"]))
    raise ValueError(step["type"])


def outcome(ks: sched.KeySchedule, event: sched.Event) -> dict[str, Any]:
    """What the schedule did: refused (kind), messages sent (kind, recipient, and the
    bytes of code messages, which are deterministic), and the code (None: pending)."""
    try:
        actions = ks.handle(event)
    except CryptoError as exc:
        return {"refused": f"key_message:{exc.reason.value}",
                "code": ks.code.digits if ks.code else None}
    except ProtocolError:
        return {"refused": "protocol", "code": ks.code.digits if ks.code else None}
    except HotlineError as exc:
        raise AssertionError(f"unexpected refusal {exc!r}") from None
    sent: list[list[Any]] = []
    for a in actions:
        if isinstance(a, sched.SendKeyMessage):
            kind = {0x02: "key", MSG_COMMIT: "commit", MSG_REVEAL: "reveal"}[a.data[0]]
            sent.append([kind, a.recipient] + ([] if kind == "key" else [a.data.hex()]))
    changed = [a for a in actions if isinstance(a, sched.GroupCodeChanged)]
    return {"refused": None, "sent": sent, "code": ks.code.digits if ks.code else None,
            "code_changed": bool(changed)}


def run(me: str, steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ks = sched.KeySchedule(IDS[me], CALL[me], sched.KeyScheduleConfig(ROOM), random=trace_random())
    return [{"event": s, "expect": outcome(ks, to_event(s))} for s in steps]


def traces() -> list[dict[str, Any]]:
    e = 1000
    join_bob = {"type": "joined", "epoch": e, "participant_id": 2,
                "members": [member("alice", e - 1)]}
    cases: dict[str, tuple[str, list[dict[str, Any]]]] = {
        "alone: the code is known at once": (
            "bob", [{"type": "joined", "epoch": e, "participant_id": 2, "members": []}]),
        "two members: commit, reveal after the peer's commitment, then the code": (
            "bob", [join_bob, commit("alice", "bob", e), reveal("alice", "bob", e)]),
        "a reveal before its commitment is refused": (
            "bob", [join_bob, reveal("alice", "bob", e), commit("alice", "bob", e),
                    reveal("alice", "bob", e)]),
        "a second, different commitment is refused": (
            "bob", [join_bob, commit("alice", "bob", e), commit("alice", "bob", e, "other"),
                    reveal("alice", "bob", e, "other"), reveal("alice", "bob", e)]),
        "a reveal that does not match leaves the code pending": (
            "bob", [join_bob, commit("alice", "bob", e), reveal("alice", "bob", e, "other"),
                    reveal("alice", "bob", e)]),
        "a commitment signed by someone else is refused": (
            "bob", [join_bob, commit("alice", "bob", e, signer="carol"),
                    commit("alice", "bob", e), reveal("alice", "bob", e)]),
        "epochs are sequential; a leave must name a member": (
            "bob", [join_bob, {"type": "phase_changed", "epoch": e + 2},
                    {"type": "phase_changed", "epoch": e},
                    {"type": "member_left", "epoch": e + 1, "participant_id": 77},
                    {"type": "member_left", "epoch": e + 1, "participant_id": 1}]),
        "a message for the next epoch waits; one for a past epoch is refused": (
            "bob", [join_bob, commit("alice", "bob", e + 1), commit("alice", "bob", e),
                    {"type": "phase_changed", "epoch": e + 1}, reveal("alice", "bob", e),
                    reveal("alice", "bob", e + 1)]),
        "a member I refused still gets my commitment and reveal (its code covers me)": (
            "bob", [join_bob, {"type": "member_joined", "epoch": e + 1,
                               "member": member("carol", e - 5)},  # stale: refused
                    commit("carol", "bob", e + 1), commit("alice", "bob", e + 1),
                    reveal("alice", "bob", e + 1),
                    {"type": "member_left", "epoch": e + 2, "participant_id": 3}]),
        "three members: the reveal waits for every commitment": (
            "carol", [{"type": "joined", "epoch": e, "participant_id": 3,
                       "members": [member("alice", e - 2), member("bob", e - 1)]},
                      commit("alice", "carol", e), reveal("alice", "carol", e),
                      commit("bob", "carol", e), reveal("bob", "carol", e)]),
    }
    return [{"name": name, "me": me, "participant_id": PIDS[me], "steps": run(me, steps)}
            for name, (me, steps) in cases.items()]


def main() -> None:
    roster = group_code(ROOM, 7, [(IDS[n].public_key, CALL[n].public) for n in ("alice", "bob")])
    pairs = [(IDS[n].public_key, nonce(n, 7)) for n in ("alice", "bob")]
    code = epoch_code(roster, pairs)
    out = {
        "about": "Group code commit/reveal and key-schedule traces; see tests/vectors/README.md",
        "room_id": ROOM,
        "random": "SHA-256('hotline trace random' || u32 i), i = 0, 1, ... per trace",
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
        "traces": traces(),
    }
    path = Path(__file__).with_name("group-code-v1.json")
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
