/**
 * Code commitments and reveals: each member's fresh nonce for the group code of an epoch
 * (docs/PROTOCOL.md "Group code"; src/hotline/crypto/codecommit.py).
 *
 *     commitment = SHA-256("hotline/v1 code commitment" 0x00 || bytes8 room_id
 *                          || u32 sender || u32 epoch || nonce)
 *     body       = u8 type || u8 version || bytes8 room_id || u32 sender || u32 recipient
 *                  || u32 epoch || value (32: the commitment, or the nonce)
 *     message    = body || signature (Ed25519 over "hotline/v1 code message" 0x00 || body)
 *
 * type 0x03 is a commitment, 0x04 a reveal; both travel in the key relay like key
 * messages (type 0x02). Whether one fits the receiver's state is for the key schedule.
 */

import { type Bytes, ascii, concat, constantTimeEqual, fromUtf8 } from "./bytes.js";
import { PROTOCOL_VERSION, roomIdBytes } from "./callkey.js";
import { KeyMessageError, Reason } from "./errors.js";
import { type Identity, SIGNATURE_SIZE, verify } from "./identity.js";
import { Reader, Writer } from "./wire.js";

export const MSG_COMMIT = 0x03;
export const MSG_REVEAL = 0x04;
export const NONCE_SIZE = 32;
const COMMIT_LABEL = ascii("hotline/v1 code commitment\0");
const SIGN_LABEL = ascii("hotline/v1 code message\0");

/** The hash a member commits to before revealing `nonce`. */
export async function commitment(roomId: string, sender: number, epoch: number, nonce: Uint8Array): Promise<Bytes> {
  if (nonce.length !== NONCE_SIZE) throw new KeyMessageError(Reason.MALFORMED, "nonce must be 32 bytes");
  const w = new Writer().bytes8(roomIdBytes(roomId, KeyMessageError)).u32(sender).u32(epoch);
  return new Uint8Array(await crypto.subtle.digest("SHA-256", concat(COMMIT_LABEL, w.bytes(), nonce)));
}

export interface CodeMessageFields {
  readonly roomId: string;
  readonly sender: number;
  readonly recipient: number;
  readonly epoch: number;
  readonly value: Uint8Array;
}

/** A commitment (`kind` MSG_COMMIT, `value` the hash) or a reveal (MSG_REVEAL, the nonce). */
export class CodeMessage {
  constructor(
    readonly kind: number,
    readonly roomId: string,
    readonly sender: number,
    readonly recipient: number,
    readonly epoch: number,
    readonly value: Uint8Array,
    readonly signature: Uint8Array = new Uint8Array(0),
  ) {}

  body(): Bytes {
    return new Writer().u8(this.kind).u8(PROTOCOL_VERSION).bytes8(roomIdBytes(this.roomId, KeyMessageError))
      .u32(this.sender).u32(this.recipient).u32(this.epoch).raw(this.value).bytes();
  }

  static async sign(identity: Identity, kind: number, f: CodeMessageFields): Promise<CodeMessage> {
    if ((kind !== MSG_COMMIT && kind !== MSG_REVEAL) || f.value.length !== NONCE_SIZE) {
      throw new KeyMessageError(Reason.MALFORMED, "bad code message");
    }
    const draft = new CodeMessage(kind, f.roomId, f.sender, f.recipient, f.epoch, f.value);
    const signature = await identity.sign(concat(SIGN_LABEL, draft.body()));
    return new CodeMessage(kind, f.roomId, f.sender, f.recipient, f.epoch, f.value, signature);
  }

  encode(): Bytes {
    return concat(this.body(), this.signature);
  }

  /** Parse (does not verify). */
  static decode(data: Uint8Array): CodeMessage {
    const kind = data.length ? data[0]! : -1;
    if (kind !== MSG_COMMIT && kind !== MSG_REVEAL) throw new KeyMessageError(Reason.MALFORMED, "not a code message");
    const r = new Reader(data, KeyMessageError);
    r.u8();
    if (r.u8() !== PROTOCOL_VERSION) throw new KeyMessageError(Reason.MALFORMED, "unsupported protocol version");
    const roomId = fromUtf8(r.bytes8());
    if (roomId === null) throw new KeyMessageError(Reason.MALFORMED, "room id is not UTF-8");
    if (roomId === "") throw new KeyMessageError(Reason.MALFORMED, "empty room id");
    const sender = r.u32();
    const recipient = r.u32();
    const epoch = r.u32();
    const value = r.raw(NONCE_SIZE);
    const signature = r.raw(SIGNATURE_SIZE);
    r.end();
    return new CodeMessage(kind, roomId, sender, recipient, epoch, value, signature);
  }

  async verify(senderIdentity: Uint8Array): Promise<void> {
    if (!(await verify(senderIdentity, this.signature, concat(SIGN_LABEL, this.body())))) {
      throw new KeyMessageError(Reason.BAD_SIGNATURE);
    }
  }

  /** True if this reveal's nonce is the one committed to in `commitmentHash`. */
  async opens(commitmentHash: Uint8Array): Promise<boolean> {
    return constantTimeEqual(await commitment(this.roomId, this.sender, this.epoch, this.value), commitmentHash);
  }
}
