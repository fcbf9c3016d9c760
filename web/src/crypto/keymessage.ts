/**
 * Key messages: one sender's base key, sealed to one recipient, signed by the sender
 * (docs/PROTOCOL.md "Key message"; src/hotline/crypto/keymessage.py).
 *
 *     u8 type = 0x02 | u8 version = 1 | bytes8 room_id | u32 sender | u32 recipient
 *     u32 epoch | u32 generation | u64 kid | u16 cipher_suite      (= header)
 *     bytes16 sealed | [64] signature
 *
 * sealed    = HPKE base-mode Seal(pkR, info = "hotline/v1 key message" 0x00 || header,
 *             aad = "", pt = base_key)
 * signature = Ed25519 over "hotline/v1 key message" 0x00 || header || bytes16(sealed)
 *
 * `open` checks the signature, the binding (room, recipient, KID layout) and decrypts,
 * as Python's KeyMessage.open. Freshness (epoch, generation, known sender, the call's
 * suite) depends on the receiver's state and belongs to the key schedule.
 */

import { type Bytes, ascii, concat, fromUtf8 } from "./bytes.js";
import { type CallKeyPair, type CallPublicKey, PROTOCOL_VERSION, roomIdBytes } from "./callkey.js";
import { KeyMessageError, Reason } from "./errors.js";
import { type Identity, SIGNATURE_SIZE, verify } from "./identity.js";
import { makeKid } from "./kid.js";
import { isCipherSuite } from "./suites.js";
import { Reader, Writer } from "./wire.js";

export const MSG_KEY = 0x02;
export const BASE_KEY_SIZE = 32;
const LABEL = ascii("hotline/v1 key message\0");
/** Largest sealed part we accept (hybrid KEM enc 1120 + key + tag, with room to spare). */
const MAX_SEALED = 4096;

export interface KeyMessageFields {
  readonly roomId: string;
  readonly sender: number;
  readonly recipient: number;
  readonly epoch: number;
  readonly generation: number;
}

export interface SealParams extends KeyMessageFields {
  readonly cipherSuite: number;
  readonly baseKey: Uint8Array;
}

export class KeyMessage {
  constructor(
    readonly roomId: string,
    readonly sender: number,
    readonly recipient: number,
    readonly epoch: number,
    readonly generation: number,
    readonly kid: bigint,
    readonly cipherSuite: number,
    readonly sealed: Bytes,
    readonly signature: Bytes,
  ) {}

  /** Everything before `sealed`: the HPKE `info` after the label. */
  header(): Bytes {
    return new Writer()
      .u8(MSG_KEY)
      .u8(PROTOCOL_VERSION)
      .bytes8(roomIdBytes(this.roomId, KeyMessageError))
      .u32(this.sender)
      .u32(this.recipient)
      .u32(this.epoch)
      .u32(this.generation)
      .u64(this.kid)
      .u16(this.cipherSuite)
      .bytes();
  }

  private signed(): Bytes {
    return concat(LABEL, this.header(), new Writer().bytes16(this.sealed).bytes());
  }

  /** Seal `baseKey` for `recipient` and sign the result as `sender`. */
  static async seal(identity: Identity, to: CallPublicKey, p: SealParams): Promise<KeyMessage> {
    if (p.baseKey.length !== BASE_KEY_SIZE) throw new KeyMessageError(Reason.BAD_KEY, "base key must be 32 bytes");
    const kid = makeKid(p.sender, p.generation);
    const empty = new Uint8Array(0);
    const draft = new KeyMessage(p.roomId, p.sender, p.recipient, p.epoch, p.generation, kid, p.cipherSuite, empty, empty);
    const sealed = await to.seal(p.baseKey, concat(LABEL, draft.header()));
    const unsigned = new KeyMessage(p.roomId, p.sender, p.recipient, p.epoch, p.generation, kid, p.cipherSuite, sealed, empty);
    const signature = await identity.sign(unsigned.signed());
    return new KeyMessage(p.roomId, p.sender, p.recipient, p.epoch, p.generation, kid, p.cipherSuite, sealed, signature);
  }

  encode(): Bytes {
    return concat(this.header(), new Writer().bytes16(this.sealed).bytes(), this.signature);
  }

  /** Parse (does not verify or open). */
  static decode(data: Uint8Array): KeyMessage {
    const r = new Reader(data, KeyMessageError);
    if (r.u8() !== MSG_KEY) throw new KeyMessageError(Reason.MALFORMED, "not a key message");
    if (r.u8() !== PROTOCOL_VERSION) throw new KeyMessageError(Reason.MALFORMED, "unsupported protocol version");
    const roomId = fromUtf8(r.bytes8());
    if (roomId === null) throw new KeyMessageError(Reason.MALFORMED, "room id is not UTF-8");
    const sender = r.u32();
    const recipient = r.u32();
    const epoch = r.u32();
    const generation = r.u32();
    const kid = r.u64();
    const suite = r.u16();
    const sealed = r.bytes16();
    const signature = r.raw(SIGNATURE_SIZE);
    r.end();
    if (roomId === "") throw new KeyMessageError(Reason.MALFORMED, "empty room id");
    if (!isCipherSuite(suite)) {
      throw new KeyMessageError(Reason.MALFORMED, `unknown cipher suite 0x${suite.toString(16).padStart(4, "0")}`);
    }
    if (!(sealed.length > 0 && sealed.length <= MAX_SEALED)) throw new KeyMessageError(Reason.MALFORMED, "sealed key has a bad size");
    return new KeyMessage(roomId, sender, recipient, epoch, generation, kid, suite, sealed, signature);
  }

  /** Verify signature and binding, then resolve to the base key. */
  async open(recipientKey: CallKeyPair, senderIdentity: Uint8Array,
             expected: { readonly roomId: string; readonly recipient: number }): Promise<Bytes> {
    if (!(await verify(senderIdentity, this.signature, this.signed()))) throw new KeyMessageError(Reason.BAD_SIGNATURE);
    if (this.roomId !== expected.roomId) throw new KeyMessageError(Reason.WRONG_ROOM);
    if (this.recipient !== expected.recipient) throw new KeyMessageError(Reason.WRONG_RECIPIENT);
    if (this.kid !== makeKid(this.sender, this.generation)) {
      throw new KeyMessageError(Reason.BINDING, "kid does not match sender and generation");
    }
    const baseKey = await recipientKey.open(this.sealed, concat(LABEL, this.header()));
    if (baseKey.length !== BASE_KEY_SIZE) throw new KeyMessageError(Reason.MALFORMED, "base key has a bad size");
    return baseKey;
  }
}
