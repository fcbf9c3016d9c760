/**
 * The page's state and the small DOM helpers every part of the call page uses.
 *
 * `window.hotlineApp` is a summary for tests and diagnostics: names, counters, states.
 * It never holds a key.
 */

import type { CounterReport } from "../media/messages.js";
import type { Provenance } from "./provenance.js";

export type Phase = "loading" | "enroll" | "rooms" | "prejoin" | "joining" | "in-call" | "ended";
export type KeyState = "waiting" | "ok" | "failing";

export interface RemoteSummary {
  participantId: number;
  name: string;
  role: string;
  audio: boolean;
  video: boolean;
  screen: boolean;
  /** waiting: nothing decrypted yet; ok: video decoded; failing: frames fail to decrypt. */
  keys: KeyState;
  waitingForKeys: boolean;
  framesDecoded: number;
  framesReceived: number;
  frameWidth: number;
  audioPacketsReceived: number;
  audioSamplesReceived: number;
  audioEnergy: number;
  audioLevel: number;
  decryptFailures: number;
  /** Frames of another participant (or kind) that arrived in this participant's stream:
   * dropped, never shown (the server swapped or relabelled streams). */
  wrongStream: number;
  /** The E2EE check (getStats against the worker) passed for a stream of this
   * participant: only then is anything of it shown or played. */
  checked: boolean;
}

export interface PathSummary {
  /** "via SFU" or "relay over UDP|TCP|TLS" (pathlabel.ts): a room's media goes through the SFU. */
  label: string;
  localType: string;
  remoteAddress: string;
  protocol: string;
  changes: number;
}

export interface QualitySummary {
  grade: "good" | "fair" | "poor" | "unknown";
  rttMs: number | null;
  lossPercent: number | null;
  jitterMs: number | null;
}

export interface PrejoinSummary {
  ready: boolean;
  level: number;
  maxLevel: number;
  problem: string | null;
  cameras: number;
  microphones: number;
}

/** One change of the path: when (ms since the page loaded), to what, and why. */
export interface PathChange {
  readonly atMs: number;
  readonly label: string;
  readonly reason: string;
}

export interface MediaPathSummary {
  /** The label of the path our media is sent on now ("" before any). */
  label: string;
  /** The path the policy sends on (null: no direct connection was ever chosen). */
  active: "sfu" | "direct" | null;
  /** The SFU connection's label ("via SFU", "relay over TCP"; "" before its stats). */
  sfuLabel: string;
  changes: PathChange[];
  /** connectionState of the direct connection ("none": there is none). */
  direct: string;
  /** The direct connection's selected candidate pair ("address:port", protocol). */
  directPair: { local: string; remote: string; protocol: string } | null;
  /** Frames of the far member the worker decrypted, per path (since that path's
   * connection was made). */
  decrypted: { sfu: number; direct: number };
}

export function newPathSummary(): MediaPathSummary {
  return { label: "", active: null, sfuLabel: "", changes: [], direct: "none", directPair: null, decrypted: { sfu: 0, direct: 0 } };
}

