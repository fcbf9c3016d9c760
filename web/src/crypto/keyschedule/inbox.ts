/**
 * Incoming key and code messages before the schedule looks inside: the one check that a
 * message is for this room and for me, and the bounded wait of messages for a later epoch.
 * Python: keyschedule/inbox.py.
 */

import { KeyMessageError, Reason } from "../errors.js";

/** Key messages may come at most this many epochs ahead of ours (and wait for it). */
export const MAX_EPOCHS_AHEAD = 8;

/** A key or code message must be for this room and for me. */
export function checkAddressed(msg: { readonly roomId: string; readonly recipient: number }, roomId: string, me: number): void {
  if (msg.roomId !== roomId) throw new KeyMessageError(Reason.WRONG_ROOM);
  if (msg.recipient !== me) throw new KeyMessageError(Reason.WRONG_RECIPIENT);
}

/** Messages that came for a later epoch, kept (at most `limit`, the oldest dropped:
 * unsigned junk cannot block a real one) until that epoch arrives. */
export class Pending {
  private items: [number, Uint8Array][] = []; // (epoch, data)

  constructor(private readonly limit: number) {}

  hold(current: number, epoch: number, data: Uint8Array): void {
    if (epoch > current + MAX_EPOCHS_AHEAD) throw new KeyMessageError(Reason.STALE, "message too far ahead");
    if (this.items.length >= this.limit) this.items.shift();
    this.items.push([epoch, data]);
  }

  /** The messages of `epoch` (now current); those of earlier epochs are dropped. */
  take(epoch: number): Uint8Array[] {
    const ready = this.items.filter(([e]) => e === epoch).map(([, d]) => d);
    this.items = this.items.filter(([e]) => e > epoch);
    return ready;
  }

  epochs(): number[] {
    return this.items.map(([e]) => e);
  }
}
