/**
 * SFrame header encoding and decoding (RFC 9605 §4.3; src/hotline/crypto/sframe_header.py).
 *
 *      0 1 2 3 4 5 6 7
 *     +-+-+-+-+-+-+-+-+------------------------+------------------------+
 *     |X|  K  |Y|  C  |   KID (0-8 bytes)      |   CTR (0-8 bytes)      |
 *     +-+-+-+-+-+-+-+-+------------------------+------------------------+
 *
 * X=0: K is the KID itself (0-7). X=1: K+1 is the length in bytes of the KID field.
 * Y=0: C is the CTR itself (0-7). Y=1: C+1 is the length in bytes of the CTR field.
 * Values are unsigned big-endian u64, held as bigint. We always write the shortest form;
 * we read any form the RFC allows (the header is authenticated as AAD).
 */

import { type Bytes, bytesUint, concat, uintBytes } from "./bytes.js";
import { Reason, SFrameError } from "./errors.js";

export const MAX_VALUE = (1n << 64n) - 1n;

export interface SFrameHeader {
  readonly kid: bigint;
  readonly ctr: bigint;
  /** Length of the header on the wire. */
  readonly size: number;
}

/** [3-bit config value, extension bytes] of one header field. */
function field(value: bigint): [number, Bytes] {
  if (value < 8n) return [Number(value), new Uint8Array(0)];
  let size = 1;
  while (value >> BigInt(8 * size) > 0n) size++;
  return [0x8 | (size - 1), uintBytes(value, size)];
}

/** Encode `kid` and `ctr` (each 0 .. 2**64-1) in the shortest form. */
export function encodeHeader(kid: bigint, ctr: bigint): Bytes {
  if (kid < 0n || kid > MAX_VALUE || ctr < 0n || ctr > MAX_VALUE) {
    throw new SFrameError(Reason.MALFORMED_HEADER, "kid or ctr out of range");
  }
  const [k, kidBytes] = field(kid);
  const [c, ctrBytes] = field(ctr);
  return concat(Uint8Array.of((k << 4) | c), kidBytes, ctrBytes);
}

/** Decode the header at the start of `data` (which may hold more bytes). */
export function decodeHeader(data: Uint8Array): SFrameHeader {
  const config = data[0];
  if (config === undefined) throw new SFrameError(Reason.TRUNCATED, "empty frame");
  let pos = 1;
  const values: bigint[] = [];
  for (const nibble of [config >> 4, config & 0x0f]) {
    if (nibble & 0x8) {
      const size = (nibble & 0x7) + 1;
      if (pos + size > data.length) throw new SFrameError(Reason.TRUNCATED, "header shorter than announced");
      values.push(bytesUint(data.subarray(pos, pos + size)));
      pos += size;
    } else {
      values.push(BigInt(nibble));
    }
  }
  return { kid: values[0] as bigint, ctr: values[1] as bigint, size: pos };
}
