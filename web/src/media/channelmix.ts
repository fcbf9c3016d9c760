/**
 * Interpretation channels on the listener's side (pure): which received audio streams are
 * heard, and how loud, for a listener's choice. The same rule as the Python client's
 * (hotline.client.interpretation); both run protocol/conformance/interpretation.json.
 *
 * - Audio whose signalled channel is C (`member_channel`, `MemberInfo.channel`: the server
 *   lets only interpreters set one) is heard at full level only if the listener listens to
 *   C, and not at all otherwise (gain 0: the SFU should not even forward it; if a server
 *   does, it is not played).
 * - Audio in no channel ("") is the floor: it plays at the listener's floor level, a gain
 *   in dB from -40 to 0, or muted (null). Local only, never sent.
 */

/** The floor as a listening choice (no channel). */
export const FLOOR = "";
export const FLOOR_MIN_DB = -40;
export const FLOOR_MAX_DB = 0;

export interface Listening {
  /** The channels listened to besides the floor ([]: the floor only). */
  readonly channels: readonly string[];
  /** The floor's level in dB (-40..0), or null: muted. */
  readonly floorDb: number | null;
}

/** The linear gain of a floor level in dB (null: muted, 0). RangeError outside -40..0. */
export function floorGain(floorDb: number | null): number {
  if (floorDb === null) return 0;
  if (!Number.isFinite(floorDb) || floorDb < FLOOR_MIN_DB || floorDb > FLOOR_MAX_DB) {
    throw new RangeError(`a floor level is ${FLOOR_MIN_DB}..${FLOOR_MAX_DB} dB or muted, not ${floorDb}`);
  }
  return 10 ** (floorDb / 20);
}

/** The linear gain this listener plays audio signalled in `channel` at (0: not heard). */
export function streamGain(channel: string, listening: Listening): number {
  if (channel === FLOOR) return floorGain(listening.floorDb);
  return listening.channels.includes(channel) ? 1 : 0;
}

/** A gain in dB for display and measurement (-Infinity for 0). */
export function gainDb(gain: number): number {
  return gain <= 0 ? -Infinity : 20 * Math.log10(gain);
}
