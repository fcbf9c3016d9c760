/**
 * tests/vectors/group-code-v1.json in the browser: the group code's commit/reveal
 * messages and the epoch code. The key-schedule traces over the same parties are
 * protocol/conformance/keyschedule/ (in Node: test/node/keyschedule.test.ts).
 */

import { CodeMessage, MSG_COMMIT, commitment } from "../src/crypto/codecommit.js";
import { CallKeyPair, GroupCode, Identity, KeyMessageError, fromHex, groupCode, toHex } from "../src/crypto/index.js";
import { epochCode } from "../src/crypto/groupcode.js";

export interface GroupCodeVectors {
  room_id: string;
  identities: Record<string, { seed: string; public_key: string }>;
  call_keys: Record<string, { x25519_seed: string; public_key: string }>;
  code_messages: { kind: number; sender: string; sender_id: number; recipient_id: number; epoch: number;
    nonce: string; commitment: string; encoded: string }[];
  epoch_code: { epoch: number; members: string[]; roster_digest: string; nonces: Record<string, string>;
    digest: string; digits: string; words: string };
}

type Run = (group: string, name: string, body: () => Promise<void>) => Promise<void>;
type Check = (condition: boolean, what: string) => void;

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
}
