/**
 * What the call view says about the connection, from the browser's own statistics:
 *
 * - the path: the selected ICE candidate pair of a connection (every media path of a room
 *   goes through the SFU; "relay over UDP|TCP|TLS" when the local candidate is a TURN
 *   relay, pathlabel.ts), and how often it changed;
 * - the quality: round-trip time, packet loss over the last interval and jitter of what
 *   we receive, graded good / fair / poor;
 * - the active speaker: the loudest decoded remote audio (or our own microphone), held
 *   for a moment so the highlight does not flicker.
 *
 * Audio levels come from decoded audio (after decryption) in this browser; no level
 * travels in clear text (the page negotiates no audio-level header extension).
 */

import { pathLabel } from "./pathlabel.js";
import type { PathSummary, QualitySummary } from "./view.js";

type Stat = Record<string, unknown>;

function stats(report: RTCStatsReport): Stat[] {
  const out: Stat[] = [];
  report.forEach((s: Stat) => out.push(s));
  return out;
}

export function statSum(report: RTCStatsReport, type: string, field: string): number {
  let n = 0;
  for (const s of stats(report)) if (s["type"] === type && typeof s[field] === "number") n += s[field] as number;
  return n;
}

export function statMax(report: RTCStatsReport, type: string, field: string): number {
  let n = 0;
  for (const s of stats(report)) if (s["type"] === type && typeof s[field] === "number") n = Math.max(n, s[field] as number);
  return n;
}

/** The selected candidate pair of a connection and its two candidates, if connected. */
export function selectedPath(report: RTCStatsReport): { pair: Stat; local: Stat; remote: Stat } | null {
  const all = stats(report);
  const byId = new Map(all.map((s) => [s["id"] as string, s]));
  let pair: Stat | undefined;
  for (const t of all) {
    if (t["type"] === "transport" && typeof t["selectedCandidatePairId"] === "string") {
      pair = byId.get(t["selectedCandidatePairId"]);
    }
  }
  pair ??= all.find((s) => s["type"] === "candidate-pair" && s["nominated"] === true && s["state"] === "succeeded");
  if (pair === undefined) return null;
  const local = byId.get(pair["localCandidateId"] as string);
  const remote = byId.get(pair["remoteCandidateId"] as string);
  return local && remote ? { pair, local, remote } : null;
}

export function describePath(report: RTCStatsReport, previous: PathSummary | null): PathSummary | null {
  const sel = selectedPath(report);
  if (sel === null) return previous;
  const localType = String(sel.local["candidateType"] ?? "unknown");
  const remoteAddress = `${String(sel.remote["address"] ?? sel.remote["ip"] ?? "?")}:${String(sel.remote["port"] ?? "?")}`;
  const protocol = String(sel.local["protocol"] ?? "udp");
  // how we reach our TURN server (Chromium, Firefox: relayProtocol of the local candidate)
  const relayProtocol = typeof sel.local["relayProtocol"] === "string" ? sel.local["relayProtocol"] : null;
  const changed = previous !== null && (previous.remoteAddress !== remoteAddress || previous.localType !== localType);
  return {
    label: pathLabel("sfu", localType, relayProtocol),
    localType, remoteAddress, protocol,
    changes: (previous?.changes ?? 0) + (changed ? 1 : 0),
  };
}

/** Counters of what we receive, summed over a connection's inbound streams. */
export interface Received {
  packetsReceived: number;
  packetsLost: number;
}

export function received(report: RTCStatsReport): Received {
  return { packetsReceived: statSum(report, "inbound-rtp", "packetsReceived"), packetsLost: statSum(report, "inbound-rtp", "packetsLost") };
}

/** Grade the connection from the receive counters' change since `before` and the rest. */
export function grade(report: RTCStatsReport, before: Received | null, now: Received): QualitySummary {
  const sel = selectedPath(report);
  const rtt = sel !== null && typeof sel.pair["currentRoundTripTime"] === "number" ? (sel.pair["currentRoundTripTime"] as number) * 1000 : null;
  let loss: number | null = null;
  if (before !== null) {
    const got = now.packetsReceived - before.packetsReceived;
    const lost = Math.max(0, now.packetsLost - before.packetsLost);
    if (got + lost > 0) loss = (100 * lost) / (got + lost);
  }
  const jitter = statMax(report, "inbound-rtp", "jitter") * 1000;
  if (rtt === null && loss === null) return { grade: "unknown", rttMs: null, lossPercent: null, jitterMs: null };
  const r = rtt ?? 0;
  const l = loss ?? 0;
  const g = r < 150 && l < 2 && jitter < 30 ? "good" : r < 300 && l < 8 && jitter < 60 ? "fair" : "poor";
  return { grade: g, rttMs: rtt, lossPercent: loss, jitterMs: jitter };
}

export function qualityText(q: QualitySummary): string {
  if (q.grade === "unknown") return "Connection: measuring…";
  const parts = [`Connection: ${q.grade}`];
  if (q.rttMs !== null) parts.push(`${Math.round(q.rttMs)} ms round trip`);
  if (q.lossPercent !== null) parts.push(`${q.lossPercent.toFixed(1)} % loss`);
  if (q.jitterMs !== null) parts.push(`${Math.round(q.jitterMs)} ms jitter`);
  return parts.join(" · ");
}

/** Picks the active speaker: the loudest above `threshold`. A new speaker takes over
 * when the current one went quiet or has held it for `holdMs`; after `holdMs` of
 * silence there is none. */
export class SpeakerPicker {
  private current: string | null = null;
  private since = 0;
  private heard = 0;

  constructor(private readonly threshold = 0.02, private readonly holdMs = 1200) {}

  update(levels: ReadonlyMap<string, number>, now: number): string | null {
    let loudest: string | null = null;
    let best = this.threshold;
    for (const [who, level] of levels) {
      if (level > best) {
        best = level;
        loudest = who;
      }
    }
    if (this.current !== null && !levels.has(this.current)) this.current = null; // left
    const currentLevel = this.current === null ? 0 : levels.get(this.current) ?? 0;
    if (loudest !== null && loudest !== this.current) {
      if (this.current === null || currentLevel < this.threshold || now - this.since >= this.holdMs) {
        this.current = loudest;
        this.since = now;
      }
    } else if (loudest === null && this.current !== null && now - this.heard >= this.holdMs) {
      this.current = null;
    }
    if (this.current !== null && (levels.get(this.current) ?? 0) >= this.threshold) this.heard = now;
    return this.current;
  }
}
