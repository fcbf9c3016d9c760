/**
 * Big-endian binary encoding shared by Hotline's signed messages (src/hotline/crypto/wire.py).
 *
 * A tiny writer/reader pair: fixed-width unsigned integers and length-prefixed byte
 * strings. The reader raises one error class (given by the caller) with reason
 * MALFORMED for every kind of malformed input, so parsers of untrusted bytes have a
 * single failure mode. u8/u16/u32 are numbers; u64 is a bigint.
 */

import { type Bytes, bytesUint, concat, copy, uintBytes } from "./bytes.js";
import { type CryptoErrorClass, Reason } from "./errors.js";

export class Writer {
  private readonly parts: Uint8Array[] = [];

  u8(value: number): this {
    return this.uint(value, 1);
  }

  u16(value: number): this {
    return this.uint(value, 2);
  }

  u32(value: number): this {
    return this.uint(value, 4);
  }

  u64(value: bigint): this {
    this.parts.push(uintBytes(value, 8));
    return this;
  }

  raw(data: Uint8Array): this {
    this.parts.push(copy(data));
    return this;
  }

  /** A byte string of at most 255 bytes, prefixed by its length (u8). */
  bytes8(data: Uint8Array): this {
    return this.u8(data.length).raw(data);
  }

  /** A byte string of at most 65535 bytes, prefixed by its length (u16). */
  bytes16(data: Uint8Array): this {
    return this.u16(data.length).raw(data);
  }

  bytes(): Bytes {
    return concat(...this.parts);
  }

  private uint(value: number, size: number): this {
    if (!Number.isSafeInteger(value)) throw new RangeError("not an integer");
    this.parts.push(uintBytes(BigInt(value), size));
    return this;
  }
}

export class Reader {
  private readonly data: Bytes;
  private pos = 0;

  constructor(data: Uint8Array, private readonly error: CryptoErrorClass) {
    this.data = copy(data);
  }

  get position(): number {
    return this.pos;
  }

  u8(): number {
    return Number(bytesUint(this.raw(1)));
  }

  u16(): number {
    return Number(bytesUint(this.raw(2)));
  }

  u32(): number {
    return Number(bytesUint(this.raw(4)));
  }

  u64(): bigint {
    return bytesUint(this.raw(8));
  }

  raw(size: number): Bytes {
    if (size < 0 || this.pos + size > this.data.length) {
      throw new this.error(Reason.MALFORMED, "message too short");
    }
    const out = copy(this.data, this.pos, this.pos + size);
    this.pos += size;
    return out;
  }

  bytes8(): Bytes {
    return this.raw(this.u8());
  }

  bytes16(): Bytes {
    return this.raw(this.u16());
  }

  /** Everything read so far (what a signature covers). */
  consumed(): Bytes {
    return copy(this.data, 0, this.pos);
  }

  /** Insist that nothing follows the last field. */
  end(): void {
    if (this.pos !== this.data.length) throw new this.error(Reason.MALFORMED, "trailing bytes");
  }
}
