/**
 * The call's phase as this client believes it (REQUIREMENTS L3; docs/SIGNALING.md
 * "Phases"), the twin of src/hotline/client/phase.py: open, or closed (the press is shown
 * out: no key, no media).
 *
 * A change to closed is always taken (it only takes keys away). A change to open is taken
 * only with a valid phase proof (crypto/phaseproof.ts) by a member of this client's view
 * whose role is principal and whose device this client trusts; otherwise the call stays
 * closed here and an alarm is raised. The key schedule applies the same rule to the keys.
 */

import { verifyPhase } from "../crypto/phaseproof.js";
import type { PhaseChanged } from "./messages.js";

export type CallPhase = "open" | "closed";

export class PhaseView {
  phase: CallPhase = "open";
  /** The epoch the current phase began in. */
  epoch = 0;
  /** Every phase this client took, with the time it took it (seconds, the client's clock). */
  readonly changes: [number, CallPhase][] = [];
  /** Changes to open that were refused: what the server tried. */
  readonly alarms: string[] = [];

  joined(phase: CallPhase, epoch: number): void {
    this.phase = phase;
    this.epoch = epoch;
  }

  /** Why the reopening `msg` is not believed; null when its proof holds. */
  async openingProblem(msg: PhaseChanged, room: string, identityKeys: ReadonlyMap<number, Uint8Array>,
    roles: ReadonlyMap<number, string>, trusted: (pid: number) => boolean): Promise<string | null> {
    const key = identityKeys.get(msg.by);
    if (key === undefined) return "it names no member of the call as the one who reopened it";
    if (roles.get(msg.by) !== "principal") return `participant ${msg.by} who reopened it is no principal`;
    if (!trusted(msg.by)) return `participant ${msg.by} who reopened it is not a device this one trusts`;
    const ok = await verifyPhase(key, msg.proof, { roomId: room, signer: msg.by, epoch: msg.epoch - 1, phase: "open" });
    return ok ? null : `the proof of participant ${msg.by} is missing or does not verify`;
  }

  /** Take `phase` from `epoch` on; true if it changed. */
  take(phase: CallPhase, epoch: number, now: number): boolean {
    if (phase === this.phase) return false;
    this.phase = phase;
    this.epoch = epoch;
    this.changes.push([now, phase]);
    return true;
  }
}
