/**
 * Runs every case of tests/vectors/sframe-rfc9605.json, tests/vectors/hotline-v1.json and
 * tests/vectors/group-code-v1.json (web/test/groupcode_vectors.ts)
 * against web/src/crypto in the browser, plus negative and behaviour checks, and puts a
 * summary on `window.hotlineVectors`:
 *
 *     { done, passed, failed, failures: [...], counts: {group: cases run}, planned_checks,
 *       words, interop: {...}, user_agent }
 *
 * tests/browser/test_web_vectors.py loads this page in Chromium and compares `counts`
 * with the number of cases in the JSON files, so nothing is skipped silently. The files
 * are fetched from the server's root (/tests/vectors/...).
 */

import {
  ED25519_L, insecureTransport, libraryVerify, originOf, proofMessage, prove, publicKeyProblem, signatureProblem,
} from "../src/crypto/index.js";
import {
  AnnouncementError, type Bytes, CallKeyAnnouncement, CallKeyPair, CallPublicKey, Codec,
  CryptoError, GroupCode, Identity, Kem, KeyMessage, KeyMessageError, POST_QUANTUM, Reader,
  ReplayWindow, SFrameContext, SFrameError, SFrameSender, Slot, WORDS, Writer, ascii,
  bytesUint, clearLength, concat, copy, decodeHeader, deriveKeySalt, encodeHeader, equal,
  fingerprint, frameKid, fromHex, groupCode, kidsFor, makeAead, makeKid, params, parseKid,
  PHASE_CODES, ROLE_CODES, protect, randomBytes, signPhase, toHex, uintBytes, unprotect, verify, verifyPhase,
} from "../src/crypto/index.js";
import { type GroupCodeVectors, groupCodeVectors } from "./groupcode_vectors.js";

// ---------------------------------------------------------------- vector file types

type Int = number | bigint; // integers above 2**53 arrive as bigint (see parseJson)

interface HeaderCase { kid: Int; ctr: Int; encoded: string }
interface CtrHmacCase {
  cipher_suite: number; key: string; enc_key: string; auth_key: string; nonce: string;
  aad: string; pt: string; ct: string;
}
interface SFrameCase {
  cipher_suite: number; kid: Int; ctr: Int; base_key: string; sframe_key_label: string;
  sframe_salt_label: string; sframe_secret: string; sframe_key: string; sframe_salt: string;
  metadata: string; nonce: string; aad: string; pt: string; ct: string;
}
interface RfcVectors { header: HeaderCase[]; aes_ctr_hmac: CtrHmacCase[]; sframe: SFrameCase[] }

interface HotlineVectors {
  room_id: string;
  identities: Record<string, { seed: string; public_key: string; fingerprint: string }>;
  call_keys: Record<string, { kem: number; x25519_seed: string; public_key: string }>;
  kids: { participant_id: number; generation: number; slot: string; kid: number }[];
  announcement: {
    participant_id: number; epoch: number; role: string; role_code: number; signer: string; call_key: string; encoded: string;
  };
  phase_proof: { signer: string; participant_id: number; epoch: number; phase: string; phase_code: number; proof: string };
  key_message: {
    sender: number; recipient: number; epoch: number; generation: number; kid: number;
    cipher_suite: number; signer: string; recipient_call_key: string; base_key: string; encoded: string;
  };
  group_code: {
    epoch: number; phase: string; phase_code: number; cipher_suite: number; kems: number[]; members: string[];
    digest: string; digits: string; words: string;
  };
  frames: {
    codec: string; cipher_suite: number; kid: number; ctr: number; base_key: string;
    frame: string; wire: string;
  }[];
}

/** JSON.parse that keeps integers above 2**53 exact, as bigint (the RFC header vectors go
 * up to 2**64 - 1). Uses the reviver's source text (Chromium 114+); refuses to guess. */
function parseJson(text: string): unknown {
  return JSON.parse(text, (_key: string, value: unknown, context?: { source?: string }) => {
    if (typeof value !== "number" || Number.isSafeInteger(value)) return value;
    if (context?.source === undefined || !/^\d+$/.test(context.source)) {
      throw new Error("cannot read a large integer exactly (no JSON.parse source text access)");
    }
    return BigInt(context.source);
  });
}

// ---------------------------------------------------------------- a tiny harness

interface Summary {
  done: boolean;
  passed: number;
  failed: number;
  failures: string[];
  counts: Record<string, number>;
  planned_checks: number;
  words: readonly string[];
  interop: Record<string, string | number>;
  /** WebCrypto's own verdict on each ed25519-strict.json signature case, without the
   * strict checks (what docs/PROTOCOL.md reports about Chromium). */
  library: Record<string, boolean>;
  user_agent: string;
  seconds: number;
}

const summary: Summary = {
  done: false, passed: 0, failed: 0, failures: [], counts: {}, planned_checks: 0,
  words: WORDS, interop: {}, library: {}, user_agent: navigator.userAgent, seconds: 0,
};

class CheckFailed extends Error {}

