/**
 * SFrame, exactly as RFC 9605 (§4.3 header, §4.4 key derivation and AEAD use), on
 * WebCrypto; the browser twin of src/hotline/crypto/sframe.py, with the same rules.
 *
 *     const ctx = new SFrameContext(0x0004);
 *     await ctx.addEncryptionKey(kid, baseKey);            // sender side
 *     await ctx.addDecryptionKey(kid, baseKey);            // receiver side
 *     const ct = await ctx.encrypt(ctr, kid, metadata, plaintext);  // header || ct || tag
 *     const pt = await ctx.decrypt(metadata, ct);
 *
 * KIDs and counters are u64, held as bigint. `SFrameSender` keeps the counter for one
 * sending key, so callers never pick counters themselves. Every failure rejects with
 * `SFrameError` and a reason code; messages never contain key material.
 *
 * WebCrypto is asynchronous, so two frames may be in flight at once. The rules hold
 * anyway: `encrypt` reserves its counter synchronously, when it is called, before the
 * first await (a nonce is never used twice even by concurrent calls); `decrypt` checks
 * the replay window before decrypting and again, synchronously, just before accepting
 * the counter (two copies of one frame decrypting at the same time are accepted once).
 */

import { type Bytes, ascii, concat, copy, equal, uintBytes } from "./bytes.js";
import { Reason, SFrameError } from "./errors.js";
import { DEFAULT_WINDOW, ReplayWindow } from "./replay.js";
import { MAX_VALUE, decodeHeader, encodeHeader } from "./sframe_header.js";
import { type Aead, type CipherSuite, DEFAULT_SUITE, type SuiteParams, makeAead, params } from "./suites.js";

export { DEFAULT_SUITE, type CipherSuite };

const KEY_LABEL = ascii("SFrame 1.0 Secret key ");
const SALT_LABEL = ascii("SFrame 1.0 Secret salt ");

/** sframe_secret, sframe_key and sframe_salt of one (KID, base key); RFC 9605 §4.4.2. */
export interface DerivedKey {
  readonly secret: Bytes;
  readonly key: Bytes;
  readonly salt: Bytes;
}

async function hmac(hash: SuiteParams["hash"], key: Bytes, data: Bytes): Promise<Bytes> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, data));
}

/** HKDF-Expand (RFC 5869 §2.3) with HMAC: T(i) = HMAC(prk, T(i-1) || info || i). */
async function hkdfExpand(p: SuiteParams, prk: Bytes, info: Bytes, length: number): Promise<Bytes> {
  const out = new Uint8Array(length);
  let t: Bytes = new Uint8Array(0);
  for (let i = 1, pos = 0; pos < length; i++) {
    t = await hmac(p.hash, prk, concat(t, info, Uint8Array.of(i)));
    out.set(t.subarray(0, length - pos), pos);
    pos += t.length;
  }
  return out;
}

/** RFC 9605 §4.4.2: HKDF-Extract with an empty salt, then two HKDF-Expand. */
export async function deriveKeySalt(cipherSuite: number, kid: bigint, baseKey: Uint8Array): Promise<DerivedKey> {
  const p = params(cipherSuite);
  if (kid < 0n || kid > MAX_VALUE) throw new SFrameError(Reason.BAD_KEY, "kid out of range");
  if (baseKey.length === 0) throw new SFrameError(Reason.BAD_KEY, "empty base key");
  // HKDF-Extract(salt="", IKM) = HMAC(Nh zero bytes, IKM) (RFC 5869 §2.2). WebCrypto
  // refuses an empty HMAC key; Nh zeros is the same key, as HMAC pads keys with zeros.
  const secret = await hmac(p.hash, new Uint8Array(p.nh), copy(baseKey));
  const suffix = concat(uintBytes(kid, 8), uintBytes(BigInt(p.suite), 2));
  const key = await hkdfExpand(p, secret, concat(KEY_LABEL, suffix), p.nk);
  const salt = await hkdfExpand(p, secret, concat(SALT_LABEL, suffix), p.nn);
  return { secret, key, salt };
}

