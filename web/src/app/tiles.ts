/**
 * The call view's people: one video tile per remote participant and one line per
 * participant (us included) in the participant list, each with name, role and state.
 *
 * A tile shows video only once frames from that participant were decrypted and decoded
 * (Chromium decodes only what the transform worker let out, and the worker lets out only
 * what it decrypted); until then it says "waiting for keys", or "cannot decrypt" when that
 * participant's frames fail to decrypt. A stream's track is not even put into the tile
 * (neither shown nor played) before the pipeline's getStats check passed for its receiver
 * with media moving (`admit`).
 */

import { LISTEN_ONLY, type Role } from "../protocol/messages.js";
import { $, type KeyState, type RemoteSummary, state } from "./view.js";

const ROLE_LABELS: Record<string, string> = {
  principal: "principal", delegate: "delegate", interpreter: "interpreter", aide: "aide (listens)",
  note_taker: "note taker", operator: "operator", press: "press (listens)",
  recorder: "recorder (listens)",
};

export function roleLabel(role: string): string {
  return ROLE_LABELS[role] ?? role;
}

export class Tile {
  readonly element: HTMLElement;
  readonly video: HTMLVideoElement;
  readonly stream = new MediaStream();
  readonly summary: RemoteSummary;
  videoReceiver: RTCRtpReceiver | null = null;
  audioReceiver: RTCRtpReceiver | null = null;
  private readonly pending: Record<"audio" | "video", MediaStreamTrack | null> = { audio: null, video: null };
  private readonly overlay: HTMLElement;
  private readonly badges: HTMLElement;
  private readonly rosterLine: HTMLElement;

  constructor(readonly participantId: number, name: string, role: string, media: { audio: boolean; video: boolean; screen: boolean }) {
    this.element = document.createElement("figure");
    this.element.className = "tile";
    this.element.dataset["participant"] = String(participantId);
    this.element.dataset["party"] = name;
    this.video = document.createElement("video");
    this.video.autoplay = true;
    this.video.playsInline = true;
    this.video.setAttribute("aria-label", `Video of ${name}`);
    this.overlay = document.createElement("p");
    this.overlay.className = "waiting";
    this.overlay.setAttribute("role", "status");
    const caption = document.createElement("figcaption");
    caption.className = "name";
    caption.textContent = `${name} · ${roleLabel(role)}`;
    this.badges = document.createElement("span");
    this.badges.className = "badges";
    caption.append(this.badges);
    this.element.append(this.video, this.overlay, caption);
    $("tiles").append(this.element);
    this.rosterLine = rosterLine(name, role, `participant-${participantId}`);
    this.summary = {
      participantId, name, role, audio: media.audio, video: media.video, screen: media.screen,
      keys: "waiting", waitingForKeys: true, framesDecoded: 0, framesReceived: 0, frameWidth: 0,
      audioPacketsReceived: 0, audioSamplesReceived: 0, audioEnergy: 0, audioLevel: 0, decryptFailures: 0,
      wrongStream: 0, checked: false,
    };
    state.remotes[name] = this.summary;
    this.render(false);
  }

  /** A stream of this participant: kept back (neither shown nor played) until `admit`. */
  addTrack(receiver: RTCRtpReceiver, kind: "audio" | "video"): void {
    if (kind === "video") this.videoReceiver = receiver;
    else this.audioReceiver = receiver;
    this.pending[kind] = receiver.track;
  }

  /** Whether a stream of this kind waits for its first passed E2EE check. */
  waiting(kind: "audio" | "video"): boolean {
    return this.pending[kind] !== null;
  }

  /** The first E2EE check passed for this kind's receiver: its track goes into the tile. */
  admit(kind: "audio" | "video"): void {
    const track = this.pending[kind];
    if (track === null) return;
    this.pending[kind] = null;
    this.summary.checked = true;
    // after a media restart the participant's streams come again on new m-lines
    for (const old of this.stream.getTracks()) if (old.kind === kind) this.stream.removeTrack(old);
    this.stream.addTrack(track);
    if (this.video.srcObject !== this.stream) this.video.srcObject = this.stream;
    void this.video.play().catch(() => undefined);
  }

  setMedia(media: { audio: boolean; video: boolean; screen: boolean }): void {
    Object.assign(this.summary, media);
  }

  /** Redraw from the summary (after the stats poll or a state change). */
  render(speaking: boolean): void {
    const s = this.summary;
    const keys: KeyState = s.keys;
    s.waitingForKeys = keys !== "ok";
    const listener = LISTEN_ONLY.has(s.role as Role);
    let overlay: string | null = null;
    if (keys !== "ok" && s.wrongStream > 0) overlay = `someone else's media arrives as ${s.name}'s: not shown`;
    else if (keys === "failing") overlay = `cannot decrypt ${s.name}'s media: wrong keys`;
    else if (keys === "waiting") overlay = listener ? "listens only" : "waiting for keys";
    else if (!s.video && !s.screen) overlay = "camera off";
    this.overlay.textContent = overlay ?? "";
    this.overlay.hidden = overlay === null;
    this.overlay.classList.toggle("problem", keys === "failing");
    this.video.hidden = keys !== "ok"; // never show what was not decrypted
    this.element.classList.toggle("speaking", speaking);
    const badges = badgesOf(s.audio, s.video, s.screen, speaking);
    this.badges.textContent = badges.length ? ` · ${badges.join(" · ")}` : "";
    const keyText = keys === "ok" ? "encrypted" : keys === "failing" ? "cannot decrypt" : listener ? "listens only" : "waiting for keys";
    setRosterState(this.rosterLine, [...(listener ? [] : badges), keyText]);
  }

  remove(): void {
    this.video.srcObject = null;
    this.element.remove();
    this.rosterLine.remove();
    updateCount();
    if (state.remotes[this.summary.name] === this.summary) delete state.remotes[this.summary.name];
  }
}

function badgesOf(audio: boolean, video: boolean, screen: boolean, speaking: boolean): string[] {
  const out: string[] = [];
  if (speaking) out.push("speaking");
  if (!audio) out.push("muted");
  if (screen) out.push("sharing screen");
  else if (!video) out.push("camera off");
  return out;
}

function rosterLine(name: string, role: string, id: string): HTMLElement {
  const li = document.createElement("li");
  li.id = id;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = name;
  const roleEl = document.createElement("span");
  roleEl.className = "role";
  roleEl.textContent = roleLabel(role);
  const what = document.createElement("span");
  what.className = "state";
  li.append(who, " ", roleEl, " ", what);
  $("participants").append(li);
  updateCount();
  return li;
}

function setRosterState(li: HTMLElement, parts: readonly string[]): void {
  const el = li.querySelector(".state");
  if (el !== null) el.textContent = parts.join(" · ");
}

function updateCount(): void {
  $("participant-count").textContent = String($("participants").children.length);
}

/** Our own line in the participant list. */
export class SelfLine {
  private readonly line: HTMLElement;

  constructor(name: string, role: string) {
    this.line = rosterLine(`${name} (you)`, role, "participant-self");
  }

  render(speaking: boolean): void {
    const l = state.local;
    setRosterState(this.line, badgesOf(l.audio, l.video, l.screen, speaking));
  }

  remove(): void {
    this.line.remove();
    updateCount();
  }
}

export function clearRoster(): void {
  $("participants").replaceChildren();
  $("tiles").replaceChildren();
  updateCount();
}
