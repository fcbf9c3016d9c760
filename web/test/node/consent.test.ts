/**
 * tests/vectors/consent-v1.json against the TypeScript consent (consent.ts): the signed
 * bytes, the signatures that verify, and the forged ones that must not. Python runs the
 * same file in tests/unit/crypto/test_consent.py.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { fromHex, toHex } from "../../src/crypto/bytes.js";
import { type Consent, consentMessage, signConsent, verifyConsent } from "../../src/crypto/consent.js";
import { Identity } from "../../src/crypto/identity.js";
import { readJson } from "./support.js";

interface Fields {
  room_id: string; principal: number; recorder: number; recorder_key: string;
  phase: string; phase_epoch: number; granted: boolean;
}
interface Doc {
  principal_key: string;
  valid: { name: string; consent: Fields; message: string; signature: string }[];
  forged: { name: string; consent: Fields; signature: string }[];
}

const doc = readJson<Doc>("tests/vectors/consent-v1.json");
const key = fromHex(doc.principal_key);

function consent(f: Fields): Consent {
  return { roomId: f.room_id, principal: f.principal, recorder: f.recorder, recorderKey: fromHex(f.recorder_key),
    phase: f.phase, phaseEpoch: f.phase_epoch, granted: f.granted };
}

test("valid consents: the same bytes, and they verify", async () => {
  assert.ok(doc.valid.length >= 3);
  for (const c of doc.valid) {
    assert.equal(toHex(consentMessage(consent(c.consent))), c.message, c.name);
    assert.ok(await verifyConsent(key, fromHex(c.signature), consent(c.consent)), c.name);
  }
});

test("forged consents do not verify", async () => {
  assert.ok(doc.forged.length >= 8);
  for (const c of doc.forged) {
    assert.equal(await verifyConsent(key, fromHex(c.signature), consent(c.consent)), false, c.name);
  }
});

test("a consent signed in TypeScript verifies; fields out of range verify nothing", async () => {
  const principal = await Identity.generate();
  const c = consent(doc.valid[0]!.consent);
  const sig = await signConsent(principal, c);
  assert.ok(await verifyConsent(principal.publicKey, sig, c));
  assert.equal(await verifyConsent(principal.publicKey, sig, { ...c, phase: "later" }), false);
  assert.equal(await verifyConsent(principal.publicKey, sig, { ...c, phaseEpoch: 2 ** 32 }), false);
  assert.equal(await verifyConsent(principal.publicKey, sig, { ...c, recorderKey: new Uint8Array(31) }), false);
  assert.equal(await verifyConsent(principal.publicKey, sig, { ...c, roomId: "" }), false);
});
