/**
 * SFrame cipher suites (RFC 9605 §4.5) and their AEAD algorithms, on WebCrypto
 * (src/hotline/crypto/suites.py).
 *
 *     value   name                        Nh  Nka  Nk  Nn  Nt
 *     0x0001  AES_128_CTR_HMAC_SHA256_80  32  16   48  12  10
 *     0x0002  AES_128_CTR_HMAC_SHA256_64  32  16   48  12   8
 *     0x0003  AES_128_CTR_HMAC_SHA256_32  32  16   48  12   4
 *     0x0004  AES_128_GCM_SHA256_128      32  --   16  12  16
 *     0x0005  AES_256_GCM_SHA512_128      64  --   32  12  16
 *
 * The AES-CTR + HMAC construction is RFC 9605 §4.5.1: the first Nka bytes of the SFrame
 * key encrypt (AES-CTR, initial counter block = nonce || 0x00000000), the rest is the
 * HMAC key, and the tag is HMAC over
 * `u64 len(aad) || u64 len(ct) || u64 Nt || nonce || aad || ct`, truncated to Nt.
 */

import { type Bytes, concat, constantTimeEqual, copy, uintBytes } from "./bytes.js";
import { Reason, SFrameError } from "./errors.js";

export const CipherSuite = {
  AES_128_CTR_HMAC_SHA256_80: 0x0001,
  AES_128_CTR_HMAC_SHA256_64: 0x0002,
  AES_128_CTR_HMAC_SHA256_32: 0x0003,
  AES_128_GCM_SHA256_128: 0x0004,
  AES_256_GCM_SHA512_128: 0x0005,
} as const;

export type CipherSuite = (typeof CipherSuite)[keyof typeof CipherSuite];

/** Hotline's default for media: a 10-byte tag keeps the per-frame overhead at 15 bytes
 * (docs/PROTOCOL.md, "Cipher suite"). */
export const DEFAULT_SUITE: CipherSuite = CipherSuite.AES_128_CTR_HMAC_SHA256_80;

export interface SuiteParams {
  readonly suite: CipherSuite;
  readonly hash: "SHA-256" | "SHA-512";
  readonly nh: number;
  readonly nka: number; // 0 for the GCM suites
  readonly nk: number;
  readonly nn: number;
  readonly nt: number;
}

const PARAMS: ReadonlyMap<number, SuiteParams> = new Map(
  (
    [
      [CipherSuite.AES_128_CTR_HMAC_SHA256_80, "SHA-256", 32, 16, 48, 12, 10],
      [CipherSuite.AES_128_CTR_HMAC_SHA256_64, "SHA-256", 32, 16, 48, 12, 8],
      [CipherSuite.AES_128_CTR_HMAC_SHA256_32, "SHA-256", 32, 16, 48, 12, 4],
      [CipherSuite.AES_128_GCM_SHA256_128, "SHA-256", 32, 0, 16, 12, 16],
      [CipherSuite.AES_256_GCM_SHA512_128, "SHA-512", 64, 0, 32, 12, 16],
    ] as const
  ).map(([suite, hash, nh, nka, nk, nn, nt]) => [suite, { suite, hash, nh, nka, nk, nn, nt }]),
);

export function isCipherSuite(value: number): value is CipherSuite {
  return PARAMS.has(value);
}

export function params(cipherSuite: number): SuiteParams {
  const p = PARAMS.get(cipherSuite);
  if (p === undefined) {
    throw new SFrameError(Reason.UNSUPPORTED_SUITE, `cipher suite 0x${hex4(cipherSuite)}`);
  }
  return p;
}

function hex4(value: number): string {
  return Number.isSafeInteger(value) && value >= 0 ? value.toString(16).padStart(4, "0") : "?";
}

/** Seal/open with a fixed key; the only interface SFrame uses. */
export interface Aead {
  seal(nonce: Bytes, aad: Bytes, plaintext: Bytes): Promise<Bytes>;
  open(nonce: Bytes, aad: Bytes, ciphertext: Bytes): Promise<Bytes>;
}

class GcmAead implements Aead {
  constructor(private readonly key: CryptoKey) {}

  async seal(nonce: Bytes, aad: Bytes, plaintext: Bytes): Promise<Bytes> {
    const out = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, this.key, plaintext);
    return new Uint8Array(out);
  }

  async open(nonce: Bytes, aad: Bytes, ciphertext: Bytes): Promise<Bytes> {
    let out: ArrayBuffer;
    try {
      out = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: nonce, additionalData: aad, tagLength: 128 }, this.key, ciphertext);
    } catch {
      throw new SFrameError(Reason.AUTH_FAILED);
    }
    return new Uint8Array(out);
  }
}

/** RFC 9605 §4.5.1: AES-CTR with a truncated HMAC tag. */
class CtrHmacAead implements Aead {
  constructor(
    private readonly encKey: CryptoKey,
    private readonly authKey: CryptoKey,
    private readonly nt: number,
  ) {}

  private async tag(nonce: Bytes, aad: Bytes, ct: Bytes): Promise<Bytes> {
    const data = concat(
      uintBytes(BigInt(aad.length), 8), uintBytes(BigInt(ct.length), 8),
      uintBytes(BigInt(this.nt), 8), nonce, aad, ct);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", this.authKey, data));
    return copy(mac, 0, this.nt);
  }

  private async ctr(nonce: Bytes, data: Bytes): Promise<Bytes> {
    // The whole 16-byte block is the counter (length 128), as in Python's CTR mode.
    const counter = concat(nonce, new Uint8Array(4));
    return new Uint8Array(
      await crypto.subtle.encrypt({ name: "AES-CTR", counter, length: 128 }, this.encKey, data));
  }

  async seal(nonce: Bytes, aad: Bytes, plaintext: Bytes): Promise<Bytes> {
    const ct = await this.ctr(nonce, plaintext);
    return concat(ct, await this.tag(nonce, aad, ct));
  }

  async open(nonce: Bytes, aad: Bytes, ciphertext: Bytes): Promise<Bytes> {
    if (ciphertext.length < this.nt) throw new SFrameError(Reason.TRUNCATED, "shorter than the tag");
    const ct = copy(ciphertext, 0, ciphertext.length - this.nt);
    const tag = copy(ciphertext, ciphertext.length - this.nt);
    if (!constantTimeEqual(await this.tag(nonce, aad, ct), tag)) {
      throw new SFrameError(Reason.AUTH_FAILED);
    }
    return this.ctr(nonce, ct);
  }
}

/** The AEAD of suite `p` keyed with an Nk-byte `key`; the CryptoKeys are not extractable. */
export async function makeAead(p: SuiteParams, key: Uint8Array): Promise<Aead> {
  if (key.length !== p.nk) throw new SFrameError(Reason.BAD_KEY, "key length does not match the suite");
  if (p.nka === 0) {
    return new GcmAead(await crypto.subtle.importKey("raw", copy(key), "AES-GCM", false, ["encrypt", "decrypt"]));
  }
  const encKey = await crypto.subtle.importKey("raw", copy(key, 0, p.nka), "AES-CTR", false, ["encrypt"]);
  const authKey = await crypto.subtle.importKey(
    "raw", copy(key, p.nka), { name: "HMAC", hash: p.hash }, false, ["sign"]);
  return new CtrHmacAead(encKey, authKey, p.nt);
}