class KeyState {
  lastCtr = -1n; // encryption keys: highest counter used (or reserved)
  readonly replay: ReplayWindow | null;

  constructor(
    readonly aead: Aead,
    readonly salt: Bytes,
    readonly keyId: Bytes, // SHA-256 of key || salt: recognises the same key re-added
    window: number | null,
  ) {
    this.replay = window === null ? null : new ReplayWindow(window);
  }

  nonce(ctr: bigint): Bytes {
    const nonce = copy(this.salt);
    const c = uintBytes(ctr, 8);
    for (let i = 0; i < 8; i++) nonce[nonce.length - 8 + i]! ^= c[i]!;
    return nonce;
  }
}

export interface SFrameContextOptions {
  readonly replayWindow?: number;
}

/**
 * Key store and frame protection for one cipher suite (RFC 9605 Appendix A).
 *
 * Keys are added for one use only: encryption or decryption. Decryption keys keep a
 * replay window. An encryption key refuses a counter at or below one it already used,
 * and a KID cannot get a second encryption key while it has one: a nonce is never reused.
 */
export class SFrameContext {
  private readonly p: SuiteParams;
  private readonly window: number;
  private readonly enc = new Map<bigint, KeyState>();
  private readonly dec = new Map<bigint, KeyState>();
  // Keys being derived, by KID: the token of the latest add not yet settled.
  private readonly encPending = new Map<bigint, object>();
  private readonly decPending = new Map<bigint, object>();

  constructor(cipherSuite: number = DEFAULT_SUITE, options: SFrameContextOptions = {}) {
    const window = options.replayWindow ?? DEFAULT_WINDOW;
    if (!Number.isSafeInteger(window) || window < 1) throw new RangeError("replay window must hold at least one counter");
    this.p = params(cipherSuite);
    this.window = window;
  }

  get cipherSuite(): CipherSuite {
    return this.p.suite;
  }

  get tagSize(): number {
    return this.p.nt;
  }

  private async state(kid: bigint, baseKey: Uint8Array, window: number | null): Promise<KeyState> {
    const derived = await deriveKeySalt(this.p.suite, kid, baseKey);
    const keyId = new Uint8Array(await crypto.subtle.digest("SHA-256", concat(derived.key, derived.salt)));
    const aead = await makeAead(this.p, derived.key);
    derived.key.fill(0);
    derived.secret.fill(0);
    return new KeyState(aead, derived.salt, keyId, window);
  }

  /** Add a sending key. A KID that has one already (or is getting one) is refused:
   * re-adding would restart its counter and reuse nonces. Remove the old key first. */
  async addEncryptionKey(kid: bigint, baseKey: Uint8Array): Promise<void> {
    if (this.enc.has(kid) || this.encPending.has(kid)) {
      throw new SFrameError(Reason.BAD_KEY, "kid has an encryption key already");
    }
    const token = {};
    this.encPending.set(kid, token);
    const state = await this.settle(this.encPending, kid, token, this.state(kid, baseKey, null));
    if (state !== null) this.enc.set(kid, state);
  }

  /** Add (or replace) a receiving key. Re-adding the same key keeps its replay window,
   * so it cannot be used to replay frames. */
  async addDecryptionKey(kid: bigint, baseKey: Uint8Array): Promise<void> {
    const token = {};
    this.decPending.set(kid, token);
    const state = await this.settle(this.decPending, kid, token, this.state(kid, baseKey, this.window));
    if (state === null) return;
    const current = this.dec.get(kid);
    if (current !== undefined && equal(current.keyId, state.keyId)) return;
    this.dec.set(kid, state);
  }

  /** Wait for a key being derived; null if a later add or a remove of the same KID was
   * called meanwhile (key changes take effect in the order they were called). */
  private async settle(
    pending: Map<bigint, object>, kid: bigint, token: object, derive: Promise<KeyState>,
  ): Promise<KeyState | null> {
    let state: KeyState;
    try {
      state = await derive;
    } catch (error) {
      if (pending.get(kid) === token) pending.delete(kid);
      throw error;
    }
    if (pending.get(kid) !== token) return null;
    pending.delete(kid);
    return state;
  }

