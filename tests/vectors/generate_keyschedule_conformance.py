"""Generate protocol/conformance/keyschedule/*.json: key-schedule conformance traces.

Each trace is a sequence of events fed to one member's key schedule (roster events, key
and code messages, timers, trust verdicts) with what must happen after each one: refused
and why, the messages sent (with the exact bytes of commitments and reveals), the keys
installed (with their base keys) and retired, members rejected, the group code and the
next deadline. Deterministic: the parties come from fixed seeds and each schedule draws
``SHA-256("hotline trace random" || u32 i)``, i = 0, 1, ...; incoming key messages are
sealed here once and kept as bytes in the file. The expected outcomes are what the Python
key schedule does (tests/support/keyschedule_conformance.py); TypeScript must agree
(web/test/node/keyschedule.test.ts). Regenerate only on a deliberate change:

    .venv/bin/python -m tests.vectors.generate_keyschedule_conformance
"""

from __future__ import annotations

import json
from typing import Any

from hotline.crypto.codecommit import MSG_COMMIT, MSG_REVEAL
from hotline.crypto.keymessage import KeyMessage
from hotline.crypto.keyschedule import KeySchedule, KeyScheduleConfig
from hotline.crypto.phaseproof import sign_phase
from hotline.crypto.suites import DEFAULT_SUITE, CipherSuite

from ..support.keyschedule_conformance import CONFORMANCE, TraceRunner
from .generate_group_code_v1 import CALL, IDS, NAMES, PIDS, ROOM, code_msg, nonce, seed

VERSION = 1
E = 1000  # the epoch of the traces' first join
CONFIG = {"rekey_interval": 600.0, "grace": 1.0, "rekey_deadline": 5.0, "max_pending": 256}


def announcement(name: str, epoch: int, role: str = "delegate") -> str:
    ks = KeySchedule(IDS[name], CALL[name], KeyScheduleConfig(ROOM))
    return ks.announcement(PIDS[name], epoch, role).encode().hex()


def member(name: str, epoch: int, *, trusted: bool = True, role: str = "delegate",
           signed_role: str | None = None) -> dict[str, Any]:
    """A roster entry: the roster gives it ``role``; its announcement signs ``signed_role``
    (the same unless a lying server relabelled it)."""
    m: dict[str, Any] = {"participant_id": PIDS[name], "identity": name,
                         "announcement": announcement(name, epoch, signed_role or role)}
    if not trusted:
        m["trusted"] = False
    if role != "delegate":
        m["role"] = role
    return m


def commit(sender: str, to: str, epoch: int, variant: str = "", signer: str | None = None,
           *, room: str = ROOM, recipient_id: int | None = None) -> dict[str, Any]:
    return {"type": "message",
            "data": code_msg(MSG_COMMIT, sender, to, epoch, nonce(sender, epoch, variant),
                             signer, room=room, recipient_id=recipient_id)}


def reveal(sender: str, to: str, epoch: int, variant: str = "") -> dict[str, Any]:
    return {"type": "message", "data": code_msg(MSG_REVEAL, sender, to, epoch,
                                                nonce(sender, epoch, variant))}


def key(sender: str, to: str, epoch: int, generation: int, *, room: str = ROOM,
        signer: str | None = None, sender_id: int | None = None, sealed_to: str | None = None,
        suite: CipherSuite = DEFAULT_SUITE, now: float = 0.0) -> dict[str, Any]:
    """A key message of ``sender`` for ``to``, its base key from a fixed seed."""
    msg = KeyMessage.seal(
        IDS[signer or sender], CALL[sealed_to or to].public, room_id=room,
        sender=PIDS[sender] if sender_id is None else sender_id, recipient=PIDS[to],
        epoch=epoch, generation=generation, cipher_suite=suite,
        base_key=seed(f"{sender} base key {epoch} {generation}"))
    step: dict[str, Any] = {"type": "message", "data": msg.encode().hex()}
    if now:
        step["now"] = now
    return step


def joined(me: str, *members: dict[str, Any], epoch: int = E, now: float = 0.0
           ) -> dict[str, Any]:
    step: dict[str, Any] = {"type": "joined", "epoch": epoch, "participant_id": PIDS[me],
                            "members": list(members)}
    if now:
        step["now"] = now
    return step


def phase(epoch: int, now: float = 0.0, to: str = "", *, by: str | int = 0,
          proof: str = "") -> dict[str, Any]:
    step: dict[str, Any] = {"type": "phase_changed", "epoch": epoch}
    if to:
        step["phase"] = to
    if by:
        step["by"] = PIDS[by] if isinstance(by, str) else by
    if proof:
        step["proof"] = proof
    if now:
        step["now"] = now
    return step


