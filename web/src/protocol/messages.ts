/**
 * Signaling messages, version 1 (docs/SIGNALING.md; the schema is
 * src/hotline/signaling/messages.py): types, strict validation of what the server sends,
 * and encoding of what the client sends.
 *
 * Every message is one JSON object `{"v": 1, "type": ..., ...}` in one WebSocket text frame
 * of at most MAX_MESSAGE_BYTES. `parseServer` refuses, with `ProtocolError`, what Python's
 * `parse_server` refuses: not JSON, not an object, a version other than the integer 1, an
 * unknown type, a missing or unknown field, a value of the wrong type (no coercion: a
 * number is not a string, `1.0` and `true` are not integers), a u32 out of range, and
 * binary fields that are not base64url without padding.
 */

import type { Bytes } from "../crypto/bytes.js";
import type { Figures } from "../crypto/linkreport.js";
import { ProtocolError } from "../errors.js";

export const VERSION = 1;
export const MAX_MESSAGE_BYTES = 256 * 1024;
const U32_MAX = 2 ** 32 - 1;

// -- base64url --------------------------------------------------------------------------

const B64URL = /^[A-Za-z0-9_-]*$/;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const VALUES = new Map([...ALPHABET].map((c, i) => [c, i]));

/** base64url without padding. */
export function b64encode(data: Uint8Array): string {
  let out = "";
  for (let i = 0; i < data.length; i += 3) {
    const n = ((data[i] as number) << 16) | ((data[i + 1] ?? 0) << 8) | (data[i + 2] ?? 0);
    const chars = Math.min(4, Math.ceil(((data.length - i) * 8) / 6));
    for (let j = 0; j < chars; j++) out += ALPHABET[(n >> (18 - 6 * j)) & 63];
  }
  return out;
}

/** base64url without padding, as Python's b64decode in messages.py (which, like
 * binascii, ignores the unused low bits of the last character). Throws RangeError. */
export function b64decode(text: string): Bytes {
  if (text.length > MAX_MESSAGE_BYTES || !B64URL.test(text) || text.length % 4 === 1) {
    throw new RangeError("not a base64url string");
  }
  const out = new Uint8Array(Math.floor((text.length * 6) / 8));
  let bits = 0;
  let value = 0;
  let pos = 0;
  for (const c of text) {
    value = (value << 6) | (VALUES.get(c) as number);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[pos++] = (value >> bits) & 0xff;
      value &= (1 << bits) - 1;
    }
  }
  return out;
}

// -- server -> client -------------------------------------------------------------------

/** A party's role in a room (docs/SIGNALING.md); "aide" and "press" listen only. */
export const ROLES = ["principal", "delegate", "interpreter", "aide", "note_taker", "operator", "press"] as const;
export type Role = (typeof ROLES)[number];
export const LISTEN_ONLY: ReadonlySet<Role> = new Set<Role>(["aide", "press"]);

/** What a participant sends now (relayed by the server as given). */
export interface MediaState {
  readonly audio: boolean;
  readonly video: boolean;
  readonly screen: boolean;
}

export interface MemberInfo {
  readonly participant_id: number;
  readonly party: string;
  readonly identity_key: Bytes;
  readonly announcement: Bytes;
  readonly role: Role;
  readonly media: MediaState;
}

export interface StreamInfo {
  readonly mid: string;
  readonly participant_id: number;
  readonly kind: "audio" | "video";
}

