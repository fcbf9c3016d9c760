"""The device trust store, the trust policy and the key schedule's gating (issue #12,
items 1-2): the conformance cases of tests/vectors/trust-v1.json (also run by the
TypeScript twin: web/test/node/trust.test.ts), the file, the policy, and a key schedule
that seals nothing to a member it does not trust."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hotline.cli.main import app
from hotline.client.trust import State, TrustStore, Verdict, canonical, evaluate, trust_path
from hotline.client.trustpolicy import TrustPolicy, parse_accept, pin_command
from hotline.crypto import keyschedule as sched
from hotline.crypto.callkey import CallKeyPair
from hotline.crypto.identity import Identity
from hotline.crypto.keymessage import MSG_KEY
from hotline.errors import ConfigError, KeyMessageError, UsageError

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "trust-v1.json").read_text())


@pytest.mark.parametrize("case", VECTORS["cases"], ids=lambda c: c["name"])
def test_conformance_case(case: dict[str, Any]) -> None:
    store = TrustStore.from_json(case["store"])
    p = case["presented"]
    verdict = evaluate(store, p["party"], p["fingerprint"], p.get("hotline"),
                       p.get("own_party", ""))
    assert verdict.value == case["verdict"]


@pytest.mark.parametrize("text", VECTORS["invalid_fingerprints"])
def test_invalid_fingerprints_are_refused(text: str) -> None:
    with pytest.raises(UsageError):
        canonical(text)


def test_the_store_round_trips_through_its_file_with_mode_0600(tmp_path: Path) -> None:
    store = TrustStore.from_json(VECTORS["cases"][0]["store"])
    path = trust_path(tmp_path / "me.key")
    assert path.name == "me.key.trust.json"
    store.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = TrustStore.load(path)
    assert again.to_json() == store.to_json() == TrustStore.from_json(again.to_json()).to_json()
    assert TrustStore.load(tmp_path / "none.json").to_json()["parties"] == {}


@pytest.mark.parametrize("doc", [
    "not json", "[]", '{"version": 2}', '{"version": 1, "parties": {"a": {}}}',
    '{"version": 1, "parties": {"a": {"devices": {"zz": {"state": "trusted"}}}}}',
    '{"version": 1, "parties": {"a": {"devices": {"' + "1" * 32 + '": {"state": "maybe"}}}}}',
    '{"version": 1, "hotlines": {"red": {"party": "x", "fingerprints": "abc"}}}',
    '{"version": 1, "hotlines": {"../x": {"party": "x", "fingerprints": []}}}',
])
def test_a_malformed_file_is_a_config_error_never_a_crash(tmp_path: Path, doc: str) -> None:
    path = tmp_path / "t.json"
    path.write_text(doc)
    with pytest.raises(ConfigError):
        TrustStore.load(path)


def test_policy_default_trusts_nobody_and_options_accept_with_a_warning() -> None:
    alice, bob = Identity.generate(), Identity.generate()
    assert TrustPolicy().decide(1, "alice", alice.public_key).verdict is Verdict.NEW_PARTY
    warnings: list[str] = []
    policy = TrustPolicy(accept=[f"alice:{alice.fingerprint}"])
    policy.on_warning = warnings.append
    assert policy.decide(1, "alice", alice.public_key).trusted
    assert not policy.decide(2, "bob", bob.public_key).trusted
    assert any("accepted by option" in w for w in warnings)
    new = TrustPolicy(accept_new=True)
    assert new.decide(1, "alice", alice.public_key).trusted
    # relabelled: a trusted key presented as another party is not accepted by the flag
    assert new.decide(2, "bob", alice.public_key).verdict is Verdict.CHANGED
    with pytest.raises(UsageError):
        parse_accept("no-colon")


def test_a_hotline_policy_accepts_its_pins_only_and_never_by_option() -> None:
    bob, mallory = Identity.generate(), Identity.generate()
    store = TrustStore()
    store.pin("red", "bob", [bob.fingerprint])
    policy = TrustPolicy(store).for_hotline("red")
    assert policy.decide(1, "bob", bob.public_key).trusted
    p = policy.decide(1, "bob", mallory.public_key)
    assert p.verdict is Verdict.CHANGED
    text = p.describe()
    assert bob.fingerprint in text and mallory.fingerprint in text and "bob" in text
    with pytest.raises(UsageError):
        policy.accept("bob", mallory.fingerprint)
    unpinned = TrustPolicy(store).for_hotline("blue").decide(1, "bob", bob.public_key)
    assert unpinned.verdict is Verdict.UNPINNED and "hotline pin add blue" in unpinned.describe()
    assert pin_command("red", "bob", [bob.fingerprint]).startswith(
        f"hotline pin add red --party bob --fingerprint {bob.fingerprint.replace(' ', '')}")


# -- the key schedule seals nothing to an untrusted member -----------------------------


def schedule(identity: Identity, trusted: bool) -> sched.KeySchedule:
    return sched.KeySchedule(identity, CallKeyPair.generate(), sched.KeyScheduleConfig(room_id="r"),
                             trusted=lambda member: trusted)


def member_of(s: sched.KeySchedule, pid: int, epoch: int, party: str) -> sched.Member:
    ann = s.announcement(pid, epoch)
    return sched.Member(pid, s.identity.public_key, ann.encode(), party)


def sealed(actions: list[sched.Action]) -> list[sched.SendKeyMessage]:
    """Sealed sender keys (0x02) among ``actions``; code commitments and reveals (0x03,
    0x04) ride the same action and hold no secret."""
    return [a for a in actions if isinstance(a, sched.SendKeyMessage) and a.data[0] == MSG_KEY]


def run_code_round(now: float, by_pid: dict[int, sched.KeySchedule],
                   *batches: list[sched.Action]) -> None:
    """Deliver every code commitment and reveal in ``batches`` (and those they cause)."""
    todo = [(a.recipient, a.data) for batch in batches for a in batch
            if isinstance(a, sched.SendKeyMessage) and a.data[0] != MSG_KEY]
    while todo:
        pid, data = todo.pop(0)
        out = by_pid[pid].handle(sched.KeyMessageReceived(now, data))
        todo += [(a.recipient, a.data) for a in out
                 if isinstance(a, sched.SendKeyMessage) and a.data[0] != MSG_KEY]


def test_untrusted_member_gets_no_key_until_accepted_then_a_fresh_one() -> None:
    alice_id, bob_id = Identity.generate(), Identity.generate()
    alice, bob = schedule(alice_id, trusted=False), schedule(bob_id, trusted=True)
    bob_actions = bob.handle(sched.Joined(0.0, 1, 2, ()))
    assert not sealed(bob_actions)
    actions = alice.handle(sched.Joined(0.0, 2, 1, (member_of(bob, 2, 1, "bob"),)))
    assert not sealed(actions)  # nothing sealed
    assert alice.members == (2,) and alice.untrusted == (2,)
    # bob (who trusts alice) sends his key; alice does not install it
    bob_joined = bob.handle(sched.MemberJoined(0.1, 2, member_of(alice, 1, 2, "alice")))
    to_alice = sealed(bob_joined)
    assert len(to_alice) == 1
    with pytest.raises(KeyMessageError):
        alice.handle(sched.KeyMessageReceived(0.2, to_alice[0].data))
    # the untrusted member is in the code: both show the same one after the code round
    run_code_round(0.2, {1: alice, 2: bob}, actions, bob_joined)
    code_with_bob = alice.code
    assert code_with_bob is not None and alice.code == bob.code
    # accepted: a rekey seals a new key to bob, and bob's held key is installed
    accepted = alice.handle(sched.PeerAccepted(0.3, 2))
    sent = sealed(accepted)
    assert [a.recipient for a in sent] == [2] and alice.generation == 1
    assert [a.sender for a in accepted if isinstance(a, sched.InstallDecryptionKey)] == [2]
    assert alice.untrusted == () and alice.is_trusted(2)
    installed = bob.handle(sched.KeyMessageReceived(0.4, sent[0].data))
    assert [a.sender for a in installed if isinstance(a, sched.InstallDecryptionKey)] == [1]
    assert alice.handle(sched.PeerAccepted(0.5, 2)) == []  # accepting twice changes nothing
    with pytest.raises(UsageError):
        alice.handle(sched.PeerAccepted(0.5, 9))


# -- the command line ------------------------------------------------------------------


def test_pin_add_list_remove_and_trust_commands(tmp_path: Path) -> None:
    runner = CliRunner()
    key = tmp_path / "me.key"
    fp = Identity.generate().fingerprint
    out = runner.invoke(app, ["pin", "add", "red", "--party", "moscow", "--fingerprint",
                              fp.replace(" ", ""), "--identity", str(key)])
    assert out.exit_code == 0, out.output
    assert fp in out.output
    store = TrustStore.load(trust_path(key))
    assert store.evaluate("moscow", fp, "red") is Verdict.TRUSTED
    assert store.parties["moscow"][fp].state is State.TRUSTED
    listed = runner.invoke(app, ["pin", "list", "--identity", str(key)])
    assert "red: moscow" in listed.output and fp in listed.output
    bad = runner.invoke(app, ["pin", "add", "red", "--party", "moscow", "--fingerprint",
                              "nonsense", "--identity", str(key)])
    assert bad.exit_code == 1 and "not a device fingerprint" in bad.output
    other = Identity.generate().fingerprint
    assert runner.invoke(app, ["trust", "refuse", "alice", other, "--identity",
                               str(key)]).exit_code == 0
    devices = runner.invoke(app, ["trust", "list", "--identity", str(key)])
    assert "refused" in devices.output and other in devices.output
    assert runner.invoke(app, ["pin", "remove", "red", "--identity", str(key)]).exit_code == 0
    assert TrustStore.load(trust_path(key)).evaluate("moscow", fp, "red") is Verdict.UNPINNED
    assert runner.invoke(app, ["pin", "remove", "red", "--identity", str(key)]).exit_code == 1


def test_admin_hotline_add_prints_the_pin_command_of_each_end(tmp_path: Path) -> None:
    """The printed command, run on the other end, pins exactly the far party's keys."""
    from hotline.server.store import SqliteStore

    runner = CliRunner()
    data = str(tmp_path / "d")
    keys = {}
    for party in ("washington", "moscow"):
        out = runner.invoke(app, ["admin", "party", "add", party, "--data", data, "--json"])
        code = json.loads(out.stdout)["enrollment_code"]
        keys[party] = Identity.generate()
        store = SqliteStore(data)
        store.enroll(code, keys[party].public_key)
        store.close()
    out = runner.invoke(app, ["admin", "hotline", "add", "red", "--between", "washington",
                              "moscow", "--data", data])
    assert out.exit_code == 0, out.output
    lines = [line.strip() for line in out.stdout.splitlines()]
    commands = [line for line in lines if line.startswith("hotline pin add red")]
    assert len(commands) == 2
    for command in commands:
        args = command.split()[1:]
        far = args[args.index("--party") + 1]
        me = next(p for p in keys if p != far)
        key = tmp_path / f"{me}.key"
        args[args.index("IDENTITY_FILE")] = str(key)
        assert runner.invoke(app, args).exit_code == 0
        store = TrustStore.load(trust_path(key))
        assert store.evaluate(far, keys[far].fingerprint, "red") is Verdict.TRUSTED
        assert store.evaluate(me, keys[me].fingerprint, "red") is Verdict.CHANGED