export interface AppState {
  phase: Phase;
  error: string | null;
  fingerprint: string;
  party: string;
  rooms: readonly string[];
  room: string;
  role: string;
  participantId: number | null;
  code: { digits: string; words: string } | null;
  verified: boolean;
  /** Frames the worker encrypted and passed on, by kind. */
  sent: { video: number; audio: number };
  /** What we send now. */
  local: { audio: boolean; video: boolean; screen: boolean };
  /** Per remote participant, by party name. */
  remotes: Record<string, RemoteSummary>;
  activeSpeaker: string | null;
  problems: string[];
  path: PathSummary | null;
  /** The path our media is sent on and its changes (pathview.ts). */
  mediaPath: MediaPathSummary;
  quality: QualitySummary;
  prejoin: PrejoinSummary;
  worker: CounterReport | null;
  calls: number;
  /** Reconnection attempts of the room list after the server went away. */
  reconnects: number;
  /** The call's signaling connection, and how often it was resumed after a break. */
  signaling: "connected" | "reconnecting";
  resumes: number;
  /** connectionState of the publish and subscribe connections; offers answered; media
   * restarts after a path loss (and whether one is under way; the last took ms). */
  media: { publish: string; subscribe: string; offers: number; restarts: number; restarting: boolean; lastRestartMs: number | null;
    /** ms from publishing to the proof that the worker encrypts each sender's frames
     * (its real track is attached then; proof.ts); null until proved. */
    proofMs: { audio: number | null; video: number | null } };
  hotlines: HotlinesSummary;
  /** Where the page's code came from and which server it talks to (provenance.ts). */
  provenance: Provenance | null;
  /** The call's phase as shown (phaseview.ts): its changes (ms since the page loaded)
   * and the alarms of reopenings that were not believed. */
  callPhase: { phase: "open" | "closed"; changes: { phase: string; atMs: number }[]; alarms: string[] };
}

export interface HotlinesSummary {
  list: { name: string; state: string }[];
  /** Hotlines this browser stands by for: connected or not. */
  standby: Record<string, boolean>;
  /** Link tests this browser took part in. */
  linktests: number;
  /** Per hotline: entries of the uptime record this standby knows, and an open alarm
   * (the record was rewritten or forked; "" if none). */
  record: Record<string, { length: number; alarm: string }>;
  ringing: { hotline: string; callId: string; caller: string } | null;
  calling: { hotline: string; ack: string | null; answered: boolean; ended: string | null } | null;
}

declare global {
  interface Window {
    hotlineApp: AppState;
    /** The worker's counters now (null outside a call): fresher than `hotlineApp.sent`. */
    hotlineAppCounters: () => Promise<CounterReport | null>;
  }
}

export const state: AppState = {
  phase: "loading", error: null, fingerprint: "", party: "", rooms: [], room: "", role: "", participantId: null,
  callPhase: { phase: "open", changes: [], alarms: [] },
  code: null, verified: false, sent: { video: 0, audio: 0 }, local: { audio: true, video: true, screen: false },
  remotes: {}, activeSpeaker: null, problems: [], path: null, mediaPath: newPathSummary(),
  quality: { grade: "unknown", rttMs: null, lossPercent: null, jitterMs: null },
  prejoin: { ready: false, level: 0, maxLevel: 0, problem: null, cameras: 0, microphones: 0 },
  worker: null, calls: 0, reconnects: 0, signaling: "connected", resumes: 0, media: { publish: "new", subscribe: "new", offers: 0, restarts: 0, restarting: false, lastRestartMs: null, proofMs: { audio: null, video: null } },
  hotlines: { list: [], standby: {}, linktests: 0, record: {}, ringing: null, calling: null },
  provenance: null,
};
window.hotlineApp = state;

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`page element #${id} is missing`);
  return el;
}

export function button(id: string): HTMLButtonElement {
  return $(id) as HTMLButtonElement;
}

export function status(text: string): void {
  $("status").textContent = text;
}

export function showError(text: string | null): void {
  state.error = text;
  const el = $("error");
  el.textContent = text ?? "";
  el.hidden = text === null;
}

export type View = "enroll" | "rooms" | "prejoin" | "call";

export function show(view: View | null): void {
  for (const v of ["enroll", "rooms", "prejoin", "call"]) $(`${v}-view`).hidden = v !== view;
  if (view !== null) {
    // move focus to the new view's heading, for keyboard and screen-reader users
    const heading = $(`${view}-view`).querySelector<HTMLElement>("h2");
    heading?.setAttribute("tabindex", "-1");
    heading?.focus({ preventScroll: true });
  }
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A toggle button's pressed state, its label and its title, in one place. */
export function setToggle(id: string, pressed: boolean, label: string): void {
  const b = button(id);
  b.setAttribute("aria-pressed", String(pressed));
  b.textContent = label;
}
