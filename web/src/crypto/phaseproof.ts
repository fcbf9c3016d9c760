/**
 * The phase proof: a member's signature asking for a call's phase to change
 * (docs/PROTOCOL.md "Phase proof"; src/hotline/crypto/phaseproof.py).
 *
 *     proof = Ed25519( "hotline/v1 phase change" 0x00 || bytes8 room_id
 *                      || u32 signer participant_id || u32 epoch || u8 phase )
 *
 * `epoch` is the signer's epoch before the change. The key schedule accepts a change from
 * closed to open only with the proof of a principal of its view; closing needs none.
 */

import { type Bytes, ascii, concat } from "./bytes.js";
import { roomIdBytes } from "./callkey.js";
import { PHASE_CODES, type Phase } from "./codes.gen.js";
import { KeyMessageError, Reason } from "./errors.js";
import { type Identity, verify } from "./identity.js";
import { Writer } from "./wire.js";

const LABEL = ascii("hotline/v1 phase change\0");

export interface PhaseRequest {
  readonly roomId: string;
  readonly signer: number;
  readonly epoch: number;
  readonly phase: string;
}

function message(r: PhaseRequest): Bytes {
  if (!Object.hasOwn(PHASE_CODES, r.phase)) throw new KeyMessageError(Reason.MALFORMED, `unknown phase '${r.phase}'`);
  const w = new Writer().bytes8(roomIdBytes(r.roomId, KeyMessageError)).u32(r.signer).u32(r.epoch);
  return concat(LABEL, w.u8(PHASE_CODES[r.phase as Phase]).bytes());
}

/** The proof (64 bytes) that participant `signer` asks for `phase` after `epoch`. */
export function signPhase(identity: Identity, request: PhaseRequest): Promise<Bytes> {
  return identity.sign(message(request));
}

/** Whether `proof` is `signer`'s valid signature (strict Ed25519) asking for `phase` after
 * `epoch` in `roomId`; false for anything else, ids out of range too. */
export async function verifyPhase(identityKey: Uint8Array, proof: Uint8Array, request: PhaseRequest): Promise<boolean> {
  let data: Bytes;
  try {
    data = message(request);
  } catch {
    return false;
  }
  return verify(identityKey, proof, data);
}
