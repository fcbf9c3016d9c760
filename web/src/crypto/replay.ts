/**
 * Replay window for received SFrame counters (RFC 9605 §9.3 leaves it to us;
 * src/hotline/crypto/replay.py, same rules).
 *
 * A sliding bitmap per key: a counter is accepted once; a counter within `size` below
 * the highest accepted one is accepted if not seen yet (reordering); anything older is
 * refused. `check` runs before decryption and changes nothing; `accept` runs only after
 * the frame authenticated, so forged frames cannot move the window.
 */

import { Reason, SFrameError } from "./errors.js";

export const DEFAULT_WINDOW = 256;

export class ReplayWindow {
  readonly size: number;
  private readonly mask: bigint;
  private highest = -1n;
  private bits = 0n; // bit i set: counter (highest - i) was accepted

  constructor(size: number = DEFAULT_WINDOW) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError("replay window size must be positive");
    this.size = size;
    this.mask = (1n << BigInt(size)) - 1n;
  }

  /** Throw SFrameError if `ctr` was seen or is too old. */
  check(ctr: bigint): void {
    if (ctr > this.highest) return;
    const offset = this.highest - ctr;
    if (offset >= BigInt(this.size)) throw new SFrameError(Reason.TOO_OLD, "counter below the replay window");
    if ((this.bits >> offset) & 1n) throw new SFrameError(Reason.REPLAYED, "counter already received");
  }

  /** Record `ctr` as received (call after `check` and authentication). */
  accept(ctr: bigint): void {
    if (ctr > this.highest) {
      const shift = ctr - this.highest;
      // Never shift by more than the window: counters may jump by 2**64.
      const kept = shift < BigInt(this.size) ? this.bits << shift : 0n;
      this.bits = (kept | 1n) & this.mask;
      this.highest = ctr;
    } else {
      this.bits |= 1n << (this.highest - ctr);
    }
  }
}
