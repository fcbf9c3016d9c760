/**
 * The page's media path, as the restart policy watches it (media/mediarestart.ts) and as
 * the user sees it: "Network changed: reconnecting media…", then "Media reconnected after
 * N s", a change of the network path, and the path badge. The call does the restart
 * itself (its connections, its queue of offers); this is what it is told and shows.
 */

import { MediaRestartPolicy, type Connection, type Restart } from "../media/mediarestart.js";
import { describePath, selectedPath } from "./quality.js";
import { showSfuLabel } from "./pathview.js";
import { $, state } from "./view.js";

/** The policy's clock: performance.now(), in seconds. */
function seconds(): number {
  return performance.now() / 1000;
}

export class MediaPath {
  /** When to restart the media; it also counts the restarts queued and sent but not
   * answered yet. */
  readonly policy = new MediaRestartPolicy();
  /** Why the media is being restarted (sent with media_restart). */
  reason = "";
  private restartAt: number | null = null;
  /** "Media reconnected after N s", kept in the notice when the new path shows up. */
  private reconnected: string | null = null;
  /** A path change seen while reconnecting: shown with "Media reconnected". */
  private pathNotice: string | null = null;
  private rxBytes = -1;

  constructor(private readonly notice: (text: string) => void) {}

  /** The call is joined: its connections are watched from now on. */
  start(): void {
    this.policy.start(seconds());
  }

  /** A connection was made or its state changed: after a restart, the first time the
   * path is connected again, say so. */
  connection(conn: Connection, pc: RTCPeerConnection): void {
    const was = this.policy.connected;
    this.policy.connection(conn, pc.connectionState, seconds());
    if (was || !this.policy.connected || this.restartAt === null) return;
    const ms = Math.round(performance.now() - this.restartAt);
    state.media.lastRestartMs = ms;
    state.media.restarting = false;
    this.restartAt = null;
    this.reconnected = `Media reconnected after ${(ms / 1000).toFixed(1)} s.`;
    this.notice(this.pathNotice === null ? this.reconnected : `${this.reconnected} ${this.pathNotice}`);
    if (this.pathNotice !== null) this.reconnected = null;
    this.pathNotice = null;
  }

  decide(): Restart | null {
    return this.policy.decide(seconds());
  }

  /** A restart is queued (the first of a series is timed until the path is back). */
  restarting(reason: string): void {
    this.policy.restart(seconds());
    this.rxBytes = -1;
    this.restartAt ??= performance.now();
    this.reason = reason;
    this.reconnected = null;
    this.pathNotice = null;
    state.media.restarts += 1;
    state.media.restarting = true;
    this.notice("Network changed: reconnecting media…");
    $("protection").textContent = "encrypted · reconnecting media…";
  }

  /** media_restart went out (both connections dropped). */
  restartSent(): void {
    this.policy.restartSent(seconds());
  }

  /** media_restarted came back: true when it was the last one awaited. */
  restarted(): boolean {
    return this.policy.restarted(seconds());
  }

  /** The stats of the connection that carries our media (`conn`): what it received,
   * which path it takes (a change is told), the badge. */
  stats(conn: Connection, report: RTCStatsReport): void {
    const pair = selectedPath(report)?.pair;
    const rx = typeof pair?.["bytesReceived"] === "number" ? pair["bytesReceived"] : null;
    if (rx !== null && rx !== this.rxBytes) {
      this.rxBytes = rx;
      this.policy.media(conn, seconds());
    }
    const path = describePath(report, state.path);
    if (path !== null && state.path !== null && path.changes > state.path.changes) {
      const text = `The network path changed: now ${path.remoteAddress}.`;
      if (state.media.restarting) {
        this.pathNotice = text; // shown with "Media reconnected" in a moment
      } else {
        this.notice(this.reconnected === null ? text : `${this.reconnected} ${text}`);
        this.reconnected = null;
      }
    }
    if (path !== null && path.label !== state.path?.label) showSfuLabel(path.label);
    state.path = path;
    $("protection").textContent = `encrypted · ${path?.label ?? "via SFU"}`;
    $("protection").title = path === null ? "" : `${path.localType} candidate, ${path.protocol} to ${path.remoteAddress}`;
  }
}
