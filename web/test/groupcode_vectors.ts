/**
 * tests/vectors/group-code-v1.json in the browser: the group code's commit/reveal
 * messages, the epoch code and the key-schedule conformance traces (each trace feeds the
 * same events to a TypeScript KeySchedule as tests/unit/test_group_code_traces.py feeds
 * the Python one, and expects the same refusals, messages sent and code).
 */

import { CodeMessage, MSG_COMMIT, commitment } from "../src/crypto/codecommit.js";
import {
  type Bytes, CallKeyPair, CryptoError, GroupCode, Identity, KeyMessageError, concat, fromHex, groupCode, toHex,
} from "../src/crypto/index.js";
import { epochCode } from "../src/crypto/groupcode.js";
import {
  type KeyScheduleAction, type KeyScheduleEvent, KeySchedule, type Member, keyScheduleConfig,
} from "../src/crypto/keyschedule.js";
import { ProtocolError } from "../src/errors.js";

export interface GroupCodeVectors {
  room_id: string;
  identities: Record<string, { seed: string; public_key: string }>;
  call_keys: Record<string, { x25519_seed: string; public_key: string }>;
  code_messages: { kind: number; sender: string; sender_id: number; recipient_id: number; epoch: number;
    nonce: string; commitment: string; encoded: string }[];
  epoch_code: { epoch: number; members: string[]; roster_digest: string; nonces: Record<string, string>;
    digest: string; digits: string; words: string };
  traces: { name: string; me: string; participant_id: number; steps: { event: TraceEvent; expect: Expect }[] }[];
}

interface TraceMember { participant_id: number; identity: string; announcement: string }
interface TraceEvent {
  type: string; epoch?: number; participant_id?: number; members?: TraceMember[]; member?: TraceMember; data?: string;
}
interface Expect { refused: string | null; sent?: (string | number)[][]; code: string | null; code_changed?: boolean }

type Run = (group: string, name: string, body: () => Promise<void>) => Promise<void>;
type Check = (condition: boolean, what: string) => void;

/** SHA-256("hotline trace random" || u32 i), i = 0, 1, ...: the traces' randomness
 * (the key schedule draws it synchronously, so it is computed ahead). */
async function prepareRandom(n: number): Promise<(size: number) => Bytes> {
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

async function outcome(ks: KeySchedule, event: KeyScheduleEvent): Promise<Expect> {
  let actions: KeyScheduleAction[];
  try {
    actions = await ks.handle(event);
  } catch (error) {
    const code = ks.code?.digits ?? null;
    if (error instanceof CryptoError) return { refused: `key_message:${error.reason}`, code };
    if (error instanceof ProtocolError) return { refused: "protocol", code };
    throw error;
  }
  const sent: (string | number)[][] = [];
  for (const a of actions) {
    if (a.type !== "send_key_message") continue;
    const kind = KIND[a.data[0]!] ?? "?";
    sent.push(kind === "key" ? [kind, a.recipient] : [kind, a.recipient, toHex(a.data)]);
  }
  return { refused: null, sent, code: ks.code?.digits ?? null, code_changed: actions.some((a) => a.type === "group_code_changed") };
}

export async function groupCodeVectors(v: GroupCodeVectors, run: Run, expect: Check): Promise<void> {
  const ids = new Map<string, Identity>();
  const calls = new Map<string, CallKeyPair>();
  for (const [name, i] of Object.entries(v.identities)) {
    const identity = await Identity.fromSeed(fromHex(i.seed));
    ids.set(name, identity);
    calls.set(name, await CallKeyPair.fromX25519Seed(fromHex(v.call_keys[name]!.x25519_seed)));
  }
  const id = (name: string): Identity => ids.get(name)!;
  const room = v.room_id;

  for (const c of v.code_messages) {
    await run("group/code_messages", String(c.kind), async () => {
      const msg = CodeMessage.decode(fromHex(c.encoded));
      expect(toHex(msg.encode()) === c.encoded, "re-encodes");
      expect(msg.kind === c.kind && msg.roomId === room && msg.sender === c.sender_id
        && msg.recipient === c.recipient_id && msg.epoch === c.epoch, "fields");
      await msg.verify(id(c.sender).publicKey);
      let refused = false;
      try { await msg.verify(id("bob").publicKey); } catch (e) { refused = e instanceof KeyMessageError; }
      expect(refused, "another signer is refused");
      expect(toHex(await commitment(room, c.sender_id, c.epoch, fromHex(c.nonce))) === c.commitment, "commitment");
      expect(toHex(msg.value) === (c.kind === MSG_COMMIT ? c.commitment : c.nonce), "value");
      const again = await CodeMessage.sign(id(c.sender), c.kind, {
        roomId: room, sender: c.sender_id, recipient: c.recipient_id, epoch: c.epoch, value: msg.value });
      expect(toHex(again.encode()) === c.encoded, "signing again gives the same bytes (Ed25519)");
      if (c.kind !== MSG_COMMIT) expect(await msg.opens(fromHex(c.commitment)), "reveal opens the commitment");
    });
  }

  await run("group/epoch_code", "epoch code", async () => {
    const e = v.epoch_code;
    const roster = await groupCode(room, e.epoch, e.members.map((n) => [id(n).publicKey, calls.get(n)!.publicKey] as const));
    expect(toHex(roster.digest) === e.roster_digest, "roster digest");
    const code = await epochCode(roster, e.members.map((n) => [id(n).publicKey, fromHex(e.nonces[n]!)] as const));
    expect(code instanceof GroupCode && toHex(code.digest) === e.digest, "digest");
    expect(code.digits === e.digits && code.words === e.words, "digits and words");
  });

  for (const t of v.traces) {
    await run("group/traces", t.name, async () => {
      const ks = new KeySchedule(id(t.me), calls.get(t.me)!, keyScheduleConfig({ roomId: room }),
        { random: await prepareRandom(64) });
      const member = (m: TraceMember): Member => ({
        participantId: m.participant_id, identityKey: id(m.identity).publicKey, announcement: fromHex(m.announcement),
      });
      for (const [i, step] of t.steps.entries()) {
        const ev = step.event;
        let event: KeyScheduleEvent;
        switch (ev.type) {
          case "joined":
            event = { type: "joined", now: 0, epoch: ev.epoch!, participantId: ev.participant_id!, members: ev.members!.map(member) };
            break;
          case "member_joined":
            event = { type: "member_joined", now: 0, epoch: ev.epoch!, member: member(ev.member!) };
            break;
          case "member_left":
            event = { type: "member_left", now: 0, epoch: ev.epoch!, participantId: ev.participant_id! };
            break;
          case "phase_changed":
            event = { type: "phase_changed", now: 0, epoch: ev.epoch!, phase: "open" };
            break;
          default:
            event = { type: "key_message_received", now: 0, data: fromHex(ev.data!) };
        }
        const got = await outcome(ks, event);
        const want = step.expect;
        expect(JSON.stringify(got) === JSON.stringify(want),
          `step ${i} (${ev.type}): got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      }
    });
  }
}
