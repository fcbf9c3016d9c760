/**
 * Byte helpers. `Bytes` is a Uint8Array over a plain ArrayBuffer, which is what
 * WebCrypto accepts; every function here returns fresh `Bytes`.
 */

export type Bytes = Uint8Array<ArrayBuffer>;

export function concat(...parts: readonly Uint8Array[]): Bytes {
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** A copy of `data` (or of data[start, end)) in its own buffer. */
export function copy(data: Uint8Array, start = 0, end = data.length): Bytes {
  return new Uint8Array(data.subarray(start, end));
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Equality whose time does not depend on where the inputs differ (tags, MACs). */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** Lexicographic order, shorter first on a common prefix (Python's bytes order). */
export function compare(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

export function fromHex(hex: string): Bytes {
  if (!HEX.test(hex)) throw new RangeError("not an even-length hex string");
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(data: Uint8Array): string {
  let s = "";
  for (const b of data) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Unsigned big-endian encoding of `value` in `size` bytes (RangeError if it does not fit). */
export function uintBytes(value: bigint, size: number): Bytes {
  if (value < 0n || value >= 1n << BigInt(8 * size)) {
    throw new RangeError(`value does not fit in ${size} byte(s)`);
  }
  const out = new Uint8Array(size);
  let v = value;
  for (let i = size - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** Unsigned big-endian value of `data`. */
export function bytesUint(data: Uint8Array): bigint {
  let v = 0n;
  for (const b of data) v = (v << 8n) | BigInt(b);
  return v;
}

/** `size` random bytes from WebCrypto (which gives at most 65536 per call). */
export function randomBytes(size: number): Bytes {
  const out = new Uint8Array(size);
  for (let pos = 0; pos < size; pos += 65536) crypto.getRandomValues(out.subarray(pos, pos + 65536));
  return out;
}

const encoder = new TextEncoder();
// fatal: refuse invalid UTF-8 as Python's decode does; ignoreBOM: keep a leading
// U+FEFF like Python (the default would strip it and change the room id).
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** UTF-8 of `text`, or null for a string with lone surrogates (not encodable). */
export function utf8(text: string): Bytes | null {
  return text.isWellFormed() ? encoder.encode(text) : null;
}

/** The text of UTF-8 `data`, or null if it is not valid UTF-8. */
export function fromUtf8(data: Uint8Array): string | null {
  try {
    return decoder.decode(data);
  } catch {
    return null;
  }
}

/** ASCII label bytes (labels are ASCII followed by one zero byte in docs/PROTOCOL.md). */
export function ascii(text: string): Bytes {
  return encoder.encode(text);
}
