/**
 * The call's phase in the key schedule: whom a key may be sealed to in each phase, and
 * whether a reopen is proven (the rules: index.ts). Python: keyschedule/phase.py.
 */

import { ProtocolError } from "../../errors.js";
import { CLOSED_OUT, PHASES, type Phase, REOPENERS } from "../codes.gen.js";
import { Reason } from "../errors.js";
import { verifyPhase } from "../phaseproof.js";
import type { PhaseChanged, PhaseRefused } from "./events.js";
import type { Peer } from "./peers.js";

const U32 = 2 ** 32 - 1;

/** A phase the server names: one of PHASES (ProtocolError otherwise). */
export function checkPhase(phase: string): Phase {
  if (!(PHASES as readonly string[]).includes(phase)) throw new ProtocolError(`unknown phase '${phase}'`);
  return phase as Phase;
}

/** The peers a key may be sealed to in `phase`: in the closed part none whose signed role
 * is shown out (CLOSED_OUT). */
export function keyed(peers: ReadonlyMap<number, Peer>, phase: string): Map<number, Peer> {
  if (phase !== "closed") return new Map(peers);
  return new Map([...peers].filter(([, p]) => !CLOSED_OUT.has(p.role)));
}

/** What a schedule knows to judge a reopen: its room, me, my key and signed role, my view,
 * my epoch before the change. */
export interface PhaseView {
  readonly roomId: string;
  readonly me: number;
  readonly myKey: Uint8Array;
  readonly myRole: string;
  readonly peers: ReadonlyMap<number, Peer>;
  readonly epoch: number;
}

interface ReopenRequest extends PhaseView {
  readonly by: number;
  readonly proof: Uint8Array;
}

/** The phase after `ev` for a schedule now in `current`: closing needs no proof; opening a
 * closed call needs a principal's proof, else it stays closed and the refusal is returned. */
export async function phaseAfter(current: Phase, ev: PhaseChanged, view: PhaseView): Promise<[Phase, PhaseRefused | null]> {
  const phase = checkPhase(ev.phase);
  const by = ev.by ?? 0;
  if (phase === "open" && current === "closed"
    && !(await reopenProven({ ...view, by, proof: ev.proof ?? new Uint8Array(0) }))) {
    return ["closed", { type: "phase_refused", epoch: ev.epoch, phase, by, reason: Reason.PHASE_UNPROVEN }];
  }
  return [phase, null];
}

/** Whether `proof` is a valid phase proof asking to open after `epoch` (mine before the
 * change), signed by `by`: me or a trusted member of my view, whose signed role may
 * reopen (REOPENERS). */
async function reopenProven(r: ReopenRequest): Promise<boolean> {
  if (!Number.isInteger(r.by) || r.by <= 0 || r.by > U32) return false;
  let key: Uint8Array;
  let role: string;
  if (r.by === r.me) {
    [key, role] = [r.myKey, r.myRole];
  } else {
    const peer = r.peers.get(r.by);
    if (peer === undefined || !peer.trusted) return false;
    [key, role] = [peer.identityKey, peer.role];
  }
  return REOPENERS.has(role)
    && await verifyPhase(key, r.proof, { roomId: r.roomId, signer: r.by, epoch: r.epoch, phase: "open" });
}
