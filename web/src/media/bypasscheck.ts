/**
 * The fail-closed check's comparisons (pipeline.ts runs them every checkIntervalMs): the
 * browser's own counts (getStats) of a sender or receiver against its transform's
 * counters in the worker, and the senders and receivers of a guarded connection that
 * move media without a transform.
 *
 *     outbound video   framesEncoded     <= frames into the transform + slack
 *     outbound audio   packetsSent       <= frames into the transform + slack (1 Opus frame per packet)
 *     inbound video    framesDecoded     <= frames out of the transform (decrypted) + slack
 *     inbound audio    packetsReceived   <= frames into the transform + slack
 */

import type { Direction, MediaKind, TransformCounters } from "./messages.js";

export interface FatalDetail {
  /** bypass: a transform saw fewer frames than the browser sent or decoded;
   * unprotected: media moved on a sender/receiver without a transform; worker: the
   * worker died or stopped answering. */
  readonly reason: "bypass" | "unprotected" | "worker";
  readonly message: string;
  readonly transform?: string;
  readonly direction?: Direction;
  readonly kind?: MediaKind;
  /** The getStats figure compared, its value, and the worker's figure. */
  readonly stat?: string;
  readonly statValue?: number;
  readonly transformed?: number;
}

export class FatalMediaError extends Error {
  constructor(readonly detail: FatalDetail) {
    super(detail.message);
    this.name = "FatalMediaError";
  }
}

/** A sender or receiver with a transform of the pipeline. */
export interface Tracked {
  readonly id: string;
  readonly direction: Direction;
  readonly kind: MediaKind;
  readonly sender?: RTCRtpSender;
  readonly receiver?: RTCRtpReceiver;
}

function statNumber(report: RTCStatsReport, type: string, field: string): number | null {
  let total: number | null = null;
  report.forEach((s: Record<string, unknown>) => {
    if (s["type"] === type && typeof s[field] === "number") total = (total ?? 0) + (s[field] as number);
  });
  return total;
}

/** The getStats figure of a sender or receiver has moved (the check compared media). */
export function measured(t: Tracked, report: RTCStatsReport): boolean {
  const stat = t.direction === "send" ? (t.kind === "video" ? "framesEncoded" : "packetsSent")
    : (t.kind === "video" ? "framesDecoded" : "packetsReceived");
  return (statNumber(report, t.direction === "send" ? "outbound-rtp" : "inbound-rtp", stat) ?? 0) > 0;
}

/** A bypass of `t`'s transform (`c`: its counters), or null. `slack`: frames (video) or
 * packets (audio) a stat may run ahead of the worker (in flight). */
export function compare(t: Tracked, report: RTCStatsReport, c: TransformCounters | undefined, slack: number): FatalDetail | null {
  let stat: string;
  let transformed: number;
  const framesIn = c?.framesIn ?? 0;
  if (t.direction === "send") {
    stat = t.kind === "video" ? "framesEncoded" : "packetsSent";
    transformed = framesIn;
  } else if (t.kind === "video") {
    stat = "framesDecoded";
    transformed = c?.framesOut ?? 0;
  } else {
    stat = "packetsReceived";
    transformed = framesIn;
  }
  const value = statNumber(report, t.direction === "send" ? "outbound-rtp" : "inbound-rtp", stat);
  if (value === null) return null; // nothing sent or received yet
  if (value <= transformed + slack) return null;
  return {
    reason: "bypass", transform: t.id, direction: t.direction, kind: t.kind, stat, statValue: value, transformed,
    message: `E2EE bypass: ${t.direction} ${t.kind} ${stat}=${value} but only ${transformed} frames went through the transform`,
  };
}

/** A sender or receiver of a guarded connection that moves media without a transform
 * (`attached`: those that have one), or null. */
export async function unprotected(guarded: readonly RTCPeerConnection[],
  attached: WeakMap<RTCRtpSender | RTCRtpReceiver, string>): Promise<FatalDetail | null> {
  for (const pc of guarded) {
    if (pc.connectionState === "closed") continue;
    const ends: [RTCRtpSender | RTCRtpReceiver, Direction][] = [
      ...pc.getSenders().map((x) => [x, "send"] as [RTCRtpSender, Direction]),
      ...pc.getReceivers().map((x) => [x, "recv"] as [RTCRtpReceiver, Direction]),
    ];
    for (const [end, direction] of ends) {
      if (attached.has(end) || end.track === null) continue;
      const report = await end.getStats();
      const stat = direction === "send" ? "packetsSent" : "packetsReceived";
      const value = statNumber(report, direction === "send" ? "outbound-rtp" : "inbound-rtp", stat);
      if (value !== null && value > 0) {
        const kind = end.track.kind as MediaKind;
        return {
          reason: "unprotected", direction, kind, stat, statValue: value, transformed: 0,
          message: `E2EE bypass: a ${direction} ${kind} stream without an E2EE transform moved ${value} packets`,
        };
      }
    }
  }
  return null;
}
