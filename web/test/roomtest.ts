/**
 * Test page for the browser client's key management and signaling
 * (tests/browser/test_web_room.py loads it in Chromium).
 *
 * `?mode=room&server=http://127.0.0.1:PORT&room=NAME[&code=ENROLLMENT-CODE][&db=NAME][&grace=S][&rekey=S]`
 *   loads (or creates) the identity in IndexedDB, enrolls with `code` if given, else
 *   authenticates, joins `room` and keeps its state on `window.hotlineRoom`. It offers
 *   `window.hotlineRoomApi`: `encrypt(hex)` (an Opus frame under the current audio sender,
 *   resolves to the wire bytes in hex), `decrypt(hex)`, `leave()`, `close()`.
 *
 * `?mode=unit` runs the KeySchedule's own rules with three in-page participants (refused
 * key messages leave the state unchanged, roster rules, grace, deadlines, pending
 * messages, timer rekey, ordering of concurrent events) and puts
 * `{done, passed, failed, failures, names}` on `window.hotlineUnit`.
 */

import { type Bytes, fromHex, randomBytes, toHex } from "../src/crypto/bytes.js";
import { CallKeyAnnouncement, CallKeyPair, CallPublicKey, Kem } from "../src/crypto/callkey.js";
import { KeyMessageError, Reason } from "../src/crypto/errors.js";
import { Codec, protect, unprotect } from "../src/crypto/frames.js";
import { Identity } from "../src/crypto/identity.js";
import { KeyMessage } from "../src/crypto/keymessage.js";
import {
  type KeyScheduleAction, type KeyScheduleEvent, KeySchedule, type Member, keyScheduleConfig,
} from "../src/crypto/keyschedule/index.js";
import { loadOrCreateIdentity } from "../src/crypto/keystore.js";
import { Slot, kidsFor } from "../src/crypto/kid.js";
import { MediaKeys } from "../src/crypto/mediakeys.js";
import { ProtocolError, UsageError } from "../src/errors.js";
import { checkHotlineRoom } from "../src/protocol/hotlinerooms.js";
import { b64decode, b64encode, parseServer } from "../src/protocol/messages.js";
import { type ClientEvent, SignalingClient } from "../src/protocol/signaling.js";
import { type Presented, TrustPolicy } from "../src/protocol/trust.js";

/** Test page only: accepts every new party and device (the page's users press Accept). */
class AcceptEveryDevice extends TrustPolicy {
  override async decide(participantId: number, party: string, identityKey: Uint8Array, ownParty = ""): Promise<Presented> {
    const p = await super.decide(participantId, party, identityKey, ownParty);
    return p.verdict === "new_party" || p.verdict === "new_device" ? { ...p, verdict: "trusted" } : p;
  }
}

declare global {
  interface Window {
    hotlineRoom?: RoomState;
    hotlineRoomApi?: RoomApi;
    hotlineUnit?: UnitSummary;
  }
}

const params = new URLSearchParams(location.search);
const out = document.getElementById("out") as HTMLElement;

// ============================================================ room mode

interface RoomState {
  phase: "starting" | "joined" | "left" | "failed";
  error: string | null;
  fingerprint: string;
  publicKey: string;
  createdIdentity: boolean;
  enrolled: boolean;
  party: string;
  rooms: readonly string[];
  participantId: number | null;
  epoch: number;
  code: { digits: string; words: string; epoch: number } | null;
  generation: number;
  rotations: number;
  senderKids: string[];
  decryptionKids: string[];
  members: number[];
  names: Record<string, string>;
  rejectedKeyMessages: number;
  events: { kind: string; data: Record<string, unknown>; t: number }[];
}

interface RoomApi {
  encrypt(frameHex: string): Promise<string>;
  decrypt(wireHex: string): Promise<string>;
  leave(): Promise<void>;
  close(): void;
}

