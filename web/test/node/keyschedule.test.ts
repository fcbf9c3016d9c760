/**
 * The key-schedule conformance traces of protocol/conformance/keyschedule/*.json against
 * the TypeScript key schedule, in Node: the twin of tests/support/keyschedule_conformance.py
 * (the Python runner). Each step's outcome (refused and why, messages sent, other actions
 * in order, the group code, the next deadline) must be the one the file expects.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { concat, type Bytes, fromHex, toHex } from "../../src/crypto/bytes.js";
import { CallKeyPair } from "../../src/crypto/callkey.js";
import { CryptoError } from "../../src/crypto/errors.js";
import { Identity } from "../../src/crypto/identity.js";
import {
  type KeyScheduleAction, type KeyScheduleEvent, KeySchedule, type Member, keyScheduleConfig,
} from "../../src/crypto/keyschedule/index.js";
import { ProtocolError, UsageError } from "../../src/errors.js";
import { jsonFiles, readJson } from "./support.js";

interface TraceMember { participant_id: number; identity: string; announcement: string; trusted?: boolean; role?: string }
interface TraceEvent {
  type: string; now?: number; epoch?: number; participant_id?: number; members?: TraceMember[];
  member?: TraceMember; data?: string; phase?: string; by?: number; proof?: string;
}
interface Config { rekey_interval?: number; grace?: number; rekey_deadline?: number; max_pending?: number }
interface Trace { name: string; me: string; role?: string; config?: Config; steps: { event: TraceEvent; expect: unknown }[] }
interface Doc {
  description: string;
  version: number;
  room_id: string;
  identities: Record<string, { seed: string; public_key: string }>;
  call_keys: Record<string, { x25519_seed: string; public_key: string }>;
  config?: Config;
  traces: Trace[];
}

/** SHA-256("hotline trace random" || u32 i)[:n], i = 0, 1, ...: the traces' randomness
 * (the key schedule draws it synchronously, so it is computed ahead). */
async function traceRandom(n: number): Promise<(size: number) => Bytes> {
  const label = new TextEncoder().encode("hotline trace random");
  const supply: Bytes[] = [];
  for (let i = 0; i < n; i++) {
    const c = new Uint8Array(4);
    new DataView(c.buffer).setUint32(0, i);
    supply.push(new Uint8Array(await crypto.subtle.digest("SHA-256", concat(label, c))));
  }
  let counter = 0;
  return (size: number): Bytes => {
    const next = supply[counter++];
    if (next === undefined) throw new Error("trace randomness exhausted");
    return next.slice(0, size);
  };
}

const KIND: Record<number, string> = { 0x02: "key", 0x03: "commit", 0x04: "reveal" };
const kids = (k: readonly bigint[]): string[] => k.map((x) => x.toString());

/** An action other than a sent message, as the files write it. */
function action(a: KeyScheduleAction): unknown[] {
  switch (a.type) {
    case "install_encryption_key": return ["encrypt", a.generation, kids(a.kids), toHex(a.baseKey)];
    case "install_decryption_key": return ["decrypt", a.sender, a.generation, kids(a.kids), toHex(a.baseKey)];
    case "retire_keys": return ["retire", kids(a.kids), a.sending];
    case "member_rejected": return ["rejected", a.participantId, a.reason];
    case "phase_refused": return ["phase_refused", a.epoch, a.phase, a.by, a.reason];
    case "group_code_pending": return ["code_pending", a.epoch];
    case "group_code_changed": return ["code_changed", a.epoch, [...a.members]];
    case "send_key_message": throw new Error("a sent message is not an action here");
  }
}

async function outcome(ks: KeySchedule, event: KeyScheduleEvent): Promise<unknown> {
  let actions: KeyScheduleAction[];
  try {
    actions = await ks.handle(event);
  } catch (error) {
    const [code, phase] = [ks.code?.digits ?? null, ks.phase];
    if (error instanceof CryptoError) return { refused: `key_message:${error.reason}`, code, phase };
    if (error instanceof ProtocolError) return { refused: "protocol", code, phase };
    if (error instanceof UsageError) return { refused: "usage", code, phase };
    throw error;
  }
  const sent: (string | number)[][] = [];
  for (const a of actions) {
    if (a.type !== "send_key_message") continue;
    const kind = KIND[a.data[0]!] ?? "?";
    sent.push(kind === "key" ? [kind, a.recipient] : [kind, a.recipient, toHex(a.data)]);
  }
  return {
    refused: null, sent, actions: actions.filter((a) => a.type !== "send_key_message").map(action),
    code: ks.code?.digits ?? null, code_changed: actions.some((a) => a.type === "group_code_changed"),
    next_deadline: ks.nextDeadline(), phase: ks.phase,
  };
}

