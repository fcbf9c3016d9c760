/**
 * Device identity: an Ed25519 key pair on WebCrypto (src/hotline/crypto/identity.py,
 * without the key files: the browser keeps its CryptoKey, not extractable).
 *
 * The fingerprint is SHA-256("hotline/v1 identity fingerprint" 0x00 || public key),
 * first 16 bytes as 8 groups of 4 hex digits.
 */

import { type Bytes, ascii, concat, copy, toHex } from "./bytes.js";
import { publicKeyProblem, signatureProblem } from "./ed25519_checks.js";
import { IdentityError, Reason } from "./errors.js";

export const PUBLIC_KEY_SIZE = 32;
export const SIGNATURE_SIZE = 64;
const FINGERPRINT_LABEL = ascii("hotline/v1 identity fingerprint\0");
// PKCS#8 PrivateKeyInfo for Ed25519 (RFC 8410 §7) up to the 32-byte seed.
const PKCS8_ED25519_PREFIX = Uint8Array.of(
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);

export async function fingerprintBytes(publicKey: Uint8Array): Promise<Bytes> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(FINGERPRINT_LABEL, publicKey)));
}

/** First 128 bits of `fingerprintBytes` as 8 groups of 4 hex digits. */
export async function fingerprint(publicKey: Uint8Array): Promise<string> {
  const hexed = toHex((await fingerprintBytes(publicKey)).subarray(0, 16));
  return hexed.match(/.{4}/g)!.join(" ");
}

/** True if `signature` is a valid Ed25519 signature of `message` by `publicKey`. Strict
 * (ed25519_checks.ts): a non-canonical or small-order key or R, or S >= L, never verifies. */
export async function verify(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): Promise<boolean> {
  if (publicKey.length !== PUBLIC_KEY_SIZE || signature.length !== SIGNATURE_SIZE) return false;
  if (publicKeyProblem(publicKey) !== null || signatureProblem(signature) !== null) return false;
  return await libraryVerify(publicKey, signature, message);
}

/** WebCrypto's verdict alone, without the strict checks (for web/test/vectors.ts, which
 * records what the library does; never use it to decide anything). */
export async function libraryVerify(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): Promise<boolean> {
  try {
    const key = await crypto.subtle.importKey("raw", copy(publicKey), "Ed25519", false, ["verify"]);
    return await crypto.subtle.verify("Ed25519", key, copy(signature), copy(message));
  } catch {
    return false; // not a valid point, ...
  }
}

/** Throws IdentityError (reason weak_key) for a key `verify` would never accept. */
export function checkPublicKey(publicKey: Uint8Array): void {
  const problem = publicKeyProblem(publicKey);
  if (problem !== null) throw new IdentityError(Reason.WEAK_KEY, `not a usable Ed25519 public key (${problem})`);
}

function base64UrlDecode(text: string): Bytes {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
}

/** An Ed25519 identity. The private key is a non-extractable CryptoKey. */
export class Identity {
  private constructor(private readonly privateKey: CryptoKey, readonly publicKey: Bytes) {}

  static async generate(): Promise<Identity> {
    const pair = await crypto.subtle.generateKey("Ed25519", false, ["sign", "verify"]);
    const pub = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
    return new Identity(pair.privateKey, pub);
  }

  /** The identity of a stored Ed25519 private CryptoKey and its raw public key (keystore.ts
   * keeps both in IndexedDB; the private key stays non-extractable). */
  static fromKeys(privateKey: CryptoKey, publicKey: Uint8Array): Identity {
    if (privateKey.type !== "private" || privateKey.algorithm.name !== "Ed25519" ||
        !privateKey.usages.includes("sign") || publicKey.length !== PUBLIC_KEY_SIZE) {
      throw new IdentityError(Reason.FILE, "not an Ed25519 signing key and its public key");
    }
    return new Identity(privateKey, copy(publicKey));
  }

  /** Deterministic identity from a 32-byte seed (test vectors and tests only). */
  static async fromSeed(seed: Uint8Array): Promise<Identity> {
    if (seed.length !== 32) throw new RangeError("an Ed25519 seed is 32 bytes");
    const pkcs8 = concat(PKCS8_ED25519_PREFIX, seed);
    try {
      // Imported once extractable, only to read the public key (JWK "x") ...
      const temporary = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", true, ["sign"]);
      const jwk = await crypto.subtle.exportKey("jwk", temporary);
      if (typeof jwk.x !== "string") throw new Error("no public key");
      // ... and kept non-extractable.
      const key = await crypto.subtle.importKey("pkcs8", pkcs8, "Ed25519", false, ["sign"]);
      return new Identity(key, base64UrlDecode(jwk.x));
    } catch {
      throw new IdentityError(Reason.FILE, "cannot import the Ed25519 seed");
    } finally {
      pkcs8.fill(0);
    }
  }

  fingerprint(): Promise<string> {
    return fingerprint(this.publicKey);
  }

  async sign(message: Uint8Array): Promise<Bytes> {
    return new Uint8Array(await crypto.subtle.sign("Ed25519", this.privateKey, copy(message)));
  }

  toString(): string {
    return `Identity(${toHex(this.publicKey.subarray(0, 8))}…)`;
  }
}