def proof(signer: str, epoch: int, to: str = "open", *, key: str | None = None,
          room: str = ROOM) -> str:
    """``signer``'s phase proof (made with ``key``'s identity if given: a forgery)."""
    return sign_phase(IDS[key or signer], room_id=room, signer=PIDS[signer], epoch=epoch,
                      phase=to).hex()


def timer(now: float) -> dict[str, Any]:
    return {"type": "timer", "now": now}


def left(pid: int, epoch: int, now: float = 0.0) -> dict[str, Any]:
    step: dict[str, Any] = {"type": "member_left", "epoch": epoch, "participant_id": pid}
    if now:
        step["now"] = now
    return step


def accepted(name: str, now: float = 0.0) -> dict[str, Any]:
    step: dict[str, Any] = {"type": "accepted", "participant_id": PIDS[name]}
    if now:
        step["now"] = now
    return step


Cases = dict[str, tuple[str, list[dict[str, Any]]]
             | tuple[str, list[dict[str, Any]], dict[str, Any]]
             | tuple[str, list[dict[str, Any]], dict[str, Any], str]]


def code_round() -> Cases:
    """The commit/reveal round of the group code (these traces came from
    tests/vectors/group-code-v1.json, unchanged)."""
    e = E
    join_bob = joined("bob", member("alice", e - 1))
    return {
        "alone: the code is known at once": ("bob", [joined("bob")]),
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
            "bob", [join_bob, phase(e + 2), phase(e), left(77, e + 1), left(1, e + 1)]),
        "a message for the next epoch waits; one for a past epoch is refused": (
            "bob", [join_bob, commit("alice", "bob", e + 1), commit("alice", "bob", e),
                    phase(e + 1), reveal("alice", "bob", e), reveal("alice", "bob", e + 1)]),
        "a member I refused still gets my commitment and reveal (its code covers me)": (
            "bob", [join_bob, {"type": "member_joined", "epoch": e + 1,
                               "member": member("carol", e - 5)},  # stale: refused
                    commit("carol", "bob", e + 1), commit("alice", "bob", e + 1),
                    reveal("alice", "bob", e + 1), left(3, e + 2)]),
        "three members: the reveal waits for every commitment": (
            "carol", [joined("carol", member("alice", e - 2), member("bob", e - 1)),
                      commit("alice", "carol", e), reveal("alice", "carol", e),
                      commit("bob", "carol", e), reveal("bob", "carol", e)]),
        "a code message for another room or another recipient is refused": (
            "bob", [join_bob, commit("alice", "bob", e, room="other-room"),
                    commit("alice", "bob", e, recipient_id=3), commit("alice", "bob", e),
                    reveal("alice", "bob", e)]),
    }


def key_messages() -> Cases:
    e = E
    join_bob = joined("bob", member("alice", e - 1), member("carol", e - 1))
    return {
        "a key message installs the sender's key; the same message again is refused": (
            "bob", [join_bob, first := key("alice", "bob", e, 0), first]),
        "generations only go up; the previous key is retired after the grace": (
            "bob", [join_bob, key("alice", "bob", e, 1), key("alice", "bob", e, 0),
                    key("alice", "bob", e, 2, now=0.5), timer(1.4), timer(1.5)]),
        "a key message for another room is refused": (
            "bob", [join_bob, key("alice", "bob", e, 0, room="other-room")]),
        "a key message for another recipient is refused": (
            "bob", [join_bob, key("alice", "carol", e, 0)]),
        "a key message sealed to another call key does not open": (
            "bob", [join_bob, key("alice", "bob", e, 0, sealed_to="carol")]),
        "a key message from outside the roster is refused": (
            "bob", [join_bob, key("alice", "bob", e, 0, sender_id=9)]),
        "a key message signed by another member than its sender is refused": (
            "bob", [join_bob, key("alice", "bob", e, 0, signer="carol"),
                    key("alice", "bob", e, 0)]),
        "a key message for the next epoch waits for it; one for a past epoch is refused": (
            "bob", [join_bob, key("alice", "bob", e + 1, 1), phase(e + 1),
                    key("alice", "bob", e, 0)]),
        "a key message too far ahead is refused": (
            "bob", [join_bob, key("alice", "bob", e + 9, 1), key("alice", "bob", e + 8, 1)]),
        "a key message of another cipher suite is refused": (
            "bob", [join_bob, key("alice", "bob", e, 0,
                                  suite=CipherSuite.AES_128_GCM_SHA256_128)]),
        "garbage is refused": ("bob", [join_bob, {"type": "message", "data": "02ff00"}]),
        "a key message before my join is refused": ("bob", [key("alice", "bob", e, 0)]),
    }


