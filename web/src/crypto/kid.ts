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

/** The slot each media kind must carry (kid.py KIND_SLOTS). */
export const KIND_SLOTS: Readonly<Record<string, Slot>> = { audio: Slot.AUDIO, video: Slot.VIDEO };

export const WRONG_PARTICIPANT = "wrong_participant";
export const WRONG_SLOT = "wrong_slot";
export type StreamKidVerdict = typeof WRONG_PARTICIPANT | typeof WRONG_SLOT | null;

/**
 * null if a frame under `kid` may be shown in a stream of `kind` ("audio" or "video")
 * attributed to `participantId`; else why it is dropped: "wrong_participant" (another
 * sender's KID: the server swapped or relabelled streams, or a member sent under
 * another's id) or "wrong_slot" (the KID's slot is not the kind's). The participant is
 * checked first. Same rule as kid.py stream_kid_verdict (tests/vectors/kid-binding.json);
 * a participant id no member can have (e.g. -1) matches nothing.
 */
export function streamKidVerdict(kid: bigint, participantId: number, kind: string): StreamKidVerdict {
  if (kid < 0n || kid >= 1n << 64n) throw new RangeError("a KID is a 64-bit unsigned integer");
  if (!Number.isInteger(participantId) || kid >> BigInt(GENERATION_BITS + SLOT_BITS) !== BigInt(participantId)) {
    return WRONG_PARTICIPANT;
  }
  const wanted = Object.prototype.hasOwnProperty.call(KIND_SLOTS, kind) ? KIND_SLOTS[kind] : undefined;
  if (wanted === undefined || Number(kid & BigInt((1 << SLOT_BITS) - 1)) !== wanted) return WRONG_SLOT;
  return null;
}