async function room(): Promise<void> {
  const state: RoomState = {
    phase: "starting", error: null, fingerprint: "", publicKey: "", createdIdentity: false, enrolled: false,
    party: "", rooms: [], participantId: null, epoch: -1, code: null, generation: -1, rotations: 0,
    senderKids: [], decryptionKids: [], members: [], names: {}, rejectedKeyMessages: 0, events: [],
  };
  window.hotlineRoom = state;
  let client: SignalingClient | null = null;
  const refresh = (): void => {
    if (client === null) return;
    const keys = client.keys;
    state.party = client.party;
    state.rooms = client.rooms;
    state.participantId = client.participantId;
    state.epoch = client.schedule?.epoch ?? -1;
    // null while the epoch's code is pending (its reveals are not all in): never an old code
    state.code = keys.code && client.schedule ? { digits: keys.code.digits, words: keys.code.words, epoch: client.schedule.epoch } : null;
    state.generation = keys.generation;
    state.rotations = keys.rotations;
    state.senderKids = [...keys.senders.values()].map((s) => s.kid.toString());
    state.decryptionKids = [...keys.context.decryptionKids()].map((k) => k.toString());
    state.members = client.schedule?.members ?? [];
    state.names = Object.fromEntries([...client.names].map(([k, v]) => [String(k), v]));
    state.rejectedKeyMessages = client.rejectedKeyMessages;
    out.textContent = JSON.stringify(state, null, 1);
  };
  try {
    const server = params.get("server");
    const roomName = params.get("room");
    if (!server || !roomName) throw new Error("need ?server=...&room=...");
    const loaded = await loadOrCreateIdentity(params.get("db") ?? undefined);
    state.fingerprint = loaded.fingerprint;
    state.publicKey = toHex(loaded.identity.publicKey);
    state.createdIdentity = loaded.created;
    client = new SignalingClient(server, loaded.identity, {
      grace: Number(params.get("grace") ?? "1"), rekeyInterval: Number(params.get("rekey") ?? "600"),
      trust: new AcceptEveryDevice(), // this test page verifies nobody (the room's rules are tested)
    });
    const c = client;
    c.onEvent.add((e: ClientEvent) => {
      state.events.push({ kind: e.kind, data: { ...e.data }, t: performance.now() });
      refresh();
    });
    c.onKeysChanged = refresh;
    await c.connect();
    const code = params.get("code");
    if (code) {
      await c.enroll(code, "browser test");
      state.enrolled = true;
    }
    // The enrolled connection is authenticated already; auth is for later connections.
    if (!code) await c.authenticate();
    await c.join(roomName);
    state.phase = "joined";
    window.hotlineRoomApi = {
      async encrypt(frameHex: string): Promise<string> {
        const sender = c.keys.senders.get(Slot.AUDIO);
        if (sender === undefined) throw new Error("no sending key");
        return toHex(await protect(sender, Codec.OPUS, fromHex(frameHex)));
      },
      async decrypt(wireHex: string): Promise<string> {
        return toHex(await unprotect(c.keys.context, Codec.OPUS, fromHex(wireHex)));
      },
      async leave(): Promise<void> {
        await c.leave();
        state.phase = "left";
        refresh();
      },
      close(): void {
        c.close();
      },
    };
    refresh();
  } catch (error) {
    state.phase = "failed";
    state.error = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    out.textContent = JSON.stringify(state, null, 1);
  }
}

// ============================================================ unit mode

interface UnitSummary {
  done: boolean;
  passed: number;
  failed: number;
  failures: string[];
  names: string[];
}

const summary: UnitSummary = { done: false, passed: 0, failed: 0, failures: [], names: [] };

