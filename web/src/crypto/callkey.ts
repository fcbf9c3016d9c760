/**
 * Per-call HPKE key pairs and their signed announcement (docs/PROTOCOL.md "Call-key
 * announcement"; src/hotline/crypto/callkey.py).
 *
 * HPKE (RFC 9180) base mode, HKDF-SHA256, AES-128-GCM, with @hpke/core and
 * @hpke/dhkem-x25519. This client implements the KEM DHKEM(X25519, HKDF-SHA256)
 * (0x0020). It parses announcements of the hybrid MLKEM768-X25519 (0x647A), and their
 * call keys count in the group code, but it cannot seal to them or make them: those
 * fail with a `policy` reason saying so.
 *
 *     u8 type = 0x01 | u8 version = 1 | bytes8 room_id | u32 participant_id | u32 epoch
 *     u8 role | u16 kem | bytes16 call_public_key | [32] identity_public_key | [64] signature
 *
 * signature = Ed25519 over "hotline/v1 call-key announcement" 0x00 || all of the above.
 * `role` (ROLE_CODES) is the member's role in the room: a receiver rejects a member whose
 * signed role differs from the roster's (`role_mismatch`).
 */

import { Aes128Gcm, CipherSuite as HpkeSuite, HkdfSha256 } from "@hpke/core";
import { DhkemX25519HkdfSha256, X25519 } from "@hpke/dhkem-x25519";

import { type Bytes, ascii, concat, copy, equal, fromUtf8, utf8 } from "./bytes.js";
import { ROLE_CODES } from "./codes.gen.js";
import { publicKeyProblem } from "./ed25519_checks.js";
import { AnnouncementError, type CryptoErrorClass, KeyMessageError, Reason } from "./errors.js";
import { type Identity, PUBLIC_KEY_SIZE, SIGNATURE_SIZE, verify } from "./identity.js";
import { Reader, Writer } from "./wire.js";

export const PROTOCOL_VERSION = 1;
export const MSG_ANNOUNCEMENT = 0x01;
const ANNOUNCEMENT_LABEL = ascii("hotline/v1 call-key announcement\0");
const CHECK_INFO = ascii("hotline/v1 call key check");

/** HPKE KEM identifiers (RFC 9180 §7.1; draft-ietf-hpke-pq for the hybrid). */
export const Kem = { X25519: 0x0020, MLKEM768_X25519: 0x647a } as const;
export type Kem = (typeof Kem)[keyof typeof Kem];
export const ALL_KEMS: ReadonlySet<Kem> = new Set([Kem.X25519, Kem.MLKEM768_X25519]);
/** KEMs that resist a quantum adversary recording today's traffic. */
export const POST_QUANTUM: ReadonlySet<Kem> = new Set([Kem.MLKEM768_X25519]);

const KEM_NAME: Record<Kem, string> = { [Kem.X25519]: "X25519", [Kem.MLKEM768_X25519]: "MLKEM768_X25519" };
const PUBLIC_SIZE: Record<Kem, number> = { [Kem.X25519]: 32, [Kem.MLKEM768_X25519]: 1184 + 32 };
const X25519_ENC_SIZE = 32;
const ROLE_NAMES = new Map(Object.entries(ROLE_CODES).map(([name, code]) => [code, name]));

/** The u8 code of `role` (AnnouncementError(MALFORMED) for a name not in ROLES). */
export function roleCode(role: string): number {
  const code = Object.hasOwn(ROLE_CODES, role) ? ROLE_CODES[role] : undefined;
  if (code === undefined) throw new AnnouncementError(Reason.MALFORMED, `unknown role '${role}'`);
  return code;
}

export function isKem(value: number): value is Kem {
  return value === Kem.X25519 || value === Kem.MLKEM768_X25519;
}

function unsupported(kem: Kem): string {
  return `KEM ${KEM_NAME[kem]} (0x${kem.toString(16)}) is not supported by the browser client`;
}

let hpkeSuite: HpkeSuite | null = null;

/** The HPKE suite DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-128-GCM (stateless). */
function x25519Suite(): HpkeSuite {
  hpkeSuite ??= new HpkeSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Aes128Gcm() });
  return hpkeSuite;
}

/** The UTF-8 room id, 1-255 bytes, or `error(MALFORMED)`. */
export function roomIdBytes(roomId: string, error: CryptoErrorClass): Bytes {
  const raw = utf8(roomId);
  if (raw === null || raw.length < 1 || raw.length > 255) {
    throw new error(Reason.MALFORMED, "room id must be 1-255 bytes of UTF-8");
  }
  return raw;
}

