/**
 * Layout of SFrame key ids (KIDs) in Hotline (src/hotline/crypto/kid.py).
 *
 *     KID = participant_id << 6 | (generation mod 16) << 2 | slot
 *
 * participant_id (u32) is the sender's id in the room; generation is the sender's key
 * generation (only its low 4 bits are in the KID); slot (2 bits) is the media stream:
 * audio, video, screen, data. KIDs are bigint (u64 in the SFrame header).
 */

export const GENERATION_BITS = 4;
export const SLOT_BITS = 2;
export const MAX_PARTICIPANT_ID = 2 ** 32 - 1;

export const Slot = { AUDIO: 0, VIDEO: 1, SCREEN: 2, DATA: 3 } as const;
export type Slot = (typeof Slot)[keyof typeof Slot];
export const SLOTS: readonly Slot[] = [Slot.AUDIO, Slot.VIDEO, Slot.SCREEN, Slot.DATA];

export interface KidParts {
  readonly participantId: number;
  readonly generationLow: number;
  readonly slot: Slot;
}

export function makeKid(participantId: number, generation: number, slot: Slot = Slot.AUDIO): bigint {
  if (!Number.isInteger(participantId) || participantId < 0 || participantId > MAX_PARTICIPANT_ID) {
    throw new RangeError("participant id out of range");
  }
  if (!Number.isSafeInteger(generation) || generation < 0) throw new RangeError("generation must not be negative");
  if (!SLOTS.includes(slot)) throw new RangeError("slot must be 0-3");
  const low = generation % (1 << GENERATION_BITS);
  return (BigInt(participantId) << BigInt(GENERATION_BITS + SLOT_BITS)) | BigInt((low << SLOT_BITS) | slot);
}

/** The parts of a Hotline KID. Unlike Python's parse_kid, which returns any participant
 * id up to 2**58, this refuses a KID whose participant id does not fit in a u32: no
 * member can have it. */
export function parseKid(kid: bigint): KidParts {
  if (kid < 0n || kid >= 1n << 64n) throw new RangeError("a KID is a 64-bit unsigned integer");
  const participantId = kid >> BigInt(GENERATION_BITS + SLOT_BITS);
  if (participantId > BigInt(MAX_PARTICIPANT_ID)) throw new RangeError("KID of no participant (id above u32)");
  const low = Number(kid & 0x3fn);
  return {
    participantId: Number(participantId),
    generationLow: low >> SLOT_BITS,
    slot: (low & ((1 << SLOT_BITS) - 1)) as Slot,
  };
}

/** The KIDs of every slot of one sender key. */
export function kidsFor(participantId: number, generation: number): bigint[] {
  return SLOTS.map((s) => makeKid(participantId, generation, s));
}
