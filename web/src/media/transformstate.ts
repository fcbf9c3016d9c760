/**
 * What the E2EE worker (transform-worker.ts) keeps per transform: its counters, the frames
 * it holds for a key not installed yet, and the checks and helpers every frame goes
 * through (its codec, its failure reason, its new payload).
 */

import type { Bytes } from "../crypto/bytes.js";
import { CryptoError } from "../crypto/errors.js";
import { Codec } from "../crypto/frames.js";
import { type Direction, FailureReason, type MediaKind, type MediaPathKind, type TransformCounters } from "./messages.js";

export type EncodedFrame = RTCEncodedAudioFrame | RTCEncodedVideoFrame;

export interface Held {
  readonly at: number;
  readonly kid: bigint;
  readonly frame: EncodedFrame;
  readonly wire: Uint8Array;
}

export class TransformState {
  framesIn = 0;
  framesOut = 0;
  readonly failures: Record<string, number> = {};
  held: Held[] = [];
  captured = 0;
  enqueue: ((frame: EncodedFrame) => void) | null = null;
  /** Senders: ask the encoder for a key frame (when this sender's path becomes the active one). */
  keyFrame: (() => void) | null = null;

  constructor(
    readonly id: string,
    readonly direction: Direction,
    readonly kind: MediaKind,
    readonly slot: number,
    readonly capture: number,
    /** Receivers: the stream's participant (null: only the slot is checked). */
    readonly participant: number | null = null,
    /** Senders: the path of its connection (null: sent whatever the active path). */
    readonly path: MediaPathKind | null = null,
  ) {}

  get codec(): Codec {
    return this.kind === "audio" ? Codec.OPUS : Codec.VP8;
  }

  fail(reason: string): void {
    this.failures[reason] = (this.failures[reason] ?? 0) + 1;
  }

  counters(): TransformCounters {
    return {
      id: this.id, direction: this.direction, kind: this.kind, framesIn: this.framesIn,
      framesOut: this.framesOut, failures: { ...this.failures }, held: this.held.length,
    };
  }
}

export function reasonOf(error: unknown): string {
  return error instanceof CryptoError ? error.reason : FailureReason.ERROR;
}

function expectedMime(kind: MediaKind): string {
  return kind === "audio" ? "audio/opus" : "video/vp8";
}

/** The codec of a frame is what we expect (the metadata's mimeType, where the browser
 * gives one). Anything else is dropped: it has no E2EE frame layout here. */
export function codecMatches(state: TransformState, frame: EncodedFrame): boolean {
  const mime = (frame.getMetadata() as { mimeType?: string }).mimeType;
  return mime === undefined || mime === "" || mime.toLowerCase() === expectedMime(state.kind);
}

export function setData(frame: EncodedFrame, data: Bytes): void {
  frame.data = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data.buffer : data.slice().buffer;
}
