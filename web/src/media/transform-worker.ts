/**
 * The E2EE encoded-transform worker: SFrame around every encoded audio and video frame
 * (docs/PROTOCOL.md "Wire frame", "Frames under an unknown KID").
 *
 * Started by pipeline.ts as a module worker; every RTCRtpScriptTransform of one
 * participant runs here (messages.ts has the protocol and the transform options).
 *
 * Sender transform: each frame is encrypted with the current SFrameSender of its slot
 * (frames.protect: Opus keeps 1 clear byte, VP8 10 on key frames and 3 otherwise). No
 * sending key yet, wrong codec, any failure: the frame is dropped and counted.
 * Receiver transform: first the KID is bound to the stream (docs/PROTOCOL.md "Frames bound
 * to their stream"): a frame whose KID is not the attributed participant's (option
 * `participant`), or whose slot is not the kind's, is dropped before decryption, counted
 * as wrong_participant / wrong_slot when a key has that KID, else as unknown_kid. Then
 * frames.unprotect with the worker's one SFrameContext. A frame whose
 * KID has no key yet is held, up to 0.5 s and 64 frames per transform, and released when
 * its key is installed; then it is dropped (counted as unknown_kid, or held_overflow when
 * pushed out). Any failure: dropped and counted. A frame is never passed on undecrypted.
 *
 * Senders bound to a path (option `path`): the frames of the path on standby are dropped
 * (counted as standby) before they take a counter; both paths' senders of a slot share
 * its one SFrameSender, so one counter runs across both paths (no nonce reuse, no rekey
 * on a switch).
 *
 * Nothing here posts key material or plaintext anywhere. Test builds (esbuild
 * --define:HOTLINE_TEST_HOOKS=true, web/dist/test/) add two hooks: sender transforms
 * may post back their first wire frames (ciphertext), and `test-decrypt` runs given wire
 * frames through the receive path and answers with SHA-256 digests of what came out.
 */

import { type Bytes, toHex } from "../crypto/bytes.js";
import { CryptoError, Reason } from "../crypto/errors.js";
import { frameKid, protect, unprotect } from "../crypto/frames.js";
import { GENERATION_BITS, SLOT_BITS, parseKid, streamKidVerdict } from "../crypto/kid.js";
import { SFrameContext, SFrameSender } from "../crypto/sframe.js";
import { DEFAULT_SUITE } from "../crypto/suites.js";
import {
  type CounterReport, type CounterTotals, FailureReason, type FromWorker, type MediaKind, type MediaPathKind,
  PATH_PROOF_FRAMES, type TestDecryptResult, type ToWorker, type TransformOptions,
} from "./messages.js";
import { type EncodedFrame, TransformState, codecMatches, reasonOf, setData } from "./transformstate.js";

declare const HOTLINE_TEST_HOOKS: boolean;
const TEST_HOOKS = typeof HOTLINE_TEST_HOOKS !== "undefined" && HOTLINE_TEST_HOOKS;

export const HOLD_MS = 500;
export const MAX_HELD = 64;

// ------------------------------------------------ the parts of the worker scope we use
// (tsconfig has the DOM lib, not WebWorker: declared here, as Chromium has them)

interface ScriptTransformer {
  readonly readable: ReadableStream<EncodedFrame>;
  readonly writable: WritableStream<EncodedFrame>;
  readonly options: unknown;
  /** Senders (where the browser has it): the encoder makes a key frame next. */
  generateKeyFrame?: () => Promise<unknown>;
}