export interface Hello { readonly type: "hello"; readonly challenge: Bytes; readonly server: string }
export interface Enrolled { readonly type: "enrolled"; readonly party: string; readonly device_id: number }
export interface Welcome {
  readonly type: "welcome"; readonly party: string; readonly device_id: number; readonly rooms: readonly string[];
  readonly roles: Readonly<Record<string, Role>>;
}
export interface JoinAck {
  readonly type: "join_ack"; readonly room: string; readonly participant_id: number; readonly epoch: number;
}
export interface Joined {
  readonly type: "joined"; readonly room: string; readonly participant_id: number; readonly epoch: number;
  readonly members: readonly MemberInfo[]; readonly role: Role;
  /** Presented with `resume` on a new connection if this one breaks (keep it secret). */
  readonly resume_token: Bytes;
}
export interface Resumed {
  readonly type: "resumed"; readonly room: string; readonly participant_id: number; readonly epoch: number; readonly received: number;
}
export interface MemberJoined { readonly type: "member_joined"; readonly epoch: number; readonly member: MemberInfo }
export interface MemberLeft { readonly type: "member_left"; readonly epoch: number; readonly participant_id: number }
export interface MemberMedia { readonly type: "member_media"; readonly participant_id: number; readonly state: MediaState }
export interface KeyFrom { readonly type: "key_from"; readonly sender: number; readonly data: Bytes }
export interface Left { readonly type: "left"; readonly room: string }
export interface Pong { readonly type: "pong" }
export interface PublishAnswer { readonly type: "publish_answer"; readonly sdp: string }
export interface SubscribeOffer { readonly type: "subscribe_offer"; readonly sdp: string; readonly streams: readonly StreamInfo[] }
/** Our old media connections are gone: publish again; a new subscribe offer follows. */
export interface MediaRestarted { readonly type: "media_restarted" }
export interface ErrorMessage { readonly type: "error"; readonly code: string; readonly message: string }

// hotlines (docs/SIGNALING.md "Hotlines"): standby, link tests, calls, dashboard data
/** What one end measured (crypto/linkreport.ts signs it) and the group code it saw. */
export interface LinkTestFigures extends Figures {
  readonly group_code: string;
}
export interface StandbyOk { readonly type: "standby_ok"; readonly hotline: string; readonly party: string; readonly far_party: string; readonly interval_s: number }
export interface LinkTestStart {
  readonly type: "linktest_start"; readonly hotline: string; readonly test_id: string; readonly room: string;
  readonly role: "originator" | "responder"; readonly duration_s: number;
}
export interface LinkTestResult { readonly type: "linktest_result"; readonly hotline: string; readonly outcome: string; readonly result: Readonly<Record<string, unknown>> }
export interface Ring { readonly type: "ring"; readonly hotline: string; readonly call_id: string; readonly caller_party: string; readonly caller_device: string }
export interface RingStop { readonly type: "ring_stop"; readonly call_id: string; readonly reason: string }
export interface CallRinging { readonly type: "call_ringing"; readonly hotline: string; readonly call_id: string; readonly endpoints: number }
export interface CallAcked { readonly type: "call_acked"; readonly call_id: string; readonly party: string; readonly device: string; readonly message: string }
export interface CallAnswered { readonly type: "call_answered"; readonly call_id: string; readonly room: string }
export interface CallEnded { readonly type: "call_ended"; readonly call_id: string; readonly reason: string }
export interface HotlineStatus { readonly type: "hotline_status"; readonly hotlines: readonly Readonly<Record<string, unknown>>[] }
/** Entries `start`.. of a hotline's uptime record, as stored (docs/SIGNALING.md "Record heads"). */
export interface RecordEntries {
  readonly type: "record_entries"; readonly hotline: string; readonly start: number; readonly entries: readonly Bytes[]; readonly more: boolean;
}
export type HotlineMessage =
  | StandbyOk | LinkTestStart | LinkTestResult | Ring | RingStop | CallRinging | CallAcked | CallAnswered | CallEnded | HotlineStatus
  | RecordEntries;
export const HOTLINE_TYPES: ReadonlySet<string> = new Set([
  "standby_ok", "linktest_start", "linktest_result", "ring", "ring_stop", "call_ringing", "call_acked", "call_answered",
  "call_ended", "hotline_status", "record_entries",
]);

export type ServerMessage =
  | Hello | Enrolled | Welcome | JoinAck | Joined | Resumed | MemberJoined | MemberLeft | MemberMedia | KeyFrom | Left | Pong
  | PublishAnswer | SubscribeOffer | MediaRestarted | ErrorMessage | HotlineMessage;

// -- validation -------------------------------------------------------------------------

/** A JSON number written with a fraction or an exponent (Python reads it as a float). */
class NonInteger {
  constructor(readonly value: number) {}
}

