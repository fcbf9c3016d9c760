/**
 * Phases and roles in the TypeScript key schedule, end to end between schedules (the
 * byte-exact rules are protocol/conformance/keyschedule/phases.json, run by
 * keyschedule.test.ts): a close rekeys without the press, a proof the browser makes
 * (`phaseProof`) reopens in another browser's schedule, a press relabelled as a delegate
 * is rejected. Python: tests/unit/crypto/test_phases.py.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { CallKeyPair, Kem } from "../../src/crypto/callkey.js";
import { Identity } from "../../src/crypto/identity.js";
import {
  KeySchedule, type KeyScheduleAction, type Member, keyScheduleConfig,
} from "../../src/crypto/keyschedule/index.js";
import { verifyPhase } from "../../src/crypto/phaseproof.js";

const ROOM = "summit";
const config = keyScheduleConfig({ roomId: ROOM, allowedKems: new Set([Kem.X25519]) });

interface Seat { pid: number; role: string; id: Identity; ks: KeySchedule }

async function seat(pid: number, role: string): Promise<Seat> {
  const id = await Identity.generate();
  return { pid, role, id, ks: new KeySchedule(id, await CallKeyPair.generate(Kem.X25519), config) };
}

async function member(s: Seat, epoch: number, rosterRole = s.role): Promise<Member> {
  const ann = (await s.ks.announcement(s.pid, epoch, s.role)).encode();
  return { participantId: s.pid, identityKey: s.id.publicKey, announcement: ann, role: rosterRole };
}

const keysTo = (actions: KeyScheduleAction[]): number[] =>
  actions.flatMap((a) => (a.type === "send_key_message" && a.data[0] === 0x02 ? [a.recipient] : []));

test("a close rekeys without the press; a principal's own proof reopens; anything else is refused", async () => {
  const principal = await seat(1, "principal");
  const delegate = await seat(2, "delegate");
  const press = await seat(3, "press");
  const pm = await member(principal, 8);
  const pr = await member(press, 9);
  await principal.ks.handle({ type: "joined", now: 0, epoch: 10, participantId: 1, members: [] });
  const joined = await delegate.ks.handle({ type: "joined", now: 0, epoch: 10, participantId: 2, members: [pm, pr] });
  assert.deepEqual(keysTo(joined), [1, 3], "the open part: the press gets a key");
  assert.equal(delegate.ks.role, "delegate");

  const closed = await delegate.ks.handle({ type: "phase_changed", now: 1, epoch: 11, phase: "closed" });
  assert.deepEqual(keysTo(closed), [1], "closed: nothing sealed to the press");
  assert.equal(delegate.ks.phase, "closed");

  // the principal's own schedule makes its proof over the epoch before the change
  await principal.ks.handle({ type: "member_joined", now: 1, epoch: 11, member: await member(delegate, 11) });
  const proof = await principal.ks.phaseProof("open");
  assert.ok(await verifyPhase(principal.id.publicKey, proof, { roomId: ROOM, signer: 1, epoch: 11, phase: "open" }));

  const forged = await delegate.ks.handle({ type: "phase_changed", now: 2, epoch: 12, phase: "open", by: 3, proof });
  assert.deepEqual(forged.filter((a) => a.type === "phase_refused"),
    [{ type: "phase_refused", epoch: 12, phase: "open", by: 3, reason: "phase_unproven" }], "the principal's proof named as the press's");
  assert.deepEqual(keysTo(forged), [1]);
  assert.equal(delegate.ks.phase, "closed");

  const stale = await delegate.ks.handle({ type: "phase_changed", now: 2, epoch: 13, phase: "open", by: 1, proof });
  assert.ok(stale.some((a) => a.type === "phase_refused"), "a proof of an earlier epoch is refused");
  assert.equal(delegate.ks.phase, "closed");

  // a fresh proof, over the delegate's epoch before this change (13)
  const fresh = await (async () => {
    const p = new KeySchedule(principal.id, await CallKeyPair.generate(Kem.X25519), config);
    await p.handle({ type: "joined", now: 0, epoch: 13, participantId: 1, members: [] });
    return p.phaseProof("open");
  })();
  const reopened = await delegate.ks.handle({ type: "phase_changed", now: 3, epoch: 14, phase: "open", by: 1, proof: fresh });
  assert.ok(!reopened.some((a) => a.type === "phase_refused"));
  assert.deepEqual(keysTo(reopened), [1, 3], "reopened: the press gets a fresh key");
  assert.equal(delegate.ks.phase, "open");
});

test("a press the roster relabels as a delegate is rejected (role_mismatch)", async () => {
  const delegate = await seat(2, "delegate");
  const press = await seat(3, "press");
  const actions = await delegate.ks.handle({
    type: "joined", now: 0, epoch: 10, participantId: 2, members: [await member(press, 9, "delegate")],
  });
  assert.deepEqual(actions.filter((a) => a.type === "member_rejected"),
    [{ type: "member_rejected", participantId: 3, reason: "role_mismatch" }]);
  assert.deepEqual(keysTo(actions), []);
  assert.deepEqual(delegate.ks.members, []);
});