interface WorkerScope {
  onrtctransform: ((event: Event & { readonly transformer: ScriptTransformer }) => void) | null;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

// ------------------------------------------------------------------------------ state

let configured = false;
let receiving = new SFrameContext(DEFAULT_SUITE);
let sendingContext = new SFrameContext(DEFAULT_SUITE);
/** The current sender of each slot. */
const senders = new Map<number, SFrameSender>();
/** (KID, base key) pairs used for sending, as SHA-256: never used twice (nonce reuse). */
const usedSendingKeys = new Set<string>();
const transforms = new Map<string, TransformState>();
let locked = false;
/** The path media is sent on (senders bound to the other one drop their frames). */
let activePath: MediaPathKind = "sfu";
let expiryTimer: ReturnType<typeof setInterval> | null = null;

// --------------------------------------------------------------------------- sending

async function sendFrame(state: TransformState, frame: EncodedFrame): Promise<void> {
  state.framesIn++;
  if (locked) return state.fail(FailureReason.LOCKDOWN);
  // a sender on the path on standby: dropped before it takes a counter (its first few
  // frames go, so that it can prove its transform)
  if (state.path !== null && state.path !== activePath && state.framesOut >= PATH_PROOF_FRAMES) {
    return state.fail(FailureReason.STANDBY);
  }
  const sender = senders.get(state.slot);
  if (sender === undefined) return state.fail(FailureReason.NO_SENDING_KEY);
  if (!codecMatches(state, frame)) return state.fail(FailureReason.WRONG_CODEC);
  const data = new Uint8Array(frame.data);
  if (data.length === 0) return state.fail(FailureReason.EMPTY);
  let wire: Bytes;
  try {
    wire = await protect(sender, state.codec, data);
  } catch (error) {
    return state.fail(reasonOf(error));
  }
  if (locked) return state.fail(FailureReason.LOCKDOWN);
  setData(frame, wire);
  try {
    state.enqueue?.(frame);
  } catch {
    return state.fail(FailureReason.ERROR); // stream closed meanwhile
  }
  state.framesOut++;
  if (TEST_HOOKS && state.captured < state.capture) {
    state.captured++;
    const frameType = "type" in frame ? String(frame.type) : "audio";
    scope.postMessage({ type: "capture", transform: state.id, kind: state.kind, frameType, wire: wire.slice() });
  }
}

// ------------------------------------------------------------------------- receiving

function expire(state: TransformState, now: number): void {
  while (state.held.length > 0 && now - state.held[0]!.at > HOLD_MS) {
    state.held.shift();
    state.fail(Reason.UNKNOWN_KID);
  }
}

function expireAll(): void {
  const now = performance.now();
  let any = false;
  for (const state of transforms.values()) {
    expire(state, now);
    any ||= state.held.length > 0;
  }
  if (!any && expiryTimer !== null) {
    clearInterval(expiryTimer);
    expiryTimer = null;
  }
}

async function decryptAndPass(state: TransformState, frame: EncodedFrame, wire: Uint8Array): Promise<void> {
  let plain: Bytes;
  try {
    plain = await unprotect(receiving, state.codec, wire);
  } catch (error) {
    return state.fail(reasonOf(error));
  }
  if (locked) return state.fail(FailureReason.LOCKDOWN);
  setData(frame, plain);
  try {
    state.enqueue?.(frame);
  } catch {
    return state.fail(FailureReason.ERROR); // stream closed meanwhile
  }
  state.framesOut++;
}

async function receiveFrame(state: TransformState, frame: EncodedFrame): Promise<void> {
  state.framesIn++;
  if (locked) return state.fail(FailureReason.LOCKDOWN);
  const now = performance.now();
  expire(state, now);
  if (!codecMatches(state, frame)) return state.fail(FailureReason.WRONG_CODEC);
  const wire = new Uint8Array(frame.data);
  if (wire.length === 0) return state.fail(FailureReason.EMPTY);
  let kid: bigint;
  try {
    kid = frameKid(state.codec, wire);
  } catch (error) {
    return state.fail(reasonOf(error));
  }
  const owner = state.participant ?? Number(kid >> BigInt(GENERATION_BITS + SLOT_BITS));
  const verdict = streamKidVerdict(kid, owner, state.kind);
  if (verdict !== null) {
    // never decrypted, held or passed on; a KID no key has may be a damaged frame
    return state.fail(receiving.hasDecryptionKey(kid) ? verdict : Reason.UNKNOWN_KID);
  }
  if (!receiving.hasDecryptionKey(kid)) {
    if (state.held.length >= MAX_HELD) {
      state.held.shift();
      state.fail(FailureReason.HELD_OVERFLOW);
    }
    state.held.push({ at: now, kid, frame, wire });
    expiryTimer ??= setInterval(expireAll, 100);
    return;
  }
  await decryptAndPass(state, frame, wire);
}

/** After a key was installed: frames held for it go on, in the order they came. */
async function releaseHeld(): Promise<void> {
  const now = performance.now();
  for (const state of transforms.values()) {
    expire(state, now);
    const ready = state.held.filter((h) => receiving.hasDecryptionKey(h.kid));
    if (ready.length === 0) continue;
    state.held = state.held.filter((h) => !receiving.hasDecryptionKey(h.kid));
    for (const h of ready) await decryptAndPass(state, h.frame, h.wire);
  }
}

// ------------------------------------------------------------------------ transforms

function parseOptions(raw: unknown): TransformOptions | null {
  if (typeof raw !== "object" || raw === null) return null;
  const o = raw as Partial<TransformOptions>;
  if (o.hotline !== 1 || typeof o.id !== "string") return null;
  if (o.direction !== "send" && o.direction !== "recv") return null;
  if (o.kind !== "audio" && o.kind !== "video") return null;
  if (o.path !== undefined && o.path !== "sfu" && o.path !== "direct") return null;
  return o as TransformOptions;
}

/** A transform we cannot run passes nothing on: the stream is left unread. */
function refuse(transformer: ScriptTransformer): void {
  void transformer.writable.getWriter().close().catch(() => undefined);
}

scope.onrtctransform = (event) => {
  const transformer = event.transformer;
  const options = parseOptions(transformer.options);
  if (options === null || transforms.has(options.id)) {
    refuse(transformer);
    return;
  }
  const slot = options.slot ?? (options.kind === "audio" ? 0 : 1);
  const capture = TEST_HOOKS && options.direction === "send" ? Math.max(0, options.capture ?? 0) : 0;
  const participant = options.direction === "recv" && options.participant !== undefined
    ? (Number.isInteger(options.participant) ? options.participant : -1) : null;
  const path = options.direction === "send" ? options.path ?? null : null;
  const state = new TransformState(options.id, options.direction, options.kind, slot, capture, participant, path);
  transforms.set(state.id, state);
  if (state.direction === "send" && state.kind === "video" && typeof transformer.generateKeyFrame === "function") {
    state.keyFrame = () => void transformer.generateKeyFrame?.().catch(() => undefined);
  }
  const handle = state.direction === "send" ? sendFrame : receiveFrame;
  const stream = new TransformStream<EncodedFrame, EncodedFrame>({
    start(controller) {
      state.enqueue = (frame) => controller.enqueue(frame);
    },
    transform(frame) {
      return handle(state, frame);
    },
  });
  transformer.readable
    .pipeThrough(stream)
    .pipeTo(transformer.writable)
    .catch(() => undefined)
    .finally(() => {
      state.enqueue = null;
      state.held = [];
    });
};

// -------------------------------------------------------------------------- messages

function report(): CounterReport {
  const list = [...transforms.values()].map((s) => s.counters());
  const totals: Record<string, CounterTotals> = {};
  for (const c of list) {
    if (c.id.startsWith("test/")) continue;
    const key = `${c.direction}/${c.kind}`;
    const t = totals[key] ?? { framesIn: 0, framesOut: 0, failures: {} };
    const failures: Record<string, number> = { ...t.failures };
    for (const [reason, n] of Object.entries(c.failures)) failures[reason] = (failures[reason] ?? 0) + n;
    totals[key] = { framesIn: t.framesIn + c.framesIn, framesOut: t.framesOut + c.framesOut, failures };
  }
  return { transforms: list, totals, locked };
}

async function kidKeyDigest(kid: bigint, baseKey: Uint8Array): Promise<string> {
  const data = new Uint8Array(8 + baseKey.length);
  new DataView(data.buffer).setBigUint64(0, kid);
  data.set(baseKey, 8);
  const digest = toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
  data.fill(0);
  return digest;
}

async function setSendingKey(slot: number, kid: bigint, baseKey: Uint8Array): Promise<void> {
  if (parseKid(kid).slot !== slot) throw new RangeError("the KID is not of this slot");
  const digest = await kidKeyDigest(kid, baseKey);
  if (usedSendingKeys.has(digest)) throw new RangeError("this sending key was used already");
  usedSendingKeys.add(digest);
  // A KID repeats after 16 generations (4 bits in the KID): a new base key under it is a
  // new key, so its old key (if still there) is removed first.
  for (const [s, sender] of senders) {
    if (sender.kid === kid && s !== slot) throw new RangeError("KID in use by another slot");
  }
  const previous = senders.get(slot);
  if (sendingContext.hasEncryptionKey(kid)) {
    if (previous?.kid === kid) senders.delete(slot);
    sendingContext.removeEncryptionKey(kid);
  }
  await sendingContext.addEncryptionKey(kid, baseKey);
  senders.set(slot, new SFrameSender(sendingContext, kid)); // used from the next frame on
  if (previous !== undefined && previous.kid !== kid) sendingContext.removeEncryptionKey(previous.kid);
}

/** Test builds: what each `test/<kind>` receive path let out, as SHA-256 (hex). */
const testOutputs = new Map<string, string[]>();

async function testDecrypt(kind: MediaKind, wires: readonly Uint8Array[], participant?: number): Promise<TestDecryptResult> {
  const id = participant === undefined ? `test/${kind}` : `test/${kind}/${participant}`;
  let state = transforms.get(id);
  if (state === undefined) {
    state = new TransformState(id, "recv", kind, 0, 0, participant ?? null);
    transforms.set(id, state);
    testOutputs.set(id, []);
  }
  const outputs = testOutputs.get(id)!;
  const s = state;
  s.enqueue = (frame) => {
    void crypto.subtle.digest("SHA-256", frame.data).then((d) => outputs.push(toHex(new Uint8Array(d))));
  };
  for (const wire of wires) {
    const data = wire.slice();
    const frame = { data: data.buffer, getMetadata: () => ({}) } as unknown as EncodedFrame;
    await receiveFrame(s, frame);
  }
  await new Promise((r) => setTimeout(r, 0)); // let the digests settle
  return { outputs: [...outputs], counters: s.counters() };
}

async function handle(message: ToWorker): Promise<Omit<FromWorker & { type: "reply"; ok: true }, "id" | "type" | "ok">> {
  switch (message.type) {
    case "configure": {
      if (configured || senders.size > 0 || receiving.decryptionKids().size > 0) {
        throw new RangeError("configure comes first, once");
      }
      receiving = new SFrameContext(message.cipherSuite);
      sendingContext = new SFrameContext(message.cipherSuite);
      configured = true;
      return {};
    }
    case "install": {
      try {
        if (locked) throw new RangeError("locked down");
        await receiving.addDecryptionKey(message.kid, message.baseKey);
      } finally {
        message.baseKey.fill(0);
      }
      await releaseHeld();
      return {};
    }
    case "retire":
      receiving.removeDecryptionKey(message.kid);
      return {};
    case "send-key": {
      try {
        if (locked) throw new RangeError("locked down");
        await setSendingKey(message.slot, message.kid, message.baseKey);
      } finally {
        message.baseKey.fill(0);
      }
      return {};
    }
    case "counters":
      return { counters: report() };
    case "lockdown":
      locked = true;
      senders.clear();
      for (const state of transforms.values()) {
        for (let i = 0; i < state.held.length; i++) state.fail(FailureReason.LOCKDOWN);
        state.held = [];
      }
      return { counters: report() };
    case "path":
      if (message.active !== "sfu" && message.active !== "direct") throw new RangeError("unknown path");
      if (activePath !== message.active) {
        activePath = message.active;
        // the far end's decoder on the new path starts with a key frame
        for (const state of transforms.values()) if (state.path === activePath) state.keyFrame?.();
      }
      return {};
    case "test-decrypt":
      if (!TEST_HOOKS) throw new RangeError("not a test build");
      return { result: await testDecrypt(message.kind, message.wires, message.participant) };
    default:
      throw new RangeError("unknown message");
  }
}

// Requests are handled one after the other, in the order they came: key changes take
// effect in the order they were made, even though deriving a key awaits WebCrypto.
let queue: Promise<unknown> = Promise.resolve();

scope.onmessage = (event) => {
  const message = event.data;
  const id = typeof message?.id === "number" ? message.id : -1;
  if (message?.type === "lockdown") locked = true; // at once, not behind queued requests
  const done = queue.then(() => handle(message));
  queue = done.catch(() => undefined);
  done.then(
    (fields) => scope.postMessage({ type: "reply", id, ok: true, ...fields }),
    (error: unknown) => {
      // Never the message of a foreign error verbatim: it could quote its input.
      const text = error instanceof CryptoError ? error.message : error instanceof RangeError ? error.message : "failed";
      scope.postMessage({ type: "reply", id, ok: false, error: text });
    },
  );
};

