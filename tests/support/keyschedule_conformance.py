"""Runs one trace of protocol/conformance/keyschedule/*.json against the Python key schedule.

A conformance file names its parties by seed (Ed25519 identity, X25519 call key), the
room, the schedule's configuration and its randomness (draw i is
``SHA-256("hotline trace random" || u32 i)[:n]``, i = 0, 1, ... per trace), so every
expected byte in it is fixed. Each step is an event and what the schedule must do with it
(:func:`outcome`); web/test/node/keyschedule.test.ts is the TypeScript twin of this
runner. The test is tests/unit/crypto/test_conformance_keyschedule.py, the files are written by
tests/vectors/generate_keyschedule_conformance.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hotline.crypto import keyschedule as sched
from hotline.crypto.callkey import CallKeyPair
from hotline.crypto.codecommit import MSG_COMMIT, MSG_REVEAL
from hotline.crypto.identity import Identity
from hotline.errors import CryptoError, ProtocolError, UsageError

CONFORMANCE = Path(__file__).parents[2] / "protocol" / "conformance" / "keyschedule"
KIND = {0x02: "key", MSG_COMMIT: "commit", MSG_REVEAL: "reveal"}


def trace_random() -> Callable[[int], bytes]:
    counter = [0]

    def draw(n: int) -> bytes:
        out = hashlib.sha256(b"hotline trace random" + counter[0].to_bytes(4, "big")).digest()
        counter[0] += 1
        return out[:n]
    return draw


class Parties:
    """The identities and call keys of a conformance file, from their seeds."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.ids = {n: Identity.from_seed(bytes.fromhex(i["seed"]))
                    for n, i in doc["identities"].items()}
        self.calls = {n: CallKeyPair.from_x25519_seed(bytes.fromhex(c["x25519_seed"]))
                      for n, c in doc["call_keys"].items()}


def _kids(kids: tuple[int, ...]) -> list[str]:
    return [str(k) for k in kids]


def _action(a: sched.Action) -> list[Any]:
    """An action other than a sent message, as the files write it (no key objects)."""
    match a:
        case sched.InstallEncryptionKey():
            return ["encrypt", a.generation, _kids(a.kids), a.base_key.hex()]
        case sched.InstallDecryptionKey():
            return ["decrypt", a.sender, a.generation, _kids(a.kids), a.base_key.hex()]
        case sched.RetireKeys():
            return ["retire", _kids(a.kids), a.sending]
        case sched.MemberRejected():
            return ["rejected", a.participant_id, a.reason.value]
        case sched.PhaseRefused():
            return ["phase_refused", a.epoch, a.phase, a.by, a.reason.value]
        case sched.GroupCodePending():
            return ["code_pending", a.epoch]
        case sched.GroupCodeChanged():
            return ["code_changed", a.epoch, list(a.members)]
    raise AssertionError(f"unexpected action {a!r}")


def outcome(ks: sched.KeySchedule, event: sched.Event) -> dict[str, Any]:
    """What the schedule did: refused (and why), the messages sent (kind, recipient, and
    the bytes of code messages, which are deterministic), its other actions in order, the
    code (None: pending) and its next deadline."""
    try:
        actions = ks.handle(event)
    except CryptoError as exc:
        refused = f"key_message:{exc.reason.value}"
    except ProtocolError:
        refused = "protocol"
    except UsageError:
        refused = "usage"
    else:
        sent: list[list[Any]] = []
        for a in actions:
            if isinstance(a, sched.SendKeyMessage):
                kind = KIND[a.data[0]]
                sent.append([kind, a.recipient] + ([] if kind == "key" else [a.data.hex()]))
        return {"refused": None, "sent": sent,
                "actions": [_action(a) for a in actions if not isinstance(a, sched.SendKeyMessage)],
                "code": ks.code.digits if ks.code else None,
                "code_changed": any(isinstance(a, sched.GroupCodeChanged) for a in actions),
                "next_deadline": ks.next_deadline(), "phase": ks.phase}
    return {"refused": refused, "code": ks.code.digits if ks.code else None, "phase": ks.phase}


class TraceRunner:
    """One trace: the schedule of ``trace["me"]``, and the trust verdicts of the members
    the trace announced (``"trusted": false`` in a member; everyone else is trusted)."""

    def __init__(self, doc: dict[str, Any], trace: dict[str, Any],
                 parties: Parties | None = None) -> None:
        self.parties = parties or Parties(doc)
        self.verdicts: dict[int, bool] = {}
        me = trace["me"]
        config = {**doc.get("config", {}), **trace.get("config", {})}
        self.schedule = sched.KeySchedule(
            self.parties.ids[me], self.parties.calls[me],
            sched.KeyScheduleConfig(doc["room_id"], **config), random=trace_random(),
            trusted=lambda m: self.verdicts.get(m.participant_id, True))
        self.schedule.role = trace.get("role", "delegate")

    def _member(self, x: dict[str, Any]) -> sched.Member:
        self.verdicts[x["participant_id"]] = x.get("trusted", True)
        return sched.Member(x["participant_id"], self.parties.ids[x["identity"]].public_key,
                            bytes.fromhex(x["announcement"]), role=x.get("role", "delegate"))

    def event(self, step: dict[str, Any]) -> sched.Event:
        now = float(step.get("now", 0.0))
        match step["type"]:
            case "joined":
                return sched.Joined(now, step["epoch"], step["participant_id"],
                                    tuple(self._member(x) for x in step["members"]),
                                    step.get("phase", "open"))
            case "member_joined":
                return sched.MemberJoined(now, step["epoch"], self._member(step["member"]))
            case "member_left":
                return sched.MemberLeft(now, step["epoch"], step["participant_id"])
            case "phase_changed":
                return sched.PhaseChanged(now, step["epoch"], step.get("phase", "open"),
                                          step.get("by", 0), bytes.fromhex(step.get("proof", "")))
            case "message":
                return sched.KeyMessageReceived(now, bytes.fromhex(step["data"]))
            case "timer":
                return sched.TimerFired(now)
            case "accepted":
                return sched.PeerAccepted(now, step["participant_id"])
        raise ValueError(step["type"])

    def step(self, step: dict[str, Any]) -> dict[str, Any]:
        return outcome(self.schedule, self.event(step))
