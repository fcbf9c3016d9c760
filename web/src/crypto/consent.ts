/**
 * A principal's consent to a recording (src/hotline/crypto/consent.py; the bytes are in
 * docs/PROTOCOL.md "Recording consent", the shared cases in tests/vectors/consent-v1.json):
 * its Ed25519 signature over the room, itself, the recorder (participant id and identity
 * key), the phase, the epoch the phase began in, and whether it grants or refuses. The
 * page signs with the device identity (a non-extractable WebCrypto key).
 */

import { type Bytes, ascii, concat } from "./bytes.js";
import { KeyMessageError, Reason } from "./errors.js";
import { type Identity, PUBLIC_KEY_SIZE, verify } from "./identity.js";
import { roomIdBytes } from "./callkey.js";
import { PHASE_CODES } from "./codes.gen.js";
import { Writer } from "./wire.js";

const LABEL = ascii("hotline/v1 recording consent\0");

export interface Consent {
  readonly roomId: string;
  readonly principal: number;
  readonly recorder: number;
  readonly recorderKey: Uint8Array;
  readonly phase: string;
  readonly phaseEpoch: number;
  readonly granted: boolean;
}

/** The signed bytes; KeyMessageError(MALFORMED) for fields out of range. */
export function consentMessage(c: Consent): Bytes {
  const code = (PHASE_CODES as Readonly<Record<string, number>>)[c.phase];
  if (code === undefined) throw new KeyMessageError(Reason.MALFORMED, `unknown phase ${c.phase}`);
  if (c.recorderKey.length !== PUBLIC_KEY_SIZE) {
    throw new KeyMessageError(Reason.MALFORMED, "a recorder identity key is 32 bytes");
  }
  try {
    const w = new Writer().bytes8(roomIdBytes(c.roomId, KeyMessageError)).u32(c.principal).u32(c.recorder)
      .raw(c.recorderKey).u8(code).u32(c.phaseEpoch).u8(c.granted ? 1 : 0);
    return concat(LABEL, w.bytes());
  } catch (e) {
    if (e instanceof KeyMessageError) throw e;
    throw new KeyMessageError(Reason.MALFORMED, "a consent field is out of range");
  }
}

/** The principal's signature (64 bytes) over `c`. */
export async function signConsent(identity: Identity, c: Consent): Promise<Bytes> {
  return identity.sign(consentMessage(c));
}

/** True if `signature` is the principal's valid signature of `c`; false for anything else. */
export async function verifyConsent(identityKey: Uint8Array, signature: Uint8Array, c: Consent): Promise<boolean> {
  let message: Bytes;
  try {
    message = consentMessage(c);
  } catch {
    return false;
  }
  return verify(identityKey, signature, message);
}
