/** base64url without padding (RFC 4648 §5), as Python's in src/hotline/signaling/messages.py. */

import type { Bytes } from "../crypto/bytes.js";

const MAX_TEXT = 256 * 1024; // MAX_MESSAGE_BYTES: no longer text is ever decoded
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
  if (text.length > MAX_TEXT || !B64URL.test(text) || text.length % 4 === 1) {
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
