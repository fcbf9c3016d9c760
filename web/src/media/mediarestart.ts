/**
 * When the page replaces its media connections (`media_restart`): the path-loss policy.
 *
 * Pure: no DOM, no RTCPeerConnection; time is passed in (seconds, any monotonic clock).
 * The Python client has the same module (src/hotline/client/mediarestart.py), and both
 * run the same conformance file (protocol/conformance/media-restart.json: the thresholds
 * below and timelines of inputs with the decisions expected).
 *
 * The caller tells the policy what happens (the watch starts, a connection's state
 * changes, something is received, our addresses change, a restart is queued, sent and
 * answered) and asks `decide` after each of them and on a timer. The rules, in order
 * (the first that applies wins):
 *  1. nothing before `start`, nothing while a restart is queued;
 *  2. our addresses changed: at once (the old path may be gone);
 *  3. a restart sent and not answered (`media_restarted`) for `setup_timeout_s`;
 *  4. no connection at all (listening only, nobody publishes yet): nothing to watch;
 *  5. a connection `failed` or `closed`: at once;
 *  6. the path connection (publish; subscribe when listening only) not `connected`
 *     `setup_timeout_s` after the first of them was made;
 *  7. a connection `disconnected` for longer than `disconnected_s`;
 *  8. nothing received on the path connection for longer than `silent_s` (the SFU sends a
 *     receiver report every second), `silent_listening_s` with no publish connection.
 *
 * Why these values: docs/reliability.md ("Media restart policy").
 */

export type Connection = "publish" | "subscribe";
/** Why the media is restarted (the detail text goes to the notice and the server). */
export type Reason = "address_change" | "unanswered" | "failed" | "setup_timeout" | "disconnected" | "silent";

/** Seconds; the conformance file holds the same values. */
export interface Thresholds {
  readonly silent_s: number;
  readonly silent_listening_s: number;
  readonly disconnected_s: number;
  readonly setup_timeout_s: number;
}

export const THRESHOLDS: Thresholds = {
  silent_s: 3.0,
  silent_listening_s: 6.0,
  disconnected_s: 2.0,
  setup_timeout_s: 8.0,
};

/** A decision to restart the media: why, and a human-readable text. */
export interface Restart {
  readonly reason: Reason;
  readonly text: string;
}

interface Conn {
  state: string;
  disconnectedSince: number | null;
  mediaAt: number | null; // last time anything was received on it
}

export class MediaRestartPolicy {
  /** A restart decided, media_restart not sent yet. */
  queued = false;
  /** media_restart sent, media_restarted not back yet. */
  pending = 0;
  private since: number | null = null; // started; when the first connection was made
  private connectedAt: number | null = null; // ... and when the path connected
  private readonly conns = new Map<Connection, Conn>();
  private addressChanged = false;

  constructor(readonly thresholds: Thresholds = THRESHOLDS) {}

  // ------------------------------------------------------------------ what happens

  /** The call is joined: watch its media connections from now on. */
  start(now: number): void {
    this.since = now;
  }

  /** `conn` was made (`new`) or its connection state changed. */
  connection(conn: Connection, state: string, now: number): void {
    if (this.conns.size === 0 && this.since !== null) this.since = now; // the first of the new connections: its setup starts
    let c = this.conns.get(conn);
    if (c === undefined) {
      c = { state: "new", disconnectedSince: null, mediaAt: null };
      this.conns.set(conn, c);
    }
    c.state = state;
    if (state !== "disconnected") c.disconnectedSince = null;
    else c.disconnectedSince ??= now;
    if (state === "connected" && conn === this.path && this.connectedAt === null) this.connectedAt = now;
  }

  /** Something was received on `conn` at `at`. */
  media(conn: Connection, at: number): void {
    const c = this.conns.get(conn);
    if (c !== undefined && (c.mediaAt === null || at > c.mediaAt)) c.mediaAt = at;
  }

  /** Our addresses changed (the network moved us). */
  addressChange(): void {
    if (this.since !== null && !this.queued) this.addressChanged = true;
  }

  /** A restart was queued (decided here, or asked for by the user). */
  restart(now: number): void {
    this.queued = true;
    this.addressChanged = false;
    this.since = now;
    this.connectedAt = null;
    for (const c of this.conns.values()) {
      c.disconnectedSince = null;
      c.mediaAt = null;
    }
  }

  /** media_restart went out: both connections are dropped. */
  restartSent(now: number): void {
    this.queued = false;
    this.pending += 1;
    this.since = now;
    this.connectedAt = null;
    this.conns.clear();
  }

  /** media_restarted came back; true when it was the last one awaited (then the page
   * publishes again). */
  restarted(now: number): boolean {
    this.pending = Math.max(0, this.pending - 1);
    if (this.pending > 0) return false;
    this.since = now;
    return true;
  }

  // ------------------------------------------------------------------ the decision

  /** The path connection has connected since the connections were made. */
  get connected(): boolean {
    return this.connectedAt !== null;
  }

  private get path(): Connection {
    return this.conns.has("publish") ? "publish" : "subscribe";
  }

  /** Whether to replace the media connections now, and why. */
  decide(now: number): Restart | null {
    const t = this.thresholds;
    if (this.since === null || this.queued) return null;
    if (this.addressChanged) return { reason: "address_change", text: "address change" };
    if (this.pending > 0) {
      return now - this.since > t.setup_timeout_s ? { reason: "unanswered", text: "no media_restarted from the server" } : null;
    }
    if (this.conns.size === 0) return null;
    for (const c of this.conns.values()) {
      if (c.state === "failed" || c.state === "closed") return { reason: "failed", text: `media connection ${c.state}` };
    }
    if (this.connectedAt === null) {
      return now - this.since > t.setup_timeout_s ? { reason: "setup_timeout", text: "media connections not up" } : null;
    }
    for (const c of this.conns.values()) {
      if (c.disconnectedSince !== null && now - c.disconnectedSince > t.disconnected_s) {
        return { reason: "disconnected", text: "media connection disconnected" };
      }
    }
    const path = this.conns.get(this.path);
    if (path === undefined) return null; // not reached: one of them exists
    const limit = this.conns.has("publish") ? t.silent_s : t.silent_listening_s;
    const quiet = now - (path.mediaAt === null ? this.connectedAt : Math.max(path.mediaAt, this.connectedAt));
    return quiet > limit ? { reason: "silent", text: `nothing received for ${quiet.toFixed(1)} s` } : null;
  }
}