def roster() -> Cases:
    e = E
    return {
        "a join rekeys and seals to the newcomer, who owes a key of the new epoch": (
            "bob", [joined("bob", member("alice", e - 1)), key("alice", "bob", e, 0),
                    {"type": "member_joined", "epoch": e + 1, "member": member("carol", e + 1),
                     "now": 2.0}, timer(6.9), timer(7.0)]),
        "a leave rekeys for those left; the leaver's keys go after the grace": (
            "carol", [joined("carol", member("alice", e - 2), member("bob", e - 1)),
                      key("alice", "carol", e, 0), key("bob", "carol", e, 0),
                      left(1, e + 1, now=3.0), timer(3.5), timer(4.0)]),
        "an announcement replayed into a later join is rejected": (
            "bob", [joined("bob", member("alice", e - 1)),
                    {"type": "member_joined", "epoch": e + 1, "member": member("carol", e)}]),
        "duplicate or out-of-range participant ids are refused": (
            "bob", [{"type": "joined", "epoch": e, "participant_id": 2,
                     "members": [member("alice", e - 1), member("alice", e - 1)]},
                    {"type": "joined", "epoch": e, "participant_id": 2,
                     "members": [member("bob", e - 1)]},
                    {"type": "joined", "epoch": 2**32, "participant_id": 2, "members": []},
                    joined("bob", member("alice", e - 1)),
                    {"type": "member_joined", "epoch": e + 1, "member": member("alice", e + 1)},
                    joined("bob")]),
        "roster events before my join are refused": (
            "bob", [phase(e), left(1, e), timer(1.0), accepted("alice")]),
    }


def timers() -> Cases:
    e = E
    join_bob = joined("bob", member("alice", e - 1))
    return {
        "a rekey every rekey_interval, the code stays": (
            "bob", [join_bob, commit("alice", "bob", e), reveal("alice", "bob", e),
                    timer(59.0), timer(60.0), timer(120.5)], {"rekey_interval": 60.0}),
        "a peer late with its key of the new epoch has its keys retired": (
            "bob", [join_bob, key("alice", "bob", e, 0), phase(e + 1, now=1.0), timer(5.9),
                    timer(6.0), key("alice", "bob", e + 1, 1, now=7.0)]),
        "a stream of roster events cannot extend a peer's deadline": (
            "bob", [join_bob, key("alice", "bob", e, 0), phase(e + 1, now=1.0),
                    phase(e + 2, now=4.0), timer(6.0)]),
        "a peer that rekeys in time keeps its new key": (
            "bob", [join_bob, key("alice", "bob", e, 0), phase(e + 1, now=1.0),
                    key("alice", "bob", e + 1, 1, now=2.0), timer(3.0), timer(6.0)]),
        "messages waiting for a later epoch are bounded: the oldest goes": (
            "bob", [join_bob, key("alice", "bob", e + 1, 1), commit("carol", "bob", e + 1),
                    commit("carol", "bob", e + 1, "other"), phase(e + 1)],
            {"max_pending": 2}),
    }


def trust() -> Cases:
    e = E
    return {
        "an untrusted member gets no key and gives none until it is accepted": (
            "bob", [joined("bob", member("alice", e - 1, trusted=False),
                           member("carol", e - 1)),
                    held := key("alice", "bob", e, 0), key("carol", "bob", e, 0),
                    commit("alice", "bob", e), commit("carol", "bob", e),
                    reveal("alice", "bob", e), reveal("carol", "bob", e),
                    accepted("alice", now=1.0), held, accepted("alice", now=2.0)]),
        "an untrusted newcomer: sealed to nobody new, in the code all the same": (
            "alice", [joined("alice"),
                      {"type": "member_joined", "epoch": e + 1,
                       "member": member("bob", e + 1, trusted=False)},
                      commit("bob", "alice", e + 1), reveal("bob", "alice", e + 1)]),
        "accepting a stale held key message installs nothing": (
            "bob", [joined("bob", member("alice", e - 1, trusted=False)),
                    key("alice", "bob", e, 0), phase(e + 1), accepted("alice", now=1.0)]),
        "accepting someone not in the roster is refused": (
            "bob", [joined("bob", member("alice", e - 1)), accepted("carol")]),
    }


