"""A malicious server's fork of a call, for the tests: a tampering function for
tests/support/evil_proxy.py that shows connection 0 ("alice") the view {alice, G_B} and
connection 1 ("bob") the view {bob, G_A}, where the ghosts are devices the attacker runs
with real key schedules and identities of its own. What one real client sends the other
goes to the ghost standing in for it; the ghosts' answers (key messages, code commitments
and reveals) are injected. With ``forge_reveal`` G_A reveals another nonce than the one it
committed to (to steer bob's code). Used by tests/integration/test_malicious_fork.py and
tests/browser/test_web_fork.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hotline.crypto import keyschedule as sched
from hotline.crypto.callkey import CallKeyPair, Kem
from hotline.crypto.codecommit import MSG_COMMIT, MSG_REVEAL, CodeMessage
from hotline.crypto.identity import Identity
from hotline.signaling import messages as m

from .evil_proxy import EvilProxy

ROOM = "summit"


class Ghost:
    """A device the attacker runs: identity, call key, real key schedule."""

    def __init__(self) -> None:
        self.identity = Identity.generate()
        self.ks = sched.KeySchedule(self.identity, CallKeyPair.generate(), sched.KeyScheduleConfig(
            ROOM, allowed_kems=frozenset({Kem.X25519})))  # the clients' call settings
        self.pid = 0

    def info(self, pid: int, epoch: int, party: str, real: dict[str, Any]) -> dict[str, Any]:
        self.pid = pid
        ann = self.ks.announcement(pid, epoch, real.get("role", "delegate")).encode()
        return {**real, "identity_key": m.b64encode(self.identity.public_key),
                "announcement": m.b64encode(ann), "party": party}


class Fork:
    """The proxy's tamper function: two views, two ghosts."""

    def __init__(self, proxy: EvilProxy, *, forge_reveal: bool) -> None:
        self.proxy = proxy
        self.g_b, self.g_a = Ghost(), Ghost()  # "bob" to alice, "alice" to bob
        self.forge_reveal = forge_reveal
        self.outbox: dict[int, asyncio.Queue[dict[str, Any]]] = {0: asyncio.Queue(),
                                                                 1: asyncio.Queue()}
        self.pumps = [asyncio.ensure_future(self._pump(i)) for i in (0, 1)]
        self.forged_reveals = 0
        self.ghost_messages = {MSG_COMMIT: 0, MSG_REVEAL: 0}

    async def _pump(self, index: int) -> None:
        while True:
            await self.proxy.inject(index, await self.outbox[index].get())

    def _announced(self, index: int) -> bytes:
        doc = next(d for d in self.proxy.from_clients[index] if d.get("type") == "announce")
        return m.b64decode(doc["announcement"])

    def _identity(self, index: int) -> bytes:
        """The identity key client ``index`` enrolled or authenticated with."""
        doc = next(d for d in self.proxy.from_clients[index] if "identity_key" in d)
        return m.b64decode(doc["identity_key"])

    def _pid(self, index: int) -> int:
        doc = [d for d in self.proxy.seen[index] if d.get("type") == "join_ack"][-1]
        return int(doc["participant_id"])

    def _out(self, ghost: Ghost, actions: list[Any]) -> list[dict[str, Any]]:
        docs = []
        for a in actions:
            if not isinstance(a, sched.SendKeyMessage):
                continue
            data = a.data
            if data[0] in self.ghost_messages:
                self.ghost_messages[data[0]] += 1
            if self.forge_reveal and ghost is self.g_a and data[0] == MSG_REVEAL:
                # Steer bob's code: reveal a nonce ground after seeing alice's view.
                real = CodeMessage.decode(data)
                data = CodeMessage.sign(ghost.identity, MSG_REVEAL, room_id=ROOM,
                                        sender=real.sender, recipient=real.recipient,
                                        epoch=real.epoch, value=b"\x42" * 32).encode()
                self.forged_reveals += 1
            docs.append({"v": 1, "type": "key_from", "sender": ghost.pid,
                         "data": m.b64encode(data)})
        return docs

    def tamper(self, i: int, doc: dict[str, Any]) -> list[dict[str, Any]]:
        kind = doc.get("type")
        if i == 0 and kind == "member_joined" and doc["member"]["party"] == "bob":
            # alice's view: G_B instead of bob.
            real = doc["member"]
            doc["member"] = self.g_b.info(real["participant_id"], doc["epoch"], "bob", real)
            a = sched.Member(self._pid(0), self._identity(0), self._announced(0))
            out = self.g_b.ks.handle(sched.Joined(0, doc["epoch"], self.g_b.pid, (a,)))
            return [doc, *self._out(self.g_b, out)]
        if i == 1 and kind == "joined":
            # bob's view: G_A instead of alice (who was there first).
            epoch, real = doc["epoch"], doc["members"][0]
            doc["members"] = [self.g_a.info(real["participant_id"], epoch - 1, "alice", real)]
            self.g_a.ks.handle(sched.Joined(0, epoch - 1, self.g_a.pid, ()))
            b = sched.Member(doc["participant_id"], self._identity(1), self._announced(1))
            out = self.g_a.ks.handle(sched.MemberJoined(0, epoch, b))
            return [doc, *self._out(self.g_a, out)]
        if kind == "key_from":
            # What one real client sent the other is for the ghost that stands in for it.
            ghost, other = (self.g_a, 1) if i == 0 else (self.g_b, 0)
            try:
                out = ghost.ks.handle(sched.KeyMessageReceived(0, m.b64decode(doc["data"])))
            except Exception:  # the attacker does not care
                return []
            for d in self._out(ghost, out):
                self.outbox[other].put_nowait(d)
            return []
        return [doc]

    def stop(self) -> None:
        for p in self.pumps:
            p.cancel()