/** A KEM identifier and the raw public key (X25519: 32 bytes; hybrid: ML-KEM-768
 * public key (1184) followed by the X25519 public key (32)). */
export class CallPublicKey {
  readonly key: Bytes;

  constructor(readonly kem: Kem, key: Uint8Array) {
    if (!isKem(kem) || key.length !== PUBLIC_SIZE[kem]) {
      throw new AnnouncementError(Reason.MALFORMED, "call public key has the wrong size");
    }
    this.key = copy(key);
  }

  /** HPKE single-shot seal (base mode); resolves to enc || ciphertext. */
  async seal(plaintext: Uint8Array, info: Uint8Array): Promise<Bytes> {
    if (this.kem !== Kem.X25519) throw new KeyMessageError(Reason.POLICY, unsupported(this.kem));
    const suite = x25519Suite();
    try {
      const recipientPublicKey = await suite.kem.deserializePublicKey(this.key);
      const { enc, ct } = await suite.seal({ recipientPublicKey, info: copy(info) }, copy(plaintext));
      return concat(new Uint8Array(enc), new Uint8Array(ct));
    } catch {
      // a low-order X25519 point, ...
      throw new KeyMessageError(Reason.BAD_KEY, "cannot seal to this call key");
    }
  }

  /** Reject with `AnnouncementError(MALFORMED)` unless one can seal to this key. */
  async check(): Promise<void> {
    if (this.kem !== Kem.X25519) throw new AnnouncementError(Reason.POLICY, unsupported(this.kem));
    try {
      await this.seal(new Uint8Array(0), CHECK_INFO);
    } catch {
      throw new AnnouncementError(Reason.MALFORMED, "unusable call public key");
    }
  }

  equals(other: CallPublicKey): boolean {
    return this.kem === other.kem && equal(this.key, other.key);
  }
}

/** An ephemeral HPKE key pair for one call (X25519 only). Discard it when the call ends. */
export class CallKeyPair {
  private constructor(private readonly keys: CryptoKeyPair, readonly publicKey: CallPublicKey) {}

  static async generate(kem: Kem = Kem.X25519): Promise<CallKeyPair> {
    if (kem !== Kem.X25519) throw new AnnouncementError(Reason.POLICY, unsupported(kem));
    const suite = x25519Suite();
    const keys = await suite.kem.generateKeyPair();
    const pub = new Uint8Array(await suite.kem.serializePublicKey(keys.publicKey));
    return new CallKeyPair(keys, new CallPublicKey(Kem.X25519, pub));
  }

  /** Deterministic X25519 call key from 32 bytes (test vectors only). */
  static async fromX25519Seed(seed: Uint8Array): Promise<CallKeyPair> {
    if (seed.length !== 32) throw new RangeError("an X25519 private key is 32 bytes");
    const suite = x25519Suite();
    const privateKey = await suite.kem.importKey("raw", copy(seed).buffer, false);
    const publicKey = await new X25519(new HkdfSha256()).derivePublicKey(privateKey);
    const pub = new Uint8Array(await suite.kem.serializePublicKey(publicKey));
    return new CallKeyPair({ privateKey, publicKey }, new CallPublicKey(Kem.X25519, pub));
  }

  /** HPKE single-shot open; any failure is `KeyMessageError(AUTH_FAILED)`. */
  async open(sealed: Uint8Array, info: Uint8Array): Promise<Bytes> {
    try {
      if (sealed.length < X25519_ENC_SIZE) throw new Error("short");
      const pt = await x25519Suite().open(
        { recipientKey: this.keys, enc: copy(sealed, 0, X25519_ENC_SIZE), info: copy(info) },
        copy(sealed, X25519_ENC_SIZE));
      return new Uint8Array(pt);
    } catch {
      throw new KeyMessageError(Reason.AUTH_FAILED, "cannot open sealed key");
    }
  }

  toString(): string {
    return "CallKeyPair(kem=X25519)";
  }
}

/** Refuse a KEM the call's policy does not allow (e.g. X25519 in a PQ-only call). */
export function checkKemPolicy(kem: Kem, allowed: ReadonlySet<Kem>): void {
  if (!allowed.has(kem)) throw new AnnouncementError(Reason.POLICY, `KEM ${KEM_NAME[kem]} not allowed in this call`);
}

export interface AnnouncementBinding {
  readonly roomId: string;
  readonly participantId: number;
  readonly identityKey: Uint8Array;
  readonly allowedKems?: ReadonlySet<Kem>;
  /** The role the roster gives the sender (not checked if absent). */
  readonly role?: string;
}

