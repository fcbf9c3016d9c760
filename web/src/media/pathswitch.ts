/**
 * Which path a two-party call sends its media on: the path switching policy.
 *
 * Pure: no DOM, no RTCPeerConnection; time is passed in (seconds, any monotonic clock).
 * The Python client has the same module (src/hotline/client/pathswitch.py), and both run
 * the same conformance file (protocol/conformance/path-switch.json: the thresholds below
 * and timelines of inputs with the decisions expected).
 *
 * Two paths stay up (hot standby): "sfu" and "direct"; media is sent on the active one,
 * with the same SFrame keys and counters on both (a switch needs no rekey). The rules, in
 * order (the first that applies wins):
 *  1. nothing before the first path is active (the first to connect is), nothing unless
 *     the other path is `connected`;
 *  2. the active path `failed` or `closed`: at once (`failed`);
 *  3. the active path brought the far end's media and then nothing for `silent_s`,
 *     counted from its last packet or from when it became active (`silent`);
 *  4. the active path silent for `follow_s` and the other path brought the far end's
 *     media within `follow_s`, not within `dwell_s` of our last switch (`far_end_moved`);
 *  5. the preferred path is up, and we did not leave it since its connection was made
 *     (it went silent or failed, or the far end never came onto it), not within
 *     `dwell_s` of our last switch (`preferred`).
 *
 * Why these values: docs/reliability.md ("Path switching").
 */

export type Path = "sfu" | "direct";
export const PATHS: readonly Path[] = ["sfu", "direct"];
/** Why the active path changes. */
export type Reason = "failed" | "silent" | "far_end_moved" | "preferred";
/** What each path is called where people see it (the page's #media-path). */
export const LABELS: Readonly<Record<Path, string>> = { sfu: "via SFU", direct: "direct" };

/** Seconds; the conformance file holds the same values. */
export interface Thresholds {
  readonly silent_s: number;
  readonly follow_s: number;
  readonly dwell_s: number;
}

export const THRESHOLDS: Thresholds = { silent_s: 0.8, follow_s: 0.3, dwell_s: 1.0 };

/** A decision to send on `to` from now on, and why. */
export interface Switch {
  readonly to: Path;
  readonly reason: Reason;
  readonly text: string;
}

interface PathState {
  state: string;
  mediaAt: number | null; // last packet of the far end's media on it
  abandoned: boolean; // we left it since its connection was made
}

export function other(path: Path): Path {
  return path === "sfu" ? "direct" : "sfu";
}

export class PathPolicy {
  active: Path | null = null;
  /** When the active path became active. */
  activeSince = 0;
  private readonly paths: Record<Path, PathState> = {
    sfu: { state: "new", mediaAt: null, abandoned: false },
    direct: { state: "new", mediaAt: null, abandoned: false },
  };

  constructor(readonly prefer: Path = "direct", readonly thresholds: Thresholds = THRESHOLDS) {}

  /** `path`'s connection changed state (`new`: a new connection replaced it). */
  connection(path: Path, state: string, now: number): void {
    const p = this.paths[path];
    if (state === "new") {
      p.abandoned = false;
      p.mediaAt = null;
    }
    p.state = state;
    if (this.active === null && state === "connected") this.switched(path, now);
  }

  /** A packet of the far end's media arrived on `path` at `at`. */
  media(path: Path, at: number): void {
    const p = this.paths[path];
    if (p.mediaAt === null || at > p.mediaAt) p.mediaAt = at;
  }

  /** The caller now sends on `to`. */
  switched(to: Path, now: number): void {
    if (this.active !== null && this.active !== to) this.paths[this.active].abandoned = true;
    this.active = to;
    this.activeSince = now;
  }

  state(path: Path): string {
    return this.paths[path].state;
  }

  /** We left `path` since its connection was made (it needs a new one). */
  left(path: Path): boolean {
    return this.paths[path].abandoned;
  }

  private quiet(path: Path, now: number): number {
    const p = this.paths[path];
    const last = p.mediaAt === null ? this.activeSince : Math.max(p.mediaAt, this.activeSince);
    return now - last;
  }

  /** Whether to send on the other path from now on, and why. */
  decide(now: number): Switch | null {
    const t = this.thresholds;
    if (this.active === null) return null;
    const to = other(this.active);
    const target = this.paths[to];
    if (target.state !== "connected") return null;
    const current = this.paths[this.active];
    if (current.state === "failed" || current.state === "closed") {
      return { to, reason: "failed", text: `${LABELS[this.active]} connection ${current.state}` };
    }
    const quiet = this.quiet(this.active, now);
    if (current.mediaAt !== null && quiet > t.silent_s) {
      return { to, reason: "silent", text: `nothing from the far end ${LABELS[this.active]} for ${quiet.toFixed(1)} s` };
    }
    const settled = now - this.activeSince >= t.dwell_s;
    if (settled && quiet > t.follow_s && target.mediaAt !== null && now - target.mediaAt <= t.follow_s) {
      return { to, reason: "far_end_moved", text: `the far end sends ${LABELS[to]}` };
    }
    if (settled && to === this.prefer && !target.abandoned) {
      return { to, reason: "preferred", text: `${LABELS[to]} is up` };
    }
    return null;
  }
}
