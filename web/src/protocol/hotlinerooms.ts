/**
 * The media room of a hotline call or link test, derived by both ends, not taken on trust
 * (the twin of src/hotline/signaling/hotline_rooms.py): `hotline:NAME:ID`, ID being the
 * call's or test's 16 lowercase hex digits. The room name is bound into every announcement,
 * key message and the group code, so a `call_answered` or `linktest_start` naming another
 * room is refused.
 */

import { ProtocolError } from "../errors.js";

export function hotlineRoom(hotline: string, callId: string): string {
  return `hotline:${hotline}:${callId}`;
}

/** `room` if it is the room of `callId` on `hotline`; else throws ProtocolError. */
export function checkHotlineRoom(room: string, hotline: string, callId: string): string {
  if (!/^[0-9a-f]{16}$/.test(callId)) throw new ProtocolError("the server gave a call id that is not 16 hex digits");
  const expected = hotlineRoom(hotline, callId);
  if (room !== expected) {
    throw new ProtocolError(`the server named room ${JSON.stringify(room.slice(0, 80))} for this call; expected ${JSON.stringify(expected)}: refused`);
  }
  return room;
}