/** A participant's call public key and its role in the room, signed by its identity key. */
export class CallKeyAnnouncement {
  constructor(
    readonly roomId: string,
    readonly participantId: number,
    readonly epoch: number,
    readonly callKey: CallPublicKey,
    readonly identityKey: Bytes,
    readonly signature: Bytes,
    readonly role: string = "delegate",
  ) {}

  private static body(roomId: string, participantId: number, epoch: number, callKey: CallPublicKey,
                      identityKey: Uint8Array, role: string): Bytes {
    return new Writer()
      .u8(MSG_ANNOUNCEMENT)
      .u8(PROTOCOL_VERSION)
      .bytes8(roomIdBytes(roomId, AnnouncementError))
      .u32(participantId)
      .u32(epoch)
      .u8(roleCode(role))
      .u16(callKey.kem)
      .bytes16(callKey.key)
      .raw(identityKey)
      .bytes();
  }

  static async create(identity: Identity, roomId: string, participantId: number, epoch: number,
                      callKey: CallPublicKey, role = "delegate"): Promise<CallKeyAnnouncement> {
    const body = CallKeyAnnouncement.body(roomId, participantId, epoch, callKey, identity.publicKey, role);
    const signature = await identity.sign(concat(ANNOUNCEMENT_LABEL, body));
    return new CallKeyAnnouncement(roomId, participantId, epoch, callKey, copy(identity.publicKey), signature, role);
  }

  encode(): Bytes {
    return concat(this.ownBody(), this.signature);
  }

  private ownBody(): Bytes {
    return CallKeyAnnouncement.body(this.roomId, this.participantId, this.epoch, this.callKey, this.identityKey,
      this.role);
  }

  /** Parse (does not verify: call `verify`). */
  static decode(data: Uint8Array): CallKeyAnnouncement {
    const r = new Reader(data, AnnouncementError);
    if (r.u8() !== MSG_ANNOUNCEMENT) throw new AnnouncementError(Reason.MALFORMED, "not a call-key announcement");
    if (r.u8() !== PROTOCOL_VERSION) throw new AnnouncementError(Reason.MALFORMED, "unsupported protocol version");
    const roomId = fromUtf8(r.bytes8());
    if (roomId === null) throw new AnnouncementError(Reason.MALFORMED, "room id is not UTF-8");
    const participantId = r.u32();
    const epoch = r.u32();
    const code = r.u8();
    const role = ROLE_NAMES.get(code);
    if (role === undefined) throw new AnnouncementError(Reason.MALFORMED, `unknown role code ${code}`);
    const kemId = r.u16();
    if (!isKem(kemId)) throw new AnnouncementError(Reason.MALFORMED, `unknown KEM 0x${kemId.toString(16).padStart(4, "0")}`);
    const callKey = new CallPublicKey(kemId, r.bytes16());
    const identityKey = r.raw(PUBLIC_KEY_SIZE);
    const signature = r.raw(SIGNATURE_SIZE);
    r.end();
    if (roomId === "") throw new AnnouncementError(Reason.MALFORMED, "empty room id");
    return new CallKeyAnnouncement(roomId, participantId, epoch, callKey, identityKey, signature, role);
  }

  /** Check signature and binding against what the roster says about the sender, in
   * Python's order: identity key, signature, room, participant, role, KEM policy, usable
   * key. */
  async verify(binding: AnnouncementBinding): Promise<void> {
    const body = this.ownBody();
    if (!equal(this.identityKey, binding.identityKey)) {
      throw new AnnouncementError(Reason.BINDING, "identity key differs from the roster");
    }
    const problem = publicKeyProblem(binding.identityKey);
    if (problem !== null) throw new AnnouncementError(Reason.WEAK_KEY, problem); // one signature would fit any message
    if (!(await verify(binding.identityKey, this.signature, concat(ANNOUNCEMENT_LABEL, body)))) {
      throw new AnnouncementError(Reason.BAD_SIGNATURE);
    }
    if (this.roomId !== binding.roomId) throw new AnnouncementError(Reason.WRONG_ROOM);
    if (this.participantId !== binding.participantId) {
      throw new AnnouncementError(Reason.BINDING, "participant id differs from the roster");
    }
    if (binding.role !== undefined && this.role !== binding.role) {
      throw new AnnouncementError(Reason.ROLE_MISMATCH, `signed role ${this.role}, the roster says ${binding.role}`);
    }
    checkKemPolicy(this.callKey.kem, binding.allowedKems ?? ALL_KEMS);
    await this.callKey.check();
  }
}
