/**
 * Membership: the peers a key schedule keeps, and the checks of roster events (epochs that
 * follow each other, participant ids, announcements that fit the roster). Python:
 * keyschedule/peers.py.
 */

import { ProtocolError } from "../../errors.js";
import { CallKeyAnnouncement } from "../callkey.js";
import { AnnouncementError, Reason } from "../errors.js";
import type { KeyScheduleConfig, Member, TrustDecision } from "./events.js";

export interface Peer {
  readonly participantId: number;
  readonly identityKey: Uint8Array;
  readonly announcement: CallKeyAnnouncement;
  generation: number; // last generation accepted from this peer
  kids: readonly bigint[];
  trusted: boolean; // verified by this device: keys are sealed to it and taken from it
  held: Uint8Array | null; // its last key message while untrusted (opened if it is accepted)
  readonly role: string; // signed in its announcement, and the roster's
}

/** Keys to retire at `at`. */
export interface Deadline {
  readonly at: number;
  readonly kids: readonly bigint[];
}

const U32 = 2 ** 32 - 1;

function isU32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= U32;
}

/** A roster event's epoch: in range, and after my join exactly `current` + 1. */
export function checkEpoch(current: number, epoch: number): void {
  if (!isU32(epoch)) throw new ProtocolError("roster epoch out of range");
  if (current >= 0 && epoch !== current + 1) {
    throw new ProtocolError(`roster epoch ${epoch} does not follow epoch ${current}`);
  }
}

/** New roster ids: in range, distinct, neither me nor anyone already listed. */
export function checkIds(ids: readonly number[], me: number, roster: ReadonlySet<number>): void {
  if (![...ids, me].every(isU32)) throw new ProtocolError("participant id out of range");
  if (new Set(ids).size !== ids.length || ids.includes(me) || ids.some((i) => roster.has(i))) {
    throw new ProtocolError("roster has duplicate participant ids");
  }
}

/** Parse and verify a roster entry's announcement (rejects with AnnouncementError).
 * A member joining now must announce the epoch of its join; one already in the call
 * must have announced an earlier epoch. This keeps an old announcement from being
 * replayed into a later join. */
export async function verifyMember(config: KeyScheduleConfig, m: Member, joinedEpoch: number | null, epoch: number,
  trusted: TrustDecision): Promise<Peer> {
  const ann = CallKeyAnnouncement.decode(m.announcement);
  await ann.verify({
    roomId: config.roomId, participantId: m.participantId, identityKey: m.identityKey,
    allowedKems: config.allowedKems, role: m.role ?? "delegate",
  });
  const fits = joinedEpoch !== null ? ann.epoch === joinedEpoch : ann.epoch < epoch;
  if (!fits) throw new AnnouncementError(Reason.STALE, "announcement epoch does not fit the roster");
  const verdict = Boolean(await trusted(m));
  return { participantId: m.participantId, identityKey: m.identityKey, announcement: ann, generation: -1, kids: [], trusted: verdict, held: null,
    role: ann.role };
}