function describe(error: unknown): string {
  if (error instanceof CheckFailed) return error.message;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

async function run(group: string, name: string, body: () => Promise<void> | void): Promise<void> {
  summary.counts[group] = (summary.counts[group] ?? 0) + 1;
  try {
    await body();
    summary.passed++;
  } catch (error) {
    summary.failed++;
    summary.failures.push(`${group} [${name}]: ${describe(error)}`);
  }
}

function expect(condition: boolean, what: string): asserts condition {
  if (!condition) throw new CheckFailed(what);
}

function same<T>(actual: T, expected: T, what: string): void {
  if (actual !== expected) throw new CheckFailed(`${what}: got ${String(actual)}, want ${String(expected)}`);
}

function sameHex(actual: Uint8Array, expectedHex: string, what: string): void {
  const got = toHex(actual);
  if (got !== expectedHex.toLowerCase()) throw new CheckFailed(`${what}: got ${got}, want ${expectedHex}`);
}

type ErrorClass = abstract new (...args: never[]) => Error;

/** `body` must throw or reject with `cls` (and `reason`, when given). */
async function fails(body: () => unknown, cls: ErrorClass, reason: string | null, what: string): Promise<CryptoError | Error> {
  let result: unknown;
  try {
    result = await body();
  } catch (error) {
    if (!(error instanceof cls)) throw new CheckFailed(`${what}: threw ${describe(error)}, want ${cls.name}`);
    if (reason !== null && (!(error instanceof CryptoError) || error.reason !== reason)) {
      throw new CheckFailed(`${what}: threw ${describe(error)}, want reason ${reason}`);
    }
    return error;
  }
  throw new CheckFailed(`${what}: succeeded (${String(result)}), want ${cls.name} ${reason ?? ""}`);
}

function flip(data: Uint8Array, index: number, mask = 0x01): Bytes {
  const out = copy(data);
  const i = index < 0 ? out.length + index : index;
  out[i] = out[i]! ^ mask;
  return out;
}

const h = fromHex;
const big = (value: Int): bigint => BigInt(value);

async function fetchJson(path: string): Promise<unknown> {
  const response = await fetch(path, { cache: "no-store" });
  if (!response.ok) throw new Error(`GET ${path}: HTTP ${response.status}`);
  return parseJson(await response.text());
}

// ---------------------------------------------------------------- RFC 9605 Appendix C

async function rfcVectors(v: RfcVectors): Promise<void> {
  for (const c of v.header) {
    await run("sframe/header", `kid ${c.kid} ctr ${c.ctr}`, () => {
      const encoded = h(c.encoded);
      sameHex(encodeHeader(big(c.kid), big(c.ctr)), c.encoded, "encode");
      const decoded = decodeHeader(concat(encoded, ascii("payload")));
      same(decoded.kid, big(c.kid), "kid");
      same(decoded.ctr, big(c.ctr), "ctr");
      same(decoded.size, encoded.length, "size");
    });
  }

  for (const c of v.aes_ctr_hmac) {
    await run("sframe/aes_ctr_hmac", `suite ${c.cipher_suite}`, async () => {
      const p = params(c.cipher_suite);
      const key = h(c.key);
      sameHex(key.subarray(0, p.nka), c.enc_key, "enc_key");
      sameHex(key.subarray(p.nka), c.auth_key, "auth_key");
      const aead = await makeAead(p, key);
      const ct = await aead.seal(h(c.nonce), h(c.aad), h(c.pt));
      sameHex(ct, c.ct, "seal");
      sameHex(await aead.open(h(c.nonce), h(c.aad), ct), c.pt, "open");
    });
  }

  for (const c of v.sframe) {
    await run("sframe/sframe", `suite ${c.cipher_suite}`, async () => {
      const suite = c.cipher_suite;
      const kid = big(c.kid);
      const ctr = big(c.ctr);
      const derived = await deriveKeySalt(suite, kid, h(c.base_key));
      sameHex(derived.secret, c.sframe_secret, "sframe_secret");
      sameHex(derived.key, c.sframe_key, "sframe_key");
      sameHex(derived.salt, c.sframe_salt, "sframe_salt");
      const suffix = concat(uintBytes(kid, 8), uintBytes(BigInt(suite), 2));
      sameHex(concat(ascii("SFrame 1.0 Secret key "), suffix), c.sframe_key_label, "key label");
      sameHex(concat(ascii("SFrame 1.0 Secret salt "), suffix), c.sframe_salt_label, "salt label");
      sameHex(uintBytes(bytesUint(derived.salt) ^ ctr, 12), c.nonce, "nonce");
      sameHex(concat(encodeHeader(kid, ctr), h(c.metadata)), c.aad, "aad");

      const sender = new SFrameContext(suite);
      await sender.addEncryptionKey(kid, h(c.base_key));
      sameHex(await sender.encrypt(ctr, kid, h(c.metadata), h(c.pt)), c.ct, "encrypt");
      const receiver = new SFrameContext(suite);
      await receiver.addDecryptionKey(kid, h(c.base_key));
      sameHex(await receiver.decrypt(h(c.metadata), h(c.ct)), c.pt, "decrypt");
    });
  }
}

// ---------------------------------------------------------------- Hotline v1 examples

interface Actors {
  identity: Record<string, Identity>;
  callKey: Record<string, CallKeyPair>;
}

async function hotlineVectors(v: HotlineVectors): Promise<Actors> {
  const room = v.room_id;
  const actors: Actors = { identity: {}, callKey: {} };

  for (const [name, id] of Object.entries(v.identities)) {
    await run("hotline/identities", name, async () => {
      const identity = await Identity.fromSeed(h(id.seed));
      sameHex(identity.publicKey, id.public_key, "public key from seed");
      same(await identity.fingerprint(), id.fingerprint, "fingerprint");
      actors.identity[name] = identity;
    });
  }
  for (const [name, ck] of Object.entries(v.call_keys)) {
    await run("hotline/call_keys", name, async () => {
      same(ck.kem, Kem.X25519, "kem");
      const pair = await CallKeyPair.fromX25519Seed(h(ck.x25519_seed));
      sameHex(pair.publicKey.key, ck.public_key, "public key from seed");
      actors.callKey[name] = pair;
    });
  }
  const identity = (name: string): Identity => {
    const id = actors.identity[name];
    if (id === undefined) throw new CheckFailed(`identity ${name} did not load`);
    return id;
  };
  const callKey = (name: string): CallKeyPair => {
    const ck = actors.callKey[name];
    if (ck === undefined) throw new CheckFailed(`call key ${name} did not load`);
    return ck;
  };

  for (const c of v.kids) {
    await run("hotline/kids", `kid ${c.kid}`, () => {
      const slot = Slot[c.slot.toUpperCase() as keyof typeof Slot];
      expect(slot !== undefined, `unknown slot ${c.slot}`);
      same(makeKid(c.participant_id, c.generation, slot), BigInt(c.kid), "makeKid");
      // PROTOCOL.md: KID = participant_id << 6 | (generation mod 16) << 2 | slot
      same((BigInt(c.participant_id) << 6n) | (BigInt(c.generation % 16) << 2n) | BigInt(slot), BigInt(c.kid), "formula");
      const parts = parseKid(BigInt(c.kid));
      same(parts.participantId, c.participant_id, "participant");
      same(parts.generationLow, c.generation % 16, "generation");
      same(parts.slot, slot, "slot");
    });
  }

  await run("hotline/announcement", "announcement", async () => {
    const a = v.announcement;
    const data = h(a.encoded);
    const ann = CallKeyAnnouncement.decode(data);
    same(ann.roomId, room, "room");
    same(ann.participantId, a.participant_id, "participant");
    same(ann.epoch, a.epoch, "epoch");
    same(ann.role, a.role, "role");
    same(ROLE_CODES[a.role], a.role_code, "role code");
    expect(ann.callKey.equals(callKey(a.call_key).publicKey), "call key");
    await ann.verify({ roomId: room, participantId: a.participant_id, identityKey: identity(a.signer).publicKey, role: a.role });
    await fails(() => ann.verify({ roomId: room, participantId: a.participant_id, identityKey: identity(a.signer).publicKey, role: "press" }),
      AnnouncementError, "role_mismatch", "another role in the roster");
    sameHex(ann.encode(), a.encoded, "re-encode");
    // Ed25519 is deterministic: re-creating from the seeds gives the same bytes.
    const again = await CallKeyAnnouncement.create(identity(a.signer), room, a.participant_id, a.epoch, callKey(a.call_key).publicKey,
      a.role);
    sameHex(again.encode(), a.encoded, "re-create");
    // The layout by hand: type, version, room, participant, epoch, role, kem, key, identity, signature.
    const r = new Reader(data, AnnouncementError);
    same(r.u8(), 0x01, "type");
    same(r.u8(), 1, "version");
    sameHex(r.bytes8(), toHex(ascii(room)), "room bytes");
    same(r.u32(), a.participant_id, "participant field");
    same(r.u32(), a.epoch, "epoch field");
    same(r.u8(), a.role_code, "role field");
    same(r.u16(), 0x0020, "kem field");
    sameHex(r.bytes16(), v.call_keys[a.call_key]!.public_key, "call key field");
    sameHex(r.raw(32), v.identities[a.signer]!.public_key, "identity field");
    const signed = concat(ascii("hotline/v1 call-key announcement\0"), r.consumed());
    expect(await verify(identity(a.signer).publicKey, r.raw(64), signed), "signature by hand");
    r.end();
  });

  await run("hotline/key_message", "key message", async () => {
    const k = v.key_message;
    const data = h(k.encoded);
    const msg = KeyMessage.decode(data);
    sameHex(msg.encode(), k.encoded, "re-encode");
    same(msg.roomId, room, "room");
    same(msg.sender, k.sender, "sender");
    same(msg.recipient, k.recipient, "recipient");
    same(msg.epoch, k.epoch, "epoch");
    same(msg.generation, k.generation, "generation");
    same(msg.kid, BigInt(k.kid), "kid");
    same(msg.cipherSuite, k.cipher_suite, "suite");
    same(msg.sealed.length, 32 + 32 + 16, "sealed size (X25519 enc, base key, AES-GCM tag)");
    // The signature by hand: over label || everything but the signature.
    const signed = concat(ascii("hotline/v1 key message\0"), data.subarray(0, data.length - 64));
    expect(await verify(identity(k.signer).publicKey, data.subarray(data.length - 64), signed), "signature");
    const baseKey = await msg.open(callKey(k.recipient_call_key), identity(k.signer).publicKey, { roomId: room, recipient: k.recipient });
    sameHex(baseKey, k.base_key, "base key");
  });

  await run("hotline/group_code", "group code", async () => {
    const g = v.group_code;
    const members = g.members.map((n) => [identity(n).publicKey, callKey(n).publicKey] as const);
    const kems = new Set(g.kems.map((k) => { expect(k === Kem.X25519 || k === Kem.MLKEM768_X25519, "kem"); return k; }));
    same(PHASE_CODES[g.phase as keyof typeof PHASE_CODES], g.phase_code, "phase code");
    const code = await groupCode(room, g.epoch, members, { phase: g.phase, cipherSuite: g.cipher_suite, kems });
    sameHex(code.digest, g.digest, "digest");
    same(code.digits, g.digits, "digits");
    same(code.words, g.words, "words");
    same(String(code), g.digits, "toString");
    // The formula of PROTOCOL.md, by hand.
    const entries = members
      .map(([ik, ck]) => concat(ik, uintBytes(0x20n, 2), uintBytes(32n, 2), ck.key))
      .sort((a, b) => (toHex(a) < toHex(b) ? -1 : toHex(a) > toHex(b) ? 1 : 0));
    const body = concat(
      ascii("hotline/v1 group code\0"), Uint8Array.of(room.length), ascii(room), uintBytes(BigInt(g.epoch), 4),
      Uint8Array.of(g.phase_code),
      uintBytes(BigInt(g.cipher_suite), 2), Uint8Array.of(g.kems.length),
      ...[...g.kems].sort((a, b) => a - b).map((k) => uintBytes(BigInt(k), 2)),
      uintBytes(BigInt(entries.length), 2), ...entries);
    sameHex(new Uint8Array(await crypto.subtle.digest("SHA-256", body)), g.digest, "digest by hand");
  });

  await run("hotline/phase_proof", "phase proof", async () => {
    const p = v.phase_proof;
    const key = identity(p.signer).publicKey;
    const request = { roomId: room, signer: p.participant_id, epoch: p.epoch, phase: p.phase };
    expect(await verifyPhase(key, h(p.proof), request), "verifies");
    sameHex(await signPhase(identity(p.signer), request), p.proof, "re-sign (Ed25519 is deterministic)");
    const signed = concat(ascii("hotline/v1 phase change\0"), Uint8Array.of(room.length), ascii(room),
      uintBytes(BigInt(p.participant_id), 4), uintBytes(BigInt(p.epoch), 4), Uint8Array.of(p.phase_code));
    expect(await verify(key, h(p.proof), signed), "signed bytes by hand");
    for (const changed of [{ epoch: p.epoch + 1 }, { phase: "closed" }, { signer: 8 }, { roomId: room + "x" }, { phase: "recess" }]) {
      expect(!(await verifyPhase(key, h(p.proof), { ...request, ...changed })), `refused: ${JSON.stringify(changed)}`);
    }
  });

  for (const c of v.frames) {
    await run("hotline/frames", `${c.codec} ctr ${c.ctr}`, async () => {
      const codec = c.codec as Codec;
      const kid = BigInt(c.kid);
      const frame = h(c.frame);
      const wire = h(c.wire);
      const tx = new SFrameContext(c.cipher_suite);
      await tx.addEncryptionKey(kid, h(c.base_key));
      sameHex(await protect(new SFrameSender(tx, kid, { firstCounter: BigInt(c.ctr) }), codec, frame), c.wire, "protect");
      const rx = new SFrameContext(c.cipher_suite);
      await rx.addDecryptionKey(kid, h(c.base_key));
      sameHex(await unprotect(rx, codec, wire), c.frame, "unprotect");
      const clear = c.codec === "opus" ? 1 : (frame[0]! & 1) === 0 ? 10 : 3;
      same(clearLength(codec, frame), clear, "clear length");
      sameHex(wire.subarray(0, clear), toHex(frame.subarray(0, clear)), "clear bytes");
      const header = decodeHeader(wire.subarray(clear));
      same(header.kid, kid, "header kid");
      same(header.ctr, BigInt(c.ctr), "header ctr");
      same(frameKid(codec, wire), kid, "frameKid");
      expect(wire.length - frame.length <= 15, "default-suite overhead at most 15 bytes");
    });
  }
  return actors;
}

// ---------------------------------------------------------------- negative and behaviour checks

type Check = [name: string, body: () => Promise<void> | void];

function checks(rfc: RfcVectors, v: HotlineVectors, actors: Actors): Check[] {
  const room = v.room_id;
  const alice = (): Identity => actors.identity["alice"]!;
  const bob = (): Identity => actors.identity["bob"]!;
  const aliceCall = (): CallKeyPair => actors.callKey["alice"]!;
  const bobCall = (): CallKeyPair => actors.callKey["bob"]!;
  const km = v.key_message;
  const kmData = h(km.encoded);
  const annData = h(v.announcement.encoded);
  const annBinding = (): { roomId: string; participantId: number; identityKey: Bytes } =>
    ({ roomId: room, participantId: v.announcement.participant_id, identityKey: alice().publicKey });
  const openKm = (data: Uint8Array, opts: { key?: CallKeyPair; sender?: Uint8Array; roomId?: string; recipient?: number } = {}) =>
    KeyMessage.decode(data).open(opts.key ?? bobCall(), opts.sender ?? alice().publicKey,
      { roomId: opts.roomId ?? room, recipient: opts.recipient ?? km.recipient });
  const rx = async (suite: number, kid: bigint, key: Uint8Array): Promise<SFrameContext> => {
    const ctx = new SFrameContext(suite);
    await ctx.addDecryptionKey(kid, key);
    return ctx;
  };
  const tx = async (suite: number, kid: bigint, key: Uint8Array): Promise<SFrameContext> => {
    const ctx = new SFrameContext(suite);
    await ctx.addEncryptionKey(kid, key);
    return ctx;
  };
  const meta = ascii("meta");
  const list: Check[] = [];

  // -- SFrame
  for (const c of rfc.sframe) {
    list.push([`suite ${c.cipher_suite}: a flipped bit in ciphertext, tag or metadata fails`, async () => {
      const kid = big(c.kid);
      const ct = h(c.ct);
      const size = decodeHeader(ct).size;
      for (const [what, frame, metadata] of [
        ["ciphertext", flip(ct, size), h(c.metadata)],
        ["tag", flip(ct, -1, 0x80), h(c.metadata)],
        ["metadata", ct, flip(h(c.metadata), 0)],
      ] as const) {
        const ctx = await rx(c.cipher_suite, kid, h(c.base_key));
        await fails(() => ctx.decrypt(metadata, frame), SFrameError, "auth_failed", what);
        sameHex(await ctx.decrypt(h(c.metadata), ct), c.pt, `${what}: the genuine frame still decrypts`);
      }
    }]);
  }
  const c1 = rfc.sframe[0]!;
  list.push(["a replayed frame is refused", async () => {
    const ctx = await rx(c1.cipher_suite, big(c1.kid), h(c1.base_key));
    await ctx.decrypt(h(c1.metadata), h(c1.ct));
    await fails(() => ctx.decrypt(h(c1.metadata), h(c1.ct)), SFrameError, "replayed", "second copy");
  }]);
  list.push(["two copies of one frame decrypting at once are accepted once", async () => {
    const ctx = await rx(c1.cipher_suite, big(c1.kid), h(c1.base_key));
    const results = await Promise.allSettled([ctx.decrypt(h(c1.metadata), h(c1.ct)), ctx.decrypt(h(c1.metadata), h(c1.ct))]);
    same(results.filter((r) => r.status === "fulfilled").length, 1, "accepted copies");
    const rejected = results.find((r) => r.status === "rejected");
    expect(rejected !== undefined && rejected.reason instanceof SFrameError && rejected.reason.reason === "replayed", "the other is a replay");
  }]);
  list.push(["replay window: reordering within 256 counters, older refused", async () => {
    const key = randomBytes(16);
    const enc = await tx(4, 5n, key);
    const frames = new Map<number, Bytes>();
    for (const ctr of [44, 45, 46, 300]) frames.set(ctr, await enc.encrypt(BigInt(ctr), 5n, meta, ascii(`frame ${ctr}`)));
    const ctx = await rx(4, 5n, key);
    await ctx.decrypt(meta, frames.get(300)!);
    sameHex(await ctx.decrypt(meta, frames.get(45)!), toHex(ascii("frame 45")), "255 below the highest");
    await fails(() => ctx.decrypt(meta, frames.get(44)!), SFrameError, "too_old", "256 below the highest");
    await fails(() => ctx.decrypt(meta, frames.get(45)!), SFrameError, "replayed", "45 again");
    await ctx.decrypt(meta, frames.get(46)!);
  }]);
  list.push(["a forged frame does not move the replay window", async () => {
    const key = randomBytes(16);
    const enc = await tx(1, 9n, key);
    const early = await enc.encrypt(1n, 9n, meta, ascii("early"));
    const late = await enc.encrypt(1000n, 9n, meta, ascii("late"));
    const ctx = await rx(1, 9n, key);
    await fails(() => ctx.decrypt(meta, flip(late, -1)), SFrameError, "auth_failed", "forged");
    sameHex(await ctx.decrypt(meta, early), toHex(ascii("early")), "an older genuine frame still decrypts");
    sameHex(await ctx.decrypt(meta, late), toHex(ascii("late")), "the genuine late frame decrypts");
  }]);
  list.push(["re-adding the same decryption key keeps its replay window", async () => {
    const ctx = await rx(c1.cipher_suite, big(c1.kid), h(c1.base_key));
    await ctx.decrypt(h(c1.metadata), h(c1.ct));
    await ctx.addDecryptionKey(big(c1.kid), h(c1.base_key));
    await fails(() => ctx.decrypt(h(c1.metadata), h(c1.ct)), SFrameError, "replayed", "after re-adding");
  }]);
  list.push(["an encryption key never reuses a counter", async () => {
    const ctx = await tx(1, 3n, randomBytes(16));
    await ctx.encrypt(5n, 3n, meta, ascii("x"));
    await fails(() => ctx.encrypt(5n, 3n, meta, ascii("x")), SFrameError, "counter_reused", "same counter");
    await fails(() => ctx.encrypt(4n, 3n, meta, ascii("x")), SFrameError, "counter_reused", "lower counter");
    await fails(() => ctx.encrypt(1n << 64n, 3n, meta, ascii("x")), SFrameError, "counter_exhausted", "counter above u64");
    const racing = await Promise.allSettled([ctx.encrypt(9n, 3n, meta, ascii("x")), ctx.encrypt(9n, 3n, meta, ascii("y"))]);
    same(racing.filter((r) => r.status === "fulfilled").length, 1, "one of two concurrent calls with one counter");
  }]);
  list.push(["a KID gets one encryption key at a time, even when added concurrently", async () => {
    const ctx = await tx(1, 3n, randomBytes(16));
    await fails(() => ctx.addEncryptionKey(3n, randomBytes(16)), SFrameError, "bad_key", "second key");
    const results = await Promise.allSettled([ctx.addEncryptionKey(4n, randomBytes(16)), ctx.addEncryptionKey(4n, randomBytes(16))]);
    same(results.filter((r) => r.status === "fulfilled").length, 1, "concurrent adds accepted");
    ctx.removeEncryptionKey(3n);
    await ctx.addEncryptionKey(3n, randomBytes(16));
  }]);
  list.push(["key changes take effect in call order", async () => {
    const ctx = new SFrameContext(1);
    const adding = ctx.addDecryptionKey(8n, randomBytes(16));
    ctx.removeDecryptionKey(8n);
    await adding;
    expect(!ctx.hasDecryptionKey(8n), "a remove called during the derivation wins");
    const enc = await tx(1, 8n, h(c1.base_key));
    const frame = await enc.encrypt(0n, 8n, meta, ascii("second"));
    const first = ctx.addDecryptionKey(8n, randomBytes(16));
    const second = ctx.addDecryptionKey(8n, h(c1.base_key));
    await Promise.all([first, second]);
    sameHex(await ctx.decrypt(meta, frame), toHex(ascii("second")), "the later add wins");
  }]);
  list.push(["a sender numbers frames 0, 1, 2 in call order, also concurrently", async () => {
    const key = randomBytes(16);
    const ctx = await tx(1, 77n, key);
    const sender = new SFrameSender(ctx, 77n);
    const wires = await Promise.all([0, 1, 2].map((i) => protect(sender, Codec.OPUS, Uint8Array.of(0x78, i))));
    wires.forEach((w, i) => same(decodeHeader(w.subarray(1)).ctr, BigInt(i), `frame ${i} counter`));
    same(sender.nextCounter, 3n, "next counter");
    const dec = await rx(1, 77n, key);
    for (const [i, w] of wires.entries()) sameHex(await unprotect(dec, Codec.OPUS, w), toHex(Uint8Array.of(0x78, i)), `frame ${i}`);
  }]);
  list.push(["a sender stops at its maximum counter", async () => {
    const ctx = await tx(1, 2n, randomBytes(16));
    const sender = new SFrameSender(ctx, 2n, { firstCounter: 7n, maxCounter: 7n });
    await sender.encrypt(meta, ascii("last"));
    expect(sender.exhausted, "exhausted");
    await fails(() => sender.encrypt(meta, ascii("one more")), SFrameError, "counter_exhausted", "past the maximum");
    await fails(() => new SFrameSender(ctx, 2n, { firstCounter: 8n, maxCounter: 7n }), SFrameError, "bad_key", "bad bounds");
  }]);
  list.push(["unknown KID, truncated and empty frames are refused", async () => {
    const ctx = await rx(1, 1n, randomBytes(16));
    await fails(() => ctx.decrypt(meta, concat(encodeHeader(2n, 0n), new Uint8Array(20))), SFrameError, "unknown_kid", "unknown kid");
    await fails(() => ctx.decrypt(meta, concat(encodeHeader(1n, 0n), new Uint8Array(9))), SFrameError, "truncated", "shorter than the tag");
    await fails(() => ctx.decrypt(meta, new Uint8Array(0)), SFrameError, "truncated", "empty");
    await fails(() => ctx.decrypt(meta, Uint8Array.of(0x8f, 0x01)), SFrameError, "truncated", "short header");
    ctx.removeDecryptionKey(1n);
    await fails(() => ctx.decrypt(meta, concat(encodeHeader(1n, 0n), new Uint8Array(20))), SFrameError, "unknown_kid", "removed key");
  }]);
  list.push(["unknown suites, empty base keys and bad lengths are refused", async () => {
    await fails(() => new SFrameContext(6), SFrameError, "unsupported_suite", "suite 6");
    await fails(() => new SFrameContext(0), SFrameError, "unsupported_suite", "suite 0");
    await fails(() => deriveKeySalt(1, 1n, new Uint8Array(0)), SFrameError, "bad_key", "empty base key");
    await fails(() => makeAead(params(4), new Uint8Array(15)), SFrameError, "bad_key", "key length");
    await fails(() => encodeHeader(1n << 64n, 0n), SFrameError, "malformed_header", "kid above u64");
    await fails(() => new SFrameContext(1, { replayWindow: 0 }), RangeError, null, "empty window");
  }]);
  list.push(["every suite round-trips frames of many sizes", async () => {
    for (const suite of [1, 2, 3, 4, 5]) {
      const key = randomBytes(32);
      const enc = await tx(suite, 1234567n, key);
      const dec = await rx(suite, 1234567n, key);
      const sender = new SFrameSender(enc, 1234567n, { firstCounter: 250n });
      for (const size of [0, 1, 15, 16, 17, 1000, 70000]) {
        const frame = randomBytes(size);
        const wire = await sender.encrypt(meta, frame);
        same(wire.length, decodeHeader(wire).size + size + params(suite).nt, `suite ${suite} size ${size}: overhead`);
        sameHex(await dec.decrypt(meta, wire), toHex(frame), `suite ${suite} size ${size}`);
      }
    }
  }]);
  list.push(["the replay window follows Python's rules", () => {
    const w = new ReplayWindow(4);
    w.check(0n); w.accept(0n);
    w.check(3n); w.accept(3n);
    const reason = (ctr: bigint): string | null => {
      try { w.check(ctr); return null; } catch (e) { return e instanceof SFrameError ? e.reason : "other"; }
    };
    same(reason(0n), "replayed", "0 again");
    same(reason(1n), null, "1 is new, within 4");
    w.accept(1n);
    same(reason(1n), "replayed", "1 again");
    w.accept((1n << 64n) - 1n);
    same(reason(3n), "too_old", "a jump by 2**64 empties the window");
    same(reason((1n << 64n) - 4n), null, "3 below the highest");
    same(reason((1n << 64n) - 5n), "too_old", "4 below the highest");
  }]);

  // -- frames
  const f = v.frames;
  list.push(["a flipped VP8 key-frame bit makes the frame fail", async () => {
    for (const c of f.filter((x) => x.codec === "vp8")) {
      const ctx = await rx(c.cipher_suite, BigInt(c.kid), h(c.base_key));
      await fails(() => unprotect(ctx, Codec.VP8, flip(h(c.wire), 0)), SFrameError, null, `ctr ${c.ctr}`);
      sameHex(await unprotect(ctx, Codec.VP8, h(c.wire)), c.frame, `ctr ${c.ctr}: the genuine frame`);
    }
  }]);
  list.push(["a flipped clear byte fails authentication", async () => {
    for (const c of f) {
      const ctx = await rx(c.cipher_suite, BigInt(c.kid), h(c.base_key));
      const byte = c.codec === "opus" ? 0 : 1; // keeps VP8's key-frame bit
      await fails(() => unprotect(ctx, c.codec as Codec, flip(h(c.wire), byte, 0x40)), SFrameError, "auth_failed", `${c.codec} ${c.ctr}`);
    }
  }]);
  list.push(["frames shorter than their clear bytes are refused", async () => {
    const ctx = await tx(1, 1n, randomBytes(16));
    const sender = new SFrameSender(ctx, 1n);
    await fails(() => protect(sender, Codec.OPUS, new Uint8Array(0)), SFrameError, "truncated", "empty Opus");
    await fails(() => protect(sender, Codec.VP8, new Uint8Array(0)), SFrameError, "truncated", "empty VP8");
    await fails(() => protect(sender, Codec.VP8, Uint8Array.of(0x50, 1, 2, 3, 4)), SFrameError, "truncated", "short VP8 key frame");
    await fails(() => protect(sender, Codec.VP8, Uint8Array.of(0x31, 1)), SFrameError, "truncated", "short VP8 delta frame");
    same(clearLength(Codec.VP8, Uint8Array.of(0x31, 1, 2)), 3, "VP8 delta frame");
    same(clearLength(Codec.VP9, new Uint8Array(0)), 0, "VP9");
  }]);
  list.push(["VP9 frames are encrypted whole", async () => {
    const key = randomBytes(16);
    const kid = makeKid(3, 1, Slot.VIDEO);
    const sender = new SFrameSender(await tx(1, kid, key), kid);
    const frame = randomBytes(200);
    const wire = await protect(sender, Codec.VP9, frame);
    same(decodeHeader(wire).kid, kid, "the wire starts with the SFrame header");
    same(frameKid(Codec.VP9, wire), kid, "frameKid");
    sameHex(await unprotect(await rx(1, kid, key), Codec.VP9, wire), toHex(frame), "round trip");
  }]);

  // -- key messages
  list.push(["a key message to someone else is refused", async () => {
    await fails(() => openKm(kmData, { recipient: km.recipient + 1 }), KeyMessageError, "wrong_recipient", "other recipient");
    await fails(() => openKm(kmData, { roomId: `${room}-2` }), KeyMessageError, "wrong_room", "other room");
  }]);
  list.push(["a key message with a bad signature is refused", async () => {
    await fails(() => openKm(flip(kmData, -1)), KeyMessageError, "bad_signature", "flipped signature bit");
    await fails(() => openKm(kmData, { sender: bob().publicKey }), KeyMessageError, "bad_signature", "another sender's identity");
    await fails(() => openKm(flip(kmData, kmData.length - 64 - 5)), KeyMessageError, "bad_signature", "flipped sealed bit");
  }]);
  const roomLen = ascii(room).length;
  const epochAt = 3 + roomLen + 8 + 3; // low byte of the u32 epoch
  list.push(["a changed header field breaks the signature", async () => {
    const changed = flip(kmData, epochAt);
    same(KeyMessage.decode(changed).epoch, km.epoch ^ 1, "the epoch changed");
    await fails(() => openKm(changed), KeyMessageError, "bad_signature", "changed epoch");
  }]);
  list.push(["a key message re-signed by another member does not open", async () => {
    const changed = flip(kmData, epochAt);
    const signedPart = concat(ascii("hotline/v1 key message\0"), changed.subarray(0, changed.length - 64));
    const forged = concat(changed.subarray(0, changed.length - 64), await bob().sign(signedPart));
    await fails(() => openKm(forged, { sender: bob().publicKey }), KeyMessageError, "auth_failed", "re-signed by bob");
  }]);
  list.push(["a key message opened with the wrong call key fails", async () => {
    await fails(() => KeyMessage.decode(kmData).open(aliceCall(), alice().publicKey, { roomId: room, recipient: km.recipient }),
      KeyMessageError, "auth_failed", "alice's call key");
  }]);
  list.push(["a KID not bound to sender and generation is refused", async () => {
    const base = KeyMessage.decode(kmData);
    const wrong = new KeyMessage(room, base.sender, base.recipient, base.epoch, base.generation, base.kid + 1n, base.cipherSuite, new Uint8Array(0), new Uint8Array(0));
    const sealed = await bobCall().publicKey.seal(randomBytes(32), concat(ascii("hotline/v1 key message\0"), wrong.header()));
    const body = concat(wrong.header(), new Writer().bytes16(sealed).bytes());
    const signature = await alice().sign(concat(ascii("hotline/v1 key message\0"), body));
    await fails(() => openKm(concat(body, signature)), KeyMessageError, "binding", "kid + 1");
  }]);
  list.push(["malformed key messages are refused", async () => {
    const suiteAt = 3 + roomLen + 16 + 8 + 1;
    const sealedLenAt = suiteAt + 1;
    const emptySealed = concat(kmData.subarray(0, sealedLenAt), Uint8Array.of(0, 0), kmData.subarray(kmData.length - 64));
    const badUtf8 = copy(kmData);
    badUtf8[3] = 0xff;
    for (const [what, data] of [
      ["trailing byte", concat(kmData, Uint8Array.of(0))], ["truncated", kmData.subarray(0, kmData.length - 1)],
      ["empty", new Uint8Array(0)], ["type", flip(kmData, 0, 0x03)], ["version", flip(kmData, 1, 0x03)],
      ["unknown suite", flip(kmData, suiteAt, 0x07)], ["empty sealed part", emptySealed], ["room not UTF-8", badUtf8],
      ["empty room", concat(Uint8Array.of(2, 1, 0), kmData.subarray(3 + roomLen))],
    ] as const) {
      await fails(() => KeyMessage.decode(data), KeyMessageError, "malformed", what);
    }
  }]);
  list.push(["a key message sealed in the browser opens in the browser (and in Python)", async () => {
    const baseKey = randomBytes(32);
    const p = { roomId: room, sender: km.sender, recipient: km.recipient, epoch: km.epoch, generation: km.generation + 1, cipherSuite: 1, baseKey };
    const msg = await KeyMessage.seal(alice(), bobCall().publicKey, p);
    const again = await KeyMessage.seal(alice(), bobCall().publicKey, p);
    expect(!equal(msg.sealed, again.sealed), "HPKE sealing is randomized");
    same(msg.kid, makeKid(km.sender, km.generation + 1), "kid");
    sameHex(await openKm(msg.encode()), toHex(baseKey), "base key");
    await fails(() => KeyMessage.seal(alice(), bobCall().publicKey, { ...p, baseKey: randomBytes(16) }), KeyMessageError, "bad_key", "16-byte base key");
    summary.interop["key_message"] = toHex(msg.encode());
    summary.interop["key_message_base_key"] = toHex(baseKey);
  }]);

  // -- announcements
  list.push(["announcements with a bad signature or binding are refused", async () => {
    const ann = CallKeyAnnouncement.decode(annData);
    await fails(() => CallKeyAnnouncement.decode(flip(annData, -1)).verify(annBinding()), AnnouncementError, "bad_signature", "flipped signature");
    await fails(() => CallKeyAnnouncement.decode(flip(annData, 3 + roomLen + 7)).verify(annBinding()), AnnouncementError, "bad_signature", "changed epoch");
    await fails(() => ann.verify({ ...annBinding(), identityKey: bob().publicKey }), AnnouncementError, "binding", "another identity");
    await fails(() => ann.verify({ ...annBinding(), roomId: "elsewhere" }), AnnouncementError, "wrong_room", "another room");
    await fails(() => ann.verify({ ...annBinding(), participantId: 8 }), AnnouncementError, "binding", "another participant");
    await fails(() => ann.verify({ ...annBinding(), allowedKems: POST_QUANTUM }), AnnouncementError, "policy", "post-quantum call");
  }]);
  list.push(["an announcement of a low-order X25519 key is refused", async () => {
    for (const point of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      const ann = await CallKeyAnnouncement.create(alice(), room, 7, 3, new CallPublicKey(Kem.X25519, point));
      await fails(() => CallKeyAnnouncement.decode(ann.encode()).verify(annBinding()), AnnouncementError, "malformed", toHex(point.subarray(0, 1)));
    }
  }]);
  list.push(["hybrid-KEM announcements parse but are refused with a clear error", async () => {
    const hybrid = new CallPublicKey(Kem.MLKEM768_X25519, randomBytes(1184 + 32));
    const ann = CallKeyAnnouncement.decode((await CallKeyAnnouncement.create(alice(), room, 7, 3, hybrid)).encode());
    expect(ann.callKey.equals(hybrid), "parsed");
    const error = await fails(() => ann.verify(annBinding()), AnnouncementError, "policy", "verify");
    expect(error.message.includes("not supported"), `clear message: ${error.message}`);
    await fails(() => CallKeyPair.generate(Kem.MLKEM768_X25519), AnnouncementError, "policy", "generate");
    await fails(() => hybrid.seal(randomBytes(32), ascii("info")), KeyMessageError, "policy", "seal");
    await fails(() => new CallPublicKey(Kem.MLKEM768_X25519, randomBytes(32)), AnnouncementError, "malformed", "hybrid key of 32 bytes");
  }]);
  list.push(["malformed announcements are refused", async () => {
    const kemAt = 3 + roomLen + 8 + 1; // after the role
    await fails(() => CallKeyAnnouncement.decode(flip(annData, kemAt - 1, 0x80)), AnnouncementError, "malformed", "unknown role code");
    for (const [what, data] of [
      ["trailing byte", concat(annData, Uint8Array.of(0))], ["truncated", annData.subarray(0, annData.length - 1)],
      ["type", flip(annData, 0, 0x03)], ["version", flip(annData, 1, 0x02)], ["unknown KEM", flip(annData, kemAt + 1, 0x01)],
      ["call key size", flip(annData, kemAt + 3, 0x01)], ["empty room", concat(Uint8Array.of(1, 1, 0), annData.subarray(3 + roomLen))],
    ] as const) {
      await fails(() => CallKeyAnnouncement.decode(data), AnnouncementError, "malformed", what);
    }
    await fails(() => CallKeyAnnouncement.create(alice(), "", 7, 3, aliceCall().publicKey), AnnouncementError, "malformed", "empty room id");
    await fails(() => CallKeyAnnouncement.create(alice(), "x".repeat(256), 7, 3, aliceCall().publicKey), AnnouncementError, "malformed", "256-byte room id");
    await fails(() => CallKeyAnnouncement.create(alice(), "\ud800", 7, 3, aliceCall().publicKey), AnnouncementError, "malformed", "lone surrogate");
  }]);
  list.push(["an announcement made in the browser verifies (and in Python)", async () => {
    const identity = await Identity.generate();
    const call = await CallKeyPair.generate();
    const roomId = "h\u00e9llo \u{1f4de}";
    const ann = await CallKeyAnnouncement.create(identity, roomId, 42, 17, call.publicKey);
    const again = CallKeyAnnouncement.decode(ann.encode());
    await again.verify({ roomId, participantId: 42, identityKey: identity.publicKey });
    const bom = await CallKeyAnnouncement.create(identity, "\ufeffroom", 1, 1, call.publicKey);
    same(CallKeyAnnouncement.decode(bom.encode()).roomId, "\ufeffroom", "a leading BOM is kept");
    summary.interop["announcement"] = toHex(ann.encode());
    summary.interop["announcement_identity"] = toHex(identity.publicKey);
    summary.interop["announcement_room"] = roomId;
  }]);

  // -- group code, identity, wire, KIDs
  list.push(["the group code ignores member order and changes with every input", async () => {
    const g = v.group_code;
    const members = [[alice().publicKey, aliceCall().publicKey], [bob().publicKey, bobCall().publicKey]] as const;
    const kems = new Set([Kem.X25519]);
    const code = async (o: {
      room?: string; epoch?: number; phase?: string; suite?: number; kems?: Set<Kem>; members?: readonly (readonly [Bytes, CallPublicKey])[];
    }): Promise<GroupCode> => groupCode(o.room ?? room, o.epoch ?? g.epoch, o.members ?? members,
      { phase: o.phase ?? g.phase, cipherSuite: o.suite ?? g.cipher_suite, kems: o.kems ?? kems });
    sameHex((await code({ members: [...members].reverse() })).digest, g.digest, "reversed members");
    const variants = [
      await code({ room: `${room}!` }), await code({ epoch: g.epoch + 1 }), await code({ suite: 4 }),
      await code({ phase: g.phase === "open" ? "closed" : "open" }),
      await code({ kems: new Set([Kem.X25519, Kem.MLKEM768_X25519]) }), await code({ members: [members[0]] }),
      await code({ members: [members[0], [bob().publicKey, aliceCall().publicKey]] }),
    ];
    for (const [i, other] of variants.entries()) expect(toHex(other.digest) !== g.digest, `variant ${i} changes the code`);
    same((await groupCode(room, 1, [])).digits.length, 23, "an empty roster still has a code");
    await fails(() => groupCode(room, 1, [], { phase: "recess" }), AnnouncementError, "malformed", "unknown phase");
  }]);
  list.push(["identities sign and verify", async () => {
    const id = await Identity.generate();
    const message = ascii("hello");
    const signature = await id.sign(message);
    expect(await verify(id.publicKey, signature, message), "own signature");
    expect(!(await verify(id.publicKey, signature, ascii("hellO"))), "other message");
    expect(!(await verify(alice().publicKey, signature, message)), "other key");
    expect(!(await verify(id.publicKey.subarray(1), signature, message)), "31-byte key");
    expect(/^([0-9a-f]{4} ){7}[0-9a-f]{4}$/.test(await fingerprint(id.publicKey)), "fingerprint format");
    await fails(() => Identity.fromSeed(new Uint8Array(31)), RangeError, null, "31-byte seed");
  }]);
  list.push(["the wire reader refuses short input and trailing bytes", async () => {
    const data = new Writer().u8(1).u16(2).u32(3).u64(4n).bytes8(Uint8Array.of(5)).bytes16(Uint8Array.of(6, 7)).bytes();
    sameHex(data, "01000200000003000000000000000401050002" + "0607", "layout");
    const r = new Reader(data, KeyMessageError);
    same(r.u8(), 1, "u8"); same(r.u16(), 2, "u16"); same(r.u32(), 3, "u32"); same(r.u64(), 4n, "u64");
    sameHex(r.bytes8(), "05", "bytes8");
    await fails(() => r.raw(5), KeyMessageError, "malformed", "too short");
    const r2 = new Reader(data, AnnouncementError);
    r2.u8();
    await fails(() => r2.end(), AnnouncementError, "malformed", "trailing");
    await fails(() => new Writer().u8(256), RangeError, null, "u8 256");
    await fails(() => new Writer().u32(-1), RangeError, null, "u32 -1");
    await fails(() => new Writer().bytes8(new Uint8Array(256)), RangeError, null, "bytes8 of 256");
  }]);
  list.push(["KIDs refuse out-of-range parts", async () => {
    await fails(() => makeKid(-1, 0), RangeError, null, "negative participant");
    await fails(() => makeKid(2 ** 32, 0), RangeError, null, "participant above u32");
    await fails(() => makeKid(1, -1), RangeError, null, "negative generation");
    await fails(() => makeKid(1, 0, 4 as Slot), RangeError, null, "slot 4");
    await fails(() => parseKid(1n << 38n), RangeError, null, "participant id above u32");
    same(kidsFor(7, 2).join(","), "456,457,458,459", "kidsFor");
    same(makeKid(7, 18, Slot.VIDEO), makeKid(7, 2, Slot.VIDEO), "generations repeat every 16");
  }]);
  return list;
}

// ---------------------------------------------------------------- strict Ed25519, proofs

interface StrictVectors {
  public_keys: { name: string; key: string; problem: string | null }[];
  signatures: {
    name: string; public_key: string; message: string; signature: string; key_problem: string | null;
    signature_problem: string | null; valid: boolean; openssl_accepts: boolean;
  }[];
}

interface AuthVectors {
  seed: string; public_key: string; challenge: string;
  origins: { url: string; origin: string }[];
  bad_urls: string[];
  proofs: { purpose: "auth" | "enroll"; origin: string; code: string; channel_binding: string; message: string; signature: string }[];
}

async function strictVectors(v: StrictVectors): Promise<void> {
  for (const c of v.public_keys) {
    await run("ed25519/public_keys", c.name, () => {
      same(publicKeyProblem(h(c.key)), c.problem, "problem");
    });
  }
  for (const c of v.signatures) {
    await run("ed25519/signatures", c.name, async () => {
      const key = h(c.public_key);
      const sig = h(c.signature);
      const msg = h(c.message);
      same(publicKeyProblem(key), c.key_problem, "key problem");
      same(signatureProblem(sig), c.signature_problem, "signature problem");
      same(await verify(key, sig, msg), c.valid, "verify");
      summary.library[c.name] = await libraryVerify(key, sig, msg);
    });
  }
}

async function authVectors(v: AuthVectors): Promise<void> {
  for (const c of v.origins) {
    await run("auth/origins", c.url, () => same(originOf(c.url), c.origin, "origin"));
  }
  for (const url of v.bad_urls) {
    await run("auth/bad_urls", url, async () => { await fails(() => originOf(url), RangeError, null, url); });
  }
  const identity = await Identity.fromSeed(h(v.seed));
  for (const c of v.proofs) {
    await run("auth/proofs", `${c.purpose} ${c.origin} ${c.channel_binding}`, async () => {
      sameHex(identity.publicKey, v.public_key, "public key");
      const message = await proofMessage(c.purpose, h(v.challenge), identity.publicKey, c.origin, h(c.channel_binding), c.code);
      sameHex(message, c.message, "signed bytes");
      expect(await verify(identity.publicKey, h(c.signature), message), "the vector's signature verifies");
      if (c.channel_binding === "") sameHex(await prove(identity, c.purpose, h(v.challenge), c.origin, c.code), c.signature, "signature");
    });
  }
  await run("auth/proofs", "plain http beyond loopback is flagged", () => {
    expect(insecureTransport("ws://192.0.2.7:8080/ws") && insecureTransport("http://hotline.example.org/"), "remote http");
    expect(!insecureTransport("ws://127.0.0.1:8080/ws") && !insecureTransport("http://localhost:1/") &&
      !insecureTransport("http://[::1]:8080/") && !insecureTransport("wss://192.0.2.7/ws"), "loopback or TLS");
    same(ED25519_L.toString(16).length, 64, "L");
  });
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const started = performance.now();
  try {
    const rfc = (await fetchJson("/tests/vectors/sframe-rfc9605.json")) as RfcVectors;
    const hotline = (await fetchJson("/tests/vectors/hotline-v1.json")) as HotlineVectors;
    await rfcVectors(rfc);
    await strictVectors((await fetchJson("/tests/vectors/ed25519-strict.json")) as StrictVectors);
    await authVectors((await fetchJson("/tests/vectors/auth-v1.json")) as AuthVectors);
    const group = (await fetchJson("/tests/vectors/group-code-v1.json")) as GroupCodeVectors;
    await groupCodeVectors(group, run, expect);
    const actors = await hotlineVectors(hotline);
    const list = checks(rfc, hotline, actors);
    summary.planned_checks = list.length;
    for (const [name, body] of list) await run("checks", name, body);
  } catch (error) {
    summary.failed++;
    summary.failures.push(`setup: ${describe(error)}`);
  }
  summary.seconds = (performance.now() - started) / 1000;
  summary.done = true;
  (window as unknown as { hotlineVectors: Summary }).hotlineVectors = summary;
  const pre = document.getElementById("summary");
  if (pre !== null) {
    const { words: _words, ...shown } = summary;
    pre.textContent = JSON.stringify(shown, null, 2);
  }
}

void main();
