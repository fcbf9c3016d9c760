/**
 * The call's phase as this client believes it (REQUIREMENTS L3; docs/SIGNALING.md
 * "Phases"), the twin of src/hotline/client/phase.py: open, or closed (the press is shown
 * out: no key, no media).
 *
 * The client shows the phase its key schedule holds: a change to closed is always taken
 * (it only takes keys away), a change to open only with a valid phase proof
 * (crypto/phaseproof.ts) of a trusted member of the view whose signed role is principal;
 * otherwise the call stays closed here and an alarm is raised (protocol/signaling.ts).
 */

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

  /** Take `phase` from `epoch` on; true if it changed. */
  take(phase: CallPhase, epoch: number, now: number): boolean {
    if (phase === this.phase) return false;
    this.phase = phase;
    this.epoch = epoch;
    this.changes.push([now, phase]);
    return true;
  }
}