@pytest.mark.asyncio
async def test_join_terminal_shows_unverified_members_and_takes_a_and_r(tmp_path: Path) -> None:
    """`hotline join` at a terminal: the warning, the UNVERIFIED row, `a N` / `r N`."""
    import io

    from rich.console import Console

    from hotline.cli.join import _decide, _prompt, _table
    from hotline.client.call import Call
    from hotline.client.trustpolicy import Presented

    me, bob, carol = Identity.generate(), Identity.generate(), Identity.generate()
    key = tmp_path / "me.key"
    call = Call("http://127.0.0.1:1", me, "summit", trust_policy=TrustPolicy.for_identity(key))
    sig = call.signaling
    sig.unverified[5] = Presented(5, "bob", bob.fingerprint, Verdict.NEW_DEVICE)
    sig.unverified[6] = Presented(6, "carol", carol.fingerprint, Verdict.NEW_PARTY)
    out = io.StringIO()
    console = Console(file=out, width=200)
    shown: set[tuple[int, str]] = set()
    _prompt(call, console, shown)
    _prompt(call, console, shown)  # once each
    text = out.getvalue()
    assert text.count("NEW DEVICE: bob") == 1 and "a 5" in text and bob.fingerprint in text
    console.print(_table(call, call.stats(), 1.0))
    assert "bob UNVERIFIED" in out.getvalue() and "carol UNVERIFIED" in out.getvalue()
    _decide(call, "a 5\n", console)
    _decide(call, "r 6\n", console)
    _decide(call, "a 99\n", console)
    assert "accepted participant 5" in out.getvalue() and "cannot:" in out.getvalue()
    store = TrustStore.load(trust_path(key))
    assert store.evaluate("bob", bob.fingerprint) is Verdict.TRUSTED
    assert store.evaluate("carol", carol.fingerprint) is Verdict.REFUSED
    assert list(sig.unverified) == [6] and sig.unverified[6].verdict is Verdict.REFUSED
