/**
 * An endpoint's signed link-test report (src/hotline/crypto/linkreport.py; the bytes are
 * in docs/PROTOCOL.md "Signed link-test reports", the shared cases in
 * tests/vectors/uptime-v1.json): the figures it measured and the group code it saw,
 * bound to the hotline, the test id, its role, the far end's key it saw, and the head of
 * the uptime record it knows. Signed with the device identity (a non-extractable
 * WebCrypto key). Decoding is strict: one encoding per report.
 */

import type { LinkTestFigures } from "../protocol/messages.gen.js";
import { type Bytes, ascii, concat, fromUtf8, utf8 } from "./bytes.js";
import { CryptoError, Reason } from "./errors.js";
import { type Identity, PUBLIC_KEY_SIZE, SIGNATURE_SIZE, verify } from "./identity.js";
import { Reader, Writer } from "./wire.js";

const LABEL = ascii("hotline/v1 linktest report\0");
export const NO_KEY: Bytes = new Uint8Array(32);
export type ReportRole = "originator" | "responder";
const ROLE_BYTES: Record<ReportRole, number> = { originator: 1, responder: 2 };
/** The media path a test measured (the signaling `linktest_start.path`). */
export type ReportPath = "sfu" | "direct" | "relay";
const PATH_BYTES: Record<ReportPath, number> = { sfu: 1, direct: 2, relay: 3 };
const PATH_NAMES: Record<number, ReportPath> = { 1: "sfu", 2: "direct", 3: "relay" };

export class ReportError extends CryptoError {}

/** What one end measured: the signaling schema's LinkTestFigures without the group code
 * (the type is generated from src/hotline/signaling/messages.py). */
export type Figures = Omit<LinkTestFigures, "group_code">;

export interface ReportFields {
  readonly hotline: string;
  readonly testId: string;
  readonly role: ReportRole;
  readonly path: ReportPath;
  readonly signerKey: Uint8Array;
  readonly farKey: Uint8Array;
  readonly headLength: number;
  readonly headHash: Uint8Array;
  readonly groupCode: string;
  readonly figures: Figures;
}

export interface LinkReport extends ReportFields {
  readonly signature: Bytes;
  /** fields || signature: what goes in `linktest_report` and the record. */
  readonly encoded: Bytes;
}

function isAscii(data: Uint8Array): boolean {
  return data.every((b) => b < 0x80);
}

function text(value: string, what: string): Bytes {
  const out = utf8(value);
  if (out === null) throw new ReportError(Reason.MALFORMED, `${what} is not encodable`);
  return out;
}

function opt(w: Writer, value: number | null): void {
  if (value === null) {
    w.u8(0);
    return;
  }
  const x = value + 0; // -0 -> +0
  if (!Number.isFinite(x)) throw new ReportError(Reason.MALFORMED, "a figure is not a finite number");
  const raw = new Uint8Array(8);
  new DataView(raw.buffer).setFloat64(0, x);
  w.u8(1).raw(raw);
}

function readOpt(r: Reader): number | null {
  const flag = r.u8();
  if (flag === 0) return null;
  if (flag !== 1) throw new ReportError(Reason.MALFORMED, "bad presence flag");
  const raw = r.raw(8);
  const x = new DataView(raw.buffer, raw.byteOffset, 8).getFloat64(0);
  if (!Number.isFinite(x) || Object.is(x, -0)) throw new ReportError(Reason.MALFORMED, "a figure is not a canonical finite number");
  return x;
}

function u32(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > 0xffffffff) throw new ReportError(Reason.MALFORMED, "a count is out of range");
  return value;
}

function pathByte(path: string): number {
  const byte = PATH_BYTES[path as ReportPath];
  if (byte === undefined) throw new ReportError(Reason.MALFORMED, "path is sfu, direct or relay");
  return byte;
}