function parseJson(text: string): unknown {
  return JSON.parse(text, (_key: string, value: unknown, context?: { source?: string }) => {
    if (typeof value !== "number") return value;
    if (context?.source !== undefined) return /^-?\d+$/.test(context.source) ? value : new NonInteger(value);
    return Number.isInteger(value) ? value : new NonInteger(value);
  });
}

type Obj = Record<string, unknown>;
type Check<T> = (value: unknown, where: string) => T;

function fail(where: string, what: string): never {
  throw new ProtocolError(`invalid message: ${where}: ${what}`);
}

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof NonInteger);
}

const str: Check<string> = (v, where) => (typeof v === "string" ? v : fail(where, "expected a string"));
const num: Check<number> = (v, where) => {
  if (v instanceof NonInteger) return v.value;
  return typeof v === "number" ? v : fail(where, "expected a number");
};

/** A JSON value with the float markers of parseJson turned back into numbers. */
function plain(v: unknown): unknown {
  if (v instanceof NonInteger) return v.value;
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** Any JSON object (free-form documents such as an uptime-record entry). */
const anyObject: Check<Record<string, unknown>> = (v, where) =>
  isObject(v) ? (plain(v) as Record<string, unknown>) : fail(where, "expected an object");

const bool: Check<boolean> = (v, where) => (typeof v === "boolean" ? v : fail(where, "expected a boolean"));

const int: Check<number> = (v, where) => {
  if (typeof v !== "number" || !Number.isSafeInteger(v)) fail(where, "expected an integer");
  return v;
};

const u32: Check<number> = (v, where) => {
  const n = int(v, where);
  return n >= 0 && n <= U32_MAX ? n : fail(where, "out of range for a u32");
};

const b64: Check<Bytes> = (v, where) => {
  try {
    return b64decode(str(v, where));
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    return fail(where, "not valid base64url");
  }
};

function list<T>(item: Check<T>): Check<T[]> {
  return (v, where) => {
    if (!Array.isArray(v)) fail(where, "expected a list");
    return v.map((x: unknown, i) => item(x, `${where}.${i}`));
  };
}

/** A JSON object of any keys, each value checked. */
function dict<T>(item: Check<T>): Check<Record<string, T>> {
  return (v, where) => {
    if (!isObject(v)) fail(where, "expected an object");
    const out: Record<string, T> = {};
    for (const [key, value] of Object.entries(v)) out[key] = item(value, `${where}.${key}`);
    return out;
  };
}

function literal<T extends string>(...allowed: T[]): Check<T> {
  return (v, where) => (typeof v === "string" && (allowed as string[]).includes(v) ? (v as T) : fail(where, `expected one of ${allowed.join(", ")}`));
}

type Shape = Record<string, Check<unknown>>;
type Parsed<S extends Shape> = { [K in keyof S]: S[K] extends Check<infer T> ? T : never };

/** Exactly the fields of `shape` (plus `ignore`), each valid. */
function record<S extends Shape>(shape: S, ignore: readonly string[] = []): Check<Parsed<S>> {
  return (v, where) => {
    if (!isObject(v)) fail(where || "message", "expected an object");
    const prefix = where ? `${where}.` : "";
    for (const key of Object.keys(v)) {
      if (!(key in shape) && !ignore.includes(key)) fail(prefix + key, "extra field not permitted");
    }
    const out: Obj = {};
    for (const [key, check] of Object.entries(shape)) {
      if (!(key in v)) fail(prefix + key, "field required");
      out[key] = check(v[key], prefix + key);
    }
    return out as Parsed<S>;
  };
}

const role = literal(...ROLES);
const mediaState = record({ audio: bool, video: bool, screen: bool });
const memberInfo = record({
  participant_id: u32, party: str, identity_key: b64, announcement: b64, role, media: mediaState,
});
const streamInfo = record({ mid: str, participant_id: u32, kind: literal("audio", "video") });

const SERVER: Record<ServerMessage["type"], Shape> = {
  hello: { challenge: b64, server: str },
  enrolled: { party: str, device_id: int },
  welcome: { party: str, device_id: int, rooms: list(str), roles: dict(role) },
  join_ack: { room: str, participant_id: u32, epoch: u32 },
  joined: { room: str, participant_id: u32, epoch: u32, members: list(memberInfo), role, resume_token: b64 },
  resumed: { room: str, participant_id: u32, epoch: u32, received: u32 },
  member_joined: { epoch: u32, member: memberInfo },
  member_left: { epoch: u32, participant_id: u32 },
  member_media: { participant_id: u32, state: mediaState },
  key_from: { sender: u32, data: b64 },
  left: { room: str },
  pong: {},
  publish_answer: { sdp: str },
  subscribe_offer: { sdp: str, streams: list(streamInfo) },
  media_restarted: {},
  error: { code: str, message: str },
  standby_ok: { hotline: str, party: str, far_party: str, interval_s: num },
  linktest_start: { hotline: str, test_id: str, room: str, role: literal("originator", "responder"), duration_s: num },
  linktest_result: { hotline: str, outcome: str, result: anyObject },
  ring: { hotline: str, call_id: str, caller_party: str, caller_device: str },
  ring_stop: { call_id: str, reason: str },
  call_ringing: { hotline: str, call_id: str, endpoints: int },
  call_acked: { call_id: str, party: str, device: str, message: str },
  call_answered: { call_id: str, room: str },
  call_ended: { call_id: str, reason: str },
  hotline_status: { hotlines: list(anyObject) },
  record_entries: { hotline: str, start: int, entries: list(b64), more: bool },
};

/** Validate one message from the server (ProtocolError if it is refused). */
export function parseServer(text: string): ServerMessage {
  if (text.length > MAX_MESSAGE_BYTES) throw new ProtocolError(`message larger than ${MAX_MESSAGE_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = parseJson(text);
  } catch {
    throw new ProtocolError("message is not JSON");
  }
  if (!isObject(doc)) throw new ProtocolError("message is not a JSON object");
  if (doc.v !== VERSION) throw new ProtocolError(`unsupported protocol version ${JSON.stringify(doc.v ?? null)}`);
  const type = doc.type;
  if (typeof type !== "string" || !Object.hasOwn(SERVER, type)) {
    throw new ProtocolError("invalid message: type: unknown message type");
  }
  const shape = SERVER[type as ServerMessage["type"]];
  const fields = record(shape, ["v", "type"])(doc, "");
  return { type, ...fields } as unknown as ServerMessage;
}

// -- client -> server -------------------------------------------------------------------

export type ClientMessage =
  | { readonly type: "enroll"; readonly code: string; readonly identity_key: Uint8Array; readonly label: string; readonly signature: Uint8Array; readonly origin: string }
  | { readonly type: "auth"; readonly identity_key: Uint8Array; readonly signature: Uint8Array; readonly origin: string }
  | { readonly type: "join"; readonly room: string }
  | { readonly type: "announce"; readonly announcement: Uint8Array }
  | { readonly type: "key"; readonly to: number; readonly data: Uint8Array }
  | { readonly type: "leave" }
  | { readonly type: "publish"; readonly sdp: string }
  | { readonly type: "subscribe_answer"; readonly sdp: string }
  | { readonly type: "ping" }
  | { readonly type: "media"; readonly state: MediaState }
  | { readonly type: "media_restart"; readonly reason: string }
  | { readonly type: "resume"; readonly room: string; readonly participant_id: number; readonly token: Uint8Array; readonly received: number }
  | { readonly type: "standby"; readonly hotline: string; readonly record_length: number }
  | { readonly type: "linktest_request"; readonly hotline: string }
  | { readonly type: "linktest_report"; readonly test_id: string; readonly figures: LinkTestFigures; readonly report: Uint8Array }
  | { readonly type: "hotline_call"; readonly hotline: string }
  | { readonly type: "ring_ack"; readonly call_id: string; readonly message: string }
  | { readonly type: "call_answer"; readonly call_id: string }
  | { readonly type: "hangup"; readonly call_id: string }
  | { readonly type: "hotline_join"; readonly call_id: string }
  | { readonly type: "hotline_status_request"; readonly last: number };

/** The JSON text of a client message; binary fields become base64url. */
export function encodeClient(message: ClientMessage): string {
  const out: Record<string, unknown> = { v: VERSION };
  for (const [key, value] of Object.entries(message)) {
    out[key] = value instanceof Uint8Array ? b64encode(value) : value;
  }
  return JSON.stringify(out);
}