async function runTrace(doc: Doc, trace: Trace): Promise<void> {
  const ids = new Map<string, Identity>();
  const calls = new Map<string, CallKeyPair>();
  for (const [name, i] of Object.entries(doc.identities)) {
    const identity = await Identity.fromSeed(fromHex(i.seed));
    assert.deepEqual(toHex(identity.publicKey), i.public_key, `${name}'s identity`);
    ids.set(name, identity);
    const call = await CallKeyPair.fromX25519Seed(fromHex(doc.call_keys[name]!.x25519_seed));
    assert.deepEqual(toHex(call.publicKey.key), doc.call_keys[name]!.public_key, `${name}'s call key`);
    calls.set(name, call);
  }
  const c = { ...doc.config, ...trace.config };
  const verdicts = new Map<number, boolean>();
  const config = keyScheduleConfig({
    roomId: doc.room_id,
    ...(c.rekey_interval !== undefined && { rekeyInterval: c.rekey_interval }),
    ...(c.grace !== undefined && { grace: c.grace }),
    ...(c.rekey_deadline !== undefined && { rekeyDeadline: c.rekey_deadline }),
    ...(c.max_pending !== undefined && { maxPending: c.max_pending }),
  });
  const ks = new KeySchedule(ids.get(trace.me)!, calls.get(trace.me)!, config, {
    random: await traceRandom(256), trusted: (m) => verdicts.get(m.participantId) ?? true,
  });
  ks.role = trace.role ?? "delegate";
  const member = (m: TraceMember): Member => {
    verdicts.set(m.participant_id, m.trusted ?? true);
    return {
      participantId: m.participant_id, identityKey: ids.get(m.identity)!.publicKey, announcement: fromHex(m.announcement),
      role: m.role ?? "delegate",
    };
  };
  for (const [i, step] of trace.steps.entries()) {
    const ev = step.event;
    const now = ev.now ?? 0;
    let event: KeyScheduleEvent;
    switch (ev.type) {
      case "joined":
        event = {
          type: "joined", now, epoch: ev.epoch!, participantId: ev.participant_id!, members: ev.members!.map(member),
          phase: ev.phase ?? "open",
        };
        break;
      case "member_joined":
        event = { type: "member_joined", now, epoch: ev.epoch!, member: member(ev.member!) };
        break;
      case "member_left":
        event = { type: "member_left", now, epoch: ev.epoch!, participantId: ev.participant_id! };
        break;
      case "phase_changed":
        event = {
          type: "phase_changed", now, epoch: ev.epoch!, phase: ev.phase ?? "open", by: ev.by ?? 0,
          proof: fromHex(ev.proof ?? ""),
        };
        break;
      case "message":
        event = { type: "key_message_received", now, data: fromHex(ev.data!) };
        break;
      case "timer":
        event = { type: "timer_fired", now };
        break;
      case "accepted":
        event = { type: "peer_accepted", now, participantId: ev.participant_id! };
        break;
      default:
        throw new Error(`unknown event ${ev.type}`);
    }
    assert.deepEqual(await outcome(ks, event), step.expect, `step ${i} (${ev.type})`);
  }
}

const DIR = "protocol/conformance/keyschedule";
const files = jsonFiles(DIR);
test("every key-schedule conformance file is found", async () => {
  assert.deepEqual(files.length >= 5, true, `files in ${DIR}`);
});
for (const file of files) {
  const doc = readJson<Doc>(file);
  test(`${file}: described and versioned`, async () => {
    assert.deepEqual([typeof doc.description, doc.version], ["string", 1]);
  });
  for (const trace of doc.traces) {
    test(`${file}: ${trace.name}`, () => runTrace(doc, trace));
  }
}
