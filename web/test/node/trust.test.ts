/**
 * tests/vectors/trust-v1.json against the TypeScript trust store (truststore.ts), and a key
 * schedule scenario of the trust gating (keyschedule.ts). Python runs the same file in
 * tests/unit/client/test_trust.py.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { CallKeyPair, Kem } from "../../src/crypto/callkey.js";
import { Identity } from "../../src/crypto/identity.js";
import { KeySchedule, type KeyScheduleAction, keyScheduleConfig } from "../../src/crypto/keyschedule/index.js";
import { TrustStore, canonical, evaluate, parseFingerprints } from "../../src/crypto/truststore.js";
import { readJson } from "./support.js";

interface Case {
  name: string;
  store: unknown;
  presented: { party: string; fingerprint: string; hotline?: string; own_party?: string };
  verdict: string;
}

const doc = readJson<{ cases: Case[]; invalid_fingerprints: string[] }>("tests/vectors/trust-v1.json");

function check(ok: boolean, what: string): void {
  assert.ok(ok, what);
}

test("trust gating in the key schedule: nothing sealed to an untrusted member until accepted", async () => {
  const generate = async (): Promise<Identity> => Identity.generate();
  const aliceId = await generate();
  const bobId = await generate();
  const config = keyScheduleConfig({ roomId: "r", allowedKems: new Set([Kem.X25519]) });
  const alice = new KeySchedule(aliceId, await CallKeyPair.generate(Kem.X25519), config, { trusted: () => false });
  const bob = new KeySchedule(bobId, await CallKeyPair.generate(Kem.X25519), config, { trusted: () => true });
  const bobJoined = await bob.handle({ type: "joined", now: 0, epoch: 1, participantId: 2, members: [] });
  const bobAnn = (await bob.announcement(2, 1)).encode();
  // sealed sender keys (0x02); code commitments and reveals (0x03, 0x04) ride the same action
  const isKey = (x: KeyScheduleAction): x is KeyScheduleAction & { type: "send_key_message"; recipient: number; data: Uint8Array } =>
    x.type === "send_key_message" && x.data[0] === 0x02;
  const isCode = (x: KeyScheduleAction): x is KeyScheduleAction & { type: "send_key_message"; recipient: number; data: Uint8Array } =>
    x.type === "send_key_message" && x.data[0] !== 0x02;
  const sends = (a: KeyScheduleAction[]): number[] => a.flatMap((x) => (isKey(x) ? [x.recipient] : []));
  const byPid = new Map([[1, alice], [2, bob]]);
  const codeRound = async (...batches: KeyScheduleAction[][]): Promise<void> => {
    const todo = batches.flat().filter(isCode).map((x) => [x.recipient, x.data] as const);
    while (todo.length) {
      const [pid, data] = todo.shift()!;
      const out = await byPid.get(pid)!.handle({ type: "key_message_received", now: 0.2, data });
      todo.push(...out.filter(isCode).map((x) => [x.recipient, x.data] as const));
    }
  };
  const joined = await alice.handle({ type: "joined", now: 0, epoch: 2, participantId: 1, members: [{ participantId: 2, identityKey: bobId.publicKey, announcement: bobAnn, party: "bob" }] });
  check(sends(joined).length === 0, "schedule: nothing sealed to an untrusted member");
  check(alice.untrusted.join() === "2" && alice.members.join() === "2", "schedule: untrusted member stays in the roster");
  const aliceAnn = (await alice.announcement(1, 2)).encode();
  const bobSaw = await bob.handle({ type: "member_joined", now: 0.1, epoch: 2, member: { participantId: 1, identityKey: aliceId.publicKey, announcement: aliceAnn, party: "alice" } });
  const toAlice = bobSaw.filter(isKey);
  let refused = false;
  try {
    await alice.handle({ type: "key_message_received", now: 0.2, data: (toAlice[0] as { data: Uint8Array }).data });
  } catch {
    refused = true;
  }
  check(refused, "schedule: a key from an untrusted member is not installed");
  await codeRound(bobJoined, joined, bobSaw);
  check(alice.code !== null && alice.code?.digits === bob.code?.digits, "schedule: the untrusted member is in the group code");
  const accepted = await alice.handle({ type: "peer_accepted", now: 0.3, participantId: 2 });
  check(sends(accepted).join() === "2", "schedule: accepted -> a fresh key sealed to it");
  check(accepted.some((x) => x.type === "install_decryption_key" && x.sender === 2), "schedule: its held key is installed");
  check(alice.generation === 1 && alice.untrusted.length === 0, "schedule: a rekey happened");
});

test("trust-v1.json has cases and invalid fingerprints", () => {
  assert.ok(doc.cases.length > 0 && doc.invalid_fingerprints.length > 0);
});

for (const c of doc.cases) {
  test(`trust case: ${c.name}`, () => {
    const store = TrustStore.fromJSON(c.store);
    const p = c.presented;
    const got = evaluate(store, p.party, p.fingerprint, p.hotline ?? null, p.own_party ?? "");
    check(got === c.verdict, `${c.name}: got ${got}, want ${c.verdict}`);
    check(JSON.stringify(TrustStore.fromJSON(store.toJSON()).toJSON()) === JSON.stringify(store.toJSON()), `${c.name}: JSON round trip`);
  });
}

test("invalid fingerprints are refused", () => {
  for (const bad of doc.invalid_fingerprints) {
    let threw = false;
    try {
      canonical(bad);
    } catch {
      threw = true;
    }
    check(threw, `invalid fingerprint accepted: ${bad}`);
  }
});

test("a paste of two fingerprints", () => {
  check(parseFingerprints("11112222333344445555666677778888\naaaa bbbb cccc dddd eeee ffff 0000 1111").length === 2, "paste of two fingerprints");
});
