"""The grind attack on the group code (issue 12, item 3), played against the real key
schedule.

A server that forks a call shows honest A a view {A, G_B} and honest B a view {B, G_A},
where the ghosts G_B and G_A are devices the server runs. A and B compare their codes
aloud. Under the old rule (the code covers the roster only), the server can choose the
ghosts' call keys *after* it has seen A's and B's, and a birthday search over them finds
two views with the same code: about 2^32 hashes per view for the 64 bits shown. Here the
search is run for real on a code truncated to 24 bits, to show the attack works.

With commit-then-reveal nonces, a ghost must commit to its nonce before the honest member
of its view reveals its own, so the code of each view is uniformly random to the server
when it commits: the best it can do is one guess per epoch. The test shows that a
budget that always wins under the old rule wins (almost) never now, that no honest nonce
is visible before the ghost commits, and that a ghost cannot change its commitment or
reveal another nonce afterwards.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from collections.abc import Callable

import pytest

from hotline.crypto import keyschedule as sched
from hotline.crypto.callkey import CallKeyPair
from hotline.crypto.codecommit import MSG_COMMIT, MSG_REVEAL, CodeMessage, commitment
from hotline.crypto.groupcode import GroupCode, epoch_code, group_code
from hotline.crypto.identity import Identity
from hotline.errors import KeyMessageError, ProtocolError, Reason

ROOM = "forked-call"
EPOCH = 1_765_000_000  # the server's choice (wall-clock seconds, as rooms.py starts a call)


def truncated(code: GroupCode, bits: int) -> int:
    return int.from_bytes(code.digest[:8], "big") >> (64 - bits)


class Device:
    """A participant: identity, call key and key schedule (honest, or a ghost the
    attacker runs)."""

    def __init__(self, pid: int, identity: Identity | None = None,
                 call_key: CallKeyPair | None = None,
                 random: Callable[[int], bytes] | None = None) -> None:
        self.pid = pid
        self.identity = identity or Identity.generate()
        self.call_key = call_key or CallKeyPair.generate()
        kwargs = {} if random is None else {"random": random}
        self.ks = sched.KeySchedule(self.identity, self.call_key, sched.KeyScheduleConfig(ROOM),
                                    **kwargs)

    def member(self, epoch: int) -> sched.Member:
        return sched.Member(self.pid, self.identity.public_key,
                            self.ks.announcement(self.pid, epoch).encode())


def join_view(me: Device, other: Device) -> list[tuple[int, sched.SendKeyMessage]]:
    """The server puts ``me`` and ``other`` in one view (other was there first)."""
    out = [(me.pid, a) for a in me.ks.handle(
               sched.Joined(0, EPOCH, me.pid, (other.member(EPOCH - 1),)))
           if isinstance(a, sched.SendKeyMessage)]
    out += [(other.pid, a) for a in other.ks.handle(
                sched.Joined(0, EPOCH, other.pid, (me.member(EPOCH - 1),)))
            if isinstance(a, sched.SendKeyMessage)]
    return out


def relay(devices: dict[int, Device], queue: list[tuple[int, sched.SendKeyMessage]]) -> None:
    q = deque(queue)
    while q:
        _sender, msg = q.popleft()
        target = devices[msg.recipient]
        q.extend((target.pid, a) for a in target.ks.handle(sched.KeyMessageReceived(0, msg.data))
                 if isinstance(a, sched.SendKeyMessage))


# -- (a) the attack is real under the old rule ---------------------------------------------


def test_old_rule_birthday_search_forges_a_match_in_seconds() -> None:
    """Old rule: code = roster only. The server sees A's and B's call keys in their
    announcements, then grinds its ghosts' call keys until view {A, G_B} and view
    {B, G_A} share a (24-bit) code."""
    bits = 24
    a, b = Device(1), Device(1)
    ghost_b, ghost_a = Identity.generate(), Identity.generate()  # posing as B to A, A to B
    seen_a, seen_b = a.call_key.public, b.call_key.public  # public: in the roster

    def view_code(honest: Identity, honest_key: object, ghost: Identity, ghost_call: CallKeyPair
                  ) -> int:
        code = group_code(ROOM, EPOCH, [(honest.public_key, honest_key),  # type: ignore[list-item]
                                        (ghost.public_key, ghost_call.public)])
        return truncated(code, bits)

    started = time.monotonic()
    table: dict[int, CallKeyPair] = {}
    found: tuple[CallKeyPair, CallKeyPair] | None = None
    tries = 0
    while found is None and tries < 1 << 15:
        tries += 1
        k1, k2 = CallKeyPair.generate(), CallKeyPair.generate()
        table[view_code(a.identity, seen_a, ghost_b, k1)] = k1
        c2 = view_code(b.identity, seen_b, ghost_a, k2)
        if c2 in table:
            found = (table[c2], k2)
    elapsed = time.monotonic() - started
    assert found is not None, f"no collision in {tries} tries per view"
    assert elapsed < 30
    # The forged views pass the real key schedules' checks (signed announcements).
    g_b = Device(2, ghost_b, found[0])
    g_a = Device(2, ghost_a, found[1])
    join_view(a, g_b)
    join_view(b, g_a)
    old = [group_code(ROOM, EPOCH, [(d.identity.public_key, d.call_key.public) for d in v])
           for v in ((a, g_b), (b, g_a))]
    assert truncated(old[0], bits) == truncated(old[1], bits)  # a forged match, old rule
    print(f"old rule: 24-bit match after {tries} ghost keys per view in {elapsed:.2f} s")


# -- (b) commit-then-reveal: one guess per epoch -------------------------------------------


def counter_random(label: bytes) -> Callable[[int], bytes]:
    i = [0]

    def draw(n: int) -> bytes:
        i[0] += 1
        return hashlib.sha256(label + i[0].to_bytes(4, "big")).digest()[:n]
    return draw


def test_honest_member_reveals_only_after_the_ghost_committed() -> None:
    a = Device(1, random=counter_random(b"a"))
    ghost = Device(2)
    actions = a.ks.handle(sched.Joined(0, EPOCH, 1, (ghost.member(EPOCH - 1),)))
    a_nonce = a.ks._round.nonce  # type: ignore[union-attr]  # what the attacker wants
    sent = [x.data for x in actions if isinstance(x, sched.SendKeyMessage)]
    assert [d[0] for d in sent] == [0x02, MSG_COMMIT]  # a key message and a commitment
    assert all(a_nonce not in d for d in sent)  # honest nonce bytes seen by the attacker: 0
    assert a.ks.code is None  # pending
    # Only once the ghost's commitment is in does A reveal.
    g_actions = ghost.ks.handle(sched.Joined(0, EPOCH, 2, (a.member(EPOCH - 1),)))
    g_commit = next(x for x in g_actions if isinstance(x, sched.SendKeyMessage)
                    and x.data[0] == MSG_COMMIT)
    out = a.ks.handle(sched.KeyMessageReceived(0, g_commit.data))
    reveals = [x for x in out if isinstance(x, sched.SendKeyMessage)]
    assert [CodeMessage.decode(r.data).kind for r in reveals] == [MSG_REVEAL]
    assert CodeMessage.decode(reveals[0].data).value == a_nonce


def test_ghost_cannot_change_its_commitment_or_reveal_another_nonce() -> None:
    a = Device(1)
    ghost = Device(2)
    g_actions = ghost.ks.handle(sched.Joined(0, EPOCH, 2, (a.member(EPOCH - 1),)))
    a.ks.handle(sched.Joined(0, EPOCH, 1, (ghost.member(EPOCH - 1),)))
    g_commit = next(x.data for x in g_actions if isinstance(x, sched.SendKeyMessage)
                    and x.data[0] == MSG_COMMIT)
    a.ks.handle(sched.KeyMessageReceived(0, g_commit))  # A now reveals its nonce

    # Having seen A's nonce, the ghost wants another nonce (one it ground for a match).
    ground = b"\x42" * 32
    recommit = CodeMessage.sign(ghost.identity, MSG_COMMIT, room_id=ROOM, sender=2, recipient=1,
                                epoch=EPOCH, value=commitment(ROOM, 2, EPOCH, ground)).encode()
    with pytest.raises(KeyMessageError) as err:
        a.ks.handle(sched.KeyMessageReceived(0, recommit))
    assert err.value.reason is Reason.STALE  # a second commitment: refused
    other_reveal = CodeMessage.sign(ghost.identity, MSG_REVEAL, room_id=ROOM, sender=2,
                                    recipient=1, epoch=EPOCH, value=ground).encode()
    with pytest.raises(KeyMessageError) as err:
        a.ks.handle(sched.KeyMessageReceived(0, other_reveal))
    assert err.value.reason is Reason.BINDING  # does not open the commitment: refused
    assert a.ks.code is None  # and A shows no code for this epoch: visible
    # Even the true reveal now changes nothing: the member stays marked for the epoch.
    true_reveal = CodeMessage.sign(ghost.identity, MSG_REVEAL, room_id=ROOM, sender=2,
                                   recipient=1, epoch=EPOCH,
                                   value=ghost.ks._round.nonce).encode()  # type: ignore[union-attr]
    with pytest.raises(KeyMessageError):
        a.ks.handle(sched.KeyMessageReceived(0, true_reveal))
    assert a.ks.code is None


def test_forked_views_with_commit_reveal_match_only_by_chance() -> None:
    """The server forks N calls. For each it uses the best strategy left: it runs view 1
    to the end (so it knows A's code), then grinds G_A's nonce for view 2 until the code
    matches A's under its best guess of B's nonce (it has not seen it), commits to that
    nonce, and lets view 2 run. On a 12-bit code the grind succeeds in (almost) every fork
    -- had B's nonce been known, as the roster is under the old rule, each would be a
    forged match -- but the real codes match only by chance (2^-12 per fork)."""
    bits, forks, budget = 12, 40, 1 << 15
    ground = wins = 0
    for _ in range(forks):
        a, b = Device(1), Device(1)
        g_b, g_a = Device(2), Device(2)
        relay({1: a, 2: g_b}, join_view(a, g_b))
        assert a.ks.code is not None and g_b.ks.code == a.ks.code
        target = truncated(a.ks.code, bits)
        guess_b = b"\x00" * 32
        roster2 = group_code(ROOM, EPOCH, [(b.identity.public_key, b.call_key.public),
                                           (g_a.identity.public_key, g_a.call_key.public)])
        best = b"\x01" * 32
        for i in range(budget):
            n = hashlib.sha256(i.to_bytes(4, "big")).digest()
            pairs = [(b.identity.public_key, guess_b), (g_a.identity.public_key, n)]
            if truncated(epoch_code(roster2, pairs), bits) == target:
                best, ground = n, ground + 1
                break
        g_a.ks._random = lambda size, best=best: best[:size]  # type: ignore[misc]
        relay({1: b, 2: g_a}, join_view(b, g_a))
        assert b.ks.code is not None and g_a.ks.code == b.ks.code  # the ghost's nonce is in
        wins += truncated(b.ks.code, bits) == target
    print(f"commit/reveal: grind found a nonce in {ground}/{forks} forks; "
          f"forged 12-bit matches: {wins}")
    assert ground >= forks - 2
    assert wins <= 1  # expected 40 / 4096 ~ 0.01


# -- the epoch and roster rules -------------------------------------------------------------


def test_member_left_for_an_unknown_id_and_epoch_jumps_are_refused() -> None:
    a, ghost = Device(1), Device(2)
    a.ks.handle(sched.Joined(0, EPOCH, 1, (ghost.member(EPOCH - 1),)))
    before = (a.ks.epoch, a.ks.generation, a.ks.members)
    with pytest.raises(ProtocolError):
        a.ks.handle(sched.MemberLeft(0, EPOCH + 1, 99))  # never in the call
    with pytest.raises(ProtocolError):
        a.ks.handle(sched.PhaseChanged(0, EPOCH + 2, "open"))  # an epoch skipped
    with pytest.raises(ProtocolError):
        a.ks.handle(sched.PhaseChanged(0, EPOCH + 1 + 2**20, "open"))  # any jump
    assert (a.ks.epoch, a.ks.generation, a.ks.members) == before
    actions = a.ks.handle(sched.MemberLeft(0, EPOCH + 1, 2))  # the real one is fine
    assert a.ks.epoch == EPOCH + 1 and a.ks.members == ()
    assert any(isinstance(x, sched.GroupCodeChanged) for x in actions)  # alone: code at once
