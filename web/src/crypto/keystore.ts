/**
 * The device identity of the browser: one Ed25519 key pair made by WebCrypto with a
 * NON-EXTRACTABLE private key, kept in IndexedDB (a CryptoKey is stored as it is: its key
 * bytes never reach JavaScript). `loadOrCreateIdentity` returns the stored identity, or makes
 * and stores one the first time.
 *
 *     database "hotline" (or another name), object store "identity", key "device":
 *     { privateKey: CryptoKey (Ed25519, non-extractable, ["sign"]),
 *       publicKey: Uint8Array (32 bytes, raw), created: number (ms since 1970) }
 *
 * A stored record is checked when loaded: the private key must sign something the public
 * key verifies, or loading fails (no silent replacement of an enrolled identity).
 */

import { ascii, randomBytes } from "./bytes.js";
import { IdentityError, Reason } from "./errors.js";
import { openDatabase, transact } from "./idb.js";
import { Identity, PUBLIC_KEY_SIZE, verify } from "./identity.js";

export const DEFAULT_DATABASE = "hotline";
const STORE = "identity";
const KEY = "device";
const CHECK_LABEL = ascii("hotline/v1 keystore check\0");

interface StoredIdentity {
  readonly privateKey: CryptoKey;
  readonly publicKey: Uint8Array;
  readonly created: number;
}

export interface LoadedIdentity {
  readonly identity: Identity;
  readonly fingerprint: string;
  /** True if it was made just now (and needs enrolling). */
  readonly created: boolean;
}

function isStored(value: unknown): value is StoredIdentity {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.privateKey instanceof CryptoKey && v.publicKey instanceof Uint8Array && v.publicKey.length === PUBLIC_KEY_SIZE;
}

/** A fresh identity whose private key never leaves WebCrypto. */
async function generate(): Promise<StoredIdentity> {
  const pair = await crypto.subtle.generateKey("Ed25519", false, ["sign", "verify"]);
  const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  return { privateKey: pair.privateKey, publicKey, created: Date.now() };
}

async function checkPair(identity: Identity): Promise<void> {
  const message = new Uint8Array([...CHECK_LABEL, ...randomBytes(16)]);
  if (!(await verify(identity.publicKey, await identity.sign(message), message))) {
    throw new IdentityError(Reason.FILE, "stored identity key does not match its public key");
  }
}

/** The identity stored in `database`, or a new one (made, stored, and then returned). */
export async function loadOrCreateIdentity(database: string = DEFAULT_DATABASE): Promise<LoadedIdentity> {
  const db = await openDatabase(database, STORE);
  try {
    const found: unknown = await transact(db, STORE, "readonly", (s) => s.get(KEY));
    let created = false;
    let stored: StoredIdentity;
    if (found === undefined) {
      stored = await generate();
      // add, not put: if another tab stored one meanwhile, this fails instead of replacing it
      try {
        await transact(db, STORE, "readwrite", (s) => s.add(stored, KEY));
        created = true;
      } catch {
        const again: unknown = await transact(db, STORE, "readonly", (s) => s.get(KEY));
        if (!isStored(again)) throw new IdentityError(Reason.FILE, "cannot store the identity");
        stored = again;
      }
    } else if (isStored(found)) {
      stored = found;
    } else {
      throw new IdentityError(Reason.FILE, "stored identity is unreadable");
    }
    if (stored.privateKey.extractable) throw new IdentityError(Reason.PERMISSIONS, "stored private key is extractable");
    const identity = Identity.fromKeys(stored.privateKey, stored.publicKey);
    await checkPair(identity);
    return { identity, fingerprint: await identity.fingerprint(), created };
  } finally {
    db.close();
  }
}

/** Forget the stored identity (the device must be enrolled again). */
export async function deleteIdentity(database: string = DEFAULT_DATABASE): Promise<void> {
  const db = await openDatabase(database, STORE);
  try {
    await transact(db, STORE, "readwrite", (s) => s.delete(KEY));
  } finally {
    db.close();
  }
}
