/**
 * The group verification code: one short code for the whole call's key state
 * (docs/PROTOCOL.md "Group code"; src/hotline/crypto/groupcode.py).
 *
 *     digest = SHA-256( "hotline/v1 group code" 0x00
 *                       || bytes8(room_id) || u32 epoch || u8 phase (PHASE_CODES)
 *                       || u16 cipher_suite || u8 k || kem_1 || ... || kem_k   (u16, sorted)
 *                       || u16 n || entry_1 || ... || entry_n )
 *     entry  = identity_public_key (32) || u16 kem || bytes16(call_public_key)
 *
 * Entries are sorted by their bytes. Shown as digits (4 groups of 5: group i is
 * bytes [5i, 5i+5) as a u40, mod 100000) and words (WORDS[digest[i]], i = 0..7).
 */

import { type Bytes, ascii, compare, concat } from "./bytes.js";
import { ALL_KEMS, type CallPublicKey, type Kem, roomIdBytes } from "./callkey.js";
import { PHASE_CODES, type Phase } from "./codes.gen.js";
import { AnnouncementError, Reason } from "./errors.js";
import { PUBLIC_KEY_SIZE } from "./identity.js";
import { DEFAULT_SUITE } from "./suites.js";
import { Writer } from "./wire.js";
import { WORDS } from "./wordlist.js";

const LABEL = ascii("hotline/v1 group code\0");

export class GroupCode {
  constructor(readonly digest: Bytes) {}

  get digits(): string {
    const groups: string[] = [];
    for (let i = 0; i < 4; i++) {
      let value = 0; // u40 < 2**53: exact as a number
      for (const b of this.digest.subarray(5 * i, 5 * i + 5)) value = value * 256 + b;
      groups.push(String(value % 100_000).padStart(5, "0"));
    }
    return groups.join(" ");
  }

  get words(): string {
    return Array.from(this.digest.subarray(0, 8), (b) => WORDS[b]).join(" ");
  }

  toString(): string {
    return this.digits;
  }
}

function entry(identityKey: Uint8Array, callKey: CallPublicKey): Bytes {
  if (identityKey.length !== PUBLIC_KEY_SIZE) throw new RangeError("identity key must be 32 bytes");
  return new Writer().raw(identityKey).u16(callKey.kem).bytes16(callKey.key).bytes();
}

export interface GroupCodeOptions {
  /** The call's phase ("open" if absent). */
  readonly phase?: string;
  readonly cipherSuite?: number;
  readonly kems?: ReadonlySet<Kem>;
}

/** Code for `members` given as [identity public key, call public key] pairs, in `phase`
 * of a call using `cipherSuite` and allowing `kems`. */
export async function groupCode(roomId: string, epoch: number,
                                members: Iterable<readonly [Uint8Array, CallPublicKey]>,
                                options: GroupCodeOptions = {}): Promise<GroupCode> {
  const phase = options.phase ?? "open";
  if (!Object.hasOwn(PHASE_CODES, phase)) throw new AnnouncementError(Reason.MALFORMED, `unknown phase '${phase}'`);
  const entries = Array.from(members, ([i, c]) => entry(i, c)).sort(compare);
  const kems = [...(options.kems ?? ALL_KEMS)].sort((a, b) => a - b);
  const w = new Writer().bytes8(roomIdBytes(roomId, AnnouncementError)).u32(epoch);
  w.u8(PHASE_CODES[phase as Phase]);
  w.u16(options.cipherSuite ?? DEFAULT_SUITE).u8(kems.length);
  for (const kem of kems) w.u16(kem);
  w.u16(entries.length);
  for (const e of entries) w.raw(e);
  const digest = await crypto.subtle.digest("SHA-256", concat(LABEL, w.bytes()));
  return new GroupCode(new Uint8Array(digest));
}

const NONCES_LABEL = ascii("hotline/v1 group code nonces\0");

/** The code shown for an epoch: the roster's code (`groupCode`) bound to every member's
 * revealed nonce, given as [identity public key, nonce] pairs (src/hotline/crypto/
 * groupcode.py `epoch_code`; the nonces come from codecommit.ts):
 *
 *     code = SHA-256("hotline/v1 group code nonces" 0x00 || roster_digest (32)
 *                    || u16 n || (identity_key || nonce) * n, sorted by their bytes) */
export async function epochCode(roster: GroupCode, nonces: Iterable<readonly [Uint8Array, Uint8Array]>,
): Promise<GroupCode> {
  const pairs = Array.from(nonces, ([i, n]) => concat(i, n)).sort(compare);
  if (pairs.some((p) => p.length !== PUBLIC_KEY_SIZE + 32)) throw new RangeError("identity keys and nonces must be 32 bytes");
  const w = new Writer().raw(roster.digest).u16(pairs.length);
  for (const p of pairs) w.raw(p);
  const digest = await crypto.subtle.digest("SHA-256", concat(NONCES_LABEL, w.bytes()));
  return new GroupCode(new Uint8Array(digest));
}
