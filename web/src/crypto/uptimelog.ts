/**
 * Entries of a hotline's uptime record, as the server stores and sends them
 * (src/hotline/crypto/uptimelog.py): parse one, and its hash, which the next entry's
 * `prev_hash` names. The browser standby needs no more: it checks links and hashes
 * (chainwatch.ts), not the writer's signature (the server's word).
 *
 *     entry = u64 seq || u64 time_ms || bytes8 kind || bytes8 hotline || bytes16 data (JSON)
 *             || prev_hash (32) || writer_key (32) || signature (64)
 *     hash  = SHA-256("hotline/v1 uptime log" 0x00 || entry)
 */

import { type Bytes, ascii, concat, fromUtf8 } from "./bytes.js";
import { CryptoError, Reason } from "./errors.js";
import { Reader } from "./wire.js";

const LABEL = ascii("hotline/v1 uptime log\0");
export const GENESIS: Bytes = new Uint8Array(32);

export class LogError extends CryptoError {}

export interface LogEntry {
  readonly seq: number;
  readonly timeMs: number;
  readonly kind: string;
  readonly hotline: string;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly prevHash: Bytes;
  readonly hash: Bytes;
}

export async function decodeEntry(raw: Uint8Array): Promise<LogEntry> {
  const r = new Reader(raw, LogError);
  const seq = r.u64();
  const timeMs = r.u64();
  const kind = fromUtf8(r.bytes8());
  const hotline = fromUtf8(r.bytes8());
  const data = fromUtf8(r.bytes16());
  const prevHash = r.raw(32);
  r.raw(32 + 64); // writer key, signature
  r.end();
  if (kind === null || hotline === null || data === null) throw new LogError(Reason.MALFORMED, "not UTF-8");
  let fields: unknown;
  try {
    fields = JSON.parse(data);
  } catch {
    throw new LogError(Reason.MALFORMED, "metadata is not JSON");
  }
  // Like Python's chainwatch.fields_of: metadata that is not an object has no fields.
  if (typeof fields !== "object" || fields === null || Array.isArray(fields)) fields = {};
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new LogError(Reason.MALFORMED, "sequence out of range");
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", concat(LABEL, raw)));
  return { seq: Number(seq), timeMs: Number(timeMs), kind, hotline, fields: fields as Record<string, unknown>, prevHash, hash };
}
