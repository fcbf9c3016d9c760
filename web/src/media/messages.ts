/**
 * The message protocol between the media pipeline (main thread, pipeline.ts) and the
 * encoded-transform worker (transform-worker.ts). Types only, shared by both sides.
 *
 * One worker serves every transform of one participant: it holds that participant's
 * sending keys (one per slot) and one SFrame context with every receiving key. Keys go
 * in (base keys, transferred, zeroed in the worker once derived) and never come out.
 *
 * Main thread -> worker (every request has an `id`; the worker answers each with one
 * `reply` of the same id):
 *
 *     configure   {cipherSuite}                 before any key; once
 *     install     {kid, baseKey}                add a receiving key; releases held frames
 *     retire      {kid}                         drop a receiving key
 *     send-key    {slot, kid, baseKey}          new sending key of a slot (used at once)
 *     counters    {}                            -> reply.counters (CounterReport)
 *     lockdown    {}                            drop every frame from now on (fatal error)
 *     path        {active}                      send on this path from now on: sender
 *                                               transforms of the other path drop their
 *                                               frames (after their first PATH_PROOF_FRAMES)
 *     test-decrypt{kind, wires, participant?}   test builds only: feed wire frames to a
 *                                               receive path without RTP ("test/<kind>",
 *                                               or "test/<kind>/<participant>" if bound);
 *                                               -> SHA-256 of everything it let out so far
 *
 * Worker -> main thread:
 *
 *     reply       {id, ok, error?, counters?, result?}
 *     capture     {transform, kind, frameType, wire}   test builds only: a wire frame
 *                                                      (ciphertext) as sent
 *
 * RTCRtpScriptTransform options (what each transform is; see TransformOptions):
 * `{hotline: 1, id, direction: "send" | "recv", kind: "audio" | "video", slot?, participant?, path?, capture?}`.
 */

export type Direction = "send" | "recv";
export type MediaKind = "audio" | "video";
/** The two paths of a two-party call (media/pathswitch.ts). */
export type MediaPathKind = "sfu" | "direct";

/** A sender bound to a path encrypts this many frames before its path's gate applies
 * (so that it can prove its transform, proof.ts, while its path is on standby). */
export const PATH_PROOF_FRAMES = 5;

/** The options object given to `new RTCRtpScriptTransform(worker, options)`. */
export interface TransformOptions {
  readonly hotline: 1;
  /** Unique per transform within one worker; the key of its counters. */
  readonly id: string;
  readonly direction: Direction;
  readonly kind: MediaKind;
  /** Sending slot (kid.ts Slot); default audio -> 0, video -> 1. */
  readonly slot?: number;
  /** Receivers: the participant the stream is attributed to (the subscribe offer's
   * streams). Every frame whose KID is another participant's, or whose slot is not the
   * kind's, is dropped before decryption (kid.ts streamKidVerdict); -1: attributed to
   * nobody, every frame dropped. Absent: only the slot is checked (test pages). */
  readonly participant?: number;
  /** Senders only: the path whose connection this sender is on. Its frames are sent
   * only while that path is the active one (`path` message; "sfu" at first), else
   * dropped as `standby`; the sender of a slot is one SFrameSender for both paths (one
   * counter per key: never two encryptors on one key and counter). Absent: always sent. */
  readonly path?: MediaPathKind;
  /** Test builds only, sender only: post the first `capture` wire frames back. */
  readonly capture?: number;
}

export type ToWorker =
  | { readonly type: "configure"; readonly id: number; readonly cipherSuite: number }
  | { readonly type: "install"; readonly id: number; readonly kid: bigint; readonly baseKey: Uint8Array }
  | { readonly type: "retire"; readonly id: number; readonly kid: bigint }
  | { readonly type: "send-key"; readonly id: number; readonly slot: number; readonly kid: bigint; readonly baseKey: Uint8Array }
  | { readonly type: "counters"; readonly id: number }
  | { readonly type: "lockdown"; readonly id: number }
  | { readonly type: "path"; readonly id: number; readonly active: MediaPathKind }
  | { readonly type: "test-decrypt"; readonly id: number; readonly kind: MediaKind; readonly wires: readonly Uint8Array[]; readonly installAfter?: number; readonly participant?: number };

/** Frames seen by one transform. `framesIn` counts every frame read from the encoder or
 * depacketizer; `framesOut` every frame passed on (encrypted, or decrypted); `failures`
 * every frame dropped, by reason (an SFrame Reason code, or one of FailureReason). */
export interface TransformCounters {
  readonly id: string;
  readonly direction: Direction;
  readonly kind: MediaKind;
  readonly framesIn: number;
  readonly framesOut: number;
  readonly failures: Readonly<Record<string, number>>;
  /** Frames held now for a key not installed yet (receivers). */
  readonly held: number;
}

export interface CounterTotals {
  readonly framesIn: number;
  readonly framesOut: number;
  readonly failures: Readonly<Record<string, number>>;
}

export interface CounterReport {
  readonly transforms: readonly TransformCounters[];
  /** By "send/audio", "send/video", "recv/audio", "recv/video". */
  readonly totals: Readonly<Record<string, CounterTotals>>;
  readonly locked: boolean;
}

/** Drop reasons of the pipeline itself (besides SFrame's Reason codes). */
export const FailureReason = {
  NO_SENDING_KEY: "no_sending_key",
  WRONG_CODEC: "wrong_codec",
  HELD_OVERFLOW: "held_overflow",
  LOCKDOWN: "lockdown",
  /** A frame with no bytes: nothing to decrypt or show (Chromium delivers the odd empty
   * Opus payload on receive). Dropped like any other, counted apart from failures that
   * could mean an attack. */
  EMPTY: "empty",
  ERROR: "error",
  /** Senders: a frame of the path on standby (the other path is the active one). Not a
   * failure: both paths stay up, media goes on one. */
  STANDBY: "standby",
  /** Receivers: a member's KID of another participant than the stream's (a swapped or
   * relabelled stream), or of another kind's slot. A KID no key has is unknown_kid. */
  WRONG_PARTICIPANT: "wrong_participant",
  WRONG_SLOT: "wrong_slot",
} as const;

export type FromWorker =
  | { readonly type: "reply"; readonly id: number; readonly ok: true; readonly counters?: CounterReport; readonly result?: unknown }
  | { readonly type: "reply"; readonly id: number; readonly ok: false; readonly error: string }
  | { readonly type: "capture"; readonly transform: string; readonly kind: MediaKind; readonly frameType: string; readonly wire: Uint8Array };

/** Result of a `test-decrypt` request. */
export interface TestDecryptResult {
  /** SHA-256 (hex) of each frame that came out, in the order they came out. */
  readonly outputs: readonly string[];
  readonly counters: TransformCounters;
}
