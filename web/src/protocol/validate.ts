/**
 * Strict checks of JSON values, as pydantic's strict mode makes them in
 * src/hotline/signaling/messages.py: the combinators that the generated tables of
 * messages.gen.ts are written in, and `parseMessage`, which runs one of those tables.
 *
 * No coercion: a number is not a string, `1.0` and `true` are not integers; a missing or
 * unknown field is refused, a field with a default may be left out (the default is then
 * checked and used); a string's length counts characters (code points), as Python's does;
 * binary fields are base64url without padding and their bounds count bytes.
 */

import type { Bytes } from "../crypto/bytes.js";
import { ProtocolError } from "../errors.js";
import { b64decode } from "./base64url.js";

export type Check<T> = (value: unknown, where: string) => T;

/** A field with a default: the JSON value used (and checked) when it is left out. */
export interface Optional<T> {
  readonly check: Check<T>;
  readonly fallback: unknown;
}

export type Shape = Record<string, Check<unknown> | Optional<unknown>>;

/** A JSON number written with a fraction or an exponent (Python reads it as a float). */
class NonInteger {
  constructor(readonly value: number) {}
}

type Obj = Record<string, unknown>;

/** JSON.parse, keeping apart the numbers Python reads as floats (see NonInteger). */
export function parseJson(text: string): unknown {
  return JSON.parse(text, (_key: string, value: unknown, context?: { source?: string }) => {
    if (typeof value !== "number") return value;
    if (context?.source !== undefined) return /^-?\d+$/.test(context.source) ? value : new NonInteger(value);
    return Number.isInteger(value) ? value : new NonInteger(value);
  });
}

function fail(where: string, what: string): never {
  throw new ProtocolError(`invalid message: ${where}: ${what}`);
}

function isObject(value: unknown): value is Obj {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof NonInteger);
}

/** A JSON value with the float markers of parseJson turned back into numbers. */
function plain(v: unknown): unknown {
  if (v instanceof NonInteger) return v.value;
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  return v;
}

/** A string of `min`..`max` characters matching `pattern` (a search, as pydantic's). */
export function str(min = 0, max = Infinity, pattern?: string): Check<string> {
  const re = pattern === undefined ? null : new RegExp(pattern);
  return (v, where) => {
    if (typeof v !== "string") fail(where, "expected a string");
    // characters = code points: between half the UTF-16 length and the UTF-16 length
    if (v.length > max || v.length < 2 * min) {
      const length = [...v].length;
      if (length < min) fail(where, `at least ${min} characters`);
      if (length > max) fail(where, `at most ${max} characters`);
    }
    if (re !== null && !re.test(v)) fail(where, "does not match its pattern");
    return v;
  };
}

function bounded(n: number, where: string, min?: number, max?: number): number {
  if (min !== undefined && n < min) fail(where, `less than ${min}`);
  if (max !== undefined && n > max) fail(where, `greater than ${max}`);
  return n;
}

/** An integer (written without fraction or exponent, within 2^53) in min..max. */
export function int(min?: number, max?: number): Check<number> {
  return (v, where) => {
    if (typeof v !== "number" || !Number.isSafeInteger(v)) fail(where, "expected an integer");
    return bounded(v, where, min, max);
  };
}

export const u32: Check<number> = int(0, 2 ** 32 - 1);

/** A number (integer or not) in min..max. */
export function num(min?: number, max?: number): Check<number> {
  return (v, where) => {
    const n = v instanceof NonInteger ? v.value : v;
    if (typeof n !== "number") fail(where, "expected a number");
    return bounded(n, where, min, max);
  };
}

export const bool: Check<boolean> = (v, where) => (typeof v === "boolean" ? v : fail(where, "expected a boolean"));

/** base64url without padding, of at most `maxBytes` bytes once decoded. */
export function b64(maxBytes = Infinity): Check<Bytes> {
  return (v, where) => {
    if (typeof v !== "string") fail(where, "expected a base64url string");
    let bytes: Bytes;
    try {
      bytes = b64decode(v);
    } catch {
      return fail(where, "not valid base64url");
    }
    return bytes.length <= maxBytes ? bytes : fail(where, `more than ${maxBytes} bytes`);
  };
}

/** Any JSON object (free-form documents such as an uptime-record entry). */
export const anyObject: Check<Record<string, unknown>> = (v, where) =>
  isObject(v) ? (plain(v) as Record<string, unknown>) : fail(where, "expected an object");

export function nullable<T>(check: Check<T>): Check<T | null> {
  return (v, where) => (v === null ? null : check(v, where));
}

export function list<T>(item: Check<T>, max = Infinity): Check<T[]> {
  return (v, where) => {
    if (!Array.isArray(v)) fail(where, "expected a list");
    if (v.length > max) fail(where, `at most ${max} items`);
    return v.map((x: unknown, i) => item(x, `${where}.${i}`));
  };
}

/** A JSON object of any keys, each value checked. */
export function dict<T>(item: Check<T>): Check<Record<string, T>> {
  return (v, where) => {
    if (!isObject(v)) fail(where, "expected an object");
    const out: Record<string, T> = {};
    for (const [key, value] of Object.entries(v)) out[key] = item(value, `${where}.${key}`);
    return out;
  };
}

export function literal<T extends string>(...allowed: T[]): Check<T> {
  return (v, where) => (typeof v === "string" && (allowed as string[]).includes(v) ? (v as T) : fail(where, `expected one of ${allowed.join(", ")}`));
}

/** A field with a default (a JSON value, checked like a given one). */
export function opt<T>(check: Check<T>, fallback: unknown): Optional<T> {
  return { check, fallback };
}

/** Exactly the fields of `shape` (plus `ignore`), each valid. */
export function record<T>(shape: Shape, ignore: readonly string[] = []): Check<T> {
  return (v, where) => {
    if (!isObject(v)) fail(where || "message", "expected an object");
    const prefix = where ? `${where}.` : "";
    for (const key of Object.keys(v)) {
      if (!Object.hasOwn(shape, key) && !ignore.includes(key)) fail(prefix + key, "extra field not permitted");
    }
    const out: Obj = {};
    for (const [key, field] of Object.entries(shape)) {
      const given = Object.hasOwn(v, key);
      if (typeof field === "function") {
        if (!given) fail(prefix + key, "field required");
        out[key] = field(v[key], prefix + key);
      } else {
        out[key] = field.check(given ? v[key] : field.fallback, prefix + key);
      }
    }
    return out as T;
  };
}

/**
 * One message of a direction (its table: type -> shape), as Python's `_parse` reads it:
 * at most `maxBytes`, a JSON object, `v` the integer `version`, a known `type`, then its
 * fields. Returns the message with its `type` (and without `v`); ProtocolError if refused.
 */
export function parseMessage(text: string, table: Readonly<Record<string, Shape>>, version: number, maxBytes: number): { type: string } {
  if (text.length > maxBytes) throw new ProtocolError(`message larger than ${maxBytes} bytes`);
  let doc: unknown;
  try {
    doc = parseJson(text);
  } catch {
    throw new ProtocolError("message is not JSON");
  }
  if (!isObject(doc)) throw new ProtocolError("message is not a JSON object");
  if (doc.v !== version) throw new ProtocolError(`unsupported protocol version ${JSON.stringify(plain(doc.v) ?? null)}`);
  const type = doc.type;
  if (typeof type !== "string" || !Object.hasOwn(table, type)) {
    throw new ProtocolError("invalid message: type: unknown message type");
  }
  const fields = record<Obj>(table[type] as Shape, ["v", "type"])(doc, "");
  return { type, ...fields };
}