async function check(name: string, body: () => Promise<void> | void): Promise<void> {
  summary.names.push(name);
  try {
    await body();
    summary.passed += 1;
  } catch (error) {
    summary.failed += 1;
    summary.failures.push(`${name}: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
  }
}

function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function same(a: unknown, b: unknown, message: string): void {
  const ja = JSON.stringify(a);
  const jb = JSON.stringify(b);
  assert(ja === jb, `${message}: ${ja} != ${jb}`);
}

async function rejects(promise: Promise<unknown>, test: (e: unknown) => boolean, what: string): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert(test(error), `${what}: wrong error ${String(error)}`);
    return;
  }
  throw new Error(`${what}: did not reject`);
}

const ROOM = "unit-room";

interface Party {
  id: number;
  identity: Identity;
  callKey: CallKeyPair;
  ks: KeySchedule;
}

async function party(id: number, options: { grace?: number; rekeyInterval?: number; rekeyDeadline?: number;
                                           random?: (n: number) => Bytes } = {}): Promise<Party> {
  const identity = await Identity.generate();
  const callKey = await CallKeyPair.generate();
  const config = keyScheduleConfig({
    roomId: ROOM, allowedKems: new Set([Kem.X25519]), grace: options.grace ?? 1, rekeyInterval: options.rekeyInterval ?? 600,
    rekeyDeadline: options.rekeyDeadline ?? 5,
  });
  return { id, identity, callKey, ks: new KeySchedule(identity, callKey, config, options.random ? { random: options.random } : {}) };
}

async function asMember(p: Party, epoch: number): Promise<Member> {
  const ann = await p.ks.announcement(p.id, epoch);
  return { participantId: p.id, identityKey: p.identity.publicKey, announcement: ann.encode() };
}

type Sent = { from: number; to: number; data: Bytes };

function sent(from: Party, actions: KeyScheduleAction[]): Sent[] {
  return actions.flatMap((a) => (a.type === "send_key_message" ? [{ from: from.id, to: a.recipient, data: a.data }] : []));
}

function ofType<T extends KeyScheduleAction["type"]>(actions: KeyScheduleAction[], type: T): Extract<KeyScheduleAction, { type: T }>[] {
  return actions.filter((a): a is Extract<KeyScheduleAction, { type: T }> => a.type === type);
}

async function refused(p: Party, event: KeyScheduleEvent, test: (e: unknown) => boolean, what: string): Promise<void> {
  const before = p.ks.snapshot();
  const deadline = p.ks.nextDeadline();
  await rejects(p.ks.handle(event), test, what);
  same(p.ks.snapshot(), before, `${what}: state changed`);
  assert(p.ks.nextDeadline() === deadline, `${what}: deadline changed`);
}

const reason = (r: Reason) => (e: unknown): boolean => e instanceof KeyMessageError && e.reason === r;

/** A, B (and C) in one call at epochs 10, 11, 12, every key message delivered. */
async function call(now: number, n = 3, options: Parameters<typeof party>[1] = {}): Promise<Party[]> {
  const ps: Party[] = [];
  let queue: Sent[] = [];
  for (let i = 0; i < n; i++) {
    const p = await party(i + 1, options);
    const epoch = 10 + i;
    const members = await Promise.all(ps.map((q) => asMember(q, 10 + ps.indexOf(q))));
    queue.push(...sent(p, await p.ks.handle({ type: "joined", now, epoch, participantId: p.id, members })));
    const me = await asMember(p, epoch);
    for (const q of ps) queue.push(...sent(q, await q.ks.handle({ type: "member_joined", now, epoch, member: me })));
    ps.push(p);
    await deliver(ps, queue, now);
    queue = [];
  }
  return ps;
}

async function deliver(ps: Party[], queue: Sent[], now: number): Promise<KeyScheduleAction[]> {
  const all: KeyScheduleAction[] = [];
  for (const m of queue) {
    const to = ps.find((p) => p.id === m.to);
    if (to !== undefined) all.push(...(await to.ks.handle({ type: "key_message_received", now, data: m.data })));
  }
  return all;
}

async function unit(): Promise<void> {
  const t0 = 1000;

  await check("three members agree on one group code and hold each other's current keys", async () => {
    const [a, b, c] = (await call(t0)) as [Party, Party, Party];
    same(a.ks.code?.digits, b.ks.code?.digits, "A/B code");
    same(b.ks.code?.digits, c.ks.code?.digits, "B/C code");
    assert(a.ks.epoch === 12 && b.ks.epoch === 12 && c.ks.epoch === 12, "epoch 12 everywhere");
    for (const p of [a, b, c]) {
      for (const peer of p.ks.snapshot().peers) {
        const sender = [a, b, c].find((x) => x.id === peer.participantId)!;
        same(peer.kids, kidsFor(sender.id, sender.ks.generation).map(String), `${p.id} has ${sender.id}'s key`);
      }
    }
  });

  await check("refused key messages leave the state unchanged", async () => {
    const [a, b, c] = (await call(t0)) as [Party, Party, Party];
    const now = t0 + 0.5;
    const fields = { roomId: ROOM, sender: a.id, recipient: b.id, epoch: b.ks.epoch, generation: a.ks.generation + 1,
                     cipherSuite: b.ks.config.cipherSuite, baseKey: randomBytes(32) };
    const bCall = b.callKey.publicKey;
    const good = (await KeyMessage.seal(a.identity, bCall, fields)).encode();
    // wrong recipient: a genuine message of A for C, handed to B
    const forC = (await KeyMessage.seal(a.identity, c.callKey.publicKey, { ...fields, recipient: c.id })).encode();
    await refused(b, { type: "key_message_received", now, data: forC }, reason(Reason.WRONG_RECIPIENT), "wrong recipient");
    // bad signature: one bit of the signature flipped; and C signing in A's name
    const flipped = good.slice();
    flipped[flipped.length - 1]! ^= 1;
    await refused(b, { type: "key_message_received", now, data: flipped }, reason(Reason.BAD_SIGNATURE), "flipped signature");
    const forged = (await KeyMessage.seal(c.identity, bCall, fields)).encode();
    await refused(b, { type: "key_message_received", now, data: forged }, reason(Reason.BAD_SIGNATURE), "signed by C as A");
    // other refusals
    const wrongRoom = (await KeyMessage.seal(a.identity, bCall, { ...fields, roomId: "other" })).encode();
    await refused(b, { type: "key_message_received", now, data: wrongRoom }, reason(Reason.WRONG_ROOM), "wrong room");
    const unknown = (await KeyMessage.seal(a.identity, bCall, { ...fields, sender: 77 })).encode();
    await refused(b, { type: "key_message_received", now, data: unknown }, reason(Reason.UNKNOWN_SENDER), "unknown sender");
    const oldEpoch = (await KeyMessage.seal(a.identity, bCall, { ...fields, epoch: b.ks.epoch - 1 })).encode();
    await refused(b, { type: "key_message_received", now, data: oldEpoch }, reason(Reason.STALE), "old epoch");
    const oldGen = (await KeyMessage.seal(a.identity, bCall, { ...fields, generation: a.ks.generation })).encode();
    await refused(b, { type: "key_message_received", now, data: oldGen }, reason(Reason.STALE), "old generation");
    const farAhead = (await KeyMessage.seal(a.identity, bCall, { ...fields, epoch: b.ks.epoch + 9 })).encode();
    await refused(b, { type: "key_message_received", now, data: farAhead }, reason(Reason.STALE), "9 epochs ahead");
    const suite = (await KeyMessage.seal(a.identity, bCall, { ...fields, cipherSuite: 0x0004 })).encode();
    await refused(b, { type: "key_message_received", now, data: suite }, reason(Reason.POLICY), "other cipher suite");
    await refused(b, { type: "key_message_received", now, data: new Uint8Array(40).fill(0xff) }, reason(Reason.MALFORMED), "garbage");
    const tampered = good.slice();
    tampered[40]! ^= 1; // in the sealed key: the signature covers it
    await refused(b, { type: "key_message_received", now, data: tampered }, reason(Reason.BAD_SIGNATURE), "tampered sealed key");
    // the genuine one is accepted once ...
    const before = b.ks.snapshot();
    const actions = await b.ks.handle({ type: "key_message_received", now, data: good });
    const installed = ofType(actions, "install_decryption_key");
    assert(installed.length === 1 && installed[0]!.generation === fields.generation && installed[0]!.sender === a.id,
      "genuine key installed");
    same(toHex(installed[0]!.baseKey), toHex(fields.baseKey), "base key");
    assert(JSON.stringify(b.ks.snapshot()) !== JSON.stringify(before), "accepting changes the state");
    // ... and its replay is refused
    await refused(b, { type: "key_message_received", now, data: good }, reason(Reason.STALE), "replay");
  });

  await check("roster rules: epochs strictly increase, no duplicate ids, nothing before joined", async () => {
    const [a, b] = (await call(t0, 2)) as [Party, Party];
    const d = await party(9);
    const member = await asMember(d, b.ks.epoch);
    const isProtocol = (e: unknown): boolean => e instanceof ProtocolError;
    await refused(b, { type: "member_joined", now: t0, epoch: b.ks.epoch, member }, isProtocol, "same epoch");
    await refused(b, { type: "member_left", now: t0, epoch: b.ks.epoch - 1, participantId: a.id }, isProtocol, "older epoch");
    await refused(b, { type: "phase_changed", now: t0, epoch: 2 ** 32, phase: "open" }, isProtocol, "epoch above u32");
    await refused(b, { type: "member_joined", now: t0, epoch: b.ks.epoch + 1, member: await asMember(a, b.ks.epoch + 1) },
      isProtocol, "duplicate participant id");
    const fresh = await party(5);
    same(await fresh.ks.handle({ type: "timer_fired", now: t0 }), [], "a timer before joined does nothing (as in Python)");
    await rejects(fresh.ks.handle({ type: "member_left", now: t0, epoch: 3, participantId: 1 }),
      (e) => e instanceof UsageError, "event before joined");
    await rejects(b.ks.handle({ type: "joined", now: t0, epoch: 99, participantId: b.id, members: [] }),
      (e) => e instanceof UsageError, "joined twice");
  });

  await check("announcements: KEM outside the policy, stale epoch, bad signature are rejected members", async () => {
    const [, b] = (await call(t0, 2)) as [Party, Party];
    const epoch = b.ks.epoch + 1;
    // a hybrid-KEM call key (this call allows X25519 only), properly signed
    const d = await party(4);
    const hybrid = new CallPublicKey(Kem.MLKEM768_X25519, randomBytes(1184 + 32));
    const pq = await CallKeyAnnouncement.create(d.identity, ROOM, d.id, epoch, hybrid);
    let actions = await b.ks.handle({ type: "member_joined", now: t0, epoch,
      member: { participantId: d.id, identityKey: d.identity.publicKey, announcement: pq.encode() } });
    same(ofType(actions, "member_rejected").map((r) => [r.participantId, r.reason]), [[4, "policy"]], "policy rejection");
    assert(!b.ks.members.includes(4), "not a member");
    // an announcement of an earlier epoch replayed into a later join
    const e = await party(5);
    actions = await b.ks.handle({ type: "member_joined", now: t0, epoch: epoch + 1, member: await asMember(e, epoch) });
    same(ofType(actions, "member_rejected").map((r) => [r.participantId, r.reason]), [[5, "stale"]], "stale rejection");
    // someone else's signature
    const f = await party(6);
    const bad = await asMember(f, epoch + 2);
    actions = await b.ks.handle({ type: "member_joined", now: t0, epoch: epoch + 2,
      member: { ...bad, identityKey: e.identity.publicKey } });
    same(ofType(actions, "member_rejected").map((r) => [r.participantId, r.reason]), [[6, "binding"]], "binding rejection");
    // and a call key this call does not allow is refused at construction
    let threw = false;
    try {
      new KeySchedule(f.identity, f.callKey, keyScheduleConfig({ roomId: ROOM, allowedKems: new Set([Kem.MLKEM768_X25519]) }));
    } catch (err) {
      threw = err instanceof UsageError;
    }
    assert(threw, "constructor refuses a KEM outside the policy");
  });

  await check("every event rekeys; old sending key retired after the new one; randomness passed in", async () => {
    let counter = 0;
    const random = (n: number): Bytes => new Uint8Array(n).fill(++counter);
    const p = await party(1, { random });
    let actions = await p.ks.handle({ type: "joined", now: t0, epoch: 5, participantId: 1, members: [] });
    const first = ofType(actions, "install_encryption_key");
    assert(first.length === 1 && first[0]!.generation === 0, "generation 0 on join");
    same(toHex(first[0]!.baseKey), toHex(new Uint8Array(32).fill(1)), "base key from the random function");
    actions = await p.ks.handle({ type: "phase_changed", now: t0 + 1, epoch: 6, phase: "open" });
    same(actions.map((x) => x.type), ["install_encryption_key", "retire_keys", "group_code_pending", "group_code_changed"],
      "phase change actions (alone: no commitment to wait for, the code follows at once)");
    const retire = ofType(actions, "retire_keys")[0]!;
    assert(retire.sending, "retires the sending key");
    same(retire.kids.map(String), kidsFor(1, 0).map(String), "old kids");
    // the timer rekeys after rekey_interval
    assert(p.ks.nextDeadline() === t0 + 1 + 600, "next deadline is the rekey");
    actions = await p.ks.handle({ type: "timer_fired", now: t0 + 601 });
    same(ofType(actions, "install_encryption_key").map((x) => x.generation), [2], "timer rekey");
  });

  await check("grace: a sender's previous key goes grace seconds after its new one", async () => {
    const [a, b] = (await call(t0, 2, { grace: 0.5 })) as [Party, Party];
    const oldKids = b.ks.snapshot().peers[0]!.kids;
    const now = t0 + 10;
    const msgs = sent(a, await a.ks.handle({ type: "timer_fired", now: t0 + 601 }));
    assert(msgs.length === 1, "A's timer rekey sealed to B");
    await deliver([a, b], msgs, now);
    assert(b.ks.nextDeadline() === now + 0.5, "retire deadline at now + grace");
    same(await b.ks.handle({ type: "timer_fired", now: now + 0.4 }), [], "nothing before the grace ends");
    const actions = await b.ks.handle({ type: "timer_fired", now: now + 0.5 });
    same(actions.map((x) => x.type === "retire_keys" ? x.kids.map(String) : x.type), [oldKids], "old kids retired");
  });

  await check("leave: the leaver's keys go after grace; a peer that does not rekey loses its keys at the deadline", async () => {
    const [a, b, c] = (await call(t0, 3, { grace: 0.5, rekeyDeadline: 2 })) as [Party, Party, Party];
    const cKids = b.ks.snapshot().peers.find((p) => p.participantId === c.id)!.kids;
    const aKids = b.ks.snapshot().peers.find((p) => p.participantId === a.id)!.kids;
    await b.ks.handle({ type: "timer_fired", now: t0 + 1 }); // earlier rotations' old keys go first
    const now = t0 + 20;
    const actions = await b.ks.handle({ type: "member_left", now, epoch: 13, participantId: c.id });
    same(ofType(actions, "send_key_message").filter((x) => x.data[0] === 0x02).map((x) => x.recipient), [a.id],
      "B rekeys to A only");
    same(b.ks.members, [a.id], "C gone");
    const retired = ofType(await b.ks.handle({ type: "timer_fired", now: now + 0.5 }), "retire_keys");
    same(retired.map((r) => r.kids.map(String)), [cKids], "leaver's keys after grace");
    // A never sends its key of epoch 13: its keys go at the deadline
    same(await b.ks.handle({ type: "timer_fired", now: now + 1.9 }), [], "nothing before the deadline");
    const late = ofType(await b.ks.handle({ type: "timer_fired", now: now + 2 }), "retire_keys");
    same(late.map((r) => r.kids.map(String)), [aKids], "late peer's keys retired");
    same(b.ks.snapshot().peers[0]!.kids, [], "no key of A left");
  });

  await check("key messages for a later epoch wait for it; events queued together keep their order", async () => {
    const [a, b] = (await call(t0, 2)) as [Party, Party];
    const now = t0 + 30;
    // A sees epoch 12 (phase change) first and rekeys; B gets A's key before the roster event
    const early = sent(a, await a.ks.handle({ type: "phase_changed", now, epoch: 12, phase: "open" }));
    same(await deliver([a, b], early, now), [], "held, no action yet");
    same(b.ks.snapshot().pending, [12, 12], "pending for epoch 12 (A's key message and code commitment)");
    const actions = await b.ks.handle({ type: "phase_changed", now, epoch: 12, phase: "open" });
    same(ofType(actions, "install_decryption_key").map((x) => [x.sender, x.generation]), [[a.id, a.ks.generation]],
      "installed when the epoch arrives");
    same(b.ks.snapshot().pending, [], "nothing waiting");
    // two events handed in without waiting: processed in call order
    const next = sent(a, await a.ks.handle({ type: "phase_changed", now, epoch: 13, phase: "open" }));
    const p1 = b.ks.handle({ type: "phase_changed", now, epoch: 13, phase: "open" });
    const p2 = b.ks.handle({ type: "key_message_received", now, data: next[0]!.data });
    const [r1, r2] = await Promise.all([p1, p2]);
    assert(ofType(r1, "group_code_pending").length === 1, "roster first");
    same(ofType(r2, "install_decryption_key").map((x) => x.generation), [a.ks.generation], "then the key, directly");
  });

  await check("pending key messages are bounded: the oldest is dropped", async () => {
    const p = await party(1);
    const q = await party(2);
    const ks = new KeySchedule(p.identity, p.callKey, keyScheduleConfig({ roomId: ROOM, maxPending: 3, allowedKems: new Set([Kem.X25519]) }));
    await ks.handle({ type: "joined", now: t0, epoch: 10, participantId: 1, members: [await asMember(q, 9)] });
    for (const e of [11, 12, 13, 14]) {
      const m = await KeyMessage.seal(q.identity, p.callKey.publicKey, { roomId: ROOM, sender: 2, recipient: 1, epoch: e,
        generation: e, cipherSuite: ks.config.cipherSuite, baseKey: randomBytes(32) });
      same(await ks.handle({ type: "key_message_received", now: t0, data: m.encode() }), [], "held");
    }
    same(ks.snapshot().pending, [12, 13, 14], "oldest dropped");
  });

  await check("MediaKeys applies actions: senders, decryption, retire; frames cross between two members", async () => {
    const [a, b] = (await call(t0, 2)) as [Party, Party];
    const ka = new MediaKeys();
    const kb = new MediaKeys();
    let seen = 0;
    ka.onSenders = (s) => { seen = s.size; };
    // replay a fresh rekey through MediaKeys on both sides
    const epoch = a.ks.epoch + 1; // epochs are sequential
    const aActions = await a.ks.handle({ type: "phase_changed", now: t0, epoch, phase: "open" });
    const bActions = await b.ks.handle({ type: "phase_changed", now: t0, epoch, phase: "open" });
    let toB = await ka.apply(aActions);
    let toA = await kb.apply(bActions);
    assert(seen === 4 && ka.generation === a.ks.generation && ka.rotations === 1, "senders installed");
    assert([ka, kb].every((k) => k.code === null), "the code is pending until the reveals are in");
    const frame = fromHex("78" + "11".repeat(60));
    let checked = false;
    while (toB.length || toA.length) { // relay keys, commitments and reveals both ways
      const nextA: typeof toA = [];
      const nextB: typeof toB = [];
      for (const m of toB) nextA.push(...await kb.apply(await b.ks.handle({ type: "key_message_received", now: t0, data: m.data })));
      for (const m of toA) nextB.push(...await ka.apply(await a.ks.handle({ type: "key_message_received", now: t0, data: m.data })));
      if (!checked) { // media keys do not wait for the code
        const wire = await protect(ka.senders.get(Slot.AUDIO)!, Codec.OPUS, frame);
        same(toHex(await unprotect(kb.context, Codec.OPUS, wire)), toHex(frame), "B decrypts A");
        checked = true;
      }
      toA = nextA;
      toB = nextB;
    }
    const [codeA, codeB] = [ka, kb].map((k) => k.code?.digits ?? null);
    assert(codeA !== null && codeA !== undefined, "codes known after the reveals");
    same(codeB, codeA, "codes");
  });

  await check("hotline rooms: derived from the hotline and the call id; any other is refused", () => {
    const id = "0123456789abcdef";
    same(checkHotlineRoom(`hotline:red:${id}`, "red", id), `hotline:red:${id}`, "the derived room");
    const bad: [string, string, string][] = [
      ["hotline:red:x", "red", id], [`hotline:blue:${id}`, "red", id], ["summit", "red", id],
      ["hotline:red:0123456789ABCDEF", "red", "0123456789ABCDEF"], ["hotline:red:", "red", ""],
      [`hotline:red:${id}:x`, "red", id],
    ];
    for (const [room, hotline, callId] of bad) {
      let threw = false;
      try {
        checkHotlineRoom(room, hotline, callId);
      } catch (error) {
        threw = error instanceof ProtocolError;
      }
      assert(threw, `refused: ${room}`);
    }
  });

  await check("messages: strict validation of server messages and base64url", () => {
    const ok = parseServer('{"v":1,"type":"key_from","sender":3,"data":"AAEC"}');
    assert(ok.type === "key_from" && ok.sender === 3 && toHex(ok.data) === "000102", "key_from parsed");
    const bad = [
      '{"v":1,"type":"key_from","sender":3,"data":"AAEC","x":1}', // extra field
      '{"v":1,"type":"key_from","sender":3}', // missing
      '{"v":2,"type":"pong"}', '{"v":1.0,"type":"pong"}', '{"v":true,"type":"pong"}', '{"type":"pong"}',
      '{"v":1,"type":"key_from","sender":-1,"data":""}', '{"v":1,"type":"key_from","sender":4294967296,"data":""}',
      '{"v":1,"type":"key_from","sender":3.0,"data":""}', '{"v":1,"type":"key_from","sender":"3","data":""}',
      '{"v":1,"type":"key_from","sender":3,"data":"AA=="}', '{"v":1,"type":"key_from","sender":3,"data":"A+/B"}',
      '{"v":1,"type":"key_from","sender":3,"data":"AAAAA"}', '{"v":1,"type":"nope"}', "[1]", "nope",
      '{"v":1,"type":"subscribe_offer","sdp":"x","streams":[{"mid":"0","participant_id":1,"kind":"data"}]}',
      '{"v":1,"type":"welcome","party":"a","device_id":1,"rooms":[1]}',
    ];
    for (const text of bad) {
      let threw = false;
      try {
        parseServer(text);
      } catch (error) {
        threw = error instanceof ProtocolError;
      }
      assert(threw, `accepted ${text}`);
    }
    for (let n = 0; n < 70; n++) {
      const data = randomBytes(n);
      same(toHex(b64decode(b64encode(data))), toHex(data), `b64 round trip ${n}`);
    }
    same(b64encode(fromHex("fbff")), "-_8", "url alphabet");
  });

  summary.done = true;
  out.textContent = JSON.stringify(summary, null, 1);
  window.hotlineUnit = summary;
}

const mode = params.get("mode") ?? "room";
if (mode === "unit") {
  unit().catch((error: unknown) => {
    summary.failed += 1;
    summary.failures.push(`harness: ${String(error)}`);
    summary.done = true;
    window.hotlineUnit = summary;
  });
} else {
  void room();
}