def phases() -> Cases:
    """alice is a principal, carol the press; bob (me) a delegate unless a trace says."""
    e = E
    alice, carol = member("alice", e - 2, role="principal"), member("carol", e - 1, role="press")
    closed = joined("bob", alice, carol) | {"phase": "closed"}
    reopen = phase(e + 1, to="open", by="alice", proof=proof("alice", e))
    return {
        "closing rekeys at once without the press (no proof needed, by the operator: 0)": (
            "bob", [joined("bob", alice, carol), phase(e + 1, to="closed"),
                    phase(e + 2, to="closed", now=1.0)]),
        "a press joining in the closed part gets no key; a delegate does": (
            "alice", [joined("alice") | {"phase": "closed"},
                      {"type": "member_joined", "epoch": e + 1,
                       "member": member("carol", e + 1, role="press")},
                      {"type": "member_joined", "epoch": e + 2, "member": member("bob", e + 2)}],
            {}, "principal"),
        "reopening with a principal's proof: the press gets a fresh key": (
            "bob", [closed, reopen, phase(e + 2, to="open")]),
        "reopening without a proof is refused: still closed, the epoch advances": (
            "bob", [closed, phase(e + 1, to="open", by="alice"), phase(e + 2, to="open"),
                    phase(e + 3, to="open", by="alice", proof=proof("alice", e + 2))]),
        "reopening with a forged or replayed proof is refused": (
            "bob", [closed,
                    phase(e + 1, to="open", by="alice", proof=proof("alice", e, key="carol")),
                    phase(e + 2, to="open", by="alice", proof=proof("alice", e)),
                    phase(e + 3, to="open", by="alice", proof=proof("alice", e + 2, "closed")),
                    phase(e + 4, to="open", by="alice",
                          proof=proof("alice", e + 3, room="other-room"))]),
        "reopening by someone not a principal of my view is refused": (
            "bob", [closed, phase(e + 1, to="open", by="carol", proof=proof("carol", e)),
                    phase(e + 2, to="open", by="bob", proof=proof("bob", e + 1)),
                    phase(e + 3, to="open", by=9, proof=proof("alice", e + 2)),
                    phase(e + 4, to="open", by=2**32, proof=proof("alice", e + 3))]),
        "reopening by a principal this device has not verified is refused": (
            "bob", [joined("bob", member("alice", e - 2, role="principal", trusted=False),
                           carol) | {"phase": "closed"},
                    reopen]),
        "a principal reopens with its own proof": (
            "alice", [joined("alice", member("bob", e - 2), carol) | {"phase": "closed"},
                      phase(e + 1, to="open", by="alice", proof=proof("alice", e))],
            {}, "principal"),
        "a member whose signed role differs from the roster's is rejected": (
            "bob", [joined("bob", member("alice", e - 2, signed_role="principal"),
                           member("carol", e - 1, signed_role="press"))]),
        "the code commits to the phase: open": (
            "bob", [joined("bob", alice), commit("alice", "bob", e), reveal("alice", "bob", e)]),
        "the code commits to the phase: closed": (
            "bob", [joined("bob", alice) | {"phase": "closed"}, commit("alice", "bob", e),
                    reveal("alice", "bob", e)]),
        "an unknown phase is refused": (
            "bob", [joined("bob", alice) | {"phase": "recess"}, joined("bob", alice),
                    phase(e + 1, to="recess")]),
    }


FILES = {
    "code-round": ("The group code's commit/reveal round: commitments before reveals, one "
                   "commitment per member and epoch, reveals that must open it.", code_round),
    "key-messages": ("Incoming key messages: installed once, for this room and recipient, "
                     "from a member, in order; later epochs wait, bounded.", key_messages),
    "roster": ("Joins and leaves: sequential epochs, a rekey at each, announcements that "
               "fit the roster, keys of leavers and late peers retired.", roster),
    "timers": ("Timers: the periodic rekey, the grace of an old key, the deadline of a "
               "peer's key after an epoch change, the bound of waiting messages.", timers),
    "trust": ("Trust verdicts: nothing sealed to or taken from an unverified member until "
              "the user accepts it (a rekey), which opens its held key message.", trust),
    "phases": ("Phases and roles: nothing sealed to the press in the closed part, a reopen "
               "only with a principal's proof, signed roles that must fit the roster, the "
               "phase in the group code.", phases),
}


def document(description: str, cases: Cases) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "description": description,
        "version": VERSION,
        "room_id": ROOM,
        "random": "SHA-256('hotline trace random' || u32 i)[:n], i = 0, 1, ... per trace",
        "identities": {n: {"seed": seed(f"{n} identity").hex(),
                           "public_key": IDS[n].public_key.hex()} for n in NAMES},
        "call_keys": {n: {"x25519_seed": seed(f"{n} call key").hex(),
                          "public_key": CALL[n].public.key.hex()} for n in NAMES},
        "config": CONFIG,
        "traces": [],
    }
    for name, (me, steps, *rest) in cases.items():
        trace: dict[str, Any] = {"name": name, "me": me, "participant_id": PIDS[me]}
        if rest and rest[0]:
            trace["config"] = rest[0]
        if len(rest) > 1:
            trace["role"] = rest[1]  # my role (the one my announcement signs)
        runner = TraceRunner(doc, trace)
        trace["steps"] = [{"event": s, "expect": runner.step(s)} for s in steps]
        doc["traces"].append(trace)
    return doc


def main() -> None:
    CONFORMANCE.mkdir(parents=True, exist_ok=True)
    for stem, (description, cases) in FILES.items():
        path = CONFORMANCE / f"{stem}.json"
        path.write_text(json.dumps(document(description, cases()), indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