  removeEncryptionKey(kid: bigint): void {
    this.enc.delete(kid);
    this.encPending.delete(kid);
  }

  removeDecryptionKey(kid: bigint): void {
    this.dec.delete(kid);
    this.decPending.delete(kid);
  }

  hasEncryptionKey(kid: bigint): boolean {
    return this.enc.has(kid);
  }

  hasDecryptionKey(kid: bigint): boolean {
    return this.dec.has(kid);
  }

  decryptionKids(): ReadonlySet<bigint> {
    return new Set(this.dec.keys());
  }

  /** RFC 9605 §4.4.3. Resolves to header || ciphertext || tag. The counter is checked
   * and reserved synchronously, when this is called. */
  async encrypt(ctr: bigint, kid: bigint, metadata: Uint8Array, plaintext: Uint8Array): Promise<Bytes> {
    const state = this.enc.get(kid);
    if (state === undefined) throw new SFrameError(Reason.UNKNOWN_KID, "no encryption key for this kid");
    if (ctr > MAX_VALUE) throw new SFrameError(Reason.COUNTER_EXHAUSTED);
    if (ctr <= state.lastCtr) throw new SFrameError(Reason.COUNTER_REUSED, "counter not above the last one used");
    state.lastCtr = ctr; // before any await: a concurrent call cannot take this nonce
    const header = encodeHeader(kid, ctr);
    const sealed = await state.aead.seal(state.nonce(ctr), concat(header, metadata), copy(plaintext));
    return concat(header, sealed);
  }

  /** RFC 9605 §4.4.4, plus the replay window of the key. */
  async decrypt(metadata: Uint8Array, ciphertext: Uint8Array): Promise<Bytes> {
    const header = decodeHeader(ciphertext);
    const state = this.dec.get(header.kid);
    if (state === undefined || state.replay === null) {
      throw new SFrameError(Reason.UNKNOWN_KID, "no decryption key for this kid");
    }
    if (ciphertext.length - header.size < this.p.nt) throw new SFrameError(Reason.TRUNCATED, "shorter than the tag");
    state.replay.check(header.ctr);
    const aad = concat(ciphertext.subarray(0, header.size), metadata);
    const plaintext = await state.aead.open(state.nonce(header.ctr), aad, copy(ciphertext, header.size));
    state.replay.check(header.ctr); // again: the same frame may have been accepted meanwhile
    state.replay.accept(header.ctr);
    return plaintext;
  }
}

export interface SFrameSenderOptions {
  readonly firstCounter?: bigint;
  readonly maxCounter?: bigint;
}

/**
 * Encrypts with one key, choosing counters 0, 1, 2, … itself.
 *
 * `maxCounter` bounds the counter (default: the largest the header can carry); past it
 * every call rejects with `SFrameError(COUNTER_EXHAUSTED)` and the caller must rekey.
 * Each call takes the next counter synchronously, in call order; unlike the Python
 * sender a call that fails still uses up its counter (harmless: counters may skip).
 */
export class SFrameSender {
  private next: bigint;
  private readonly max: bigint;

  constructor(private readonly context: SFrameContext, readonly kid: bigint, options: SFrameSenderOptions = {}) {
    const first = options.firstCounter ?? 0n;
    const max = options.maxCounter ?? MAX_VALUE;
    if (!(0n <= first && first <= max && max <= MAX_VALUE)) {
      throw new SFrameError(Reason.BAD_KEY, "counter bounds out of range");
    }
    this.next = first;
    this.max = max;
  }

  get nextCounter(): bigint {
    return this.next;
  }

  get exhausted(): boolean {
    return this.next > this.max;
  }

  encrypt(metadata: Uint8Array, plaintext: Uint8Array): Promise<Bytes> {
    if (this.next > this.max) return Promise.reject(new SFrameError(Reason.COUNTER_EXHAUSTED, "rekey needed"));
    const ctr = this.next;
    this.next += 1n;
    return this.context.encrypt(ctr, this.kid, metadata, plaintext);
  }
}

export { decodeHeader, encodeHeader, MAX_VALUE, type SFrameHeader } from "./sframe_header.js";