export function fieldsBytes(f: ReportFields): Bytes {
  if (f.signerKey.length !== PUBLIC_KEY_SIZE || f.farKey.length !== PUBLIC_KEY_SIZE || f.headHash.length !== 32) {
    throw new ReportError(Reason.MALFORMED, "a key or hash has the wrong size");
  }
  const testId = ascii(f.testId);
  const code = ascii(f.groupCode);
  if (!isAscii(testId) || !isAscii(code)) throw new ReportError(Reason.MALFORMED, "test id or code is not ASCII");
  const g = f.figures;
  const w = new Writer().bytes8(text(f.hotline, "hotline")).bytes8(testId).u8(ROLE_BYTES[f.role])
    .u8(pathByte(f.path)).raw(f.signerKey).raw(f.farKey).u64(BigInt(f.headLength)).raw(f.headHash).bytes8(code).u8(g.joined ? 1 : 0);
  opt(w, g.setup_ms);
  opt(w, g.first_frame_ms);
  w.u32(u32(g.video_frames)).u32(u32(g.audio_frames)).u32(u32(g.decrypt_failures));
  opt(w, g.rtt_ms);
  opt(w, g.loss);
  opt(w, g.jitter_ms);
  w.bytes16(text(g.error, "error"));
  return w.bytes();
}

/** The report of `fields` signed by `identity` (which becomes its signer). */
export async function signReport(identity: Identity, fields: Omit<ReportFields, "signerKey">): Promise<LinkReport> {
  const full: ReportFields = { ...fields, signerKey: identity.publicKey };
  const body = fieldsBytes(full);
  const signature = await identity.sign(concat(LABEL, body));
  return { ...full, signature, encoded: concat(body, signature) };
}

export function decodeReport(raw: Uint8Array): LinkReport {
  const r = new Reader(raw, ReportError);
  const hotline = fromUtf8(r.bytes8());
  if (hotline === null) throw new ReportError(Reason.MALFORMED, "hotline is not UTF-8");
  const testId = r.bytes8();
  if (!isAscii(testId)) throw new ReportError(Reason.MALFORMED, "test id is not ASCII");
  const roleByte = r.u8();
  const role = roleByte === 1 ? "originator" : roleByte === 2 ? "responder" : null;
  if (role === null) throw new ReportError(Reason.MALFORMED, "role is neither originator nor responder");
  const path = PATH_NAMES[r.u8()];
  if (path === undefined) throw new ReportError(Reason.MALFORMED, "path is neither sfu, direct nor relay");
  const signerKey = r.raw(PUBLIC_KEY_SIZE);
  const farKey = r.raw(PUBLIC_KEY_SIZE);
  const headLength = r.u64();
  const headHash = r.raw(32);
  const code = r.bytes8();
  if (!isAscii(code)) throw new ReportError(Reason.MALFORMED, "group code is not ASCII");
  const joined = r.u8();
  if (joined > 1) throw new ReportError(Reason.MALFORMED, "bad boolean");
  const setup = readOpt(r);
  const first = readOpt(r);
  const video = r.u32();
  const audio = r.u32();
  const failures = r.u32();
  const rtt = readOpt(r);
  const loss = readOpt(r);
  const jitter = readOpt(r);
  const error = fromUtf8(r.bytes16());
  if (error === null) throw new ReportError(Reason.MALFORMED, "error is not UTF-8");
  const encodedFields = r.consumed();
  const signature = r.raw(SIGNATURE_SIZE);
  r.end();
  if (headLength > BigInt(Number.MAX_SAFE_INTEGER)) throw new ReportError(Reason.MALFORMED, "head length out of range");
  const dec = new TextDecoder();
  return {
    hotline, testId: dec.decode(testId), role, path, signerKey, farKey, headLength: Number(headLength), headHash,
    groupCode: dec.decode(code),
    figures: {
      joined: joined === 1, setup_ms: setup, first_frame_ms: first, video_frames: video, audio_frames: audio,
      decrypt_failures: failures, rtt_ms: rtt, loss, jitter_ms: jitter, error,
    },
    signature, encoded: concat(encodedFields, signature),
  };
}

/** The signature verifies under the report's signer key. */
export async function reportValid(report: LinkReport): Promise<boolean> {
  const body = report.encoded.subarray(0, report.encoded.length - SIGNATURE_SIZE);
  return verify(report.signerKey, report.signature, concat(LABEL, body));
}

/** SHA-256 of the encoded report (how a standby remembers what it signed). */
export async function reportDigest(report: LinkReport): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", report.encoded));
}
